package config

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"strings"
	"testing"
	"testing/fstest"
)

func TestParsePubKey(t *testing.T) {
	rsaPEM := testKey(t, "rsa-public.pem")
	blk, _ := pem.Decode(rsaPEM)
	rsaKey, _ := x509.ParsePKIXPublicKey(blk.Bytes)
	pkcs1 := pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: x509.MarshalPKCS1PublicKey(rsaKey.(*rsa.PublicKey))})
	ecPEM := testKey(t, "ecdsa-public.pem")
	eb, _ := pem.Decode(ecPEM)
	ecKey, _ := x509.ParsePKIXPublicKey(eb.Bytes)
	ecRaw, _ := ecKey.(*ecdsa.PublicKey).Bytes() // 0x04 || X || Y
	fsys := fstest.MapFS{
		"k/rsa.pem":     {Data: rsaPEM},
		"k/pkcs1.pem":   {Data: pkcs1},
		"k/ec.pem":      {Data: ecPEM},
		"k/small.pem":   {Data: testKey(t, "rsa1024-public.pem")},
		"k/private.pem": {Data: testKey(t, "rsa-private.pem")},
		"k/junk.pem":    {Data: []byte("not pem")},
	}
	rfc3110 := strings.TrimSpace(string(testKey(t, "rsa-rfc3110.txt")))
	ed := strings.TrimSpace(string(testKey(t, "ed25519-raw.txt")))
	ok := []struct {
		in   string
		kind PubKeyKind
		typ  string
	}{
		{rfc3110, PubKeyInline, "RSA-2048"},
		{"0x" + strings.ToUpper(base64ToHex(t, rfc3110[2:])), PubKeyInline, "RSA-2048"},
		{ed, PubKeyInline, "Ed25519"},
		{"0s" + base64.StdEncoding.EncodeToString(blk.Bytes), PubKeyInline, "RSA-2048"}, // DER SPKI
		{"0s" + base64.StdEncoding.EncodeToString(ecRaw[1:]), PubKeyInline, "ECDSA-P-256"},
		{rfc3110[:40] + " \t" + rfc3110[40:], PubKeyInline, "RSA-2048"}, // wrapped inside quotes
		{"rsa.pem", PubKeyFile, "RSA-2048"},
		{"/k/pkcs1.pem", PubKeyFile, "RSA-2048"},
		{"ec.pem", PubKeyFile, "ECDSA-P-256"},
		{"%dns", PubKeyDNS, ""},
		{"%DNSONDEMAND", PubKeyDNS, ""},
	}
	for _, tt := range ok {
		k, err := parsePubKey(fsys, tt.in, "/k/oe.conf")
		if err != nil {
			t.Errorf("%.20s: %v", tt.in, err)
			continue
		}
		if k.Kind != tt.kind || (tt.typ != "" && keyTypeName(k.Key) != tt.typ) {
			t.Errorf("%.20s: kind %v type %s", tt.in, k.Kind, keyTypeName(k.Key))
		}
		if k.Kind == PubKeyInline {
			if again, err := parsePubKey(fsys, fmtPubKey(k), "/k/oe.conf"); err != nil || !again.Key.(interface{ Equal(crypto.PublicKey) bool }).Equal(k.Key) {
				t.Errorf("%.20s: does not round-trip: %v", tt.in, err)
			}
		}
	}
	if k, _ := parsePubKey(fsys, ed, "/k/oe.conf"); len(k.Key.(ed25519.PublicKey)) != 32 {
		t.Error("Ed25519 key length")
	}
	bad := []struct{ in, want string }{
		{"small.pem", "public key file /k/small.pem: RSA key of 1024 bits is too short (at least 2048)"},
		{"private.pem", `public key file /k/private.pem: PEM block is "PRIVATE KEY", expected "PUBLIC KEY"`},
		{"junk.pem", "public key file /k/junk.pem: no PEM block found"},
		{"none.pem", "cannot read public key file /k/none.pem: file does not exist"},
		{"0s!!", "invalid base64 after 0s"},
		{"0x", "empty key"},
		{"0sAAAA", "inline key is not an RSA key in RFC 3110 format, an Ed25519 or ECDSA key, or a DER public key"},
		{"0s" + base64.StdEncoding.EncodeToString(make([]byte, 64)), "inline ECDSA key is not a point on the curve"},
		{"%cert", "%cert is not supported: oe-agent uses raw public keys"},
		{"%dsn", `invalid public key "%dsn" (expected 0s..., 0x..., a PEM file, %dns or %dnsondemand) (did you mean "%dns"?)`},
	}
	for _, tt := range bad {
		_, err := parsePubKey(fsys, tt.in, "/k/oe.conf")
		if err == nil || err.Error() != tt.want {
			t.Errorf("%s: error %v, want %s", tt.in, err, tt.want)
		}
	}
}

func base64ToHex(t *testing.T, s string) string {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	const hexd = "0123456789abcdef"
	out := make([]byte, 0, 2*len(b))
	for _, c := range b {
		out = append(out, hexd[c>>4], hexd[c&15])
	}
	return string(out)
}

func TestLoadHostKey(t *testing.T) {
	enc := []byte("-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,00\n\nAAAA\n-----END RSA PRIVATE KEY-----\n")
	fsys := fstest.MapFS{
		"ed.pem":   {Data: testKey(t, "ed25519-private.pem"), Mode: 0o600},
		"rsa.pem":  {Data: testKey(t, "rsa-private.pem"), Mode: 0o400},
		"ec.pem":   {Data: testKey(t, "ecdsa-private.pem"), Mode: 0o600},
		"open.pem": {Data: testKey(t, "ed25519-private.pem"), Mode: 0o644},
		"pub.pem":  {Data: testKey(t, "ed25519-public.pem"), Mode: 0o600},
		"enc.pem":  {Data: enc, Mode: 0o600},
	}
	for name, want := range map[string]AuthMethod{"/ed.pem": AuthEdDSA, "/rsa.pem": AuthRSASig, "/ec.pem": AuthECDSA} {
		k, err := LoadHostKey(fsys, name)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if k.AuthMethod() != want {
			t.Errorf("%s: %v", name, k.AuthMethod())
		}
	}
	for name, want := range map[string]string{
		"/open.pem": "config: host key: /open.pem is accessible by group or others (mode 0644): it holds secrets and must be mode 0600 or stricter (chmod 600 /open.pem)",
		"/pub.pem":  `config: host key /pub.pem: PEM block is "PUBLIC KEY", expected "PRIVATE KEY"`,
		"/enc.pem":  "config: host key /enc.pem: encrypted private keys are not supported",
		"/none.pem": "config: host key /none.pem: file does not exist",
	} {
		_, err := LoadHostKey(fsys, name)
		if err == nil || err.Error() != want {
			t.Errorf("%s: error %v\nwant %s", name, err, want)
		}
	}
}
