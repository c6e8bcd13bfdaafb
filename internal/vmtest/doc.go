// Package vmtest is the real-kernel test rig: it boots Debian's own kernel
// (which has ESP) in a QEMU guest that shares the host's root file system
// read-only, runs test binaries built on the host inside it, and brings their
// output and exit status back. See README.md, "Test tiers".
package vmtest
