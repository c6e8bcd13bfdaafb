package ike_test

import (
	"encoding/binary"
	"testing"
	"time"

	"github.com/oe-agent/oe-agent/ike"
	"github.com/oe-agent/oe-agent/ike/iketest"
	"github.com/oe-agent/oe-agent/ike/wire"
)

// FuzzResponderHandle feeds arbitrary datagrams to a fresh responder and
// to the responder of an established pair. Neither may panic; the fresh
// one may create state only for a well-formed IKE_SA_INIT request.
func FuzzResponderHandle(f *testing.F) {
	icfg, rcfg := pskConfigs()
	p := iketest.NewPair(f, icfg, rcfg, ike.DispatcherConfig{})
	p.Start()
	for p.Step() {
	}
	for _, d := range p.I.Sent() {
		f.Add(d.Data)
		f.Add(d.Data[:len(d.Data)/2])
	}
	for _, d := range p.R.Sent() {
		f.Add(d.Data)
	}
	f.Add([]byte{})
	f.Add(make([]byte, wire.HeaderLen))
	established := p.R
	now := time.Unix(1e9, 0)
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := ike.NewDispatcher(ike.DispatcherConfig{Responder: rcfg})
		if err != nil {
			t.Fatal(err)
		}
		sa, _, err := d.Handle(now, iketest.ResponderAddr, iketest.InitiatorAddr, data)
		st := d.Stats()
		if err != nil {
			if sa != nil || st.SAs != 0 || st.HalfOpen != 0 {
				t.Fatalf("state created for a refused datagram (%v): %+v", err, st)
			}
		} else if sa != nil {
			m, derr := wire.Decode(data)
			if derr != nil || m.Exchange != wire.ExchangeIKESAInit || m.IsResponse() {
				t.Fatalf("SA created from a datagram that is not an IKE_SA_INIT request: %v", derr)
			}
		}
		sa, acts, _ := established.D.Handle(now, iketest.ResponderAddr, iketest.InitiatorAddr, data)
		_ = acts
		if sa != nil {
			sa.Tick(now.Add(time.Hour))
		}
	})
}

// FuzzInitiatorHandle feeds arbitrary datagrams to an initiator waiting
// for its IKE_SA_INIT response (seeded with real responses, a COOKIE and
// an INVALID_KE_PAYLOAD). It must not panic, and nothing but a proper
// response may move it on.
func FuzzInitiatorHandle(f *testing.F) {
	icfg, rcfg := pskConfigs()
	for _, dc := range []ike.DispatcherConfig{{}, {CookieThreshold: -1}} {
		p := iketest.NewPair(f, icfg, rcfg, dc)
		p.Start()
		p.Step()
		for _, d := range p.R.Sent() {
			f.Add(d.Data)
		}
	}
	f.Add(reencode(f, initRequest(f), func(m *wire.Message) {
		m.Flags = wire.FlagResponse
		m.Payloads = []wire.Payload{wire.NewInvalidKE(wire.DHECP256)}
	}))
	now := time.Unix(1e9, 0)
	f.Fuzz(func(t *testing.T, data []byte) {
		sa, err := ike.NewInitiator(icfg, iketest.InitiatorAddr, iketest.ResponderAddr, now)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := sa.Initiate(now); err != nil {
			t.Fatal(err)
		}
		// Make the datagram answer our SPI, so that the fuzzer reaches
		// the response handling.
		if len(data) >= 8 {
			spiI, _ := sa.SPIs()
			data = append([]byte(nil), data...)
			binary.BigEndian.PutUint64(data, spiI)
		}
		sa.Handle(now, iketest.InitiatorAddr, iketest.ResponderAddr, data)
		sa.Tick(now.Add(time.Minute))
		if sa.Established() {
			t.Fatal("established from one datagram")
		}
	})
}
