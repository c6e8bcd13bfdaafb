package ike_test

import (
	stdcrypto "crypto"
	"errors"
	"net/netip"
	"testing"
	"time"

	"github.com/oe-agent/oe-agent/ike"
	"github.com/oe-agent/oe-agent/ike/iketest"
	"github.com/oe-agent/oe-agent/ike/wire"
)

type authCase struct {
	name   string
	local  ike.LocalAuth
	pub    stdcrypto.PublicKey
	method ike.AuthMethod // what goes on the wire
}

func authCases() []authCase {
	k := iketest.TestKeys()
	sig := func(s stdcrypto.Signer, pss bool, h stdcrypto.Hash) ike.LocalAuth {
		return ike.LocalAuth{Method: ike.AuthSignature, Signer: s, RSAPSS: pss, Hash: h}
	}
	return []authCase{
		{"rsa-pkcs1-sha256", sig(k.RSA, false, 0), k.RSA.Public(), ike.AuthSignature},
		{"rsa-pkcs1-sha384", sig(k.RSA, false, stdcrypto.SHA384), k.RSA.Public(), ike.AuthSignature},
		{"rsa-pkcs1-sha512", sig(k.RSA, false, stdcrypto.SHA512), k.RSA.Public(), ike.AuthSignature},
		{"rsa-pss-sha256", sig(k.RSA, true, stdcrypto.SHA256), k.RSA.Public(), ike.AuthSignature},
		{"rsa-pss-sha384", sig(k.RSA, true, stdcrypto.SHA384), k.RSA.Public(), ike.AuthSignature},
		{"rsa-pss-sha512", sig(k.RSA, true, stdcrypto.SHA512), k.RSA.Public(), ike.AuthSignature},
		{"ecdsa-p256", sig(k.P256, false, 0), k.P256.Public(), ike.AuthSignature},
		{"ecdsa-p384", sig(k.P384, false, 0), k.P384.Public(), ike.AuthSignature},
		{"ed25519", sig(k.Ed25519, false, 0), k.Ed25519.Public(), ike.AuthSignature},
		{"rsa-legacy", ike.LocalAuth{Method: ike.AuthRSA, Signer: k.RSA}, k.RSA.Public(), ike.AuthRSA},
		{"psk", ike.LocalAuth{Method: ike.AuthPSK, PSK: []byte("shared secret for the auth test")}, nil, ike.AuthPSK},
		{"null", ike.LocalAuth{Method: ike.AuthNull}, nil, ike.AuthNull},
	}
}

// authConfig returns a configuration that authenticates with a and
// expects the peer to use peer.
func authConfig(id ike.Identity, a, peer authCase) *ike.Config {
	c := &ike.Config{
		LocalID:        id,
		LocalAuth:      a.local,
		Peer:           ike.PeerAuth{PublicKey: peer.pub, PSK: peer.local.PSK, Methods: []ike.AuthMethod{peer.method}},
		IKEProposals:   ike.DefaultIKEProposals(),
		ChildProposals: ike.DefaultChildProposals(),
	}
	if a.method == ike.AuthNull {
		c.LocalID = ike.NullID()
	}
	return c
}

// TestAuthMethods authenticates both ends with each method, with the peer
// key configured up front, then runs rekeys and deletes from either end.
func TestAuthMethods(t *testing.T) {
	for i, a := range authCases() {
		t.Run(a.name, func(t *testing.T) {
			icfg := authConfig(ike.FQDNID("i.example"), a, a)
			rcfg := authConfig(ike.AddrID(iketest.ResponderAddr.Addr()), a, a)
			p := iketest.NewPair(t, icfg, rcfg, ike.DispatcherConfig{})
			p.Handshake()
			ie := iketest.Find[ike.Established](p.I.Events())
			re := iketest.Find[ike.Established](p.R.Events())
			if len(ie) != 1 || len(re) != 1 || ie[0].PeerAuth != a.method || re[0].PeerAuth != a.method {
				t.Fatalf("Established %+v / %+v, want method %v", ie, re, a.method)
			}
			if a.method != ike.AuthNull && !re[0].PeerID.Equal(ike.FQDNID("i.example")) {
				t.Errorf("responder sees %v", re[0].PeerID)
			}
			lifecycle(t, p, i%2 == 0, 0)
		})
	}
}

