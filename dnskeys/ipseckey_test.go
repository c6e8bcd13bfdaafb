package dnskeys

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

// RFC 4025 §3 presentation example (its 1024-bit RSA key is below our
// minimum, so it parses but is refused).
const rfc4025Example = "38.2.0.192.in-addr.arpa. 7200 IN IPSECKEY ( 10 1 2 192.0.2.38 AQNRU3mG7TVTO2BkR47usntb102uFJtugbo6BSGvgqt4AQ== )"

func mustRR(t testing.TB, s string) dns.RR {
	t.Helper()
	rr, err := dns.NewRR(s)
	if err != nil {
		t.Fatal(err)
	}
	return rr
}

func b64(t testing.TB, pk any) (Algorithm, string) {
	t.Helper()
	alg, s, err := PublicKeyBase64(pk)
	if err != nil {
		t.Fatal(err)
	}
	return alg, s
}

func TestIPSECKEYGatewaysAndAlgorithms(t *testing.T) {
	rk, _ := rsa.GenerateKey(rand.Reader, 2048)
	ek, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	edPub, _, _ := ed25519.GenerateKey(rand.Reader)
	_, rsaB := b64(t, &rk.PublicKey)
	_, ecB := b64(t, &ek.PublicKey)
	_, edB := b64(t, edPub)
	cases := []struct {
		rr       string
		gwType   GatewayType
		gw       string
		alg      Algorithm
		desc     string
		refusedL string // substring of Refused; empty means usable
	}{
		{"a. IPSECKEY 10 0 2 . " + rsaB, GatewayNone, "", AlgRSA, "RSA-2048", ""},
		{"a. IPSECKEY 10 1 3 192.0.2.7 " + ecB, GatewayIPv4, "192.0.2.7", AlgECDSA, "ECDSA-P384", ""},
		{"a. IPSECKEY 10 2 4 2001:db8::7 " + edB, GatewayIPv6, "2001:db8::7", AlgEdDSA, "Ed25519", ""},
		{"a. IPSECKEY 10 3 4 gw.Example.COM. " + edB, GatewayName, "gw.example.com.", AlgEdDSA, "Ed25519", ""},
		{rfc4025Example, GatewayIPv4, "192.0.2.38", AlgRSA, "RSA", "below the 2048-bit minimum"},
		{"a. IPSECKEY 10 0 1 . " + edB, GatewayNone, "", AlgDSA, "DSA", "DSA"},
		{"a. IPSECKEY 10 0 9 . " + edB, GatewayNone, "", Algorithm(9), "algorithm-9", "unknown public-key algorithm 9"},
		{"a. IPSECKEY 10 0 3 . " + edB, GatewayNone, "", AlgECDSA, "ECDSA", "neither P-256"},
		{"a. IPSECKEY 10 0 4 . " + ecB, GatewayNone, "", AlgEdDSA, "EdDSA", "neither Ed25519"},
		{"a. IPSECKEY 10 0 3 . " + base64.StdEncoding.EncodeToString(make([]byte, 64)), GatewayNone, "", AlgECDSA, "ECDSA", "not a point"},
	}
	for _, tc := range cases {
		k, err := KeyFromRR(mustRR(t, tc.rr))
		if err != nil {
			t.Errorf("%s: %v", tc.rr[:30], err)
			continue
		}
		gw := k.GatewayName
		if k.Gateway.IsValid() {
			gw = k.Gateway.String()
		}
		if k.GatewayType != tc.gwType || gw != tc.gw || k.Algorithm != tc.alg || !strings.HasPrefix(k.Describe(), tc.desc) {
			t.Errorf("%.40s: got type %d gw %q alg %s %s", tc.rr, k.GatewayType, gw, k.Algorithm, k.Describe())
		}
		if tc.refusedL == "" && !k.Usable() {
			t.Errorf("%.40s: refused: %s", tc.rr, k.Refused)
		}
		if tc.refusedL != "" && (k.Usable() || !strings.Contains(k.Refused, tc.refusedL)) {
			t.Errorf("%.40s: refused %q, want %q", tc.rr, k.Refused, tc.refusedL)
		}
	}
}

