package wire

import (
	"math/rand/v2"
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// cmpOpts compares decoded structures: nil and empty slices are equal (the
// decoder returns empty, non-nil slices for empty fields), netip.Addr by ==.
var cmpOpts = cmp.Options{
	cmpopts.EquateEmpty(),
	cmp.Comparer(func(a, b netip.Addr) bool { return a == b }),
}

// gen builds random valid messages from a seeded source, so failures are
// reproducible from the seed in the test name.
type gen struct{ r *rand.Rand }

func newGen(seed uint64) *gen { return &gen{rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))} }

func (g *gen) n(lo, hi int) int { return lo + g.r.IntN(hi-lo+1) }

func (g *gen) bytes(lo, hi int) []byte {
	b := make([]byte, g.n(lo, hi))
	for i := range b {
		b[i] = byte(g.r.Uint32())
	}
	return b
}

func (g *gen) u16() uint16 { return uint16(g.r.Uint32()) }

func (g *gen) header() Header {
	ex := []ExchangeType{ExchangeIKESAInit, ExchangeIKEAuth, ExchangeCreateChildSA, ExchangeInformational, ExchangeType(g.r.Uint32())}
	return Header{
		SPIi:      g.r.Uint64() | 1,
		SPIr:      g.r.Uint64() * uint64(g.r.IntN(2)),
		Exchange:  ex[g.r.IntN(len(ex))],
		Flags:     Flags(g.r.Uint32()) & flagsKnown,
		MessageID: g.r.Uint32(),
	}
}

func (g *gen) transform() Transform {
	t := Transform{Type: TransformType(g.n(1, 6)), ID: uint16(g.n(0, 40))}
	if g.r.IntN(3) == 0 {
		t.KeyLength = uint16(g.n(1, 512))
	}
	if g.r.IntN(8) == 0 {
		for range g.n(1, 3) {
			a := Attribute{Type: AttributeType(g.n(0, 0x7fff)), TV: g.r.IntN(2) == 0}
			if a.Type == AttributeKeyLength {
				a.Type++
			}
			if a.TV {
				a.Value = g.bytes(2, 2)
			} else {
				a.Value = g.bytes(0, 6)
			}
			t.Attributes = append(t.Attributes, a)
		}
	}
	return t
}

func (g *gen) sa() *SA {
	sa := &SA{}
	for i := range g.n(1, 4) {
		p := Proposal{Number: uint8(i + 1), Protocol: ProtocolID(g.n(1, 3))}
		switch p.Protocol {
		case ProtocolIKE:
			p.SPI = g.bytes(0, 0)
			if g.r.IntN(2) == 0 {
				p.SPI = g.bytes(8, 8)
			}
		default:
			p.SPI = g.bytes(4, 4)
		}
		for range g.n(1, 8) {
			p.Transforms = append(p.Transforms, g.transform())
		}
		sa.Proposals = append(sa.Proposals, p)
	}
	return sa
}

func (g *gen) addr(v4 bool) netip.Addr {
	if v4 {
		return netip.AddrFrom4([4]byte(g.bytes(4, 4)))
	}
	return netip.AddrFrom16([16]byte(g.bytes(16, 16)))
}

func (g *gen) ts() *TrafficSelectors {
	ts := &TrafficSelectors{Responder: g.r.IntN(2) == 0}
	for range g.n(1, 4) {
		var t TrafficSelector
		switch g.r.IntN(5) {
		case 0:
			t = TrafficSelector{Type: TSType(g.n(9, 255)), IPProtocol: uint8(g.r.Uint32()), Data: g.bytes(0, 12)}
		default:
			v4 := g.r.IntN(2) == 0
			t = TrafficSelector{Type: TSIPv6AddrRange, IPProtocol: uint8(g.r.Uint32()), StartPort: g.u16(), EndPort: g.u16(),
				StartAddr: g.addr(v4), EndAddr: g.addr(v4)}
			if v4 {
				t.Type = TSIPv4AddrRange
			}
		}
		ts.Selectors = append(ts.Selectors, t)
	}
	return ts
}

