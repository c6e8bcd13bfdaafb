package agent

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"net/netip"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/oe-agent/oe-agent/agent/config"
	"github.com/oe-agent/oe-agent/ike"
	ikecrypto "github.com/oe-agent/oe-agent/ike/crypto"
	"github.com/oe-agent/oe-agent/ike/wire"
)

// loadBundle parses a configuration from memory with the given secrets and
// host key (nil: a new Ed25519 key).
func loadBundle(t *testing.T, conf, secrets string, hostKey ...any) *config.Bundle {
	t.Helper()
	var priv any
	if len(hostKey) > 0 {
		priv = hostKey[0]
	} else {
		_, priv, _ = ed25519.GenerateKey(rand.Reader)
	}
	der, _ := x509.MarshalPKCS8PrivateKey(priv)
	fsys := fstest.MapFS{
		"etc/oe/oe.conf":    {Data: []byte(conf)},
		"etc/oe/secrets":    {Data: []byte(secrets), Mode: 0o600},
		"etc/oe/host.pem":   {Data: pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), Mode: 0o600},
		"etc/oe/root.key":   {Data: []byte(". IN DS 20326 8 2 E06D44B80B8F1D39A95C0B0D7C65D08458E880409BBC683457104237C7F8EC8D\n")},
		"etc/oe/policies/x": {Data: []byte("")},
	}
	b, err := config.LoadBundle(fsys, "/etc/oe/oe.conf")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

const setup = "config setup\n\toe=no\n\tsecrets=/etc/oe/secrets\n\thostkey=/etc/oe/host.pem\n\tdnssec-anchors=/etc/oe/root.key\n\n"

func TestIKEConfigPSKTunnel(t *testing.T) {
	b := loadBundle(t, setup+`conn net
	left=192.0.2.1
	leftsubnet=198.51.100.0/24
	right=192.0.2.2
	rightsubnet=203.0.113.0/25
	authby=secret
	ike=aes256-sha2_256;modp2048
	esp=aes256-sha2_256
	ikelifetime=1h
	salifetime=30m
	auto=start
`, `192.0.2.1 192.0.2.2 : PSK "tunnel secret"`+"\n")
	c := b.Config.Conn("net")
	cfg, err := ikeConfigOf(c, b, netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2"))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.LocalAuth.Method != ike.AuthPSK || string(cfg.LocalAuth.PSK) != "tunnel secret" || string(cfg.Peer.PSK) != "tunnel secret" {
		t.Fatalf("auth %+v / %+v", cfg.LocalAuth.Method, cfg.Peer.Methods)
	}
	if cfg.Mode != ike.Tunnel || cfg.IKELifetime.Hours() != 1 || cfg.ChildLifetime.Minutes() != 30 {
		t.Fatalf("mode/lifetimes %+v", cfg)
	}
	p := cfg.IKEProposals[0]
	if p.Encr != wire.EncrAESCBC || p.KeyBits != 256 || p.Integ != wire.IntegHMACSHA2_256_128 || p.PRF != wire.PRFHMACSHA2_256 || p.DH[0] != wire.DHModP2048 {
		t.Fatalf("IKE proposal %+v", p)
	}
	if ch := cfg.ChildProposals[0]; ch.Encr != wire.EncrAESCBC || ch.Integ != wire.IntegHMACSHA2_256_128 {
		t.Fatalf("child proposal %+v", ch)
	}
	ts := cfg.RemoteTS[0]
	if ts.StartAddr.String() != "203.0.113.0" || ts.EndAddr.String() != "203.0.113.127" || ts.EndPort != 65535 {
		t.Fatalf("remote TS %+v", ts)
	}
	if !cfg.Peer.ID.Equal(ike.AddrID(netip.MustParseAddr("192.0.2.2"))) {
		t.Fatalf("peer ID %v", cfg.Peer.ID)
	}
}

func TestIKEConfigRSATransport(t *testing.T) {
	peerKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	hostKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	b := loadBundle(t, setup+`conn host
	type=transport
	left=192.0.2.1
	right=192.0.2.2
	rightid=@east.example
	authby=rsasig
	rightrsasigkey=`+ikecrypto.FormatLibreswanRSA(&peerKey.PublicKey)+`
	auto=start
`, "", hostKey)
	cfg, err := ikeConfigOf(b.Config.Conn("host"), b, netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2"))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Mode != ike.Transport || cfg.LocalAuth.Method != ike.AuthSignature || cfg.LocalAuth.Signer == nil {
		t.Fatalf("config %+v", cfg.LocalAuth)
	}
	if pk, ok := cfg.Peer.PublicKey.(*rsa.PublicKey); !ok || !pk.Equal(&peerKey.PublicKey) {
		t.Fatalf("peer key %T", cfg.Peer.PublicKey)
	}
	if !cfg.Peer.ID.Equal(ike.FQDNID("east.example")) {
		t.Fatalf("peer ID %v", cfg.Peer.ID)
	}
	// Default proposals are AEAD first and fit the engine.
	if cfg.IKEProposals[0].Encr != wire.EncrAESGCM16 || len(cfg.IKEProposals) > maxProposals {
		t.Fatalf("default proposals %+v", cfg.IKEProposals)
	}
}

func TestIKEConfigErrors(t *testing.T) {
	b := loadBundle(t, setup+`conn cam
	left=192.0.2.1
	right=192.0.2.2
	authby=secret
	ike=camellia256-sha2_256;modp2048
	auto=add
`, `192.0.2.1 192.0.2.2 : PSK "x"`+"\n")
	_, err := ikeConfigOf(b.Config.Conn("cam"), b, netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2"))
	if err == nil || !strings.Contains(err.Error(), "conn cam: ike=") || !strings.Contains(err.Error(), "not implemented") {
		t.Fatalf("err = %v", err)
	}
}

// TestIKEConfigDefaultInitFitsMTU: with the default ike= the IKE_SA_INIT
// request stays below 1280 octets (the IPv6 minimum MTU), so it is never
// IP-fragmented.
func TestIKEConfigDefaultInitFitsMTU(t *testing.T) {
	b := loadBundle(t, setup+`conn d
	left=192.0.2.1
	right=192.0.2.2
	authby=secret
	auto=add
`, `192.0.2.1 192.0.2.2 : PSK "a secret that is long enough"`+"\n")
	cfg, err := ikeConfigOf(b.Config.Conn("d"), b, netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2"))
	if err != nil {
		t.Fatal(err)
	}
	disp, err := ike.NewDispatcher(ike.DispatcherConfig{})
	if err != nil {
		t.Fatal(err)
	}
	_, acts, err := disp.Initiate(time.Now(), cfg, netip.MustParseAddrPort("192.0.2.1:500"), netip.MustParseAddrPort("192.0.2.2:500"))
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range acts {
		if s, ok := a.(ike.Send); ok && len(s.Data)+28 > 1280 {
			t.Errorf("IKE_SA_INIT of %d octets (%d proposals) would be fragmented", len(s.Data), len(cfg.IKEProposals))
		}
	}
}
