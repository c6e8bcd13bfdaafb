# Stage 2 of the test guest, run by bash as PID 1 in the overlay root. The
# host wrote cmd.sh next to this file; its output goes to the second serial
# port (the host's stdout) and its exit status to rc. The body is one
# function so bash has read all of it before the 9p share goes away at
# power-off.
main() {
exec </dev/null >/dev/ttyS1 2>&1
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root OE_VMTEST_GUEST=1
hostname oe-guest
ip link set lo up
# Warm the IPsec modules and crypto templates in the background: under TCG
# the first SA install of each algorithm otherwise spends seconds in
# request_module and template set-up, longer than an IKE peer's first
# retransmissions. Tests that start meanwhile simply wait on the same work.
( modprobe -a esp4 esp6 ah4 ah6 xfrm_user 2>/dev/null
  ip netns add vmtest-warm && ip netns exec vmtest-warm sh -c '
    k16=0x000102030405060708090a0b0c0d0e0f
    ip xfrm state add src 192.0.2.1 dst 192.0.2.2 proto esp spi 0x100 mode transport aead "rfc4106(gcm(aes))" ${k16}00010203 128
    ip xfrm state add src 192.0.2.1 dst 192.0.2.2 proto esp spi 0x101 mode transport aead "rfc7539esp(chacha20,poly1305)" ${k16}${k16#0x}00010203 128
    spi=512
    for h in sha256 sha384 sha512; do
      spi=$((spi + 1))
      ip xfrm state add src 192.0.2.1 dst 192.0.2.2 proto esp spi $spi mode transport enc "cbc(aes)" $k16 auth-trunc "hmac($h)" $k16${k16#0x}${k16#0x}${k16#0x} 128
    done' 2>/dev/null
  ip netns del vmtest-warm ) &
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
mkfifo /run/vmtest-hold
echo o >/proc/sysrq-trigger
read -r -t 30 <>/run/vmtest-hold # bash builtin: wait for power-off without the file systems
}
main
