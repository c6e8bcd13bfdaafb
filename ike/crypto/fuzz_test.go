package crypto

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"testing"
)

// Every parser of this package gets a native fuzz target. Besides "no
// panic", each checks the property its format allows: canonical encodings
// re-encode to the input, and every rejection wraps one of the package's
// error classes.

func checkErrClass(t *testing.T, err error) {
	t.Helper()
	if err != nil && !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrUnsupported) {
		t.Fatalf("error outside ErrMalformed/ErrUnsupported: %v", err)
	}
}

func FuzzParseRFC3110(f *testing.F) {
	f.Add(MarshalRFC3110(&testRSAKey(f).PublicKey))
	f.Add([]byte{1, 3, 0x51, 0x53})
	f.Add([]byte{0, 1, 0, 1})
	f.Fuzz(func(t *testing.T, b []byte) {
		pub, err := ParseRFC3110(b)
		checkErrClass(t, err)
		if err == nil && !bytes.Equal(MarshalRFC3110(pub), b) {
			t.Fatalf("re-encoding differs: %x", b)
		}
	})
}

func FuzzParseLibreswanRSA(f *testing.F) {
	f.Add(FormatLibreswanRSA(&testRSAKey(f).PublicKey))
	f.Add("0x0301000100")
	f.Add("0s")
	f.Fuzz(func(t *testing.T, s string) {
		_, err := ParseLibreswanRSA(s)
		checkErrClass(t, err)
	})
}

func FuzzParseIPSECKEY(f *testing.F) {
	for _, alg := range []uint8{2, 3, 4} {
		f.Add(alg, make([]byte, map[uint8]int{2: 4, 3: 64, 4: 32}[alg]))
	}
	f.Fuzz(func(t *testing.T, alg uint8, b []byte) {
		pub, err := ParseIPSECKEY(alg, b)
		checkErrClass(t, err)
		if err != nil {
			return
		}
		a2, b2, err := MarshalIPSECKEY(pub)
		if err != nil || a2 != alg || !bytes.Equal(b2, b) {
			t.Fatalf("re-encoding differs: alg %d %x -> %d %x %v", alg, b, a2, b2, err)
		}
	})
}

func FuzzParsePublicKeyPEM(f *testing.F) {
	p, _ := MarshalPublicKeyPEM(&testRSAKey(f).PublicKey)
	f.Add(p)
	f.Add([]byte("-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEA\n-----END PUBLIC KEY-----\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		_, err := ParsePublicKeyPEM(b)
		checkErrClass(t, err)
	})
}

func FuzzParseSignatureHashes(f *testing.F) {
	f.Add(AppendSignatureHashes(nil, SupportedHashes()))
	f.Add([]byte{0, 1})
	f.Add([]byte{0})
	f.Fuzz(func(t *testing.T, b []byte) {
		hs, err := ParseSignatureHashes(b)
		checkErrClass(t, err)
		if err == nil && !bytes.Equal(AppendSignatureHashes(nil, hs), b) {
			t.Fatalf("re-encoding differs: %x", b)
		}
	})
}

func FuzzParseAlgorithmIdentifier(f *testing.F) {
	for s := range schemes {
		f.Add(s.AlgorithmIdentifier())
	}
	f.Add([]byte{0x30, 0x0b, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0a})
	f.Fuzz(func(t *testing.T, b []byte) {
		s, _, err := ParseAlgorithmIdentifier(b)
		checkErrClass(t, err)
		if err == nil && schemes[s] == nil {
			t.Fatalf("parsed to unknown scheme %d", s)
		}
	})
}

// FuzzSignatureAuthData feeds arbitrary method 14 Authentication Data to
// Verify with a fixed Ed25519 key: the RFC 7427 §3 blob parser, the
// AlgorithmIdentifier parser and the key-type checks must never panic, and
// nothing but the real signature may verify.
func FuzzSignatureAuthData(f *testing.F) {
	_, priv, _ := ed25519.GenerateKey(&countingReader{})
	pub := priv.Public()
	octets := []byte("signed octets")
	good, _ := Sign(AuthDigitalSignature, SchemeEd25519, priv, octets, nil)
	f.Add(good)
	f.Add(appendSignatureAuthData(nil, SchemeRSAPSSSHA256.AlgorithmIdentifier(), make([]byte, 256)))
	f.Add(appendSignatureAuthData(nil, SchemeECDSASHA256.AlgorithmIdentifier(), []byte{0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01}))
	f.Fuzz(func(t *testing.T, data []byte) {
		if algID, sig, err := ParseSignatureAuthData(data); err == nil {
			if len(algID) == 0 || len(sig) == 0 || 1+len(algID)+len(sig) != len(data) {
				t.Fatalf("bad split of %x", data)
			}
		} else {
			checkErrClass(t, err)
		}
		err := Verify(AuthDigitalSignature, pub, octets, data)
		if err == nil && !bytes.Equal(data, good) {
			t.Fatalf("forged AUTH data verified: %x", data)
		}
	})
}

// FuzzCipherOpen opens arbitrary bodies with every cipher: no panic, and
// nothing opens without the key (the ICV check holds).
func FuzzCipherOpen(f *testing.F) {
	ciphers := allCiphers(f, Config{AllowNull: true})
	f.Add([]byte("aad"), make([]byte, 64))
	// Well-formed messages under other keys.
	for _, s := range testSuites {
		el, _ := EncrKeyLen(s.Encr, s.EncrKeyBits)
		il, _ := IntegKeyLen(s.Integ)
		other, err := NewCipher(s, make(Key, el), make(Key, il), Config{})
		if err != nil {
			f.Fatal(err)
		}
		body, _ := other.Seal(nil, []byte("aad"), []byte("payloads"), &countingReader{})
		f.Add([]byte("aad"), body)
	}
	f.Fuzz(func(t *testing.T, aad, body []byte) {
		for _, c := range ciphers {
			if _, err := c.Open(aad, body); err == nil {
				t.Fatalf("%v opened a message it did not seal", c)
			} else if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrAuthFailed) {
				t.Fatalf("%v: unexpected error class: %v", c, err)
			}
		}
	})
}