func (g *gen) id() *ID {
	id := &ID{Responder: g.r.IntN(2) == 0}
	switch g.r.IntN(5) {
	case 0:
		id.IDType, id.Data = IDIPv4Addr, g.bytes(4, 4)
	case 1:
		id.IDType, id.Data = IDIPv6Addr, g.bytes(16, 16)
	case 2:
		id.IDType, id.Data = IDFQDN, []byte("host.example.com")
	case 3:
		id.IDType, id.Data = IDNull, nil
	default:
		id.IDType, id.Data = IDKeyID, g.bytes(1, 40)
	}
	return id
}

// payload returns a random payload other than SK and SKF.
func (g *gen) payload() Payload {
	switch g.r.IntN(14) {
	case 0:
		return g.sa()
	case 1:
		return &KE{Group: DHGroup(g.u16()), Data: g.bytes(1, 300)}
	case 2:
		return &Nonce{Data: g.bytes(MinNonceLen, MaxNonceLen)}
	case 3:
		return g.id()
	case 4:
		return &Cert{Encoding: CertEncoding(g.r.Uint32()), Data: g.bytes(1, 100)}
	case 5:
		return &CertReq{Encoding: CertEncoding(g.r.Uint32()), Data: g.bytes(0, 60)}
	case 6:
		return &Auth{Method: AuthMethod(g.r.Uint32()), Data: g.bytes(1, 100)}
	case 7:
		return &Notify{Protocol: ProtocolID(g.n(0, 3)), SPI: g.bytes(0, 8), NotifyType: NotifyType(g.u16()), Data: g.bytes(0, 40)}
	case 8:
		d := &Delete{Protocol: ProtocolID(g.n(1, 3))}
		if d.Protocol != ProtocolIKE {
			for range g.n(0, 4) {
				d.SPIs = append(d.SPIs, g.bytes(4, 4))
			}
		}
		return d
	case 9:
		return &VendorID{Data: g.bytes(0, 20)}
	case 10:
		return g.ts()
	case 11:
		c := &Config{CFGType: CFGType(g.n(1, 4))}
		for range g.n(0, 3) {
			c.Attributes = append(c.Attributes, ConfigAttribute{Type: ConfigAttributeType(g.n(0, 0x7fff)), Value: g.bytes(0, 16)})
		}
		return c
	case 12:
		t := PayloadType(g.n(1, 255))
		for known(t) {
			t++
		}
		return &Unknown{PayloadType: t, Data: g.bytes(0, 30)}
	default:
		return &Nonce{Data: g.bytes(MinNonceLen, 32)}
	}
}

func (g *gen) payloads(max int) []Payload {
	var ps []Payload
	for range g.n(0, max) {
		ps = append(ps, g.payload())
	}
	return ps
}

func (g *gen) message() *Message {
	m := &Message{Header: g.header(), Payloads: g.payloads(6)}
	switch g.r.IntN(4) {
	case 0:
		m.Payloads = append(m.Payloads, &Encrypted{NextPayload: PayloadType(g.r.Uint32()), Data: g.bytes(0, 80)})
	case 1:
		total := uint16(g.n(1, 5))
		f := &EncryptedFragment{Number: uint16(g.n(1, int(total))), Total: total, Data: g.bytes(0, 80)}
		if f.Number == 1 {
			f.NextPayload = PayloadType(g.r.Uint32())
		}
		m.Payloads = append(m.Payloads, f)
	}
	return m
}

// mustEncode encodes m or fails the test.
func mustEncode(t testing.TB, m *Message) []byte {
	t.Helper()
	b, err := m.Encode()
	if err != nil {
		t.Fatalf("Encode: %v", err)
	}
	return b
}

func netipMust(s string) netip.Addr { return netip.MustParseAddr(s) }
