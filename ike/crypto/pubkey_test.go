package crypto

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"errors"
	"math/big"
	"strings"
	"testing"
)

func TestRFC3110RoundTrip(t *testing.T) {
	pub := &testRSAKey(t).PublicKey
	b := MarshalRFC3110(pub)
	// 65537 = 01 00 01: one length octet 03, the exponent, the modulus.
	if !bytes.Equal(b[:4], []byte{3, 1, 0, 1}) || len(b) != 4+256 {
		t.Errorf("encoding starts %x, length %d", b[:4], len(b))
	}
	got, err := ParseRFC3110(b)
	if err != nil || !got.Equal(pub) {
		t.Fatalf("round trip: %v", err)
	}
	s := FormatLibreswanRSA(pub)
	if !strings.HasPrefix(s, "0sAwEAA") {
		t.Errorf("libreswan form %q does not start 0sAwEAA", s[:10])
	}
	for _, form := range []string{s, s[:40] + "\n  " + s[40:], "0x" + strings.ToUpper(hexString(b))} {
		got, err := ParseLibreswanRSA(form)
		if err != nil || !got.Equal(pub) {
			t.Errorf("ParseLibreswanRSA(%.20q...): %v", form, err)
		}
	}
}

func hexString(b []byte) string {
	const digits = "0123456789abcdef"
	out := make([]byte, 0, 2*len(b))
	for _, c := range b {
		out = append(out, digits[c>>4], digits[c&15])
	}
	return string(out)
}

// TestRFC4025ExampleKey parses the public key of the RFC 4025 §3
// presentation example. It is a toy key far below 1024 bits, so the
// parser must get through the RFC 3110 structure and refuse it as
// unsupported, not as malformed.
func TestRFC4025ExampleKey(t *testing.T) {
	b, err := base64.StdEncoding.DecodeString("AQNRU3mG7TVTO2BkR47usntb102uFJtugbo6BSGvgqt4AQ==")
	if err != nil {
		t.Fatal(err)
	}
	_, err = ParseRFC3110(b)
	if !errors.Is(err, ErrUnsupported) || errors.Is(err, ErrMalformed) {
		t.Errorf("err = %v, want ErrUnsupported for the modulus size", err)
	}
}

func TestRFC3110Bad(t *testing.T) {
	n := testRSAKey(t).PublicKey.N.Bytes()
	cases := map[string][]byte{
		"empty":                    nil,
		"exponent past the end":    {5, 1, 0},
		"long form truncated":      {0, 1},
		"long form below 256":      append([]byte{0, 0, 3, 1, 0, 1}, n...),
		"no modulus":               {3, 1, 0, 1},
		"leading zero in exponent": append([]byte{4, 0, 1, 0, 1}, n...),
		"leading zero in modulus":  append([]byte{3, 1, 0, 1, 0}, n...),
		"even modulus":             append(append([]byte{3, 1, 0, 1}, n[:len(n)-1]...), n[len(n)-1]&^1),
	}
	for name, b := range cases {
		if _, err := ParseRFC3110(b); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: err = %v, want ErrMalformed", name, err)
		}
	}
	// Exponent 1 and huge exponents parse structurally but are refused.
	for name, b := range map[string][]byte{
		"e=1":              append([]byte{1, 1}, n...),
		"e of 300 octets":  append(append([]byte{0, 1, 44}, bytes.Repeat([]byte{0xff}, 300)...), n...),
		"modulus 512 bits": append([]byte{3, 1, 0, 1}, n[:64]...),
	} {
		if _, err := ParseRFC3110(b); !errors.Is(err, ErrUnsupported) {
			t.Errorf("%s: err = %v, want ErrUnsupported", name, err)
		}
	}
	for _, s := range []string{"", "AwEAAQ==", "0s!!!", "0xzz"} {
		if _, err := ParseLibreswanRSA(s); !errors.Is(err, ErrMalformed) {
			t.Errorf("ParseLibreswanRSA(%q): %v", s, err)
		}
	}
}

