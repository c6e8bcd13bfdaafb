package crypto

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/cryptobyte"
	"golang.org/x/crypto/cryptobyte/asn1"
)

var (
	rsaOnce sync.Once
	rsaKey  *rsa.PrivateKey
)

// testRSAKey is one RSA-2048 key shared by the tests (generation is slow).
func testRSAKey(t testing.TB) *rsa.PrivateKey {
	rsaOnce.Do(func() {
		var err error
		if rsaKey, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			panic(err)
		}
	})
	return rsaKey
}

// TestRFC7427AppendixA compares the AlgorithmIdentifiers byte for byte
// with RFC 7427 Appendix A (A.1.2-A.1.4 PKCS#1 v1.5, A.3.1-A.3.3 ECDSA,
// A.4.3 RSASSA-PSS with SHA-256) and RFC 8420 §2 (Ed25519).
func TestRFC7427AppendixA(t *testing.T) {
	want := map[SignatureScheme]string{
		SchemeRSAPKCS1SHA256: "30 0d 06 09 2a 86 48 86 f7 0d 01 01 0b 05 00",
		SchemeRSAPKCS1SHA384: "30 0d 06 09 2a 86 48 86 f7 0d 01 01 0c 05 00",
		SchemeRSAPKCS1SHA512: "30 0d 06 09 2a 86 48 86 f7 0d 01 01 0d 05 00",
		SchemeECDSASHA256:    "30 0a 06 08 2a 86 48 ce 3d 04 03 02",
		SchemeECDSASHA384:    "30 0a 06 08 2a 86 48 ce 3d 04 03 03",
		SchemeECDSASHA512:    "30 0a 06 08 2a 86 48 ce 3d 04 03 04",
		SchemeRSAPSSSHA256: `30 41 06 09 2a 86 48 86 f7 0d 01 01 0a 30 34 a0
			0f 30 0d 06 09 60 86 48 01 65 03 04 02 01 05 00
			a1 1c 30 1a 06 09 2a 86 48 86 f7 0d 01 01 08 30
			0d 06 09 60 86 48 01 65 03 04 02 01 05 00 a2 03
			02 01 20`,
		SchemeEd25519: "30 05 06 03 2b 65 70",
	}
	for s, w := range want {
		if got := s.AlgorithmIdentifier(); !bytes.Equal(got, unhex(t, w)) {
			t.Errorf("%v: AlgorithmIdentifier\n got %x\nwant %x", s, got, unhex(t, w))
		}
	}
}

// signatureAlgorithmOf returns the DER signatureAlgorithm of a certificate.
func signatureAlgorithmOf(t *testing.T, cert []byte) []byte {
	in := cryptobyte.String(cert)
	var seq cryptobyte.String
	var algID cryptobyte.String
	if !in.ReadASN1(&seq, asn1.SEQUENCE) || !seq.SkipASN1(asn1.SEQUENCE) || !seq.ReadASN1Element(&algID, asn1.SEQUENCE) {
		t.Fatal("cannot parse certificate")
	}
	return algID
}

// TestAlgorithmIdentifiersMatchX509 cross-checks every AlgorithmIdentifier,
// including the PSS SHA-384/512 ones RFC 7427 does not spell out, against
// what crypto/x509 writes into certificates for the same algorithm.
func TestAlgorithmIdentifiersMatchX509(t *testing.T) {
	ec256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	cases := []struct {
		s   SignatureScheme
		key crypto.Signer
		alg x509.SignatureAlgorithm
	}{
		{SchemeRSAPKCS1SHA256, testRSAKey(t), x509.SHA256WithRSA},
		{SchemeRSAPKCS1SHA384, testRSAKey(t), x509.SHA384WithRSA},
		{SchemeRSAPKCS1SHA512, testRSAKey(t), x509.SHA512WithRSA},
		{SchemeRSAPSSSHA256, testRSAKey(t), x509.SHA256WithRSAPSS},
		{SchemeRSAPSSSHA384, testRSAKey(t), x509.SHA384WithRSAPSS},
		{SchemeRSAPSSSHA512, testRSAKey(t), x509.SHA512WithRSAPSS},
		{SchemeECDSASHA256, ec256, x509.ECDSAWithSHA256},
		{SchemeECDSASHA384, ec256, x509.ECDSAWithSHA384},
		{SchemeECDSASHA512, ec256, x509.ECDSAWithSHA512},
		{SchemeEd25519, ed, x509.PureEd25519},
	}
	for _, tc := range cases {
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "x"},
			NotBefore: time.Unix(0, 0), NotAfter: time.Unix(1e9, 0), SignatureAlgorithm: tc.alg}
		cert, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, tc.key.Public(), tc.key)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := tc.s.AlgorithmIdentifier(), signatureAlgorithmOf(t, cert); !bytes.Equal(got, want) {
			t.Errorf("%v: ours %x, crypto/x509 %x", tc.s, got, want)
		}
		s, salt, err := ParseAlgorithmIdentifier(tc.s.AlgorithmIdentifier())
		if err != nil || s != tc.s {
			t.Errorf("%v: parses back as %v, %v", tc.s, s, err)
		}
		if schemes[s].pss && salt != schemes[s].hash.Size() {
			t.Errorf("%v: salt length %d", s, salt)
		}
	}
}

