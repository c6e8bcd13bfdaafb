package crypto

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/sha256"
	"errors"
	"testing"
)

// gcmSpecTC4 is Test Case 4 of McGrew and Viega, "The Galois/Counter Mode
// of Operation (GCM)" (the NIST GCM submission), with AAD. Its 12-octet IV
// splits into the 4-octet salt cafebabe and the 8-octet explicit IV
// facedbaddecaf888 exactly as RFC 4106 §4 lays out the nonce. Test Case 16
// is the same with a 256-bit key.
const (
	gcmTC4Key  = "feffe9928665731c6d6a8f9467308308"
	gcmTC16Key = "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308"
	gcmTCSalt  = "cafebabe"
	gcmTCIV    = "facedbaddecaf888"
	gcmTCAAD   = "feedfacedeadbeeffeedfacedeadbeefabaddad2"
	gcmTCPlain = "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39"
	gcmTC4Out  = "42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091" + "5bc94fbc3221a5db94fae95ae7121a47"
	gcmTC16Out = "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662" + "76fc6ece0f4e1768cddf8853bb2d551b"
)

// TestGCMSpecVectorsOpen decrypts the GCM test cases as SK payloads. The
// plaintext's last octet 0x39 reads as Pad Length 57, so Open must return
// the first 60-1-57 = 2 octets.
func TestGCMSpecVectorsOpen(t *testing.T) {
	for _, tc := range []struct {
		name, key, out string
		bits           int
	}{{"TC4", gcmTC4Key, gcmTC4Out, 128}, {"TC16", gcmTC16Key, gcmTC16Out, 256}} {
		c, err := NewCipher(Suite{Encr: EncrAESGCM16, EncrKeyBits: tc.bits}, Key(unhex(t, tc.key+gcmTCSalt)), nil, Config{})
		if err != nil {
			t.Fatal(err)
		}
		body := append(unhex(t, gcmTCIV), unhex(t, tc.out)...)
		pt, err := c.Open(unhex(t, gcmTCAAD), body)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if want := unhex(t, gcmTCPlain)[:2]; !bytes.Equal(pt, want) {
			t.Errorf("%s: got %x, want %x", tc.name, pt, want)
		}
	}
}

// TestRFC8439AEAD decrypts the AEAD_CHACHA20_POLY1305 example of RFC 8439
// §2.8.2 as an SK payload: its nonce 07000000 | 4041424344454647 is salt |
// IV in RFC 7634 §2 layout. The plaintext ends in '.', Pad Length 46, so
// Open returns the first 114-47 = 67 octets.
func TestRFC8439AEAD(t *testing.T) {
	key := make([]byte, 0, 36)
	for b := 0x80; b <= 0x9f; b++ {
		key = append(key, byte(b))
	}
	key = append(key, 0x07, 0, 0, 0)
	c, err := NewCipher(Suite{Encr: EncrChaCha20Poly1305}, key, nil, Config{})
	if err != nil {
		t.Fatal(err)
	}
	plain := "Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it."
	out := unhex(t, `d3 1a 8d 34 64 8e 60 db 7b 86 af bc 53 ef 7e c2 a4 ad ed 51 29 6e 08 fe a9 e2 b5 a7 36 ee 62 d6
		3d be a4 5e 8c a9 67 12 82 fa fb 69 da 92 72 8b 1a 71 de 0a 9e 06 0b 29 05 d6 a5 b6 7e cd 3b 36
		92 dd bd 7f 2d 77 8b 8c 98 03 ae e3 28 09 1b 58 fa b3 24 e4 fa d6 75 94 55 85 80 8b 48 31 d7 bc
		3f f4 de f0 8e 4b 7a 9d e5 76 d2 65 86 ce c6 4b 61 16
		1a e1 0b 59 4f 09 e2 6a 7e 90 2e cb d0 60 06 91`)
	aad := unhex(t, "50515253c0c1c2c3c4c5c6c7")
	pt, err := c.Open(aad, append(unhex(t, "4041424344454647"), out...))
	if err != nil {
		t.Fatal(err)
	}
	if want := plain[:67]; string(pt) != want {
		t.Errorf("got %q, want %q", pt, want)
	}
}