// TestAuthMixed runs the opportunistic shape: an anonymous initiator
// (NULL) and a responder proving its DNS key, and the reverse.
func TestAuthMixed(t *testing.T) {
	cs := authCases()
	byName := map[string]authCase{}
	for _, c := range cs {
		byName[c.name] = c
	}
	for _, pair := range [][2]string{{"null", "ed25519"}, {"ed25519", "null"}, {"psk", "rsa-pss-sha256"}, {"ecdsa-p256", "rsa-legacy"}} {
		a, b := byName[pair[0]], byName[pair[1]]
		t.Run(pair[0]+"/"+pair[1], func(t *testing.T) {
			p := iketest.NewPair(t, authConfig(ike.FQDNID("i.example"), a, b), authConfig(ike.FQDNID("r.example"), b, a), ike.DispatcherConfig{})
			p.Handshake()
		})
	}
}

// TestAuthPeerKeyAsync leaves the peer keys out of both configurations:
// each SA asks with NeedPeerKey when IKE_AUTH arrives and waits, ignoring
// retransmissions, until the test supplies the key.
func TestAuthPeerKeyAsync(t *testing.T) {
	k := iketest.TestKeys()
	a := authCases()[8] // ed25519
	b := authCases()[0] // rsa
	icfg := authConfig(ike.FQDNID("i.example"), a, b)
	rcfg := authConfig(ike.FQDNID("r.example"), b, a)
	icfg.Peer.PublicKey, rcfg.Peer.PublicKey = nil, nil
	p := iketest.NewPair(t, icfg, rcfg, ike.DispatcherConfig{})
	p.Start()
	p.Run()
	rsa := p.R.SA()
	need := iketest.Find[ike.NeedPeerKey](p.R.Events())
	if len(need) != 1 || !need[0].ID.Equal(ike.FQDNID("i.example")) {
		t.Fatalf("responder NeedPeerKey: %v", need)
	}
	// The initiator retransmits IKE_AUTH while the lookup runs; the
	// responder must not answer or ask again.
	p.R.Sent()
	p.I.Sent()
	p.AdvanceToTimer()
	p.Run()
	if ev := p.R.Events(); len(ev) != 0 || len(p.R.Sent()) != 0 {
		t.Fatalf("responder acted while waiting for the key: %v", ev)
	}
	if s := p.I.Sent(); len(s) != 1 || s[0].Header(t).Exchange != wire.ExchangeIKEAuth {
		t.Fatalf("initiator did not retransmit IKE_AUTH: %v", s)
	}
	p.R.Supply(rsa, k.Ed25519.Public(), nil)
	p.Run()
	need = iketest.Find[ike.NeedPeerKey](p.I.Events())
	if len(need) != 1 || !need[0].ID.Equal(ike.FQDNID("r.example")) {
		t.Fatalf("initiator NeedPeerKey: %v", need)
	}
	if p.Init.Established() {
		t.Fatal("initiator established before it had the key")
	}
	p.I.Supply(p.Init, k.RSA.Public(), nil)
	p.Run()
	if !p.Init.Established() || !rsa.Established() {
		t.Fatalf("not established: %v %v", p.Init.Err(), rsa.Err())
	}
}

// TestAuthPeerKeyEarly supplies the responder's key to the initiator while
// IKE_SA_INIT is in flight, as the OE DNS lookup running in parallel does.
func TestAuthPeerKeyEarly(t *testing.T) {
	k := iketest.TestKeys()
	a, b := authCases()[11], authCases()[8] // null initiator, ed25519 responder
	icfg := authConfig(ike.NullID(), a, b)
	icfg.Peer.PublicKey = nil
	p := iketest.NewPair(t, icfg, authConfig(ike.FQDNID("r.example"), b, a), ike.DispatcherConfig{})
	sa := p.Start()
	p.I.Supply(sa, k.Ed25519.Public(), nil)
	p.Run()
	if !sa.Established() {
		t.Fatalf("not established: %v", sa.Err())
	}
	if n := iketest.Find[ike.NeedPeerKey](p.I.Events()); len(n) != 0 {
		t.Errorf("asked for a key it had: %v", n)
	}
}