func TestParseIPSECKEYMalformed(t *testing.T) {
	cases := map[string][]byte{
		"short header":      {10, 0},
		"ipv4 truncated":    {10, 1, 2, 192, 0, 2},
		"ipv6 truncated":    append([]byte{10, 2, 2}, make([]byte, 15)...),
		"name truncated":    {10, 3, 2, 3, 'a', 'b'},
		"compressed name":   {10, 3, 2, 0xc0, 0x0c},
		"unknown gw type":   {10, 4, 2, 1, 2, 3},
		"label too long":    append([]byte{10, 3, 2, 0x40}, make([]byte, 70)...),
		"name over 255":     append([]byte{10, 3, 2}, []byte(strings.Repeat("\x3f"+strings.Repeat("a", 63), 5))...),
		"empty rsa":         {10, 0, 2},
		"rsa explen beyond": {10, 0, 2, 5, 1, 0, 1},
	}
	for name, rd := range cases {
		k, err := ParseIPSECKEY(rd)
		if err == nil && k.Usable() {
			t.Errorf("%s: parsed as usable key", name)
		}
		if err != nil && !strings.HasPrefix(err.Error(), "dnskeys: ") {
			t.Errorf("%s: error %q lacks the package prefix", name, err)
		}
	}
}

func TestParseKEY(t *testing.T) {
	edPub, _, _ := ed25519.GenerateKey(rand.Reader)
	_, edB := b64(t, edPub)
	rk, _ := rsa.GenerateKey(rand.Reader, 2048)
	_, rsaB := b64(t, &rk.PublicKey)
	cases := []struct {
		rr      string
		alg     Algorithm
		refused string
	}{
		{"a. KEY 16896 4 15 " + edB, AlgEdDSA, ""},
		{"a. KEY 16896 4 1 " + rsaB, AlgRSA, ""}, // RFC 4322 §5.1: 0x4200 4 1
		{"a. KEY 16896 255 8 " + rsaB, AlgRSA, ""},
		{"a. KEY 16896 3 15 " + edB, AlgEdDSA, "not IPsec"},
		{"a. KEY 49152 4 15 " + edB, AlgEdDSA, "no key"},
		{"a. KEY 16896 4 3 " + edB, AlgDSA, "DSA"},
		{"a. KEY 16896 4 16 " + edB, Algorithm(255), "not supported"},
		{"a. KEY 16896 4 13 " + edB, AlgECDSA, "does not match"},
	}
	for _, tc := range cases {
		k, err := KeyFromRR(mustRR(t, tc.rr))
		if err != nil {
			t.Fatal(err)
		}
		if k.Source != dns.TypeKEY || k.Algorithm != tc.alg || (tc.refused == "") != k.Usable() || !strings.Contains(k.Refused, tc.refused) {
			t.Errorf("%.30s: alg %s usable %v refused %q", tc.rr, k.Algorithm, k.Usable(), k.Refused)
		}
	}
}

func TestSortKeys(t *testing.T) {
	edPub, _, _ := ed25519.GenerateKey(rand.Reader)
	ek, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	_, edB := b64(t, edPub)
	_, ecB := b64(t, &ek.PublicKey)
	var keys []Key
	for _, s := range []string{
		"a. KEY 16896 4 15 " + edB,
		"a. IPSECKEY 20 0 4 . " + edB,
		"a. IPSECKEY 10 0 3 . " + ecB,
		"a. IPSECKEY 5 0 1 . " + edB,
		"a. IPSECKEY 10 0 4 . " + edB,
	} {
		k, _ := KeyFromRR(mustRR(t, s))
		keys = append(keys, k)
	}
	SortKeys(keys)
	var got []string
	for _, k := range keys {
		got = append(got, k.Describe()+"/"+string(rune('0'+k.Precedence/5)))
	}
	want := "Ed25519/2 ECDSA-P256/2 Ed25519/4 Ed25519/0 DSA/1"
	if strings.Join(got, " ") != want {
		t.Errorf("order %v, want %s", got, want)
	}
	if keys[3].Source != dns.TypeKEY {
		t.Errorf("legacy KEY should follow every usable IPSECKEY: %v", keys)
	}
}

func TestPublicKeyRoundTrip(t *testing.T) {
	rk, _ := rsa.GenerateKey(rand.Reader, 2048)
	ek, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	edPub, _, _ := ed25519.GenerateKey(rand.Reader)
	for _, pk := range []interface{ Equal(crypto.PublicKey) bool }{&rk.PublicKey, &ek.PublicKey, edPub} {
		alg, s := b64(t, pk)
		raw, _ := base64.StdEncoding.DecodeString(s)
		k, err := ParseIPSECKEY(append([]byte{1, 0, byte(alg)}, raw...))
		if err != nil || !k.Usable() || !pk.Equal(k.PublicKey) {
			t.Errorf("%T: round trip failed: %v %s", pk, err, k.Refused)
		}
	}
}
