package iketest

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"net/netip"
	"sync"
	"testing"

	"github.com/oe-agent/oe-agent/ike"
)

// Addresses of the two ends of a Pair (documentation range, RFC 5737;
// never used on a real network).
var (
	InitiatorAddr = netip.MustParseAddrPort("192.0.2.1:500")
	ResponderAddr = netip.MustParseAddrPort("192.0.2.2:500")
)

// Pair is a Net with an initiator end I and a responder end R.
type Pair struct {
	*Net
	I, R *End
	// ICfg and RCfg are the configurations in use.
	ICfg, RCfg *ike.Config
	// Init is the initiator's SA once Start has run.
	Init *ike.SA
}

// NewPair joins an initiator with configuration icfg and a responder with
// rcfg. The responder's Dispatcher uses dc (dc.Responder is set to rcfg).
func NewPair(t testing.TB, icfg, rcfg *ike.Config, dc ike.DispatcherConfig) *Pair {
	return NewPairAt(t, icfg, rcfg, dc, InitiatorAddr, ResponderAddr)
}

// NewPairAt is NewPair with the ends at the given addresses.
func NewPairAt(t testing.TB, icfg, rcfg *ike.Config, dc ike.DispatcherConfig, iaddr, raddr netip.AddrPort) *Pair {
	n := NewNet(t)
	dc.Responder = rcfg
	p := &Pair{Net: n, ICfg: icfg, RCfg: rcfg}
	p.I = n.AddEnd("initiator", iaddr, ike.DispatcherConfig{})
	p.R = n.AddEnd("responder", raddr, dc)
	return p
}

// Start makes the initiator send IKE_SA_INIT.
func (p *Pair) Start() *ike.SA {
	p.Init = p.I.Initiate(p.ICfg, p.R.Addr)
	return p.Init
}

// Handshake starts the initiator, runs the link until quiet and fails the
// test unless both ends are established.
func (p *Pair) Handshake() {
	p.T.Helper()
	p.Start()
	p.Run()
	if !p.Init.Established() {
		p.T.Fatalf("initiator not established: %v (errors: I %v, R %v)", p.Init.Err(), p.I.errs, p.R.errs)
	}
	if r := p.R.SA(); !r.Established() {
		p.T.Fatalf("responder not established: %v (errors: %v)", r.Err(), p.R.errs)
	}
}

// Keys are test signing keys, generated once per process.
type Keys struct {
	RSA      *rsa.PrivateKey // 2048 bits
	P256     *ecdsa.PrivateKey
	P384     *ecdsa.PrivateKey
	Ed25519  ed25519.PrivateKey
	RSA2     *rsa.PrivateKey // a second RSA key, for wrong-key tests
	Ed25519b ed25519.PrivateKey
}

var (
	keysOnce sync.Once
	keys     Keys
)

// TestKeys returns the shared test keys.
func TestKeys() *Keys {
	keysOnce.Do(func() {
		must := func(err error) {
			if err != nil {
				panic(err)
			}
		}
		var err error
		keys.RSA, err = rsa.GenerateKey(rand.Reader, 2048)
		must(err)
		keys.RSA2, err = rsa.GenerateKey(rand.Reader, 2048)
		must(err)
		keys.P256, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		must(err)
		keys.P384, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
		must(err)
		_, keys.Ed25519, err = ed25519.GenerateKey(rand.Reader)
		must(err)
		_, keys.Ed25519b, err = ed25519.GenerateKey(rand.Reader)
		must(err)
	})
	return &keys
}