func TestAuthPeerKeyLookupFails(t *testing.T) {
	a, b := authCases()[11], authCases()[8]
	icfg := authConfig(ike.NullID(), a, b)
	icfg.Peer.PublicKey = nil
	p := iketest.NewPair(t, icfg, authConfig(ike.FQDNID("r.example"), b, a), ike.DispatcherConfig{})
	p.I.PeerKey = func(ike.Identity) (stdcrypto.PublicKey, error) { return nil, errors.New("SERVFAIL") }
	p.Start()
	p.Run()
	if !errors.Is(p.Init.Err(), ike.ErrAuth) {
		t.Fatalf("initiator error %v, want ErrAuth", p.Init.Err())
	}
}

// TestAuthWrong checks that each kind of bad AUTH is refused with ErrAuth
// and AUTHENTICATION_FAILED, leaving no state at the responder.
func TestAuthWrong(t *testing.T) {
	k := iketest.TestKeys()
	cs := authCases()
	tests := []struct {
		name   string
		i, r   *ike.Config
		respOK bool // the responder accepts; the initiator refuses
	}{
		{"wrong rsa key", authConfig(ike.FQDNID("i"), cs[0], cs[0]), withPeerKey(authConfig(ike.FQDNID("r"), cs[0], cs[0]), k.RSA2.Public()), false},
		{"wrong ed25519 key", authConfig(ike.FQDNID("i"), cs[8], cs[8]), withPeerKey(authConfig(ike.FQDNID("r"), cs[8], cs[8]), k.Ed25519b.Public()), false},
		{"key of another type", authConfig(ike.FQDNID("i"), cs[6], cs[6]), withPeerKey(authConfig(ike.FQDNID("r"), cs[6], cs[6]), k.Ed25519.Public()), false},
		{"null not accepted", authConfig(ike.FQDNID("i"), cs[11], cs[11]), authConfig(ike.FQDNID("r"), cs[11], cs[8]), false},
		{"unexpected identity", authConfig(ike.FQDNID("i"), cs[10], cs[10]), withPeerID(authConfig(ike.FQDNID("r"), cs[10], cs[10]), ike.FQDNID("x")), false},
		{"responder wrong key", withPeerKey(authConfig(ike.FQDNID("i"), cs[8], cs[8]), k.Ed25519b.Public()), authConfig(ike.FQDNID("r"), cs[8], cs[8]), true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := iketest.NewPair(t, tc.i, tc.r, ike.DispatcherConfig{})
			p.Start()
			p.Run()
			if p.Init.Established() {
				t.Fatal("initiator established")
			}
			if tc.respOK {
				if !errors.Is(p.Init.Err(), ike.ErrAuth) {
					t.Fatalf("initiator error %v, want ErrAuth", p.Init.Err())
				}
				// The initiator told the responder, which closes too.
				closed := iketest.Find[ike.Closed](p.R.Events())
				if len(closed) != 1 || !errors.Is(closed[0].Err, ike.ErrAuthenticationFail) {
					t.Errorf("responder Closed %v, want AUTHENTICATION_FAILED", closed)
				}
				return
			}
			if !errors.Is(p.Init.Err(), ike.ErrAuthenticationFail) {
				t.Errorf("initiator error %v, want AUTHENTICATION_FAILED", p.Init.Err())
			}
			closed := iketest.Find[ike.Closed](p.R.Events())
			if len(closed) != 1 || !errors.Is(closed[0].Err, ike.ErrAuth) {
				t.Errorf("responder Closed %v, want ErrAuth", closed)
			}
			if s := p.R.D.Stats(); s.SAs != 0 || s.HalfOpen != 0 {
				t.Errorf("responder state left: %+v", s)
			}
		})
	}
}

