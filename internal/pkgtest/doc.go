// Package pkgtest tests the Debian package (debian/, packaging/) as an
// administrator meets it.
//
// The unit tier checks the shipped files against the code: the default
// configuration and policy groups load, the unit keeps its hardening, and
// the manual pages document every configuration key, daemon flag and oectl
// command. The vm tier (TestVMSystemdPackage, run by internal/vmtest in a
// guest booted with systemd as PID 1) installs the .deb that `make deb`
// built with apt-get and drives the service through its life: start,
// status, reload, stop, remove, reinstall and purge.
package pkgtest
