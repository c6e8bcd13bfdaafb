package crypto

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"testing"
)

// BenchmarkDH measures one end of a key exchange: key generation plus the
// shared secret with a pre-generated peer value.
func BenchmarkDH(b *testing.B) {
	for _, g := range allGroups {
		b.Run(g.String(), func(b *testing.B) {
			peer, err := GenerateDH(g, rand.Reader)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				k, err := GenerateDH(g, rand.Reader)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := k.SharedSecret(peer.PublicValue()); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

type benchSigner struct {
	name   string
	method AuthMethod
	scheme SignatureScheme
	key    crypto.Signer
}

func benchSigners(b *testing.B) []benchSigner {
	p256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	rsaK := testRSAKey(b)
	return []benchSigner{
		{"Ed25519", AuthDigitalSignature, SchemeEd25519, ed},
		{"RSA-2048-PKCS1-SHA256", AuthDigitalSignature, SchemeRSAPKCS1SHA256, rsaK},
		{"RSA-2048-PSS-SHA256", AuthDigitalSignature, SchemeRSAPSSSHA256, rsaK},
		{"RSA-2048-method1-SHA1", AuthRSASig, 0, rsaK},
		{"ECDSA-P256-SHA256", AuthDigitalSignature, SchemeECDSASHA256, p256},
	}
}

var benchOctets = bytes.Repeat([]byte{0x5a}, 600) // about an IKE_SA_INIT plus nonce and MAC

func BenchmarkSign(b *testing.B) {
	for _, s := range benchSigners(b) {
		b.Run(s.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Sign(s.method, s.scheme, s.key, benchOctets, rand.Reader); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkVerify(b *testing.B) {
	for _, s := range benchSigners(b) {
		b.Run(s.name, func(b *testing.B) {
			auth, err := Sign(s.method, s.scheme, s.key, benchOctets, rand.Reader)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if err := Verify(s.method, s.key.Public(), benchOctets, auth); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkSharedKeyAuth(b *testing.B) {
	p, _ := NewPRF(PRFHMACSHA2_256)
	b.ReportAllocs()
	for b.Loop() {
		SharedKeyAuth(p, Key("secret"), benchOctets)
	}
}

// BenchmarkSeal and BenchmarkOpen protect a 1 KiB payload chain.
func BenchmarkSeal(b *testing.B) {
	payload := make([]byte, 1024)
	aad := make([]byte, 32)
	for _, c := range allCiphers(b, Config{}) {
		b.Run(c.String(), func(b *testing.B) {
			dst := make([]byte, 0, len(aad)+c.SealedLen(len(payload)))
			b.SetBytes(int64(len(payload)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.Seal(dst, aad, payload, rand.Reader); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkOpen(b *testing.B) {
	payload := make([]byte, 1024)
	aad := make([]byte, 32)
	for _, c := range allCiphers(b, Config{}) {
		b.Run(c.String(), func(b *testing.B) {
			body, err := c.Seal(nil, aad, payload, rand.Reader)
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(payload)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.Open(aad, body); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkDeriveIKEKeys is SKEYSEED plus the SK_* expansion for
// AES-GCM-256 / PRF_HMAC_SHA2_256 with a Curve25519 secret.
func BenchmarkDeriveIKEKeys(b *testing.B) {
	s := Suite{Encr: EncrAESGCM16, EncrKeyBits: 256, PRF: PRFHMACSHA2_256}
	p, _ := NewPRF(s.PRF)
	ni, nr, gir := make([]byte, 32), make([]byte, 32), make([]byte, 32)
	b.ReportAllocs()
	for b.Loop() {
		seed, err := SKEYSEED(p, ni, nr, gir)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := DeriveIKEKeys(s, seed, ni, nr, 1, 2); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDeriveChildKeys(b *testing.B) {
	p, _ := NewPRF(PRFHMACSHA2_256)
	skd := make(Key, 32)
	ni, nr := make([]byte, 32), make([]byte, 32)
	s := Suite{Encr: EncrAESGCM16, EncrKeyBits: 256}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DeriveChildKeys(p, skd, s, nil, ni, nr, Config{}); err != nil {
			b.Fatal(err)
		}
	}
}
