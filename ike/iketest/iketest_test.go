package iketest

import (
	"testing"
	"time"

	"github.com/oe-agent/oe-agent/ike"
	"github.com/oe-agent/oe-agent/ike/wire"
)

func configs() (*ike.Config, *ike.Config) {
	mk := func() *ike.Config {
		psk := []byte("harness self-test key material")
		return &ike.Config{
			LocalAuth:      ike.LocalAuth{Method: ike.AuthPSK, PSK: psk},
			Peer:           ike.PeerAuth{PSK: psk},
			IKEProposals:   ike.DefaultIKEProposals(),
			ChildProposals: ike.DefaultChildProposals(),
			Retransmit:     ike.Retransmit{Initial: time.Second, Factor: 2, Tries: 3},
		}
	}
	return mk(), mk()
}

// TestHarnessTime checks that the fake clock only moves when told, that
// AdvanceToTimer lands exactly on the next deadline, and that Drop loses
// datagrams.
func TestHarnessTime(t *testing.T) {
	i, r := configs()
	p := NewPair(t, i, r, ike.DispatcherConfig{})
	start := p.Now
	p.Filter = func(Datagram) Verdict { return Drop }
	sa := p.Start()
	p.Run()
	if !p.Now.Equal(start) {
		t.Fatal("Run moved the clock")
	}
	if got := sa.Deadline().Sub(start); got != time.Second {
		t.Fatalf("first deadline after %v", got)
	}
	if !p.AdvanceToTimer() || p.Now.Sub(start) != time.Second {
		t.Fatalf("AdvanceToTimer to %v", p.Now.Sub(start))
	}
	if n := len(p.InFlight()); n != 1 {
		t.Fatalf("%d datagrams in flight after the retransmission", n)
	}
	p.Advance(time.Hour)
	if !sa.IsClosed() || len(p.R.D.SAs()) != 0 {
		t.Fatal("dropped handshake did not fail, or reached the responder")
	}
	if c := Find[ike.Closed](p.I.Events()); len(c) != 1 {
		t.Fatalf("Closed events %v", c)
	}
}

// TestHarnessPayloads decodes clear and protected messages.
func TestHarnessPayloads(t *testing.T) {
	i, r := configs()
	p := NewPair(t, i, r, ike.DispatcherConfig{})
	p.Start()
	h, ps := p.Payloads(p.InFlight()[0])
	if h.Exchange != wire.ExchangeIKESAInit || wire.Find(ps, wire.PayloadKE) == nil {
		t.Fatalf("IKE_SA_INIT decoded as %v %v", h.Exchange, ps)
	}
	p.Step()
	p.Step()
	h, ps = p.Payloads(p.InFlight()[0])
	if h.Exchange != wire.ExchangeIKEAuth || wire.Find(ps, wire.PayloadAuth) == nil {
		t.Fatalf("IKE_AUTH decoded as %v %v", h.Exchange, ps)
	}
	p.Run()
	if !p.Init.Established() {
		t.Fatal("not established")
	}
}
