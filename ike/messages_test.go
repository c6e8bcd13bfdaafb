package ike_test

import (
	"encoding/binary"
	"net/netip"
	"testing"
	"time"

	"github.com/oe-agent/oe-agent/ike"
	"github.com/oe-agent/oe-agent/ike/iketest"
	"github.com/oe-agent/oe-agent/ike/wire"
)

// payloadTypes lists the types of ps, notifications by their type.
func payloadTypes(ps []wire.Payload) []string {
	var out []string
	for _, p := range ps {
		if n, ok := p.(*wire.Notify); ok {
			out = append(out, "N("+n.NotifyType.String()+")")
			continue
		}
		out = append(out, p.Type().String())
	}
	return out
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestMessageContents checks the payloads of each exchange on the wire
// (RFC 7296 §1.2-§1.4), decrypted through the harness.
func TestMessageContents(t *testing.T) {
	icfg, rcfg := pskConfigs()
	icfg.ChildProposals[0].DH = []wire.DHGroup{wire.DHCurve25519}
	rcfg.ChildProposals[0].DH = []wire.DHGroup{wire.DHCurve25519}
	icfg.Mode, rcfg.Mode = ike.Transport, ike.Transport
	p := iketest.NewPair(t, icfg, rcfg, ike.DispatcherConfig{})
	p.Start()
	want := [][]string{
		{"SA", "KE", "Nonce", "N(NAT_DETECTION_SOURCE_IP)", "N(NAT_DETECTION_DESTINATION_IP)", "N(SIGNATURE_HASH_ALGORITHMS)"},
		{"SA", "KE", "Nonce", "N(NAT_DETECTION_SOURCE_IP)", "N(NAT_DETECTION_DESTINATION_IP)", "N(SIGNATURE_HASH_ALGORITHMS)"},
		{"IDi", "IDr", "AUTH", "N(USE_TRANSPORT_MODE)", "SA", "TSi", "TSr"},
		{"IDr", "AUTH", "SA", "TSi", "TSr", "N(USE_TRANSPORT_MODE)"},
	}
	for i := 0; i < len(want); i++ {
		d := p.InFlight()[0]
		h, ps := p.Payloads(d)
		if got := payloadTypes(ps); !equalStrings(got, want[i]) {
			t.Errorf("message %d (%v #%d): %v, want %v", i, h.Exchange, h.MessageID, got, want[i])
		}
		if i == 2 {
			// No DH transforms in the IKE_AUTH Child SA proposal.
			for _, tr := range wire.Find(ps, wire.PayloadSA).(*wire.SA).Proposals[0].Transforms {
				if tr.Type == wire.TransformDH {
					t.Error("DH transform in IKE_AUTH")
				}
			}
		}
		p.Step()
	}
	if !p.Init.Established() {
		t.Fatal("not established")
	}

	// Child SA rekey with PFS: N(REKEY_SA) naming our inbound SPI, KE.
	sa := p.Init
	c := sa.Children()[0]
	p.I.Do(sa, func(now time.Time) ([]ike.Action, error) { return sa.RekeyChild(now, c.InboundSPI) })
	h, ps := p.Payloads(p.InFlight()[0])
	if h.Exchange != wire.ExchangeCreateChildSA || h.MessageID != 2 {
		t.Fatalf("rekey request %v #%d", h.Exchange, h.MessageID)
	}
	if got := payloadTypes(ps); !equalStrings(got, []string{"N(REKEY_SA)", "N(USE_TRANSPORT_MODE)", "SA", "Nonce", "KE", "TSi", "TSr"}) {
		t.Errorf("rekey request %v", got)
	}
	if n := wire.FindNotify(ps, wire.NotifyRekeySA); n.Protocol != wire.ProtocolESP || binary.BigEndian.Uint32(n.SPI) != c.InboundSPI {
		t.Errorf("REKEY_SA %v, want ESP SPI %#x", n, c.InboundSPI)
	}
	p.Step()
	h, ps = p.Payloads(p.InFlight()[0])
	if got := payloadTypes(ps); !h.IsResponse() || !equalStrings(got, []string{"SA", "Nonce", "KE", "TSi", "TSr", "N(USE_TRANSPORT_MODE)"}) {
		t.Errorf("rekey response %v", got)
	}
	p.Step()
	// Then the Delete of the old Child SA, listing our inbound SPI; the
	// answer lists the peer's.
	h, ps = p.Payloads(p.InFlight()[0])
	d, ok := wire.Find(ps, wire.PayloadDelete).(*wire.Delete)
	if h.Exchange != wire.ExchangeInformational || !ok || d.Protocol != wire.ProtocolESP || len(d.SPIs) != 1 || binary.BigEndian.Uint32(d.SPIs[0]) != c.InboundSPI {
		t.Fatalf("delete request %v %v", h.Exchange, ps)
	}
	p.Step()
	_, ps = p.Payloads(p.InFlight()[0])
	if d, ok := wire.Find(ps, wire.PayloadDelete).(*wire.Delete); !ok || binary.BigEndian.Uint32(d.SPIs[0]) != c.OutboundSPI {
		t.Fatalf("delete response %v", ps)
	}
	p.Run()
}

// TestIPv6 runs a handshake between IPv6 endpoints: host selectors are
// /128 TS_IPV6_ADDR_RANGE, identities ID_IPV6_ADDR.
func TestIPv6(t *testing.T) {
	ia, ra := netip.MustParseAddrPort("[2001:db8::1]:500"), netip.MustParseAddrPort("[2001:db8::2]:500")
	icfg, rcfg := pskConfigs()
	icfg.LocalID, rcfg.Peer.ID = ike.AddrID(ia.Addr()), ike.AddrID(ia.Addr())
	p := iketest.NewPairAt(t, icfg, rcfg, ike.DispatcherConfig{}, ia, ra)
	p.Handshake()
	ic := iketest.Find[ike.InstallChild](p.I.Events())
	c := ic[0].Child
	if c.Local != ia.Addr() || c.Remote != ra.Addr() || c.LocalTS[0].Type != wire.TSIPv6AddrRange || c.LocalTS[0].StartAddr != ia.Addr() || c.LocalTS[0].EndAddr != ia.Addr() {
		t.Errorf("child %v", c)
	}
	lifecycle(t, p, false, 0)
}
