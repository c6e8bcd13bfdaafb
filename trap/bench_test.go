package trap

import (
	"fmt"
	"net/netip"
	"testing"
)

// withPeers returns the site input with n per-peer IPsec entries, as oe
// would have them with n OE peers up.
func withPeers(n int) Input {
	in := siteInput()
	in.Peers = nil
	for i := range n {
		a := netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
		in.Peers = append(in.Peers, Peer{Local: ip("192.0.2.1"), Remote: a, Action: PeerIPsec, Reqid: ReqidConnMin + 0x1000 + uint32(i)})
	}
	return in
}

func BenchmarkCompute(b *testing.B) {
	for _, n := range []int{0, 1000, 10000} {
		in := withPeers(n)
		b.Run(fmt.Sprintf("peers=%d", n), func(b *testing.B) {
			for b.Loop() {
				if _, err := Compute(in); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkApplyUnchanged measures the diff of a reload that changes
// nothing (the kernel read is the fake's, so this is trap's own cost).
func BenchmarkApplyUnchanged(b *testing.B) {
	for _, n := range []int{0, 10000} {
		set, err := Compute(withPeers(n))
		if err != nil {
			b.Fatal(err)
		}
		k := newFakeKernel()
		r := NewReconciler(k, nil)
		if _, err := r.Apply(bg, set); err != nil {
			b.Fatal(err)
		}
		b.Run(fmt.Sprintf("peers=%d", n), func(b *testing.B) {
			for b.Loop() {
				if res, err := r.Apply(bg, set); err != nil || res.Changed() {
					b.Fatal(res, err)
				}
				k.takeCalls()
			}
		})
	}
}

func BenchmarkExplain(b *testing.B) {
	s, err := Compute(withPeers(10000))
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		s.Explain(ip("203.0.113.9"))
	}
}