// TestAEADSealCrossCheck seals with a fixed IV and recomputes the result
// with crypto/cipher's GCM directly: IV | GCM(salt|IV, payloads|0x00, aad).
func TestAEADSealCrossCheck(t *testing.T) {
	key := unhex(t, gcmTC16Key+gcmTCSalt)
	c, _ := NewCipher(Suite{Encr: EncrAESGCM16, EncrKeyBits: 256}, key, nil, Config{})
	aad := []byte("IKE header | SK header")
	payloads := []byte("inner payload chain")
	got, err := c.Seal([]byte("prefix"), aad, payloads, &fixedReader{unhex(t, gcmTCIV)})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := aes.NewCipher(key[:32])
	g, _ := cipher.NewGCM(b)
	want := append([]byte("prefix"), unhex(t, gcmTCIV)...)
	want = g.Seal(want, unhex(t, gcmTCSalt+gcmTCIV), append(append([]byte{}, payloads...), 0), aad)
	if !bytes.Equal(got, want) {
		t.Errorf("Seal = %x\nwant   %x", got, want)
	}
	if n := c.SealedLen(len(payloads)); n != len(got)-len("prefix") {
		t.Errorf("SealedLen = %d, Seal appended %d", n, len(got)-len("prefix"))
	}
}

// TestCBCSealCrossCheck recomputes AES-CBC + HMAC-SHA2-256-128 with
// crypto/aes, crypto/cipher and crypto/hmac: RFC 7296 §3.14 padding, a
// one-block IV, and the ICV over aad | IV | ciphertext.
func TestCBCSealCrossCheck(t *testing.T) {
	ek := bytes.Repeat([]byte{0xe1}, 16)
	ak := bytes.Repeat([]byte{0xa1}, 32)
	c, err := NewCipher(Suite{Encr: EncrAESCBC, EncrKeyBits: 128, Integ: IntegHMACSHA2_256_128}, ek, ak, Config{})
	if err != nil {
		t.Fatal(err)
	}
	iv := bytes.Repeat([]byte{0x1f}, 16)
	aad := []byte("28-octet IKE header+SK hdr..")
	for n := 0; n <= 33; n++ {
		payloads := bytes.Repeat([]byte{0x42}, n)
		got, err := c.Seal(nil, aad, payloads, &fixedReader{append([]byte{}, iv...)})
		if err != nil {
			t.Fatal(err)
		}
		pad := (16 - (n+1)%16) % 16
		pt := append(append(append([]byte{}, payloads...), make([]byte, pad)...), byte(pad))
		b, _ := aes.NewCipher(ek)
		ct := make([]byte, len(pt))
		cipher.NewCBCEncrypter(b, iv).CryptBlocks(ct, pt)
		want := append(append([]byte{}, iv...), ct...)
		want = append(want, refHMAC(sha256.New, ak, aad, want)[:16]...)
		if !bytes.Equal(got, want) {
			t.Fatalf("n=%d: Seal = %x\nwant %x", n, got, want)
		}
		if c.SealedLen(n) != len(got) {
			t.Errorf("n=%d: SealedLen %d, Seal gave %d", n, c.SealedLen(n), len(got))
		}
		back, err := c.Open(aad, got)
		if err != nil || !bytes.Equal(back, payloads) {
			t.Errorf("n=%d: Open = %x, %v", n, back, err)
		}
	}
}

func allCiphers(t testing.TB, cfg Config) []Cipher {
	t.Helper()
	suites := append([]Suite{
		{Encr: EncrAESGCM16, EncrKeyBits: 192},
		{Encr: EncrAESCBC, EncrKeyBits: 192, Integ: IntegHMACSHA2_256_128},
	}, testSuites...)
	if cfg.AllowNull {
		suites = append(suites, Suite{Encr: EncrNull, Integ: IntegHMACSHA2_256_128})
	}
	var cs []Cipher
	for _, s := range suites {
		el, _ := EncrKeyLen(s.Encr, s.EncrKeyBits)
		il, _ := IntegKeyLen(s.Integ)
		c, err := NewCipher(s, bytes.Repeat([]byte{0x3c}, el), bytes.Repeat([]byte{0xc3}, il), cfg)
		if err != nil {
			t.Fatalf("%+v: %v", s, err)
		}
		cs = append(cs, c)
	}
	return cs
}

