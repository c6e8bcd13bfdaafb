package ike_test

import (
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"testing"
	"testing/cryptotest"
	"time"

	"github.com/oe-agent/oe-agent/ike"
	"github.com/oe-agent/oe-agent/ike/iketest"
	"github.com/oe-agent/oe-agent/ike/wire"
)

// checkConsistent asserts that two established SAs agree on every Child
// SA: same set, SPIs and keys crossed.
func checkConsistent(t *testing.T, a, b *ike.SA) {
	t.Helper()
	ai, bi := a.Children(), b.Children()
	if len(ai) != len(bi) {
		t.Fatalf("Child SAs: %d vs %d\n%v\n%v", len(ai), len(bi), ai, bi)
	}
	byOut := map[uint32]ike.ChildSA{}
	for _, c := range bi {
		byOut[c.OutboundSPI] = c
	}
	for _, c := range ai {
		o, ok := byOut[c.InboundSPI]
		if !ok {
			t.Fatalf("Child SA %v has no peer", c)
		}
		checkChildPair(t, c, o)
	}
	x1, y1 := a.SPIs()
	x2, y2 := b.SPIs()
	if x1 != x2 || y1 != y2 {
		t.Fatalf("IKE SPIs differ: %x/%x vs %x/%x", x1, y1, x2, y2)
	}
}

var chaosDrop = func() int {
	if n, err := strconv.Atoi(os.Getenv("IKE_CHAOS_DROP")); err == nil {
		return n
	}
	return 10
}()

var chaosVerbose = os.Getenv("IKE_CHAOS_VERBOSE") != ""

// TestChaos runs random commands from both ends over a link that drops,
// duplicates and delays datagrams, then lets it settle over a clean link:
// the ends must agree on the IKE SA and every Child SA.
func TestChaos(t *testing.T) {
	seeds := uint64(40)
	if n, err := strconv.ParseUint(os.Getenv("IKE_CHAOS_SEEDS"), 10, 64); err == nil {
		seeds = n
	}
	for seed := uint64(1); seed <= seeds; seed++ {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 99))
			cryptotest.SetGlobalRandom(t, seed)
			icfg, rcfg := pskConfigs()
			icfg.Rand = seededReader{rand.NewChaCha8([32]byte{byte(seed), 1})}
			rcfg.Rand = seededReader{rand.NewChaCha8([32]byte{byte(seed), 2})}
			for _, c := range []*ike.Config{icfg, rcfg} {
				c.Retransmit = ike.Retransmit{Initial: time.Second, Factor: 2, Tries: 8}
				c.DPDInterval = 40 * time.Second
				// Short lifetimes so that timer-driven rekeys collide with
				// the commands (and each other).
				c.ChildLifetime, c.RekeyMargin, c.IKELifetime = 25*time.Second, time.Minute, 50*time.Second
				if seed%2 == 0 {
					c.ChildProposals[0].DH = []wire.DHGroup{wire.DHECP256}
				}
			}
			p := iketest.NewPair(t, icfg, rcfg, ike.DispatcherConfig{})
			p.Verbose = testing.Verbose() && chaosVerbose
			p.Handshake()
			isa, rsa := p.Init, p.R.SA()
			p.Filter = func(iketest.Datagram) iketest.Verdict {
				switch x := rng.IntN(100); {
				case x < chaosDrop:
					return iketest.Drop
				case x < 15:
					return iketest.Duplicate
				}
				return iketest.Deliver
			}
			for step := 0; step < 40 && isa.Established() && rsa.Established(); step++ {
				e, sa := p.I, isa
				if rng.IntN(2) == 0 {
					e, sa = p.R, rsa
				}
				switch rng.IntN(5) {
				case 0:
					e.Do(sa, sa.CreateChild)
				case 1, 2:
					if cs := sa.Children(); len(cs) > 0 {
						spi := cs[rng.IntN(len(cs))].InboundSPI
						e.Do(sa, func(now time.Time) ([]ike.Action, error) { return sa.RekeyChild(now, spi) })
					}
				case 3:
					e.Do(sa, sa.RekeyIKE)
				case 4:
					if cs := sa.Children(); len(cs) > 0 {
						spi := cs[rng.IntN(len(cs))].InboundSPI
						e.Do(sa, func(now time.Time) ([]ike.Action, error) { return sa.DeleteChild(now, spi) })
					}
				}
				// Deliver some of what is in flight, in a random order.
				if fl := p.TakeInFlight(); len(fl) > 0 {
					rng.Shuffle(len(fl), func(i, j int) { fl[i], fl[j] = fl[j], fl[i] })
					for _, d := range fl {
						if p.Filter(d) != iketest.Drop {
							p.Deliver(d)
						}
					}
				}
				p.Advance(time.Duration(rng.IntN(3000)) * time.Millisecond)
			}
			p.Filter = nil
			p.Advance(10 * time.Minute)
			if isa.IsClosed() != rsa.IsClosed() {
				t.Fatalf("one end closed: %v / %v", isa.Err(), rsa.Err())
			}
			if isa.IsClosed() {
				t.Logf("closed: %v / %v", isa.Err(), rsa.Err())
				return
			}
			checkConsistent(t, isa, rsa)
		})
	}
}
