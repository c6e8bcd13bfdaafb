package ike_test

import (
	"testing"
	"time"

	"github.com/oe-agent/oe-agent/ike"
	"github.com/oe-agent/oe-agent/ike/iketest"
	"github.com/oe-agent/oe-agent/ike/wire"
)

// TestSimultaneousChildRekey has both ends rekey the same Child SA at
// once (RFC 7296 §2.8.1): afterwards exactly one new pair survives on
// both ends and the others are deleted.
func TestSimultaneousChildRekey(t *testing.T) {
	for i := 0; i < 8; i++ { // nonces are random: exercise both outcomes
		icfg, rcfg := pskConfigs()
		p := iketest.NewPair(t, icfg, rcfg, ike.DispatcherConfig{})
		p.Handshake()
		isa, rsa := p.Init, p.R.SA()
		p.I.Events()
		p.R.Events()
		c := isa.Children()[0]
		p.I.Do(isa, func(now time.Time) ([]ike.Action, error) { return isa.RekeyChild(now, c.InboundSPI) })
		p.R.Do(rsa, func(now time.Time) ([]ike.Action, error) { return rsa.RekeyChild(now, c.OutboundSPI) })
		p.Run()
		ic, rc := isa.Children(), rsa.Children()
		if len(ic) != 1 || len(rc) != 1 {
			t.Fatalf("children after collision: %v / %v", ic, rc)
		}
		checkChildPair(t, ic[0], rc[0])
		if ic[0].InboundSPI == c.InboundSPI {
			t.Fatal("old Child SA survived")
		}
		ie, re := p.I.Events(), p.R.Events()
		if a, b := len(iketest.Find[ike.InstallChild](ie)), len(iketest.Find[ike.DeleteChild](ie)); a != 2 || b != 2 {
			t.Errorf("initiator installed %d deleted %d, want 2 and 2", a, b)
		}
		if a, b := len(iketest.Find[ike.InstallChild](re)), len(iketest.Find[ike.DeleteChild](re)); a != 2 || b != 2 {
			t.Errorf("responder installed %d deleted %d, want 2 and 2", a, b)
		}
	}
}

// TestSimultaneousDelete: both ends delete the same Child SA, then both
// delete the IKE SA, at once (RFC 7296 §1.4.1).
func TestSimultaneousDelete(t *testing.T) {
	icfg, rcfg := pskConfigs()
	p := iketest.NewPair(t, icfg, rcfg, ike.DispatcherConfig{})
	p.Handshake()
	p.I.Events()
	p.R.Events()
	isa, rsa := p.Init, p.R.SA()
	c := isa.Children()[0]
	p.I.Do(isa, func(now time.Time) ([]ike.Action, error) { return isa.DeleteChild(now, c.InboundSPI) })
	p.R.Do(rsa, func(now time.Time) ([]ike.Action, error) { return rsa.DeleteChild(now, c.OutboundSPI) })
	p.Run()
	if a, b := len(iketest.Find[ike.DeleteChild](p.I.Events())), len(iketest.Find[ike.DeleteChild](p.R.Events())); a != 1 || b != 1 {
		t.Fatalf("DeleteChild %d and %d", a, b)
	}
	if !isa.Established() || !rsa.Established() {
		t.Fatal("IKE SA lost")
	}
	p.I.Do(isa, func(now time.Time) ([]ike.Action, error) { return isa.Delete(now), nil })
	p.R.Do(rsa, func(now time.Time) ([]ike.Action, error) { return rsa.Delete(now), nil })
	p.Run()
	p.Advance(time.Minute)
	if !isa.IsClosed() || !rsa.IsClosed() {
		t.Fatal("IKE SAs not closed")
	}
	if a, b := iketest.Find[ike.Closed](p.I.Events()), iketest.Find[ike.Closed](p.R.Events()); len(a) != 1 || len(b) != 1 {
		t.Fatalf("Closed %v / %v", a, b)
	}
}