func TestParseAlgorithmIdentifierVariants(t *testing.T) {
	cases := []struct {
		name  string
		der   string
		want  SignatureScheme
		salt  int
		errIs error
	}{
		{"PKCS1 SHA-256 without NULL (RFC 4055 §2.1)", "30 0b 06 09 2a 86 48 86 f7 0d 01 01 0b", SchemeRSAPKCS1SHA256, 0, nil},
		{"PSS SHA-256 salt 10", "30 41 06 09 2a 86 48 86 f7 0d 01 01 0a 30 34 a0 0f 30 0d 06 09 60 86 48 01 65 03 04 02 01 05 00 a1 1c 30 1a 06 09 2a 86 48 86 f7 0d 01 01 08 30 0d 06 09 60 86 48 01 65 03 04 02 01 05 00 a2 03 02 01 0a", SchemeRSAPSSSHA256, 10, nil},
		{"PSS with default (SHA-1) parameters", "30 0d 06 09 2a 86 48 86 f7 0d 01 01 0a 30 00", 0, 0, ErrUnsupported},
		{"PSS without parameters", "30 0b 06 09 2a 86 48 86 f7 0d 01 01 0a", 0, 0, ErrMalformed},
		{"PSS MGF1-SHA-384 with SHA-256", "30 41 06 09 2a 86 48 86 f7 0d 01 01 0a 30 34 a0 0f 30 0d 06 09 60 86 48 01 65 03 04 02 01 05 00 a1 1c 30 1a 06 09 2a 86 48 86 f7 0d 01 01 08 30 0d 06 09 60 86 48 01 65 03 04 02 02 05 00 a2 03 02 01 20", 0, 0, ErrUnsupported},
		{"sha1WithRSAEncryption", "30 0d 06 09 2a 86 48 86 f7 0d 01 01 05 05 00", 0, 0, ErrUnsupported},
		{"ECDSA with NULL parameters", "30 0c 06 08 2a 86 48 ce 3d 04 03 02 05 00", 0, 0, ErrMalformed},
		{"trailing octet", "30 05 06 03 2b 65 70 00", 0, 0, ErrMalformed},
		{"not a SEQUENCE", "06 03 2b 65 70", 0, 0, ErrMalformed},
		{"empty", "", 0, 0, ErrMalformed},
		{"Ed448", "30 05 06 03 2b 65 71", 0, 0, ErrUnsupported},
	}
	for _, tc := range cases {
		s, salt, err := ParseAlgorithmIdentifier(unhex(t, tc.der))
		if tc.errIs != nil {
			if !errors.Is(err, tc.errIs) {
				t.Errorf("%s: err = %v, want %v", tc.name, err, tc.errIs)
			}
			continue
		}
		if err != nil || s != tc.want || salt != tc.salt {
			t.Errorf("%s: got %v salt %d err %v, want %v salt %d", tc.name, s, salt, err, tc.want, tc.salt)
		}
	}
}

func TestParseSignatureAuthData(t *testing.T) {
	algID := SchemeEd25519.AlgorithmIdentifier()
	data := appendSignatureAuthData(nil, algID, []byte("sig"))
	a, s, err := ParseSignatureAuthData(data)
	if err != nil || !bytes.Equal(a, algID) || string(s) != "sig" {
		t.Fatalf("round trip: %x %q %v", a, s, err)
	}
	for _, bad := range [][]byte{nil, {0}, {7}, append([]byte{7}, algID...), {8, 1, 2}} {
		if _, _, err := ParseSignatureAuthData(bad); !errors.Is(err, ErrMalformed) {
			t.Errorf("%x: err = %v, want ErrMalformed", bad, err)
		}
	}
}

func TestSignatureHashesNotify(t *testing.T) {
	data := AppendSignatureHashes(nil, SupportedHashes())
	if want := unhex(t, "0002 0003 0004 0005"); !bytes.Equal(data, want) {
		t.Errorf("encoded %x, want %x", data, want)
	}
	hs, err := ParseSignatureHashes(unhex(t, "0001 0004 0007 0002"))
	if err != nil || len(hs) != 4 || hs[2] != 7 {
		t.Fatalf("parse: %v %v", hs, err)
	}
	if h, ok := SelectHash(SupportedHashes(), hs); !ok || h != HashSHA2_256 {
		t.Errorf("SelectHash = %v %v, want SHA2-256", h, ok)
	}
	if _, ok := SelectHash(SupportedHashes(), []HashAlgorithm{HashSHA1}); ok {
		t.Errorf("SelectHash chose something from a SHA-1-only peer")
	}
	for _, bad := range [][]byte{nil, {0}, {0, 2, 0}, make([]byte, 2*MaxSignatureHashes+2)} {
		if _, err := ParseSignatureHashes(bad); !errors.Is(err, ErrMalformed) {
			t.Errorf("%d octets: err = %v, want ErrMalformed", len(bad), err)
		}
	}
}
