package ike_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/oe-agent/oe-agent/ike"
	"github.com/oe-agent/oe-agent/ike/iketest"
	"github.com/oe-agent/oe-agent/ike/wire"
)

func pskConfigs() (*ike.Config, *ike.Config) {
	psk := []byte("a pre-shared key of decent length")
	i := &ike.Config{
		LocalID:        ike.FQDNID("initiator.example"),
		LocalAuth:      ike.LocalAuth{Method: ike.AuthPSK, PSK: psk},
		Peer:           ike.PeerAuth{PSK: psk, ID: ike.FQDNID("responder.example")},
		IKEProposals:   ike.DefaultIKEProposals(),
		ChildProposals: ike.DefaultChildProposals(),
	}
	r := &ike.Config{
		LocalID:        ike.FQDNID("responder.example"),
		LocalAuth:      ike.LocalAuth{Method: ike.AuthPSK, PSK: psk},
		Peer:           ike.PeerAuth{PSK: psk, ID: ike.FQDNID("initiator.example")},
		IKEProposals:   ike.DefaultIKEProposals(),
		ChildProposals: ike.DefaultChildProposals(),
	}
	return i, r
}

// checkChildPair checks that two InstallChild actions describe the two
// ends of one Child SA: SPIs crossed, keys crossed, selectors mirrored.
func checkChildPair(t *testing.T, a, b ike.ChildSA) {
	t.Helper()
	if a.InboundSPI != b.OutboundSPI || a.OutboundSPI != b.InboundSPI {
		t.Errorf("SPIs not crossed: %v / %v", a, b)
	}
	if !a.Inbound.Encr.Equal(b.Outbound.Encr) || !a.Outbound.Encr.Equal(b.Inbound.Encr) ||
		!a.Inbound.Integ.Equal(b.Outbound.Integ) || !a.Outbound.Integ.Equal(b.Inbound.Integ) {
		t.Errorf("keys not crossed")
	}
	if a.Inbound.Encr.Equal(a.Outbound.Encr) && len(a.Inbound.Encr) > 0 {
		t.Errorf("same key both ways")
	}
	if a.Encr != b.Encr || a.Integ != b.Integ || a.EncrKeyBits != b.EncrKeyBits || a.Protocol != b.Protocol || a.Mode != b.Mode {
		t.Errorf("suites differ: %v / %v", a, b)
	}
	if len(a.LocalTS) == 0 || len(a.RemoteTS) == 0 || a.LocalTS[0].String() != b.RemoteTS[0].String() || a.RemoteTS[0].String() != b.LocalTS[0].String() {
		t.Errorf("selectors not mirrored: %v / %v", a, b)
	}
}

func TestHandshakePSK(t *testing.T) {
	icfg, rcfg := pskConfigs()
	p := iketest.NewPair(t, icfg, rcfg, ike.DispatcherConfig{})
	p.Handshake()
	ie, re := p.I.Events(), p.R.Events()
	iest := iketest.Find[ike.Established](ie)
	rest := iketest.Find[ike.Established](re)
	if len(iest) != 1 || len(rest) != 1 {
		t.Fatalf("Established: initiator %d, responder %d", len(iest), len(rest))
	}
	if !iest[0].PeerID.Equal(ike.FQDNID("responder.example")) || !rest[0].PeerID.Equal(ike.FQDNID("initiator.example")) {
		t.Errorf("peer IDs: %v, %v", iest[0].PeerID, rest[0].PeerID)
	}
	if iest[0].NATLocal || iest[0].NATRemote || rest[0].NATLocal || rest[0].NATRemote {
		t.Errorf("NAT detected without a NAT: %+v %+v", iest[0], rest[0])
	}
	ic := iketest.Find[ike.InstallChild](ie)
	rc := iketest.Find[ike.InstallChild](re)
	if len(ic) != 1 || len(rc) != 1 {
		t.Fatalf("InstallChild: initiator %d, responder %d", len(ic), len(rc))
	}
	checkChildPair(t, ic[0].Child, rc[0].Child)
	if ic[0].Child.Encr != wire.EncrAESGCM16 || ic[0].Child.EncrKeyBits != 256 || len(ic[0].Child.Outbound.Encr) != 36 {
		t.Errorf("child suite %v, key %d octets", ic[0].Child, len(ic[0].Child.Outbound.Encr))
	}
	if s := p.R.D.Stats(); s.HalfOpen != 0 || s.HalfOpenCreated != 1 {
		t.Errorf("stats %+v", s)
	}
}

func TestHandshakeWrongPSK(t *testing.T) {
	icfg, rcfg := pskConfigs()
	icfg.LocalAuth.PSK = []byte("not the same key at all, sorry")
	p := iketest.NewPair(t, icfg, rcfg, ike.DispatcherConfig{})
	p.Start()
	p.Run()
	if p.Init.Established() || !p.Init.IsClosed() {
		t.Fatalf("initiator state: established %v closed %v", p.Init.Established(), p.Init.IsClosed())
	}
	if !errors.Is(p.Init.Err(), ike.ErrAuthenticationFail) {
		t.Errorf("initiator error %v, want AUTHENTICATION_FAILED", p.Init.Err())
	}
	closed := iketest.Find[ike.Closed](p.R.Events())
	if len(closed) != 1 || !errors.Is(closed[0].Err, ike.ErrAuth) {
		t.Errorf("responder Closed %v, want ErrAuth", closed)
	}
	if s := p.R.D.Stats(); s.SAs != 0 || s.HalfOpen != 0 {
		t.Errorf("responder keeps state: %+v", s)
	}
}

func TestInfo(t *testing.T) {
	icfg, rcfg := pskConfigs()
	icfg.IKELifetime = time.Hour
	p := iketest.NewPair(t, icfg, rcfg, ike.DispatcherConfig{})
	p.Handshake()
	in := p.Init.Info()
	if in.State != "established" || !in.Initiator || in.Proposal != "ENCR_AES_GCM_16_256/PRF_HMAC_SHA2_256/CURVE25519" ||
		!in.Established.Equal(p.Now) || in.NextRekey.IsZero() || len(in.Children) != 1 || in.Children[0].Proposal != "ENCR_AES_GCM_16_256" {
		t.Errorf("Info %+v", in)
	}
	if s := fmt.Sprint(in.Children[0].Inbound.Encr); !strings.Contains(s, "redacted") {
		t.Errorf("key prints as %q", s)
	}
}
