package crypto

import (
	"bytes"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/binary"
	"errors"
	"hash"
	"testing"
)

var prfHashes = map[uint16]func() hash.Hash{
	PRFHMACSHA2_256: sha256.New, PRFHMACSHA2_384: sha512.New384, PRFHMACSHA2_512: sha512.New,
}

var testSuites = []Suite{
	{Encr: EncrAESGCM16, EncrKeyBits: 128, PRF: PRFHMACSHA2_256},
	{Encr: EncrAESGCM16, EncrKeyBits: 256, PRF: PRFHMACSHA2_384},
	{Encr: EncrChaCha20Poly1305, PRF: PRFHMACSHA2_512},
	{Encr: EncrAESCBC, EncrKeyBits: 128, Integ: IntegHMACSHA2_256_128, PRF: PRFHMACSHA2_256},
	{Encr: EncrAESCBC, EncrKeyBits: 256, Integ: IntegHMACSHA2_384_192, PRF: PRFHMACSHA2_384},
	{Encr: EncrAESCBC, EncrKeyBits: 256, Integ: IntegHMACSHA2_512_256, PRF: PRFHMACSHA2_512},
}

// TestDeriveIKEKeysKnownAnswer recomputes RFC 7296 §2.14 with crypto/hmac
// directly and compares every SK_* key.
func TestDeriveIKEKeysKnownAnswer(t *testing.T) {
	ni := bytes.Repeat([]byte{0x11}, 32)
	nr := bytes.Repeat([]byte{0x22}, 48)
	gir := bytes.Repeat([]byte{0x33, 0x44}, 128)
	spiI, spiR := uint64(0x0102030405060708), uint64(0xf0e0d0c0b0a09080)
	for _, s := range testSuites {
		h := prfHashes[s.PRF]
		p, _ := NewPRF(s.PRF)
		skeyseed, err := SKEYSEED(p, ni, nr, gir)
		if err != nil {
			t.Fatal(err)
		}
		wantSeed := refHMAC(h, append(append([]byte{}, ni...), nr...), gir)
		if !bytes.Equal(skeyseed, wantSeed) {
			t.Fatalf("%+v: SKEYSEED differs from prf(Ni | Nr, g^ir)", s)
		}
		k, err := DeriveIKEKeys(s, skeyseed, ni, nr, spiI, spiR)
		if err != nil {
			t.Fatal(err)
		}
		encrLen, _ := EncrKeyLen(s.Encr, s.EncrKeyBits)
		integLen, _ := IntegKeyLen(s.Integ)
		prfLen := h().Size()
		seed := append(append(append([]byte{}, ni...), nr...), binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint64(nil, spiI), spiR)...)
		stream := refPRFPlus(h, wantSeed, seed, 3*prfLen+2*integLen+2*encrLen)
		for _, f := range []struct {
			name string
			got  Key
			n    int
		}{{"SK_d", k.D, prfLen}, {"SK_ai", k.AI, integLen}, {"SK_ar", k.AR, integLen},
			{"SK_ei", k.EI, encrLen}, {"SK_er", k.ER, encrLen}, {"SK_pi", k.PI, prfLen}, {"SK_pr", k.PR, prfLen}} {
			if !bytes.Equal(f.got, stream[:f.n]) {
				t.Errorf("%+v: %s differs from the reference (len %d, want %d)", s, f.name, len(f.got), f.n)
			}
			stream = stream[f.n:]
		}
		// Appending to one key must not overwrite the next one.
		for _, key := range []Key{k.D, k.AI, k.AR, k.EI, k.ER, k.PI} {
			if cap(key) != len(key) {
				t.Errorf("%+v: key of %d octets has capacity %d", s, len(key), cap(key))
			}
		}
	}
}

func TestRekeySKEYSEED(t *testing.T) {
	oldPRF, _ := NewPRF(PRFHMACSHA2_512)
	oldSKd := Key(bytes.Repeat([]byte{0x77}, 64))
	ni, nr, gir := bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32), bytes.Repeat([]byte{3}, 32)
	got, err := RekeySKEYSEED(oldPRF, oldSKd, gir, ni, nr)
	if err != nil {
		t.Fatal(err)
	}
	// §2.18: the old IKE SA's PRF, keyed with SK_d (old), over g^ir | Ni | Nr.
	want := refHMAC(sha512.New, oldSKd, gir, ni, nr)
	if !bytes.Equal(got, want) {
		t.Errorf("rekey SKEYSEED differs from prf(SK_d(old), g^ir | Ni | Nr)")
	}
	if _, err := RekeySKEYSEED(oldPRF, nil, gir, ni, nr); err == nil {
		t.Errorf("rekey without SK_d accepted")
	}
	// The new SA may negotiate another PRF; its keys use the new one.
	k, err := DeriveIKEKeys(Suite{Encr: EncrAESGCM16, EncrKeyBits: 256, PRF: PRFHMACSHA2_256}, got, ni, nr, 1, 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(k.D) != 32 || k.PRF.ID() != PRFHMACSHA2_256 {
		t.Errorf("rekeyed SA keys use %v with SK_d of %d octets", k.PRF, len(k.D))
	}
}

