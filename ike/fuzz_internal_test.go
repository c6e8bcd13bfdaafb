package ike

import (
	"testing"
	"time"

	"github.com/oe-agent/oe-agent/ike/wire"
)

// FuzzProtectedRequest feeds arbitrary inner payload chains, properly
// encrypted, to an established responder as CREATE_CHILD_SA, INFORMATIONAL
// or IKE_AUTH requests: the handlers behind the integrity check must cope
// with any payload content without panicking.
func FuzzProtectedRequest(f *testing.F) {
	seed := func(ex wire.ExchangeType, ps ...wire.Payload) {
		first, b, err := wire.EncodePayloads(ps)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(byte(ex), byte(first), b)
	}
	nonce := &wire.Nonce{Data: make([]byte, 32)}
	ts := &wire.TrafficSelectors{Selectors: []TrafficSelector{hostTS(addrI.Addr())}}
	tsr := &wire.TrafficSelectors{Responder: true, Selectors: []TrafficSelector{hostTS(addrR.Addr())}}
	seed(wire.ExchangeCreateChildSA, DefaultChildProposals()[0].wireProposalSA(0x1234), nonce, ts, tsr)
	seed(wire.ExchangeCreateChildSA, &wire.Notify{Protocol: wire.ProtocolESP, SPI: []byte{1, 2, 3, 4}, NotifyType: wire.NotifyRekeySA},
		DefaultChildProposals()[0].wireProposalSA(0x1234), nonce, &wire.KE{Group: wire.DHECP256, Data: make([]byte, 64)}, ts, tsr)
	seed(wire.ExchangeCreateChildSA, ikeSA(DefaultIKEProposals(), make([]byte, 8)), nonce, &wire.KE{Group: wire.DHCurve25519, Data: make([]byte, 32)})
	seed(wire.ExchangeInformational, &wire.Delete{Protocol: wire.ProtocolESP, SPIs: [][]byte{{1, 2, 3, 4}}})
	seed(wire.ExchangeInformational, &wire.Delete{Protocol: wire.ProtocolIKE})
	seed(wire.ExchangeInformational, wire.NewNotify(wire.NotifyAuthenticationFailed, nil))
	seed(wire.ExchangeIKEAuth, &wire.ID{IDType: wire.IDFQDN, Data: []byte("x")}, &wire.Auth{Method: AuthPSK, Data: make([]byte, 32)})

	i, r, dr := establish(f)
	now := time.Unix(10, 0)
	f.Fuzz(func(t *testing.T, ex byte, first byte, plain []byte) {
		if r.IsClosed() || r.cur.spiI != i.cur.spiI {
			i, r, dr = establish(t)
		}
		msg := sealRawAs(t, i, wire.ExchangeType(ex), r.cur.peerID, wire.PayloadType(first), plain)
		dr.Handle(now, addrR, addrI, msg)
		r.Tick(now.Add(time.Hour))
		r.Deadline()
		r.Info()
	})
}

// FuzzProtectedResponse answers each kind of request of an established
// initiator with arbitrary authenticated payload chains.
func FuzzProtectedResponse(f *testing.F) {
	for k := byte(0); k < 5; k++ {
		f.Add(k, byte(wire.PayloadNotify), []byte{0, 0, 0, 8, 0, 0, 0, 14})
		f.Add(k, byte(wire.PayloadNone), []byte{})
	}
	i, r, _ := establish(f)
	now := time.Unix(10, 0)
	f.Fuzz(func(t *testing.T, kind byte, first byte, plain []byte) {
		if i.IsClosed() || r.IsClosed() || r.cur.spiI != i.cur.spiI {
			i, r, _ = establish(t)
		}
		if i.cur.req == nil {
			var spi uint32
			for s := range i.children {
				spi = s
			}
			switch kind % 5 {
			case 0:
				i.createChildCmd(now)
			case 1:
				i.rekeyChildCmd(now, spi)
			case 2:
				i.rekeyIKECmd(now)
			case 3:
				i.dpdCmd(now)
			case 4:
				i.deleteChildCmd(now, spi)
			}
			i.take()
		}
		req := i.cur.req
		if req == nil {
			return
		}
		g := r.cur
		h := wire.Header{SPIi: g.spiI, SPIr: g.spiR, Exchange: req.exchange, MessageID: req.id, Flags: wire.FlagResponse}
		msg, l, err := wire.EncodeSK(h, nil, wire.PayloadType(first), 0, g.out.SealedLen(len(plain)), 0)
		if err != nil {
			t.Fatal(err)
		}
		msg, err = g.out.Seal(msg[:l.IV], msg[:l.IV], plain, r.rand)
		if err != nil {
			t.Fatal(err)
		}
		i.Handle(now, addrI, addrR, msg)
		i.Tick(now.Add(time.Hour))
		i.Info()
	})
}