// TestSimultaneousIKERekey: both ends rekey the IKE SA at once (RFC 7296
// §2.8.2). Both exchanges complete; the IKE SA made with the lowest nonce
// is deleted by its initiator, the old one by the survivor's initiator,
// and both ends agree on the survivor without a retry.
func TestSimultaneousIKERekey(t *testing.T) {
	for i := 0; i < 8; i++ {
		icfg, rcfg := pskConfigs()
		p := iketest.NewPair(t, icfg, rcfg, ike.DispatcherConfig{})
		p.Handshake()
		p.I.Events()
		p.R.Events()
		isa, rsa := p.Init, p.R.SA()
		p.I.Sent()
		p.R.Sent()
		p.I.Do(isa, isa.RekeyIKE)
		p.R.Do(rsa, rsa.RekeyIKE)
		p.Run()
		ir, rr := iketest.Find[ike.IKERekeyed](p.I.Events()), iketest.Find[ike.IKERekeyed](p.R.Events())
		if len(ir) != 1 || len(rr) != 1 || ir[0].SPIi != rr[0].SPIi || ir[0].SPIr != rr[0].SPIr {
			t.Fatalf("IKERekeyed %v / %v", ir, rr)
		}
		if a, b := isa.SPIs(); a != ir[0].SPIi || b != ir[0].SPIr {
			t.Fatalf("initiator uses %x/%x", a, b)
		}
		// Two CREATE_CHILD_SA and two INFORMATIONAL (the deletes of the
		// old and of the redundant IKE SA) requests in all.
		reqs := map[wire.ExchangeType]int{}
		for _, d := range append(p.I.Sent(), p.R.Sent()...) {
			if h := d.Header(t); !h.IsResponse() {
				reqs[h.Exchange]++
			}
		}
		if reqs[wire.ExchangeCreateChildSA] != 2 || reqs[wire.ExchangeInformational] != 2 {
			t.Fatalf("requests %v", reqs)
		}
		if !isa.Established() || !rsa.Established() || len(isa.Children()) != 1 {
			t.Fatal("SA lost in the collision")
		}
		// Nothing left to retransmit, and the survivor works.
		p.Advance(2 * time.Minute)
		if len(p.I.Sent())+len(p.R.Sent()) != 0 {
			t.Fatal("traffic after the collision settled")
		}
		p.I.Do(isa, isa.CreateChild)
		p.Run()
		if len(isa.Children()) != 2 || len(rsa.Children()) != 2 {
			t.Fatalf("children %d/%d", len(isa.Children()), len(rsa.Children()))
		}
	}
}

// TestRekeyVersusDelete: one end rekeys a Child SA while the other
// deletes it. The delete wins; neither end keeps a Child SA.
func TestRekeyVersusDelete(t *testing.T) {
	icfg, rcfg := pskConfigs()
	p := iketest.NewPair(t, icfg, rcfg, ike.DispatcherConfig{})
	p.Handshake()
	isa, rsa := p.Init, p.R.SA()
	c := isa.Children()[0]
	p.I.Do(isa, func(now time.Time) ([]ike.Action, error) { return isa.RekeyChild(now, c.InboundSPI) })
	p.R.Do(rsa, func(now time.Time) ([]ike.Action, error) { return rsa.DeleteChild(now, c.OutboundSPI) })
	p.Run()
	if len(isa.Children()) != 0 || len(rsa.Children()) != 0 {
		t.Fatalf("children left: %v / %v", isa.Children(), rsa.Children())
	}
	if !isa.Established() || !rsa.Established() {
		t.Fatal("IKE SA lost")
	}
	p.Advance(time.Hour)
	if len(isa.Children()) != 0 || len(rsa.Children()) != 0 || !isa.Established() {
		t.Fatal("rekey of a deleted Child SA came back")
	}
}

// TestChildRekeyDuringIKERekey: the initiator rekeys the IKE SA while the
// responder rekeys a Child SA. The responder refuses the IKE rekey while
// its own exchange is in flight, the initiator retries later, and both
// complete.
func TestChildRekeyDuringIKERekey(t *testing.T) {
	icfg, rcfg := pskConfigs()
	p := iketest.NewPair(t, icfg, rcfg, ike.DispatcherConfig{})
	p.Handshake()
	p.I.Events()
	p.R.Events()
	isa, rsa := p.Init, p.R.SA()
	c := rsa.Children()[0]
	p.I.Do(isa, isa.RekeyIKE)
	p.R.Do(rsa, func(now time.Time) ([]ike.Action, error) { return rsa.RekeyChild(now, c.InboundSPI) })
	oldI, _ := isa.SPIs()
	p.Advance(time.Minute)
	if a, _ := isa.SPIs(); a == oldI || len(iketest.Find[ike.IKERekeyed](p.R.Events())) != 1 {
		t.Fatal("IKE SA not rekeyed after the retry")
	}
	if a, b := isa.SPIs(); func() bool { x, y := rsa.SPIs(); return a != x || b != y }() {
		t.Fatal("ends disagree on the IKE SA")
	}
	if len(isa.Children()) != 1 || len(rsa.Children()) != 1 {
		t.Fatalf("children %v / %v", isa.Children(), rsa.Children())
	}
	checkChildPair(t, isa.Children()[0], rsa.Children()[0])
	if isa.Children()[0].InboundSPI == c.OutboundSPI {
		t.Error("the old Child SA survived")
	}
}

// TestPeerDeletesDuringRekey: the peer deletes the IKE SA while our
// rekey is outstanding; we close cleanly.
func TestPeerDeletesDuringRekey(t *testing.T) {
	icfg, rcfg := pskConfigs()
	p := iketest.NewPair(t, icfg, rcfg, ike.DispatcherConfig{})
	p.Handshake()
	isa, rsa := p.Init, p.R.SA()
	p.I.Do(isa, isa.RekeyIKE)
	p.R.Do(rsa, func(now time.Time) ([]ike.Action, error) { return rsa.Delete(now), nil })
	p.Run()
	p.Advance(time.Minute)
	if !isa.IsClosed() || !rsa.IsClosed() {
		t.Fatalf("closed: %v %v", isa.IsClosed(), rsa.IsClosed())
	}
	if len(p.I.D.SAs()) != 0 || len(p.R.D.SAs()) != 0 {
		t.Fatal("SAs left in the dispatchers")
	}
}