func TestRawECDSA(t *testing.T) {
	for _, c := range []elliptic.Curve{elliptic.P256(), elliptic.P384()} {
		k, _ := ecdsa.GenerateKey(c, rand.Reader)
		raw, err := MarshalRawECDSA(&k.PublicKey)
		if err != nil || len(raw) != 2*(c.Params().BitSize/8) {
			t.Fatalf("%s: %d octets, %v", c.Params().Name, len(raw), err)
		}
		got, err := ParseRawECDSA(raw)
		if err != nil || !got.Equal(&k.PublicKey) {
			t.Errorf("%s: round trip: %v", c.Params().Name, err)
		}
		raw[len(raw)-1] ^= 1
		if _, err := ParseRawECDSA(raw); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: point off the curve: %v", c.Params().Name, err)
		}
	}
	for _, n := range []int{0, 63, 65, 132} {
		if _, err := ParseRawECDSA(make([]byte, n)); !errors.Is(err, ErrMalformed) {
			t.Errorf("%d octets: %v", n, err)
		}
	}
	p521, _ := ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	if _, err := MarshalRawECDSA(&p521.PublicKey); !errors.Is(err, ErrUnsupported) {
		t.Errorf("P-521 raw: %v", err)
	}
}

func TestIPSECKEYAndPKIX(t *testing.T) {
	p256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	edPub, _, _ := ed25519.GenerateKey(rand.Reader)
	keys := []crypto.PublicKey{&testRSAKey(t).PublicKey, &p256.PublicKey, edPub}
	for i, pub := range keys {
		alg, data, err := MarshalIPSECKEY(pub)
		if err != nil || alg != []uint8{2, 3, 4}[i] {
			t.Fatalf("%T: alg %d, %v", pub, alg, err)
		}
		got, err := ParseIPSECKEY(alg, data)
		if err != nil || !got.(interface{ Equal(crypto.PublicKey) bool }).Equal(pub) {
			t.Errorf("%T: IPSECKEY round trip: %v", pub, err)
		}
		pemBytes, err := MarshalPublicKeyPEM(pub)
		if err != nil {
			t.Fatal(err)
		}
		got, err = ParsePublicKeyPEM(pemBytes)
		if err != nil || !got.(interface{ Equal(crypto.PublicKey) bool }).Equal(pub) {
			t.Errorf("%T: PEM round trip: %v", pub, err)
		}
	}
	if _, err := ParseIPSECKEY(1, []byte{1, 2, 3}); !errors.Is(err, ErrUnsupported) {
		t.Errorf("DSA IPSECKEY: %v", err)
	}
	if _, err := ParseRawEd25519(make([]byte, 31)); !errors.Is(err, ErrMalformed) {
		t.Errorf("short Ed25519: %v", err)
	}
	for _, bad := range []string{"", "-----BEGIN CERTIFICATE-----\nAA==\n-----END CERTIFICATE-----\n",
		"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"} {
		if _, err := ParsePublicKeyPEM([]byte(bad)); !errors.Is(err, ErrMalformed) {
			t.Errorf("PEM %.30q: %v", bad, err)
		}
	}
	small, _ := rsa.GenerateKey(rand.Reader, 1024)
	small.PublicKey.N = new(big.Int).Rsh(small.PublicKey.N, 200) // 824 bits, odd or not
	small.PublicKey.N.SetBit(small.PublicKey.N, 0, 1)
	if _, err := ParsePKIXPublicKey(mustPKIX(t, &small.PublicKey)); !errors.Is(err, ErrUnsupported) {
		t.Errorf("824-bit RSA SPKI: %v", err)
	}
}

func mustPKIX(t *testing.T, pub crypto.PublicKey) []byte {
	p, err := MarshalPublicKeyPEM(pub)
	if err != nil {
		t.Fatal(err)
	}
	b := p[len("-----BEGIN PUBLIC KEY-----\n") : len(p)-len("-----END PUBLIC KEY-----\n")]
	der, err := base64.StdEncoding.DecodeString(strings.ReplaceAll(string(b), "\n", ""))
	if err != nil {
		t.Fatal(err)
	}
	return der
}
