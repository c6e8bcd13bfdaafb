package trap

import (
	"errors"
	"net/netip"
	"testing"
)

// fuzzReader hands out bytes of the fuzz input, zeros when exhausted.
type fuzzReader struct{ b []byte }

func (r *fuzzReader) byte() byte {
	if len(r.b) == 0 {
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

func (r *fuzzReader) u16() uint16 { return uint16(r.byte())<<8 | uint16(r.byte()) }

// addr draws addresses from a small pool, so that entries collide and
// nest, with the occasional odd one (unspecified, mapped, zoned).
func (r *fuzzReader) addr() netip.Addr {
	pool := []string{"192.0.2.1", "192.0.2.7", "198.51.100.7", "203.0.113.0", "10.0.0.0", "0.0.0.0",
		"2001:db8::1", "2001:db8:1::", "::", "fe80::1", "::ffff:192.0.2.1", "fe80::1%eth0", "127.0.0.1", "ff02::1"}
	b := r.byte()
	a := netip.MustParseAddr(pool[int(b)%len(pool)])
	if b&0x80 != 0 && a.Is4() { // perturb the last octet
		s := a.As4()
		s[3] = r.byte()
		a = netip.AddrFrom4(s)
	}
	return a
}

func (r *fuzzReader) prefix() netip.Prefix {
	a := r.addr()
	p, err := a.WithZone("").Prefix(int(r.byte()) % (a.BitLen() + 1))
	if err != nil {
		return netip.Prefix{}
	}
	if r.byte()&3 != 0 {
		return p // masked
	}
	return netip.PrefixFrom(a, p.Bits()) // maybe with host bits
}

func (r *fuzzReader) ports() (uint8, uint16, uint16) {
	protos := []uint8{0, 0, 6, 17, 1, 58}
	proto := protos[int(r.byte())%len(protos)]
	if proto == 0 && r.byte()&3 != 0 {
		return 0, 0, 0
	}
	return proto, r.u16() % 3 * 53, r.u16() % 3 * 25
}

func fuzzInput(data []byte) Input {
	r := &fuzzReader{b: data}
	in := Input{Groups: map[Group][]Dest{}}
	for range int(r.byte()) % 3 {
		in.Local = append(in.Local, r.addr())
	}
	for range int(r.byte()) % 8 {
		g := Group(r.byte() % 6)
		proto, lp, rp := r.ports()
		in.Groups[g] = append(in.Groups[g], Dest{Prefix: r.prefix(), Proto: proto, LocalPort: lp, RemotePort: rp})
	}
	for i := range int(r.byte()) % 3 {
		c := Conn{Name: string(rune('a' + int(r.byte())%3)), Type: ConnType(r.byte() % 6),
			LocalAddr: r.addr(), RemoteAddr: r.addr(), Route: r.byte()&1 == 1, Up: r.byte()&1 == 1,
			Reqid: ReqidConnMin + uint32(r.byte()%4) - uint32(r.byte()%2)}
		c.Proto, c.LocalPort, c.RemotePort = r.ports()
		for range int(r.byte()) % 3 {
			c.Local = append(c.Local, r.prefix())
		}
		for range int(r.byte()) % 3 {
			c.Remote = append(c.Remote, r.prefix())
		}
		if i == 2 {
			c.Reqid = 0
		}
		in.Conns = append(in.Conns, c)
	}
	for range int(r.byte()) % 4 {
		p := Peer{Remote: r.addr(), Action: PeerAction(r.byte() % 6), Reqid: ReqidConnMin + uint32(r.byte()%8)}
		if r.byte()&1 == 1 {
			p.Local = r.addr()
		}
		if p.Action == PeerPass || p.Action == PeerDrop {
			p.Reqid = 0
		}
		p.Proto, p.LocalPort, p.RemotePort = r.ports()
		in.Peers = append(in.Peers, p)
	}
	for range int(r.byte()) % 3 {
		in.Resolvers = append(in.Resolvers, netip.AddrPortFrom(r.addr(), r.u16()%2*53))
	}
	return in
}

// FuzzCompute feeds arbitrary inputs to Compute: it must either reject
// them with an *InputError or return a set every policy of which the
// kernel boundary accepts, in the right priority sub-band, one per key;
// Explain must answer for any address, and applying the set must be
// idempotent.
func FuzzCompute(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{1, 0, 3, 3, 3, 0, 32, 0, 1, 0, 0, 0, 8, 0})
	f.Add([]byte{2, 0, 6, 5, 2, 3, 7, 24, 0, 4, 0, 1, 0, 16, 1, 1, 1, 2, 1, 2, 3, 1, 0, 1, 9, 1, 3, 2, 1, 5, 2})
	f.Add([]byte("\x02\x07\x86\x05\x04\x00\x00\x02\x12\x00\x03\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f"))
	f.Fuzz(func(t *testing.T, data []byte) {
		in := fuzzInput(data)
		s, err := Compute(in)
		if err != nil {
			var ie *InputError
			if !errors.As(err, &ie) || len(ie.Problems) == 0 || s != nil {
				t.Fatalf("Compute failed without an *InputError: %v", err)
			}
			return
		}
		checkSetInvariants(t, s)
		for _, a := range []string{"192.0.2.7", "2001:db8::1", "10.0.0.1", "::ffff:192.0.2.7"} {
			_ = s.Explain(netip.MustParseAddr(a))
		}
		k := newFakeKernel()
		r := NewReconciler(k, nil)
		if _, err := r.Apply(bg, s); err != nil {
			t.Fatalf("apply: %v", err)
		}
		k.takeCalls()
		if res, err := r.Apply(bg, s); err != nil || res.Changed() || writes(k.takeCalls()) != 0 {
			t.Fatalf("second apply: %s, %v", res, err)
		}
	})
}
