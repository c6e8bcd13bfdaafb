package oetest

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/netip"
	"strings"
	"testing"
)

// StaticESP installs a hand-keyed ESP transport SA pair (AES-GCM-128,
// RFC 4106) and the matching policies between addrA on a and addrB on b,
// with `ip xfrm`, without any IKE: a baseline for scenarios (what a
// working SA looks like on the capture) and a check of the rig. It needs
// the guest kernel (the host has no ESP). The SPIs are returned (a->b,
// b->a). Reqid is the template reqid, outside oe-agent's range.
func StaticESP(t testing.TB, a *Host, addrA netip.Addr, b *Host, addrB netip.Addr, reqid uint32) (spiAB, spiBA uint32) {
	t.Helper()
	key := func() string {
		k := make([]byte, 20) // 16 key + 4 salt
		rand.Read(k)
		return "0x" + hex.EncodeToString(k)
	}
	kAB, kBA := key(), key()
	var s [8]byte
	rand.Read(s[:])
	spiAB = 0x1000 | uint32(s[0])<<16 | uint32(s[1])<<8 | uint32(s[2])
	spiBA = 0x2000 | uint32(s[4])<<16 | uint32(s[5])<<8 | uint32(s[6])
	bits := "/32"
	if addrA.Is6() {
		bits = "/128"
	}
	for _, h := range []*Host{a, b} {
		// One ip -batch per host: each exec costs about a second in a
		// loaded TCG guest.
		var cmds strings.Builder
		for _, sa := range []struct {
			src, dst netip.Addr
			spi      uint32
			key      string
		}{{addrA, addrB, spiAB, kAB}, {addrB, addrA, spiBA, kBA}} {
			fmt.Fprintf(&cmds, "xfrm state add src %s dst %s proto esp spi %#x reqid %d mode transport aead rfc4106(gcm(aes)) %s 128\n",
				sa.src, sa.dst, sa.spi, reqid, sa.key)
		}
		local, remote := addrA, addrB
		if h == b {
			local, remote = addrB, addrA
		}
		for _, dir := range []struct {
			name     string
			src, dst netip.Addr
		}{{"out", local, remote}, {"in", remote, local}} {
			fmt.Fprintf(&cmds, "xfrm policy add src %s%s dst %s%s dir %s tmpl src %s dst %s proto esp reqid %d mode transport\n",
				dir.src, bits, dir.dst, bits, dir.name, dir.src, dir.dst, reqid)
		}
		cmd := h.NS.Cmd("ip", "-batch", "-")
		cmd.Stdin = strings.NewReader(cmds.String())
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("oetest: static ESP on %s: %v\n%s\n%s", h, err, cmds.String(), out)
		}
	}
	return spiAB, spiBA
}
