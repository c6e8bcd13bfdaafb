# Stage 2 of the test guest in systemd mode (Guest.Systemd), run by bash as
# PID 1 in the overlay root instead of stage2.sh: it writes a target and a
# service that run cmd.sh into /run/systemd/system, then hands PID 1 to
# systemd. The service's output goes to the second serial port (the host's
# stdout) and its exit status to /run/vmtest/rc, then it powers off.
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
hostname oe-guest
mkdir -p /run/systemd/system
# Only what the test needs: basic.target (journald, udev, tmpfiles), not the
# services the host happens to have enabled in multi-user.target. Timers are
# masked so that apt-daily and the like cannot take the dpkg lock.
# Hardware and first-boot units have nothing to do in this guest and cost
# seconds each under TCG: they are masked too. systemd-tmpfiles-setup would
# empty /tmp, which is the host's (a checkout may live there), and spends
# minutes doing it over 9p.
for u in timers.target systemd-tmpfiles-setup.service systemd-timesyncd.service systemd-pstore.service \
	systemd-udevd.service systemd-udevd-control.socket systemd-udevd-kernel.socket \
	systemd-udev-trigger.service systemd-hwdb-update.service systemd-firstboot.service \
	systemd-repart.service systemd-pcrphase.service systemd-pcrphase-sysinit.service \
	systemd-machine-id-commit.service systemd-binfmt.service proc-sys-fs-binfmt_misc.automount \
	systemd-random-seed.service ldconfig.service systemd-journal-catalog-update.service \
	sys-kernel-debug.mount sys-kernel-tracing.mount sys-kernel-config.mount \
	sys-fs-fuse-connections.mount dev-hugepages.mount; do
	ln -sf /dev/null /run/systemd/system/$u
done
cat >/run/systemd/system/vmtest.target <<'UNIT'
[Unit]
Description=oe-agent test guest
Requires=basic.target vmtest.service
After=basic.target vmtest.service
AllowIsolate=yes
UNIT
cat >/run/systemd/system/vmtest.service <<'UNIT'
[Unit]
Description=oe-agent test guest: run the test command
After=basic.target
[Service]
Type=oneshot
Environment=PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root OE_VMTEST_GUEST=1
StandardInput=null
StandardOutput=file:/dev/ttyS1
StandardError=inherit
TimeoutStartSec=infinity
ExecStart=/bin/bash -c 'ip link set lo up; echo "vmtest: systemd $(systemctl --version | sed -n 1p) is PID 1, up after $(cut -d" " -f1 /proc/uptime) s"; bash /run/vmtest/cmd.sh; rc=$?; echo $rc >/run/vmtest/rc; sync; echo o >/proc/sysrq-trigger'
UNIT
exec /lib/systemd/systemd --unit=vmtest.target --show-status=false --log-level=warning </dev/console >/dev/console 2>&1
