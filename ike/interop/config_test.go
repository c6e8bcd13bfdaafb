package interop

import (
	stdcrypto "crypto"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"net/netip"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/oe-agent/oe-agent/ike"
	"github.com/oe-agent/oe-agent/ike/wire"
	"github.com/oe-agent/oe-agent/xfrm"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"
)

// Addresses of the two ends (RFC 5737 documentation range).
var (
	oursAddr = netip.MustParseAddr("192.0.2.1")
	peerAddr = netip.MustParseAddr("192.0.2.2")
)

// suite is one cryptographic suite in the engine's and the peers' terms.
type suite struct {
	name  string
	ike   ike.IKEProposal
	child ike.ChildProposal // with PFS in CREATE_CHILD_SA
	// strongSwan swanctl.conf proposals and esp_proposals.
	swanIKE, swanESP string
	// libreswan ipsec.conf ike= and esp= (pfs=yes, the default, uses the
	// IKE SA's group for Child SA rekeys).
	lsIKE, lsESP string
	// kernelAlg is how `ip xfrm state` names the ESP cipher.
	kernelAlg string
}

var suites = []suite{
	{
		name:    "gcm256-x25519",
		ike:     ike.IKEProposal{Encr: wire.EncrAESGCM16, KeyBits: 256, PRF: wire.PRFHMACSHA2_256, DH: []wire.DHGroup{wire.DHCurve25519}},
		child:   ike.ChildProposal{Encr: wire.EncrAESGCM16, KeyBits: 256, DH: []wire.DHGroup{wire.DHCurve25519}},
		swanIKE: "aes256gcm16-prfsha256-x25519", swanESP: "aes256gcm16-x25519",
		lsIKE: "aes_gcm256-sha2_256;dh31", lsESP: "aes_gcm256",
		kernelAlg: "rfc4106(gcm(aes))",
	},
	{
		name:    "cbc256-sha256-modp2048",
		ike:     ike.IKEProposal{Encr: wire.EncrAESCBC, KeyBits: 256, Integ: wire.IntegHMACSHA2_256_128, PRF: wire.PRFHMACSHA2_256, DH: []wire.DHGroup{wire.DHModP2048}},
		child:   ike.ChildProposal{Encr: wire.EncrAESCBC, KeyBits: 256, Integ: wire.IntegHMACSHA2_256_128, DH: []wire.DHGroup{wire.DHModP2048}},
		swanIKE: "aes256-sha256-prfsha256-modp2048", swanESP: "aes256-sha256-modp2048",
		lsIKE: "aes256-sha2_256;modp2048", lsESP: "aes256-sha2_256",
		kernelAlg: "cbc(aes)",
	},
}

// authKind is PSK or RSA signatures (RFC 7427).
type authKind string

const (
	authPSK authKind = "psk"
	authRSA authKind = "rsa"
)

const testPSK = "oe-agent interop pre-shared key"

// rsaKeys returns the two ends' RSA keys, fixed test keys from testdata/
// (generating them in the emulated guest takes seconds of every run).
func rsaKeys(t testing.TB) (ours, peer *rsa.PrivateKey) {
	t.Helper()
	return readRSAKey(t, "testdata/ours-rsa2048.pem"), readRSAKey(t, "testdata/peer-rsa2048.pem")
}

func readRSAKey(t testing.TB, path string) *rsa.PrivateKey {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(b)
	if blk == nil || blk.Type != "RSA PRIVATE KEY" {
		t.Fatalf("%s: no RSA PRIVATE KEY block", path)
	}
	k, err := x509.ParsePKCS1PrivateKey(blk.Bytes)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return k
}

// engineConfig is oe-agent's policy for one run: transport mode between
// the two addresses, one suite, PSK or an RSA signature. With RSA the peer's
// key is not in the Config: the SA asks for it (NeedPeerKey), as it does
// when the key comes from DNS, and the driver supplies it.
func engineConfig(t testing.TB, local, remote netip.Addr, s suite, auth authKind, signer stdcrypto.Signer, pss bool) *ike.Config {
	cfg := &ike.Config{
		LocalID:        ike.AddrID(local),
		Peer:           ike.PeerAuth{ID: ike.AddrID(remote)},
		IKEProposals:   []ike.IKEProposal{s.ike},
		ChildProposals: []ike.ChildProposal{s.child},
		Mode:           ike.Transport,
		// The guest emulates its CPU: modular exponentiation and RSA take
		// seconds, so retransmit patiently.
		Retransmit: ike.Retransmit{Initial: 2 * time.Second, Factor: 1.5, Tries: 8, Max: 10 * time.Second},
		Logger:     zaptest.NewLogger(t, zaptest.Level(zap.InfoLevel)),
	}
	switch auth {
	case authPSK:
		cfg.LocalAuth = ike.LocalAuth{Method: ike.AuthPSK, PSK: []byte(testPSK)}
		cfg.Peer.Methods = []ike.AuthMethod{ike.AuthPSK}
		cfg.Peer.PSK = []byte(testPSK)
	case authRSA:
		cfg.LocalAuth = ike.LocalAuth{Method: ike.AuthSignature, Signer: signer, RSAPSS: pss}
		cfg.Peer.Methods = []ike.AuthMethod{ike.AuthSignature}
	}
	return cfg
}

// reqidFor returns a distinct reqid in oe-agent's range for each test
// connection (the namespaces differ, but distinct numbers make logs
// unambiguous).
var reqidSeq struct {
	sync.Mutex
	n uint32
}

func nextReqid() uint32 {
	reqidSeq.Lock()
	defer reqidSeq.Unlock()
	reqidSeq.n++
	return xfrm.ReqidMin + 0x1000 + reqidSeq.n
}
