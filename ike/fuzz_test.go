package ike_test

import (
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
