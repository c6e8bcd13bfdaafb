package wire

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
)

// hx decodes hex with optional spaces.
func hx(s string) []byte {
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		panic(err)
	}
	return b
}

// pl builds a payload with a generic header (next, flags) and a computed length.
func pl(next PayloadType, flags byte, body string) []byte {
	b := hx(body)
	return append([]byte{byte(next), flags, byte((len(b) + 4) >> 8), byte(len(b) + 4)}, b...)
}

// raw builds a message with a valid header around the given payload octets.
func raw(first PayloadType, payloads ...[]byte) []byte {
	b := hx("0102030405060708 0000000000000000")
	b = append(b, byte(first), 0x20, byte(ExchangeIKESAInit), byte(FlagInitiator), 0, 0, 0, 0, 0, 0, 0, 0)
	for _, p := range payloads {
		b = append(b, p...)
	}
	binary.BigEndian.PutUint32(b[24:], uint32(len(b)))
	return b
}

var nonce16 = strings.Repeat("aa", 16)

// transform hex for a proposal body: ENCR_AES_CBC/128, last.
const lastTransform = "0000000c 0100000c 800e0080"

func TestDecodeBadInputs(t *testing.T) {
	tests := []struct {
		name    string
		in      []byte
		err     error
		payload PayloadType
		field   string
		offset  int    // checked when non-zero
		text    string // exact Error() when non-empty
	}{
		{name: "empty", in: nil, err: ErrTruncated, field: "header"},
		{name: "short header", in: hx("0102030405060708 00000000"), err: ErrTruncated, field: "header"},
		{name: "major version 1", in: func() []byte { b := raw(PayloadNone); b[17] = 0x10; return b }(),
			err: ErrMajorVersion, field: "major version", offset: 17},
		{name: "major version 3", in: func() []byte { b := raw(PayloadNone); b[17] = 0x30; return b }(),
			err: ErrMajorVersion, field: "major version"},
		{name: "zero initiator SPI", in: func() []byte { b := raw(PayloadNone); copy(b, make([]byte, 8)); return b }(),
			err: ErrInvalid, field: "initiator SPI"},
		{name: "length below header", in: func() []byte { b := raw(PayloadNone); b[27] = 27; return b }(),
			err: ErrInvalid, field: "message length"},
		{name: "length longer than datagram", in: func() []byte { b := raw(PayloadNone); b[27]++; return b }(),
			err: ErrInvalid, field: "message length",
			text: "ike/wire: message at offset 24: message length 29 does not match datagram length 28"},
		{name: "datagram longer than length", in: append(raw(PayloadNone), 0), err: ErrInvalid, field: "message length"},
		{name: "first payload missing", in: raw(PayloadNonce), err: ErrTruncated, payload: PayloadNonce, field: "payload header", offset: 28},
		{name: "payload length 3", in: raw(PayloadVendorID, hx("00000003")), err: ErrInvalid, payload: PayloadVendorID, field: "payload length"},
		{name: "payload length past end", in: raw(PayloadVendorID, hx("00000009 aabbcc")), err: ErrTruncated, payload: PayloadVendorID, field: "payload length"},
		{name: "trailing octets after last payload", in: raw(PayloadVendorID, pl(PayloadNone, 0, "aabb"), hx("00")),
			err: ErrTrailingData, field: "last payload", offset: 34},
		{name: "chain names a missing payload", in: raw(PayloadVendorID, pl(PayloadNonce, 0, "aabb")),
			err: ErrTruncated, payload: PayloadNonce, field: "payload header"},
		{name: "nonce too short", in: raw(PayloadNonce, pl(PayloadNone, 0, strings.Repeat("aa", 8))),
			err: ErrInvalid, payload: PayloadNonce, field: "nonce length", offset: 32,
			text: "ike/wire: Nonce payload at offset 32: nonce length 8 outside 16..256"},
		{name: "nonce too long", in: raw(PayloadNonce, pl(PayloadNone, 0, strings.Repeat("aa", 257))),
			err: ErrInvalid, payload: PayloadNonce, field: "nonce length"},
		{name: "unknown critical payload", in: raw(200, pl(PayloadNone, 0x80, "aabb")),
			err: ErrUnsupportedCritical, payload: 200, field: "payload type"},
		{name: "EAP marked critical is unknown to the codec", in: raw(PayloadEAP, pl(PayloadNone, 0x80, "01020004")),
			err: ErrUnsupportedCritical, payload: PayloadEAP, field: "payload type"},
		{name: "SA without proposals", in: raw(PayloadSA, pl(PayloadNone, 0, "")), err: ErrInvalid, payload: PayloadSA, field: "proposals"},
		{name: "SA proposal marker 1", in: raw(PayloadSA, pl(PayloadNone, 0, "01000014 01010001"+lastTransform)),
			err: ErrInvalid, payload: PayloadSA, field: "proposal last substruc"},
		{name: "SA proposal says more, none follows", in: raw(PayloadSA, pl(PayloadNone, 0, "02000014 01010001"+lastTransform)),
			err: ErrTruncated, payload: PayloadSA, field: "proposal"},
		{name: "SA proposal length short", in: raw(PayloadSA, pl(PayloadNone, 0, "00000007 010100")),
			err: ErrInvalid, payload: PayloadSA, field: "proposal length"},
		{name: "SA proposal length past payload", in: raw(PayloadSA, pl(PayloadNone, 0, "00000018 01010001"+lastTransform)),
			err: ErrTruncated, payload: PayloadSA, field: "proposal"},
		{name: "SA IKE SPI of 4 octets", in: raw(PayloadSA, pl(PayloadNone, 0, "00000018 01010401 aabbccdd"+lastTransform)),
			err: ErrInvalid, payload: PayloadSA, field: "spi size"},
		{name: "SA ESP without SPI", in: raw(PayloadSA, pl(PayloadNone, 0, "00000014 01030001"+lastTransform)),
			err: ErrInvalid, payload: PayloadSA, field: "spi size"},
		{name: "SA zero transforms", in: raw(PayloadSA, pl(PayloadNone, 0, "00000008 01010000")),
			err: ErrInvalid, payload: PayloadSA, field: "num transforms"},
		{name: "SA transform count mismatch", in: raw(PayloadSA, pl(PayloadNone, 0, "00000014 01010002"+lastTransform)),
			err: ErrInvalid, payload: PayloadSA, field: "num transforms"},
		{name: "SA transform marker 2", in: raw(PayloadSA, pl(PayloadNone, 0, "00000014 01010001 0200000c 0100000c 800e0080")),
			err: ErrInvalid, payload: PayloadSA, field: "transform last substruc"},
		{name: "SA transform length 7", in: raw(PayloadSA, pl(PayloadNone, 0, "0000000f 01010001 00000007 010000")),
			err: ErrInvalid, payload: PayloadSA, field: "transform length"},
		{name: "SA key length in TLV form", in: raw(PayloadSA, pl(PayloadNone, 0, "00000016 01010001 0000000e 0100000c 000e0002 0080")),
			err: ErrInvalid, payload: PayloadSA, field: "key length attribute"},
		{name: "SA key length twice", in: raw(PayloadSA, pl(PayloadNone, 0, "00000018 01010001 00000010 0100000c 800e0080 800e0100")),
			err: ErrInvalid, payload: PayloadSA, field: "key length attribute"},
		{name: "SA key length zero", in: raw(PayloadSA, pl(PayloadNone, 0, "00000014 01010001 0000000c 0100000c 800e0000")),
			err: ErrInvalid, payload: PayloadSA, field: "key length attribute"},
		{name: "SA attribute length past transform", in: raw(PayloadSA, pl(PayloadNone, 0, "00000014 01010001 0000000c 0100000c 00010009")),
			err: ErrTruncated, payload: PayloadSA, field: "attribute value"},
		{name: "SA attribute header cut", in: raw(PayloadSA, pl(PayloadNone, 0, "00000012 01010001 0000000a 0100000c 8001")),
			err: ErrTruncated, payload: PayloadSA, field: "attribute value"},
		{name: "SA octets after last proposal", in: raw(PayloadSA, pl(PayloadNone, 0, "00000014 01010001"+lastTransform+"00")),
			err: ErrTrailingData, payload: PayloadSA, field: "last proposal"},
		{name: "KE without data", in: raw(PayloadKE, pl(PayloadNone, 0, "00130000")), err: ErrInvalid, payload: PayloadKE, field: "key exchange data"},
		{name: "KE cut in header", in: raw(PayloadKE, pl(PayloadNone, 0, "0013")), err: ErrTruncated, payload: PayloadKE, field: "ke reserved"},
		{name: "IDi IPv4 with 5 octets", in: raw(PayloadIDi, pl(PayloadNone, 0, "01000000 c000020101")),
			err: ErrInvalid, payload: PayloadIDi, field: "identification data"},
		{name: "IDr IPv6 with 4 octets", in: raw(PayloadIDr, pl(PayloadNone, 0, "05000000 20010db8")),
			err: ErrInvalid, payload: PayloadIDr, field: "identification data"},
		{name: "IDi empty FQDN", in: raw(PayloadIDi, pl(PayloadNone, 0, "02000000")), err: ErrInvalid, payload: PayloadIDi, field: "identification data"},
		{name: "AUTH without data", in: raw(PayloadAuth, pl(PayloadNone, 0, "0e000000")), err: ErrInvalid, payload: PayloadAuth, field: "authentication data"},
		{name: "CERT without data", in: raw(PayloadCert, pl(PayloadNone, 0, "04")), err: ErrInvalid, payload: PayloadCert, field: "certificate data"},
		{name: "CERTREQ without encoding", in: raw(PayloadCertReq, pl(PayloadNone, 0, "")), err: ErrTruncated, payload: PayloadCertReq, field: "cert encoding"},
		{name: "N SPI past end", in: raw(PayloadNotify, pl(PayloadNone, 0, "0304402b aabb")), err: ErrTruncated, payload: PayloadNotify, field: "spi"},
		{name: "N cut in type", in: raw(PayloadNotify, pl(PayloadNone, 0, "0000 40")), err: ErrTruncated, payload: PayloadNotify, field: "notify message type"},
		{name: "D ESP with 8-octet SPI", in: raw(PayloadDelete, pl(PayloadNone, 0, "03080001 0102030405060708")),
			err: ErrInvalid, payload: PayloadDelete, field: "spi size"},
		{name: "D IKE with an SPI count", in: raw(PayloadDelete, pl(PayloadNone, 0, "01000001")),
			err: ErrInvalid, payload: PayloadDelete, field: "num of spis"},
		{name: "D SPI count mismatch", in: raw(PayloadDelete, pl(PayloadNone, 0, "03040002 01020304")),
			err: ErrInvalid, payload: PayloadDelete, field: "num of spis"},
		{name: "D unknown protocol", in: raw(PayloadDelete, pl(PayloadNone, 0, "07040001 01020304")),
			err: ErrInvalid, payload: PayloadDelete, field: "protocol id"},
		{name: "TSi zero selectors", in: raw(PayloadTSi, pl(PayloadNone, 0, "00000000")), err: ErrInvalid, payload: PayloadTSi, field: "number of tss"},
		{name: "TSi count says 2, holds 1", in: raw(PayloadTSi, pl(PayloadNone, 0, "02000000 07000010 0000ffff c0000201 c0000201")),
			err: ErrTruncated, payload: PayloadTSi, field: "traffic selector"},
		{name: "TSr IPv4 selector length 20", in: raw(PayloadTSr, pl(PayloadNone, 0, "01000000 07000014 0000ffff c0000201 c0000201 00000000")),
			err: ErrInvalid, payload: PayloadTSr, field: "selector length"},
		{name: "TSr IPv6 selector length 16", in: raw(PayloadTSr, pl(PayloadNone, 0, "01000000 08000010 0000ffff 20010db8 20010db8")),
			err: ErrInvalid, payload: PayloadTSr, field: "selector length"},
		{name: "TSi selector length 3", in: raw(PayloadTSi, pl(PayloadNone, 0, "01000000 07000003")),
			err: ErrInvalid, payload: PayloadTSi, field: "selector length"},
		{name: "TSi octets after last selector", in: raw(PayloadTSi, pl(PayloadNone, 0, "01000000 07000010 0000ffff c0000201 c0000201 00")),
			err: ErrTrailingData, payload: PayloadTSi, field: "last traffic selector"},
		{name: "SK not last", in: raw(PayloadSK, pl(PayloadNone, 0, "aabbccdd"), pl(PayloadNone, 0, "")),
			err: ErrTrailingData, payload: PayloadSK, field: "encrypted payload"},
		{name: "SKF fragment 0", in: raw(PayloadSKF, pl(PayloadIDi, 0, "00000003 aabb")),
			err: ErrInvalid, payload: PayloadSKF, field: "fragment number"},
		{name: "SKF fragment 4 of 3", in: raw(PayloadSKF, pl(PayloadNone, 0, "00040003 aabb")),
			err: ErrInvalid, payload: PayloadSKF, field: "fragment number"},
		{name: "SKF total 0", in: raw(PayloadSKF, pl(PayloadNone, 0, "00010000 aabb")),
			err: ErrInvalid, payload: PayloadSKF, field: "total fragments"},
		{name: "SKF next payload in fragment 2", in: raw(PayloadSKF, pl(PayloadIDi, 0, "00020003 aabb")),
			err: ErrInvalid, payload: PayloadSKF, field: "next payload"},
		{name: "SKF cut in header", in: raw(PayloadSKF, pl(PayloadIDi, 0, "0001")),
			err: ErrTruncated, payload: PayloadSKF, field: "total fragments"},
		{name: "CP attribute past end", in: raw(PayloadCP, pl(PayloadNone, 0, "01000000 00010004 aabb")),
			err: ErrTruncated, payload: PayloadCP, field: "attribute value"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, err := Decode(tc.in)
			if err == nil {
				t.Fatalf("Decode succeeded: %s", dump(m))
			}
			var we *Error
			if !errors.As(err, &we) {
				t.Fatalf("error %v (%T) is not a *wire.Error", err, err)
			}
			if !errors.Is(err, tc.err) {
				t.Errorf("error %v does not wrap %v", err, tc.err)
			}
			if we.Payload != tc.payload || we.Field != tc.field {
				t.Errorf("error %q: payload %v field %q, want %v %q", err, we.Payload, we.Field, tc.payload, tc.field)
			}
			if tc.offset != 0 && we.Offset != tc.offset {
				t.Errorf("error %q: offset %d, want %d", err, we.Offset, tc.offset)
			}
			if tc.text != "" && err.Error() != tc.text {
				t.Errorf("error text %q, want %q", err, tc.text)
			}
			if !strings.HasPrefix(err.Error(), "ike/wire: ") {
				t.Errorf("error %q lacks the package prefix", err)
			}
		})
	}
}