func TestNonceLimits(t *testing.T) {
	p256, _ := NewPRF(PRFHMACSHA2_256)
	p512, _ := NewPRF(PRFHMACSHA2_512)
	ok := make([]byte, 32)
	for _, tc := range []struct {
		p      PRF
		n      int
		wantOK bool
	}{{p256, 15, false}, {p256, 16, true}, {p256, 256, true}, {p256, 257, false}, {p512, 31, false}, {p512, 32, true}} {
		_, err := SKEYSEED(tc.p, make([]byte, tc.n), ok, ok)
		if (err == nil) != tc.wantOK {
			t.Errorf("%v nonce of %d octets: err = %v", tc.p, tc.n, err)
		}
	}
}

func TestSuiteValidation(t *testing.T) {
	bad := []Suite{
		{Encr: EncrAESGCM16, EncrKeyBits: 128, Integ: IntegHMACSHA2_256_128, PRF: PRFHMACSHA2_256}, // AEAD + INTEG
		{Encr: EncrAESCBC, EncrKeyBits: 128, PRF: PRFHMACSHA2_256},                                 // no INTEG
		{Encr: EncrAESCBC, EncrKeyBits: 0, Integ: IntegHMACSHA2_256_128, PRF: PRFHMACSHA2_256},     // no key length
		{Encr: EncrAESGCM16, EncrKeyBits: 512, PRF: PRFHMACSHA2_256},
		{Encr: EncrChaCha20Poly1305, EncrKeyBits: 256, PRF: PRFHMACSHA2_256},          // RFC 7634 §4
		{Encr: 3, EncrKeyBits: 0, Integ: IntegHMACSHA2_256_128, PRF: PRFHMACSHA2_256}, // 3DES
		{Encr: EncrAESCBC, EncrKeyBits: 128, Integ: 2, PRF: PRFHMACSHA2_256},          // HMAC-SHA1-96
		{Encr: EncrAESGCM16, EncrKeyBits: 128, PRF: 2},                                // PRF_HMAC_SHA1
	}
	for _, s := range bad {
		if _, err := DeriveIKEKeys(s, make(Key, 32), make([]byte, 32), make([]byte, 32), 1, 2); !errors.Is(err, ErrUnsupported) {
			t.Errorf("%+v: err = %v, want ErrUnsupported", s, err)
		}
	}
}

// TestChildKeys checks RFC 7296 §2.17: KEYMAT order and content, with and
// without PFS, against a crypto/hmac reference.
func TestChildKeys(t *testing.T) {
	p, _ := NewPRF(PRFHMACSHA2_256)
	skd := Key(bytes.Repeat([]byte{0x5d}, 32))
	ni, nr := bytes.Repeat([]byte{0xa1}, 32), bytes.Repeat([]byte{0xb2}, 24)
	gir := bytes.Repeat([]byte{0xc3}, 64)
	cases := []struct {
		s                 Suite
		encrLen, integLen int
	}{
		{Suite{Encr: EncrAESGCM16, EncrKeyBits: 128}, 20, 0},
		{Suite{Encr: EncrAESGCM16, EncrKeyBits: 256}, 36, 0},
		{Suite{Encr: EncrChaCha20Poly1305}, 36, 0},
		{Suite{Encr: EncrAESCBC, EncrKeyBits: 256, Integ: IntegHMACSHA2_256_128}, 32, 32},
		{Suite{Encr: EncrAESCBC, EncrKeyBits: 128, Integ: IntegHMACSHA2_512_256}, 16, 64},
	}
	for _, tc := range cases {
		for _, pfs := range [][]byte{nil, gir} {
			c, err := DeriveChildKeys(p, skd, tc.s, pfs, ni, nr, Config{})
			if err != nil {
				t.Fatal(err)
			}
			seed := append(append(append([]byte{}, pfs...), ni...), nr...)
			km := refPRFPlus(sha256.New, skd, seed, 2*(tc.encrLen+tc.integLen))
			want := []byte{}
			for _, k := range []Key{c.InitiatorToResponder.Encr, c.InitiatorToResponder.Integ,
				c.ResponderToInitiator.Encr, c.ResponderToInitiator.Integ} {
				want = append(want, k...)
			}
			if !bytes.Equal(km, want) {
				t.Errorf("%+v pfs=%v: KEYMAT split differs from prf+(SK_d, [g^ir |] Ni | Nr)", tc.s, pfs != nil)
			}
			if len(c.InitiatorToResponder.Encr) != tc.encrLen || len(c.ResponderToInitiator.Integ) != tc.integLen {
				t.Errorf("%+v: key lengths %d/%d, want %d/%d", tc.s, len(c.InitiatorToResponder.Encr),
					len(c.ResponderToInitiator.Integ), tc.encrLen, tc.integLen)
			}
			out, in := c.Directions(false)
			if !out.Encr.Equal(c.ResponderToInitiator.Encr) || !in.Encr.Equal(c.InitiatorToResponder.Encr) {
				t.Errorf("Directions(responder) swapped the wrong way")
			}
		}
	}
	// ESP with ENCR_NULL needs the explicit option.
	nullSuite := Suite{Encr: EncrNull, Integ: IntegHMACSHA2_256_128}
	if _, err := DeriveChildKeys(p, skd, nullSuite, nil, ni, nr, Config{}); !errors.Is(err, ErrUnsupported) {
		t.Errorf("ENCR_NULL Child SA with default Config: err = %v, want ErrUnsupported", err)
	}
	c, err := DeriveChildKeys(p, skd, nullSuite, nil, ni, nr, Config{AllowNull: true})
	if err != nil || len(c.InitiatorToResponder.Encr) != 0 || len(c.InitiatorToResponder.Integ) != 32 {
		t.Errorf("ENCR_NULL Child SA with AllowNull: %v", err)
	}
}

