package ike_test

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"testing"
	"time"

	"github.com/oe-agent/oe-agent/ike"
	"github.com/oe-agent/oe-agent/ike/iketest"
	"github.com/oe-agent/oe-agent/ike/wire"
)

// TestCookieFlood sends 10,000 IKE_SA_INIT requests from spoofed
// addresses. Past the threshold the responder answers each with a
// stateless COOKIE and performs no Diffie-Hellman; a real initiator still
// gets in (with a cookie), and the half-open SAs expire.
func TestCookieFlood(t *testing.T) {
	const (
		flood     = 10000
		threshold = 16
	)
	icfg, rcfg := pskConfigs()
	rcfg.HalfOpenTimeout = 20 * time.Second
	p := iketest.NewPair(t, icfg, rcfg, ike.DispatcherConfig{CookieThreshold: threshold})
	tmpl := initRequest(t)
	cookies := 0
	for i := 0; i < flood; i++ {
		b := append([]byte(nil), tmpl...)
		binary.BigEndian.PutUint64(b, uint64(i)+1) // SPIi
		from := netip.AddrPortFrom(netip.AddrFrom4([4]byte{198, 51, 100, byte(i)}), uint16(1024+i))
		sa, acts, err := p.R.D.Handle(p.Now, iketest.ResponderAddr, from, b)
		switch {
		case i < threshold:
			if err != nil || sa == nil {
				t.Fatalf("request %d below the threshold: %v", i, err)
			}
		default:
			if !errors.Is(err, ike.ErrCookieRequired) || sa != nil || len(acts) != 1 {
				t.Fatalf("request %d: sa %v, %d actions, err %v; want a cookie", i, sa, len(acts), err)
			}
			m, err := wire.Decode(acts[0].(ike.Send).Data)
			if err != nil {
				t.Fatal(err)
			}
			if n := wire.FindNotify(m.Payloads, wire.NotifyCookie); n == nil || len(m.Payloads) != 1 || m.SPIr != 0 {
				t.Fatalf("reply %v is not a lone COOKIE", m.Payloads)
			}
			cookies++
		}
	}
	s := p.R.D.Stats()
	t.Logf("after %d spoofed IKE_SA_INIT: %+v", flood, s)
	if s.HalfOpenCreated != threshold || s.HalfOpen != threshold || s.CookiesSent != flood-threshold || cookies != flood-threshold {
		t.Fatalf("stats %+v", s)
	}
	// Two DH operations (key generation and shared secret) per half-open
	// SA, none for the flood beyond the threshold.
	if s.DHComputations != 2*threshold {
		t.Fatalf("%d DH computations, want %d", s.DHComputations, 2*threshold)
	}

	// A real initiator under load: one cookie round trip, then in.
	p.Start()
	p.Run()
	if !p.Init.Established() {
		t.Fatalf("legitimate initiator: %v", p.Init.Err())
	}
	if s2 := p.R.D.Stats(); s2.DHComputations != s.DHComputations+2 || s2.CookiesSent != s.CookiesSent+1 {
		t.Fatalf("legitimate handshake: %+v", s2)
	}

	// The spoofed half-open SAs time out.
	p.Advance(21 * time.Second)
	if s := p.R.D.Stats(); s.HalfOpen != 0 || s.SAs != 1 {
		t.Fatalf("after the half-open timeout: %+v", s)
	}
	closed := iketest.Find[ike.Closed](p.R.Events())
	if len(closed) != threshold || !errors.Is(closed[0].Err, ike.ErrHalfOpenExpired) {
		t.Fatalf("%d Closed, first %v", len(closed), closed)
	}
}

// TestForgedCookie: a cookie made for another SPI, or garbage, is refused
// with ErrInvalidCookie and a fresh cookie.
func TestForgedCookie(t *testing.T) {
	_, rcfg := pskConfigs()
	d, err := ike.NewDispatcher(ike.DispatcherConfig{Responder: rcfg, CookieThreshold: -1})
	if err != nil {
		t.Fatal(err)
	}
	req := initRequest(t)
	now := time.Unix(1000, 0)
	_, acts, err := d.Handle(now, iketest.ResponderAddr, iketest.InitiatorAddr, req)
	if !errors.Is(err, ike.ErrCookieRequired) {
		t.Fatal(err)
	}
	m, _ := wire.Decode(acts[0].(ike.Send).Data)
	cookie := wire.FindNotify(m.Payloads, wire.NotifyCookie).Data
	with := func(b, c []byte) []byte {
		return reencode(t, b, func(m *wire.Message) {
			m.Payloads = append([]wire.Payload{wire.NewNotify(wire.NotifyCookie, c)}, m.Payloads...)
		})
	}
	other := append([]byte(nil), req...)
	other[7] ^= 1 // another SPIi
	for name, b := range map[string][]byte{
		"other SPI":     with(other, cookie),
		"garbage":       with(req, []byte("0123456789")),
		"other address": nil,
	} {
		from := iketest.InitiatorAddr
		if b == nil {
			b, from = with(req, cookie), netip.MustParseAddrPort("203.0.113.9:500")
		}
		if _, _, err := d.Handle(now, iketest.ResponderAddr, from, b); !errors.Is(err, ike.ErrInvalidCookie) {
			t.Errorf("%s: %v, want ErrInvalidCookie", name, err)
		}
	}
	// The real cookie works, also after one secret rotation.
	sa, _, err := d.Handle(now.Add(3*time.Minute), iketest.ResponderAddr, iketest.InitiatorAddr, with(req, cookie))
	if err != nil || sa == nil {
		t.Fatalf("valid cookie after a rotation: %v", err)
	}
	if s := d.Stats(); s.SAs != 1 || s.DHComputations != 2 {
		t.Fatalf("stats %+v", s)
	}
}

// TestMaxHalfOpen: past MaxHalfOpen even requests with valid cookies are
// dropped without state.
func TestMaxHalfOpen(t *testing.T) {
	_, rcfg := pskConfigs()
	d, err := ike.NewDispatcher(ike.DispatcherConfig{Responder: rcfg, CookieThreshold: 100, MaxHalfOpen: 5})
	if err != nil {
		t.Fatal(err)
	}
	tmpl := initRequest(t)
	for i := 0; i < 8; i++ {
		b := append([]byte(nil), tmpl...)
		binary.BigEndian.PutUint64(b, uint64(i)+1)
		_, _, err := d.Handle(time.Unix(0, 0), iketest.ResponderAddr, iketest.InitiatorAddr, b)
		if (i < 5) != (err == nil) || (i >= 5 && !errors.Is(err, ike.ErrBusy)) {
			t.Fatalf("request %d: %v", i, err)
		}
	}
	if s := d.Stats(); s.HalfOpen != 5 || s.DHComputations != 10 {
		t.Fatalf("stats %+v", s)
	}
}