// TestErrorNotifyType checks the mapping a responder uses to pick its error
// notification, including the payload type UNSUPPORTED_CRITICAL_PAYLOAD
// carries.
func TestErrorNotifyType(t *testing.T) {
	_, err := Decode(raw(PayloadNonce, pl(200, 0, nonce16), pl(PayloadNone, 0x80, "")))
	var we *Error
	if !errors.As(err, &we) || we.NotifyType() != NotifyUnsupportedCriticalPayload || we.Payload != 200 {
		t.Fatalf("critical unknown: %v", err)
	}
	if n := NewUnsupportedCritical(we.Payload); n.Data[0] != 200 {
		t.Errorf("UNSUPPORTED_CRITICAL_PAYLOAD data %x, want c8", n.Data)
	}
	b := raw(PayloadNone)
	b[17] = 0x31
	if _, err := Decode(b); !errors.As(err, &we) || we.NotifyType() != NotifyInvalidMajorVersion {
		t.Errorf("major version 3: %v", err)
	}
	if _, err := Decode(raw(PayloadNonce, pl(PayloadNone, 0, "aa"))); !errors.As(err, &we) || we.NotifyType() != NotifyInvalidSyntax {
		t.Errorf("short nonce: %v", err)
	}
}

// TestDecodeLenient checks what the RFC says receivers must ignore or skip.
func TestDecodeLenient(t *testing.T) {
	// Unknown non-critical payload between two known ones is kept opaque.
	b := raw(PayloadNonce, pl(201, 0, nonce16), pl(PayloadVendorID, 0, "0102"), pl(PayloadNone, 0, "cafe"))
	m, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	if u, ok := m.Payloads[1].(*Unknown); !ok || u.PayloadType != 201 || u.Critical || string(u.Data) != "\x01\x02" {
		t.Errorf("payload 1 = %#v, want Unknown 201", m.Payloads[1])
	}
	// The critical bit and reserved bits of a known payload are ignored
	// (RFC 7296 §3.2), as are reserved header flags and the minor version.
	b = raw(PayloadNonce, pl(PayloadNone, 0xff, nonce16))
	b[17] = 0x2f
	b[19] = 0xff
	m, err = Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	if m.Flags != FlagInitiator|FlagVersion|FlagResponse {
		t.Errorf("flags %v, want I|V|R", m.Flags)
	}
	// Unknown TS types are kept opaque, for a TS_UNACCEPTABLE answer.
	m, err = Decode(raw(PayloadTSi, pl(PayloadNone, 0, "01000000 0a000008 deadbeef")))
	if err != nil {
		t.Fatal(err)
	}
	if ts := m.Payloads[0].(*TrafficSelectors).Selectors[0]; ts.Type != TSSecLabel || string(ts.Data) != "\xde\xad\xbe\xef" {
		t.Errorf("selector %+v, want opaque TS_SECLABEL", ts)
	}
}

