# Stage 2 of the test guest, run by bash as PID 1 in the overlay root. The
# host wrote cmd.sh next to this file; its output goes to the second serial
# port (the host's stdout) and its exit status to rc.
exec </dev/null >/dev/ttyS1 2>&1
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root OE_VMTEST_GUEST=1
hostname oe-guest
ip link set lo up
if [ -f /run/vmtest/interactive ]; then
	echo "oe-agent test guest: $(uname -r); the repo is at its host path; exit to power off"
	setsid -c bash -l </dev/ttyS1 >/dev/ttyS1 2>&1
	rc=$?
else
	bash /run/vmtest/cmd.sh
	rc=$?
fi
echo "$rc" >/run/vmtest/rc
sync
echo o >/proc/sysrq-trigger
sleep 10
