package ike_test

import (
	"bytes"
	"math/rand/v2"
	"testing"
	"testing/cryptotest"
	"time"

	"github.com/oe-agent/oe-agent/ike"
	"github.com/oe-agent/oe-agent/ike/iketest"
)

// seededReader is a deterministic io.Reader for Config.Rand.
type seededReader struct{ r *rand.ChaCha8 }

func (s seededReader) Read(b []byte) (int, error) { return s.r.Read(b) }

// TestDeterministic shows that all randomness is injected: with a seeded
// Config.Rand (and the global source fixed for crypto/ecdh, which ignores
// its argument since Go 1.26), two runs put the same octets on the wire.
func TestDeterministic(t *testing.T) {
	run := func() [][]byte {
		cryptotest.SetGlobalRandom(t, 7)
		icfg, rcfg := pskConfigs()
		icfg.Rand = seededReader{rand.NewChaCha8([32]byte{1})}
		rcfg.Rand = seededReader{rand.NewChaCha8([32]byte{2})}
		p := iketest.NewPair(t, icfg, rcfg, ike.DispatcherConfig{})
		p.Handshake()
		sa := p.Init
		p.I.Do(sa, func(now time.Time) ([]ike.Action, error) { return sa.RekeyChild(now, sa.Children()[0].InboundSPI) })
		p.Run()
		var out [][]byte
		for _, d := range append(p.I.Sent(), p.R.Sent()...) {
			out = append(out, d.Data)
		}
		return out
	}
	a, b := run(), run()
	if len(a) != len(b) || len(a) < 8 {
		t.Fatalf("%d and %d datagrams", len(a), len(b))
	}
	for i := range a {
		if !bytes.Equal(a[i], b[i]) {
			t.Fatalf("datagram %d differs between runs", i)
		}
	}
}