func TestDecodePayloadsRejectsNestedSK(t *testing.T) {
	_, err := DecodePayloads(PayloadSK, pl(PayloadNone, 0, "aabbccdd"))
	var we *Error
	if !errors.As(err, &we) || !errors.Is(err, ErrInvalid) || we.Payload != PayloadSK || we.Offset != 0 {
		t.Fatalf("nested SK: %v", err)
	}
	if _, _, err := EncodePayloads([]Payload{&Encrypted{}}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("EncodePayloads with SK: %v", err)
	}
}

func TestCheckUnique(t *testing.T) {
	n := &Nonce{Data: make([]byte, 16)}
	if err := CheckUnique([]Payload{&VendorID{}, &VendorID{}, NewNotify(NotifyCookie, []byte{1}), NewNotify(NotifyCookie, []byte{1}), n,
		&ID{IDType: IDNull}, &ID{Responder: true, IDType: IDNull}}); err != nil {
		t.Errorf("repeatable payloads: %v", err)
	}
	for _, p := range []Payload{&SA{}, &KE{}, n, &ID{}, &ID{Responder: true}, &Auth{}, &TrafficSelectors{}, &TrafficSelectors{Responder: true}, &Encrypted{}, &EncryptedFragment{}} {
		err := CheckUnique([]Payload{p, &VendorID{}, p})
		var we *Error
		if !errors.As(err, &we) || !errors.Is(err, ErrDuplicate) || we.Payload != p.Type() {
			t.Errorf("two %v: %v", p.Type(), err)
		}
	}
}