func withPeerKey(c *ike.Config, pub stdcrypto.PublicKey) *ike.Config {
	c.Peer.PublicKey = pub
	return c
}

func withPeerID(c *ike.Config, id ike.Identity) *ike.Config {
	c.Peer.ID = id
	return c
}

// TestIdentities sends each identity type and checks the peer sees it.
func TestIdentities(t *testing.T) {
	ids := []ike.Identity{
		ike.AddrID(netip.MustParseAddr("192.0.2.1")),
		ike.AddrID(netip.MustParseAddr("2001:db8::1")),
		ike.FQDNID("host.example"),
		ike.EmailID("user@example.org"),
		ike.KeyID([]byte{1, 2, 3, 4}),
		ike.NullID(),
	}
	for _, id := range ids {
		t.Run(id.Type.String(), func(t *testing.T) {
			icfg, rcfg := pskConfigs()
			icfg.LocalID = id
			rcfg.Peer.ID = id
			p := iketest.NewPair(t, icfg, rcfg, ike.DispatcherConfig{})
			p.Handshake()
			re := iketest.Find[ike.Established](p.R.Events())
			if !re[0].PeerID.Equal(id) {
				t.Errorf("peer ID %v, want %v", re[0].PeerID, id)
			}
			if id.Type == wire.IDIPv6Addr && re[0].PeerID.String() != "ID_IPV6_ADDR:2001:db8::1" {
				t.Errorf("String %q", re[0].PeerID.String())
			}
		})
	}
}

// TestAuthPeerKeyNeverComes: an initiator waiting for the peer's key
// gives up after HalfOpenTimeout.
func TestAuthPeerKeyNeverComes(t *testing.T) {
	a, b := authCases()[11], authCases()[8]
	icfg := authConfig(ike.NullID(), a, b)
	icfg.Peer.PublicKey = nil
	icfg.HalfOpenTimeout = 10 * time.Second
	p := iketest.NewPair(t, icfg, authConfig(ike.FQDNID("r.example"), b, a), ike.DispatcherConfig{})
	p.Start()
	p.Advance(9 * time.Second)
	if p.Init.IsClosed() || len(iketest.Find[ike.NeedPeerKey](p.I.Events())) != 1 {
		t.Fatal("gave up early or never asked")
	}
	p.Advance(2 * time.Second)
	if !errors.Is(p.Init.Err(), ike.ErrHalfOpenExpired) {
		t.Fatalf("error %v, want ErrHalfOpenExpired", p.Init.Err())
	}
}

// TestAuthKeyFunc answers the key lookup synchronously by identity.
func TestAuthKeyFunc(t *testing.T) {
	k := iketest.TestKeys()
	a := authCases()[8]
	icfg := authConfig(ike.FQDNID("i.example"), a, a)
	rcfg := authConfig(ike.FQDNID("r.example"), a, a)
	rcfg.Peer.PublicKey = nil
	var asked []ike.Identity
	rcfg.Peer.KeyFunc = func(id ike.Identity) (stdcrypto.PublicKey, error) {
		asked = append(asked, id)
		if id.Equal(ike.FQDNID("i.example")) {
			return k.Ed25519.Public(), nil
		}
		return nil, nil
	}
	p := iketest.NewPair(t, icfg, rcfg, ike.DispatcherConfig{})
	p.Handshake()
	if len(asked) != 1 || len(iketest.Find[ike.NeedPeerKey](p.R.Events())) != 0 {
		t.Fatalf("KeyFunc asked %v", asked)
	}
	// No answer: fall back to NeedPeerKey.
	icfg.LocalID = ike.FQDNID("unknown.example")
	p = iketest.NewPair(t, icfg, rcfg, ike.DispatcherConfig{})
	p.Start()
	p.Run()
	if n := iketest.Find[ike.NeedPeerKey](p.R.Events()); len(n) != 1 {
		t.Fatalf("NeedPeerKey %v", n)
	}
}
