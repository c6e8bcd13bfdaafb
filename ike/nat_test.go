package ike_test

import (
	"net/netip"
	"testing"
	"time"

	"github.com/oe-agent/oe-agent/ike"
	"github.com/oe-agent/oe-agent/ike/iketest"
	"github.com/oe-agent/oe-agent/ike/wire"
)

// TestNATDetection puts a NAT in front of the initiator (RFC 7296 §2.23):
// the responder sees the initiator behind a NAT, the initiator sees a NAT
// on its own side; IKE_AUTH moves to port 4500, the responder follows the
// mapped port, and the Child SA is marked for UDP encapsulation.
func TestNATDetection(t *testing.T) {
	icfg, rcfg := pskConfigs()
	// The initiator proposes its private address; the responder's policy
	// must allow it (its default is the peer's IKE address, the NAT's).
	rcfg.RemoteTS = []ike.TrafficSelector{wire.TSFromPrefix(netip.MustParsePrefix("192.0.2.0/24"), 0)}
	p := iketest.NewPair(t, icfg, rcfg, ike.DispatcherConfig{})
	private, public := iketest.InitiatorAddr.Addr(), netip.MustParseAddr("203.0.113.5")
	mapping := map[uint16]uint16{500: 31337, 4500: 31338}
	p.Rewrite = func(d iketest.Datagram) iketest.Datagram {
		switch {
		case d.From.Addr() == private:
			d.From = netip.AddrPortFrom(public, mapping[d.From.Port()])
		case d.To.Addr() == public:
			for in, out := range mapping {
				if out == d.To.Port() {
					d.To = netip.AddrPortFrom(private, in)
				}
			}
		}
		return d
	}
	p.Start()
	p.Step()
	p.Step()
	if d := p.InFlight()[0]; d.From.Port() != 4500 || d.To.Port() != 4500 {
		t.Fatalf("IKE_AUTH sent %v -> %v, want port 4500", d.From, d.To)
	}
	p.Run()
	if !p.Init.Established() {
		t.Fatal("not established")
	}
	ie := iketest.Find[ike.Established](p.I.Events())
	re := iketest.Find[ike.Established](p.R.Events())
	if !ie[0].NATLocal || ie[0].NATRemote {
		t.Errorf("initiator NAT local %v remote %v, want true false", ie[0].NATLocal, ie[0].NATRemote)
	}
	if re[0].NATLocal || !re[0].NATRemote {
		t.Errorf("responder NAT local %v remote %v, want false true", re[0].NATLocal, re[0].NATRemote)
	}
	if got := p.R.SA().Remote(); got != netip.AddrPortFrom(public, 31338) {
		t.Errorf("responder talks to %v", got)
	}
	rc := p.R.SA().Children()[0]
	ic := p.Init.Children()[0]
	if !rc.UDPEncap || rc.EncapLocalPort != 4500 || rc.EncapRemotePort != 31338 || rc.Remote != public {
		t.Errorf("responder Child SA encap %v %d->%d remote %v", rc.UDPEncap, rc.EncapLocalPort, rc.EncapRemotePort, rc.Remote)
	}
	if !ic.UDPEncap || ic.EncapLocalPort != 4500 || ic.EncapRemotePort != 4500 {
		t.Errorf("initiator Child SA encap %v %d->%d", ic.UDPEncap, ic.EncapLocalPort, ic.EncapRemotePort)
	}
	// The end behind the NAT keeps the mapping open when idle.
	p.I.Events()
	p.R.Events()
	p.Advance(45 * time.Second)
	ka := iketest.Find[ike.NATKeepalive](p.I.Events())
	if len(ka) != 2 || ka[0].Local.Port() != 4500 || ka[0].Remote.Port() != 4500 {
		t.Errorf("keepalives %v, want 2 on port 4500", ka)
	}
	if n := len(iketest.Find[ike.NATKeepalive](p.R.Events())); n != 0 {
		t.Errorf("responder (not behind a NAT) sent %d keepalives", n)
	}
	// Rekeys and deletes keep working across the NAT.
	lifecycle(t, p, false, 0)
}