// TestCipherTamper flips every bit position class of a sealed message
// (AAD, IV, ciphertext, ICV) and expects ErrAuthFailed each time.
func TestCipherTamper(t *testing.T) {
	aad := []byte("0123456789abcdef0123456789ab\x2d\x00\x00\x40")
	payloads := bytes.Repeat([]byte("payload "), 5)
	for _, c := range allCiphers(t, Config{AllowNull: true}) {
		msg, err := c.Seal(aad, aad, payloads, &countingReader{})
		if err != nil {
			t.Fatal(err)
		}
		body := msg[len(aad):]
		if pt, err := c.Open(aad, body); err != nil || !bytes.Equal(pt, payloads) {
			t.Fatalf("%v: round trip: %v", c, err)
		}
		for i := range msg {
			bad := bytes.Clone(msg)
			bad[i] ^= 0x80
			if _, err := c.Open(bad[:len(aad)], bad[len(aad):]); !errors.Is(err, ErrAuthFailed) {
				t.Errorf("%v: flipped octet %d of %d: err = %v", c, i, len(msg), err)
			}
		}
		for _, n := range []int{0, 1, len(body) / 2, len(body) - 1} {
			if _, err := c.Open(aad, body[:n]); err == nil {
				t.Errorf("%v: truncated body (%d of %d) accepted", c, n, len(body))
			}
		}
	}
}

func TestNullRefusedByDefault(t *testing.T) {
	s := Suite{Encr: EncrNull, Integ: IntegHMACSHA2_256_128}
	if _, err := NewCipher(s, nil, make(Key, 32), Config{}); !errors.Is(err, ErrUnsupported) {
		t.Fatalf("ENCR_NULL with the zero Config: err = %v, want ErrUnsupported", err)
	}
	c, err := NewCipher(s, nil, make(Key, 32), Config{AllowNull: true})
	if err != nil {
		t.Fatal(err)
	}
	body, _ := c.Seal(nil, nil, []byte("visible"), &countingReader{})
	if !bytes.Contains(body, []byte("visible")) {
		t.Errorf("ENCR_NULL body does not carry the plaintext: %x", body)
	}
}

// TestBadPadLength builds AES-CBC messages whose ICV is valid but whose
// Pad Length points before the start of the plaintext.
func TestBadPadLength(t *testing.T) {
	ek, ak := bytes.Repeat([]byte{1}, 16), bytes.Repeat([]byte{2}, 32)
	c, _ := NewCipher(Suite{Encr: EncrAESCBC, EncrKeyBits: 128, Integ: IntegHMACSHA2_256_128}, ek, ak, Config{})
	iv := make([]byte, 16)
	pt := make([]byte, 16)
	pt[15] = 16 // 16 octets of padding plus the Pad Length octet: 17 > 16
	b, _ := aes.NewCipher(ek)
	ct := make([]byte, 16)
	cipher.NewCBCEncrypter(b, iv).CryptBlocks(ct, pt)
	body := append(append([]byte{}, iv...), ct...)
	body = append(body, refHMAC(sha256.New, ak, body)[:16]...)
	if _, err := c.Open(nil, body); !errors.Is(err, ErrMalformed) {
		t.Errorf("Pad Length past the start: err = %v, want ErrMalformed", err)
	}
	pt[15] = 15 // exactly fills: empty payload chain is fine
	cipher.NewCBCEncrypter(b, iv).CryptBlocks(ct, pt)
	body = append(append([]byte{}, iv...), ct...)
	body = append(body, refHMAC(sha256.New, ak, body)[:16]...)
	if got, err := c.Open(nil, body); err != nil || len(got) != 0 {
		t.Errorf("maximal padding: %x, %v", got, err)
	}
}