// TestEncodeRejects checks that the encoder refuses what the decoder would.
func TestEncodeRejects(t *testing.T) {
	h := Header{SPIi: 1, Exchange: ExchangeIKESAInit}
	tests := []struct {
		name  string
		m     Message
		field string
	}{
		{"zero SPIi", Message{Payloads: nil}, "initiator SPI"},
		{"short nonce", Message{Header: h, Payloads: []Payload{&Nonce{Data: make([]byte, 15)}}}, "nonce length"},
		{"empty SA", Message{Header: h, Payloads: []Payload{&SA{}}}, "proposals"},
		{"ESP proposal without SPI", Message{Header: h, Payloads: []Payload{&SA{Proposals: []Proposal{{Protocol: ProtocolESP, Transforms: []Transform{ESNNo.Transform()}}}}}}, "spi size"},
		{"proposal without transforms", Message{Header: h, Payloads: []Payload{&SA{Proposals: []Proposal{{Protocol: ProtocolIKE}}}}}, "num transforms"},
		{"key length as attribute", Message{Header: h, Payloads: []Payload{&SA{Proposals: []Proposal{{Protocol: ProtocolIKE, Transforms: []Transform{
			{Type: TransformEncr, ID: 12, Attributes: []Attribute{{Type: AttributeKeyLength, TV: true, Value: []byte{0, 128}}}}}}}}}}, "attribute"},
		{"TV attribute of 3 octets", Message{Header: h, Payloads: []Payload{&SA{Proposals: []Proposal{{Protocol: ProtocolIKE, Transforms: []Transform{
			{Type: TransformEncr, ID: 12, Attributes: []Attribute{{Type: 1, TV: true, Value: []byte{0, 1, 2}}}}}}}}}}, "attribute value"},
		{"empty KE", Message{Header: h, Payloads: []Payload{&KE{Group: DHECP256}}}, "key exchange data"},
		{"IPv4 ID of 16 octets", Message{Header: h, Payloads: []Payload{&ID{IDType: IDIPv4Addr, Data: make([]byte, 16)}}}, "identification data"},
		{"no traffic selectors", Message{Header: h, Payloads: []Payload{&TrafficSelectors{}}}, "number of tss"},
		{"IPv4 TS with IPv6 address", Message{Header: h, Payloads: []Payload{&TrafficSelectors{Selectors: []TrafficSelector{
			{Type: TSIPv4AddrRange, StartAddr: netipMust("2001:db8::1"), EndAddr: netipMust("2001:db8::1")}}}}}, "traffic selector"},
		{"IKE delete with SPIs", Message{Header: h, Payloads: []Payload{&Delete{Protocol: ProtocolIKE, SPIs: [][]byte{{1}}}}}, "num of spis"},
		{"ESP delete with 3-octet SPI", Message{Header: h, Payloads: []Payload{&Delete{Protocol: ProtocolESP, SPIs: [][]byte{{1, 2, 3}}}}}, "spi"},
		{"SK not last", Message{Header: h, Payloads: []Payload{&Encrypted{}, &VendorID{}}}, "payload"},
		{"fragment 2 with next payload", Message{Header: h, Payloads: []Payload{&EncryptedFragment{NextPayload: PayloadIDi, Number: 2, Total: 2}}}, "next payload"},
		{"Unknown with a known type", Message{Header: h, Payloads: []Payload{&Unknown{PayloadType: PayloadNonce}}}, "payload type"},
		{"nil payload", Message{Header: h, Payloads: []Payload{nil}}, "payload"},
		{"oversized payload", Message{Header: h, Payloads: []Payload{&VendorID{Data: make([]byte, 65532)}}}, "payload length"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.m.Encode()
			var we *Error
			if !errors.As(err, &we) || !errors.Is(err, ErrInvalid) || we.Field != tc.field || we.Offset != -1 {
				t.Fatalf("Encode error %v, want ErrInvalid on field %q", err, tc.field)
			}
		})
	}
}
