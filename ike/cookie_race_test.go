package ike_test

import (
	"errors"
	"net/netip"
	"testing"

	"github.com/oe-agent/oe-agent/ike"
	"github.com/oe-agent/oe-agent/ike/iketest"
	"github.com/oe-agent/oe-agent/ike/wire"
)

// cookieRace sets up the race of RFC 7296 §2.6 that a loaded responder
// meets: the first copy of the initiator's IKE_SA_INIT is answered with a
// COOKIE (another half-open SA holds the threshold), a retransmitted copy
// arrives after that SA completed and creates the SA. It returns the pair
// with the COOKIE response and the SA's real response (r1) taken off the
// link, not yet delivered.
func cookieRace(t *testing.T) (p *iketest.Pair, cookieResp, r1 iketest.Datagram) {
	t.Helper()
	icfg, rcfg := pskConfigs()
	p = iketest.NewPair(t, icfg, rcfg, ike.DispatcherConfig{CookieThreshold: 1})
	other := p.AddEnd("other", netip.MustParseAddrPort("192.0.2.77:500"), ike.DispatcherConfig{})
	otherSA := other.Initiate(icfg, p.R.Addr)
	p.Step() // the responder makes other's half-open SA: the threshold is reached
	otherResp := p.TakeInFlight()
	p.Start()
	msg1 := p.TakeInFlight()
	if len(msg1) != 1 {
		t.Fatalf("initiator sent %d datagrams", len(msg1))
	}
	if err := p.Deliver(msg1[0]); !errors.Is(err, ike.ErrCookieRequired) {
		t.Fatalf("first copy: %v, want ErrCookieRequired", err)
	}
	cr := p.TakeInFlight()
	for _, d := range otherResp {
		p.Deliver(d)
	}
	p.Run()
	if !otherSA.Established() {
		t.Fatalf("other SA: %v", otherSA.Err())
	}
	if err := p.Deliver(msg1[0]); err != nil { // the retransmission, now below the threshold
		t.Fatalf("retransmitted copy: %v", err)
	}
	resp := p.TakeInFlight()
	if len(cr) != 1 || len(resp) != 1 {
		t.Fatalf("responder sent %d and %d datagrams, want 1 and 1", len(cr), len(resp))
	}
	return p, cr[0], resp[0]
}

// TestCookieRetryAfterSACreated: the initiator gets the COOKIE first,
// retries with it, then gets the response to its earlier copy and signs
// the retry in IKE_AUTH. The responder must answer the retry from its SA
// and verify AUTH over it: before this was handled, the retry was taken
// for a replay and AUTH failed (AUTHENTICATION_FAILED), which made a few
// of 200 simultaneous OE peers fail.
func TestCookieRetryAfterSACreated(t *testing.T) {
	p, cookieResp, r1 := cookieRace(t)
	p.Deliver(cookieResp)
	retry := p.TakeInFlight()
	if len(retry) != 1 {
		t.Fatalf("initiator sent %d datagrams after the COOKIE", len(retry))
	}
	if _, ps := p.Payloads(retry[0]); ps[0].(*wire.Notify).NotifyType != wire.NotifyCookie {
		t.Fatalf("retry starts with %v", ps[0])
	}
	p.Deliver(r1) // the initiator moves on to IKE_AUTH, signing the retry
	auth := p.TakeInFlight()
	if err := p.Deliver(retry[0]); err != nil {
		t.Fatalf("responder on the cookie retry: %v", err)
	}
	again := p.TakeInFlight()
	if len(again) != 1 || string(again[0].Data) != string(r1.Data) {
		t.Fatalf("responder answered the retry with %d datagrams, want its response again", len(again))
	}
	for _, d := range auth {
		p.Deliver(d)
	}
	p.Run()
	checkRaceEstablished(t, p)
}

// TestCookieRaceOtherRequestRefused: a request with the same SPIi that
// differs in more than the cookie is not a retry; it is refused as a
// replay and does not disturb the SA.
func TestCookieRaceOtherRequestRefused(t *testing.T) {
	p, cookieResp, r1 := cookieRace(t)
	p.Deliver(cookieResp)
	retry := p.TakeInFlight()[0]
	forged := retry
	forged.Data = append([]byte(nil), retry.Data...)
	forged.Data[len(forged.Data)-1] ^= 1 // a changed octet in the last payload
	if err := p.Deliver(forged); !errors.Is(err, ike.ErrReplayedInit) {
		t.Fatalf("changed request: %v, want ErrReplayedInit", err)
	}
	if d := p.TakeInFlight(); len(d) != 0 {
		t.Fatalf("responder answered a changed request: %v", d)
	}
	p.Deliver(r1)
	p.Deliver(retry)
	p.Run()
	checkRaceEstablished(t, p)
}

// checkRaceEstablished fails the test unless the initiator and the
// responder's SA for it are established.
func checkRaceEstablished(t *testing.T, p *iketest.Pair) {
	t.Helper()
	if !p.Init.Established() {
		t.Fatalf("initiator not established: %v (responder errors %v)", p.Init.Err(), p.R.Errors())
	}
	for _, sa := range p.R.D.SAs() {
		if sa.Remote() == p.I.Addr && !sa.Established() {
			t.Fatalf("responder not established: %v", sa.Err())
		}
	}
}