func TestNewCipherKeyLengths(t *testing.T) {
	s := Suite{Encr: EncrAESGCM16, EncrKeyBits: 128}
	if _, err := NewCipher(s, make(Key, 16), nil, Config{}); err == nil {
		t.Errorf("AES-GCM-128 key without salt accepted")
	}
	s = Suite{Encr: EncrAESCBC, EncrKeyBits: 256, Integ: IntegHMACSHA2_256_128}
	if _, err := NewCipher(s, make(Key, 32), make(Key, 16), Config{}); err == nil {
		t.Errorf("short integrity key accepted")
	}
}

// TestSealInPlace follows the ike/wire flow: the message is encoded with a
// zeroed SK body of the right size, and Seal writes the body in place
// behind the associated data without reallocating.
func TestSealInPlace(t *testing.T) {
	payloads := []byte("inner payload chain of some length")
	for _, c := range allCiphers(t, Config{AllowNull: true}) {
		n := c.SealedLen(len(payloads))
		if ct := n - c.IVLen() - c.ICVLen(); ct < len(payloads)+1 {
			t.Errorf("%v: ciphertext length %d for %d octets", c, ct, len(payloads))
		}
		msg := make([]byte, 32+n)
		copy(msg, "IKE header (28 octets)......SK..")
		out, err := c.Seal(msg[:32], msg[:32], payloads, &countingReader{})
		if err != nil {
			t.Fatal(err)
		}
		if len(out) != len(msg) || &out[0] != &msg[0] {
			t.Fatalf("%v: Seal reallocated or changed length (%d, want %d)", c, len(out), len(msg))
		}
		want, _ := c.Seal(nil, msg[:32], payloads, &countingReader{})
		if !bytes.Equal(msg[32:], want) {
			t.Errorf("%v: in-place body differs", c)
		}
		pt, err := c.Open(msg[:32], msg[32:])
		if err != nil || !bytes.Equal(pt, payloads) {
			t.Errorf("%v: Open: %q %v", c, pt, err)
		}
	}
}

// TestRFC7634IKEv2 is the IKEv2 example of RFC 7634 Appendix B: an
// INFORMATIONAL message (Message ID 9) whose SK payload carries one Notify.
// Seal with the example's IV must reproduce it octet for octet (RFC 7634
// §3: no padding, Pad Length zero), and Open must return the Notify.
func TestRFC7634IKEv2(t *testing.T) {
	key := make([]byte, 0, 36)
	for b := 0x80; b <= 0xa3; b++ { // 32-octet key 80..9f, then salt a0a1a2a3
		key = append(key, byte(b))
	}
	c, err := NewCipher(Suite{Encr: EncrChaCha20Poly1305}, key, nil, Config{})
	if err != nil {
		t.Fatal(err)
	}
	aad := unhex(t, `c0 c1 c2 c3 c4 c5 c6 c7 d0 d1 d2 d3 d4 d5 d6 d7
		2e 20 25 00 00 00 00 09 00 00 00 45 29 00 00 29`)
	notify := unhex(t, "00 00 00 0c 00 00 40 01 00 00 00 0a")
	want := unhex(t, `10 11 12 13 14 15 16 17
		61 03 94 70 1f 8d 01 7f 7c 12 92 48 89
		6b 71 bf e2 52 36 ef d7 cd c6 70 66 90 63 15 b2`)
	got, err := c.Seal(nil, aad, notify, &fixedReader{unhex(t, "1011121314151617")})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("Seal = %x\nwant   %x", got, want)
	}
	// The SK payload length in the AAD (0x29) is 4 + the body.
	if 4+c.SealedLen(len(notify)) != 0x29 {
		t.Errorf("SealedLen(%d) = %d, the example's SK payload is 0x29 octets", len(notify), c.SealedLen(len(notify)))
	}
	pt, err := c.Open(aad, want)
	if err != nil || !bytes.Equal(pt, notify) {
		t.Errorf("Open = %x, %v", pt, err)
	}
}
