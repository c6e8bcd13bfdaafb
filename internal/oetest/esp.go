package oetest

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/netip"
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
		for _, sa := range []struct {
			src, dst netip.Addr
			spi      uint32
			key      string
		}{{addrA, addrB, spiAB, kAB}, {addrB, addrA, spiBA, kBA}} {
			h.Run(t, "ip", "xfrm", "state", "add", "src", sa.src.String(), "dst", sa.dst.String(), "proto", "esp",
				"spi", fmt.Sprintf("%#x", sa.spi), "reqid", fmt.Sprint(reqid), "mode", "transport",
				"aead", "rfc4106(gcm(aes))", sa.key, "128")
		}
		local, remote := addrA, addrB
		if h == b {
			local, remote = addrB, addrA
		}
		h.Run(t, "ip", "xfrm", "policy", "add", "src", local.String()+bits, "dst", remote.String()+bits, "dir", "out",
			"tmpl", "src", local.String(), "dst", remote.String(), "proto", "esp", "reqid", fmt.Sprint(reqid), "mode", "transport")
		h.Run(t, "ip", "xfrm", "policy", "add", "src", remote.String()+bits, "dst", local.String()+bits, "dir", "in",
			"tmpl", "src", remote.String(), "dst", local.String(), "proto", "esp", "reqid", fmt.Sprint(reqid), "mode", "transport")
	}
	return spiAB, spiBA
}
