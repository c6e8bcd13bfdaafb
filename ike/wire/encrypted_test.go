package wire

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestSKFlowAESGCM walks the SK path an IKE SA takes with AES-GCM-16 (RFC
// 5282): EncodePayloads, pad, EncodeSK, seal in place with msg[:IV] as
// associated data; then Decode, LocateSK, open, strip padding and
// DecodePayloads. It checks the codec puts every length in place before the
// caller seals.
func TestSKFlowAESGCM(t *testing.T) {
	key := bytes.Repeat([]byte{0x42}, 32)
	salt := []byte{1, 2, 3, 4}
	block, _ := aes.NewCipher(key)
	aead, _ := cipher.NewGCM(block)
	const ivLen, icvLen = 8, 16

	inner := ikeAuthInner()
	first, pt, err := EncodePayloads(inner)
	if err != nil {
		t.Fatal(err)
	}
	padded := append(pt, 0) // Pad Length 0 (RFC 7296 §3.14)
	h := Header{SPIi: 0x1111, SPIr: 0x2222, Exchange: ExchangeIKEAuth, Flags: FlagInitiator, MessageID: 1}
	msg, l, err := EncodeSK(h, nil, first, ivLen, len(padded), icvLen)
	if err != nil {
		t.Fatal(err)
	}
	iv := []byte("ivivivIV")
	copy(msg[l.IV:], iv)
	aead.Seal(msg[l.Ciphertext:l.Ciphertext], append(salt, iv...), padded, msg[:l.IV])

	// Receive.
	m, err := Decode(msg)
	if err != nil {
		t.Fatal(err)
	}
	sk, ok := m.Payloads[len(m.Payloads)-1].(*Encrypted)
	if !ok || sk.NextPayload != PayloadIDi {
		t.Fatalf("last payload %#v, want SK announcing IDi", m.Payloads[len(m.Payloads)-1])
	}
	rl, err := LocateSK(msg, ivLen, icvLen)
	if err != nil {
		t.Fatal(err)
	}
	if rl != l {
		t.Fatalf("LocateSK %+v, EncodeSK said %+v", rl, l)
	}
	gotIV, ct, icv, err := sk.Split(ivLen, icvLen)
	if err != nil || !bytes.Equal(gotIV, iv) || !bytes.Equal(ct, msg[l.Ciphertext:l.ICV]) || !bytes.Equal(icv, msg[l.ICV:]) {
		t.Fatalf("Split = %x %d %x, %v", gotIV, len(ct), icv, err)
	}
	plain, err := aead.Open(nil, append(salt, gotIV...), append(ct, icv...), msg[:rl.IV])
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	padLen := int(plain[len(plain)-1])
	got, err := DecodePayloads(sk.NextPayload, plain[:len(plain)-1-padLen])
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(inner, got, cmpOpts); diff != "" {
		t.Fatalf("inner payloads (-want +got):\n%s", diff)
	}
	if err := CheckUnique(got); err != nil {
		t.Fatal(err)
	}
}

// TestSKFIntegrityCoverage checks, for a fragment with a cleartext-free
// CBC+HMAC layout, that msg[:ICV] covers the fragment fields and ends right
// before the ICV, so tampering with the fragment number breaks the MAC.
func TestSKFIntegrityCoverage(t *testing.T) {
	const ivLen, ctLen, icvLen = 16, 32, 16
	h := Header{SPIi: 5, SPIr: 6, Exchange: ExchangeIKEAuth, Flags: FlagInitiator, MessageID: 1}
	msg, l, err := EncodeSKF(h, PayloadIDi, 1, 2, ivLen, ctLen, icvLen)
	if err != nil {
		t.Fatal(err)
	}
	if want := HeaderLen + 8; l.IV != want || l.Ciphertext != want+ivLen || l.ICV != want+ivLen+ctLen || l.End != len(msg) || l.End != l.ICV+icvLen {
		t.Fatalf("layout %+v for %d octets", l, len(msg))
	}
	mac := func(b []byte) []byte { m := hmac.New(sha256.New, []byte("k")); m.Write(b); return m.Sum(nil)[:icvLen] }
	copy(msg[l.ICV:], mac(msg[:l.ICV]))
	m, err := Decode(msg)
	if err != nil {
		t.Fatal(err)
	}
	f := m.Payloads[0].(*EncryptedFragment)
	if f.Number != 1 || f.Total != 2 || f.NextPayload != PayloadIDi || len(f.Data) != ivLen+ctLen+icvLen {
		t.Fatalf("fragment %+v", f)
	}
	msg[HeaderLen+5] = 2 // fragment number 1 -> 2
	if hmac.Equal(mac(msg[:l.ICV]), msg[l.ICV:]) {
		t.Fatal("fragment number not covered by the ICV range")
	}
}

func TestLocateSKErrors(t *testing.T) {
	plain := mustEncode(t, &Message{Header: Header{SPIi: 1}, Payloads: []Payload{&VendorID{Data: []byte{1}}}})
	sk := mustEncode(t, &Message{Header: Header{SPIi: 1}, Payloads: []Payload{&Encrypted{Data: make([]byte, 20)}}})
	tests := []struct {
		name    string
		msg     []byte
		iv, icv int
		err     error
	}{
		{"no SK payload", plain, 8, 16, ErrInvalid},
		{"data shorter than IV+ICV", sk, 8, 16, ErrTruncated},
		{"negative length", sk, -1, 16, ErrTruncated},
		{"length mismatch", append(bytes.Clone(sk), 0), 8, 8, ErrInvalid},
		{"short", sk[:20], 8, 8, ErrTruncated},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := LocateSK(tc.msg, tc.iv, tc.icv); !errors.Is(err, tc.err) {
				t.Fatalf("LocateSK error %v, want %v", err, tc.err)
			}
		})
	}
	if l, err := LocateSK(sk, 8, 12); err != nil || l.Ciphertext != l.ICV {
		t.Fatalf("exact fit: %+v %v", l, err)
	}
	if _, _, _, err := (&Encrypted{Data: make([]byte, 5)}).Split(4, 2); !errors.Is(err, ErrTruncated) {
		t.Fatalf("Split of short data: %v", err)
	}
}