// TestIKEKeysBothRoles derives the keys on both ends from one SKEYSEED and
// checks that the initiator's outbound cipher talks to the responder's
// inbound one and back.
func TestIKEKeysBothRoles(t *testing.T) {
	ni, nr, gir := bytes.Repeat([]byte{9}, 32), bytes.Repeat([]byte{8}, 32), bytes.Repeat([]byte{7}, 32)
	for _, s := range testSuites {
		p, _ := NewPRF(s.PRF)
		seedI, _ := SKEYSEED(p, ni, nr, gir)
		seedR, _ := SKEYSEED(p, ni, nr, gir)
		ki, err := DeriveIKEKeys(s, seedI, ni, nr, 0x1111, 0x2222)
		if err != nil {
			t.Fatal(err)
		}
		kr, _ := DeriveIKEKeys(s, seedR, ni, nr, 0x1111, 0x2222)
		iOut, iIn, err := ki.Ciphers(true, Config{})
		if err != nil {
			t.Fatal(err)
		}
		rOut, rIn, _ := kr.Ciphers(false, Config{})
		aad := []byte("header and SK payload header")
		for _, pair := range [][2]Cipher{{iOut, rIn}, {rOut, iIn}} {
			body, err := pair[0].Seal(nil, aad, []byte("payloads"), &countingReader{})
			if err != nil {
				t.Fatal(err)
			}
			pt, err := pair[1].Open(aad, body)
			if err != nil || string(pt) != "payloads" {
				t.Errorf("%v: peer cannot open: %q, %v", pair[0], pt, err)
			}
		}
		// And the directions really differ.
		body, _ := iOut.Seal(nil, aad, []byte("payloads"), &countingReader{})
		if _, err := iIn.Open(aad, body); !errors.Is(err, ErrAuthFailed) {
			t.Errorf("%v: own outbound message opened with the inbound key: %v", iOut, err)
		}
	}
}

func TestKernelAlgs(t *testing.T) {
	cases := []struct {
		s           Suite
		encr, integ string
		bits        int
	}{
		{Suite{Encr: EncrAESGCM16, EncrKeyBits: 256}, "rfc4106(gcm(aes))", "", 128},
		{Suite{Encr: EncrChaCha20Poly1305}, "rfc7539esp(chacha20,poly1305)", "", 128},
		{Suite{Encr: EncrAESCBC, EncrKeyBits: 128, Integ: IntegHMACSHA2_256_128}, "cbc(aes)", "hmac(sha256)", 128},
		{Suite{Encr: EncrAESCBC, EncrKeyBits: 256, Integ: IntegHMACSHA2_384_192}, "cbc(aes)", "hmac(sha384)", 192},
		{Suite{Encr: EncrNull, Integ: IntegHMACSHA2_512_256}, "ecb(cipher_null)", "hmac(sha512)", 256},
	}
	for _, tc := range cases {
		e, i, b, err := tc.s.KernelAlgs()
		if err != nil || e != tc.encr || i != tc.integ || b != tc.bits {
			t.Errorf("%+v: %q %q %d %v", tc.s, e, i, b, err)
		}
	}
	if _, _, _, err := (Suite{Encr: EncrAESGCM16, EncrKeyBits: 256, Integ: IntegHMACSHA2_256_128}).KernelAlgs(); err == nil {
		t.Errorf("AEAD with INTEG accepted")
	}
}
