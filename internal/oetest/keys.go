package oetest

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"testing"

	"github.com/oe-agent/oe-agent/dnskeys"
)

// HostKey is a host's Ed25519 key pair and the IPSECKEY records that
// publish it (RFC 4025; algorithm 4 is Ed25519, RFC 9373).
type HostKey struct {
	Private ed25519.PrivateKey
	Public  ed25519.PublicKey
}

// NewHostKey makes a fresh Ed25519 host key.
func NewHostKey(t testing.TB) *HostKey {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return &HostKey{Private: priv, Public: pub}
}

// PEM is the key as `oectl keygen` writes it: PKCS#8 in a PRIVATE KEY block.
func (k *HostKey) PEM(t testing.TB) []byte {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(k.Private)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

// WriteFile writes the PEM form to path with mode 0600, as hostkey= needs.
func (k *HostKey) WriteFile(t testing.TB, path string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, k.PEM(t), 0o600); err != nil {
		t.Fatal(err)
	}
}

// PublicBase64 is the public key in the IPSECKEY public-key field form.
func (k *HostKey) PublicBase64(t testing.TB) string {
	t.Helper()
	_, b64, err := dnskeys.PublicKeyBase64(k.Public)
	if err != nil {
		t.Fatal(err)
	}
	return b64
}

// IPSECKEY is the record to publish for addr in its reverse zone, in the
// exact form `oectl showhostkey --ipseckey ADDR` prints: precedence 10, no
// gateway (RFC 4025 §2.1), with the given TTL.
func (k *HostKey) IPSECKEY(t testing.TB, addr netip.Addr, ttl int) string {
	t.Helper()
	alg, b64, err := dnskeys.PublicKeyBase64(k.Public)
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%s %d IN IPSECKEY 10 0 %d . %s", ReverseName(t, addr), ttl, alg, b64)
}

// Fingerprint is how oectl names a key: the first 8 bytes of the SHA-256
// of the public key field, in hex (dnskeys.Key.Fingerprint).
func (k *HostKey) Fingerprint() string {
	sum := sha256.Sum256(k.Public)
	return hex.EncodeToString(sum[:8])
}

// ReverseName is addr's name under in-addr.arpa. or ip6.arpa.
func ReverseName(t testing.TB, addr netip.Addr) string {
	t.Helper()
	n, err := dnskeys.ReverseName(addr)
	if err != nil {
		t.Fatalf("oetest: reverse name of %s: %v", addr, err)
	}
	return n
}