// TestEncodeSKWithCleartext checks the layout when cleartext payloads
// precede SK, and that EncodeSK refuses what cannot be framed.
func TestEncodeSKWithCleartext(t *testing.T) {
	h := Header{SPIi: 9, SPIr: 10, Exchange: ExchangeInformational, MessageID: 3}
	v := &VendorID{Data: []byte("cleartext")}
	msg, l, err := EncodeSK(h, []Payload{v}, PayloadDelete, 16, 32, 12)
	if err != nil {
		t.Fatal(err)
	}
	if want := HeaderLen + 4 + len(v.Data) + 4; l.IV != want || l.End != len(msg) || l.ICV != l.End-12 || l.Ciphertext != l.IV+16 {
		t.Fatalf("layout %+v, message %d octets", l, len(msg))
	}
	m, err := Decode(msg)
	if err != nil {
		t.Fatal(err)
	}
	if got := m.String(); got != "INFORMATIONAL request 3 [ V SK ]" {
		t.Fatalf("decoded %s", got)
	}
	if rl, err := LocateSK(msg, 16, 12); err != nil || rl != l {
		t.Fatalf("LocateSK = %+v, %v; want %+v", rl, err, l)
	}
	if _, _, err := EncodeSK(h, nil, PayloadNone, 16, MaxMessageLen, 16); !errors.Is(err, ErrInvalid) {
		t.Fatalf("oversized SK: %v", err)
	}
	if _, _, err := EncodeSK(h, nil, PayloadNone, -1, 0, 0); !errors.Is(err, ErrInvalid) {
		t.Fatalf("negative IV length: %v", err)
	}
	if _, _, err := EncodeSKF(h, PayloadNone, 3, 2, 8, 8, 8); !errors.Is(err, ErrInvalid) {
		t.Fatalf("fragment 3 of 2: %v", err)
	}
}

func TestParseHeader(t *testing.T) {
	b := mustEncode(t, strongSwanInitResponse())
	h, first, length, err := ParseHeader(b[:HeaderLen]) // only the header: routing needs no more
	if err != nil {
		t.Fatal(err)
	}
	want := strongSwanInitResponse().Header
	if h != want || first != PayloadSA || length != len(b) {
		t.Fatalf("ParseHeader = %+v %v %d, want %+v SA %d", h, first, length, want, len(b))
	}
}
