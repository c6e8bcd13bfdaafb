package wire

import (
	"bytes"
	"encoding/hex"
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// fill returns n octets derived from tag, standing in for random values
// (SPIs, nonces, public keys) in the hand-built packets.
func fill(tag byte, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = tag ^ byte(i*7)
	}
	return b
}

func natd(t NotifyType, tag byte) *Notify { return NewNotify(t, fill(tag, 20)) }

// strongSwanDH is the DH order of strongSwan's default IKE proposal
// (charon "default" keyword, 5.9/6.0 era): curve25519 first, MODP last.
var strongSwanDH = []DHGroup{DHCurve25519, DHCurve448, DHECP256, DHECP384, DHECP521, DHModP3072, DHModP4096, DHModP6144, DHModP8192, DHModP2048}

func withDH(ts []Transform, groups []DHGroup) []Transform {
	for _, g := range groups {
		ts = append(ts, g.Transform())
	}
	return ts
}

// strongSwanInitRequest is modelled on the IKE_SA_INIT request of a
// strongSwan initiator with default proposals: a classic and an AEAD
// proposal, a curve25519 KE, NAT detection, fragmentation and RFC 7427
// hash algorithms, and REDIRECT_SUPPORTED.
func strongSwanInitRequest() *Message {
	classic := withDH([]Transform{
		EncrAESCBC.Transform(128), EncrAESCBC.Transform(192), EncrAESCBC.Transform(256),
		IntegHMACSHA2_256_128.Transform(), IntegHMACSHA2_384_192.Transform(), IntegHMACSHA2_512_256.Transform(),
		PRFHMACSHA2_256.Transform(), PRFHMACSHA2_384.Transform(), PRFHMACSHA2_512.Transform(),
	}, strongSwanDH)
	aead := withDH([]Transform{
		EncrAESGCM16.Transform(128), EncrAESGCM16.Transform(192), EncrAESGCM16.Transform(256),
		EncrChaCha20Poly1305.Transform(0),
		PRFHMACSHA2_256.Transform(), PRFHMACSHA2_384.Transform(), PRFHMACSHA2_512.Transform(),
	}, strongSwanDH)
	return &Message{
		Header: Header{SPIi: 0x8a6f9c2e51d3b704, Exchange: ExchangeIKESAInit, Flags: FlagInitiator},
		Payloads: []Payload{
			&SA{Proposals: []Proposal{
				{Number: 1, Protocol: ProtocolIKE, Transforms: classic},
				{Number: 2, Protocol: ProtocolIKE, Transforms: aead},
			}},
			&KE{Group: DHCurve25519, Data: fill(0x31, 32)},
			&Nonce{Data: fill(0x4e, 32)},
			natd(NotifyNATDetectionSourceIP, 0x51),
			natd(NotifyNATDetectionDestinationIP, 0x52),
			NewNotify(NotifyIKEv2FragmentationSupported, nil),
			NewHashAlgorithms(HashSHA2_256, HashSHA2_384, HashSHA2_512, HashIdentity),
			NewNotify(NotifyRedirectSupported, nil),
		},
	}
}

// strongSwanInitResponse answers strongSwanInitRequest, choosing
// AES-GCM-16/256 from proposal 2, and asks for certificates from two CAs.
func strongSwanInitResponse() *Message {
	return &Message{
		Header: Header{SPIi: 0x8a6f9c2e51d3b704, SPIr: 0x2b7e151628aed2a6, Exchange: ExchangeIKESAInit, Flags: FlagResponse},
		Payloads: []Payload{
			&SA{Proposals: []Proposal{{Number: 2, Protocol: ProtocolIKE, Transforms: []Transform{
				EncrAESGCM16.Transform(256), PRFHMACSHA2_256.Transform(), DHCurve25519.Transform(),
			}}}},
			&KE{Group: DHCurve25519, Data: fill(0x32, 32)},
			&Nonce{Data: fill(0x4f, 32)},
			natd(NotifyNATDetectionSourceIP, 0x53),
			natd(NotifyNATDetectionDestinationIP, 0x54),
			&CertReq{Encoding: CertX509Signature, Data: fill(0x60, 40)},
			NewNotify(NotifyIKEv2FragmentationSupported, nil),
			NewHashAlgorithms(HashSHA2_256, HashSHA2_384, HashSHA2_512, HashIdentity),
			NewNotify(NotifyMultipleAuthSupported, nil),
		},
	}
}

// libreswanDH is the DH order of libreswan's default IKEv2 proposals.
var libreswanDH = []DHGroup{DHECP256, DHECP384, DHECP521, DHCurve25519, DHModP4096, DHModP3072, DHModP2048, DHModP8192}

// libreswanInitRequest is modelled on a libreswan (4.x/5.x) initiator with
// default proposals: AES-GCM, ChaCha20-Poly1305 and two AES-CBC proposals,
// a secp256r1 KE, and the notifications it sends in IKE_SA_INIT.
func libreswanInitRequest() *Message {
	prfs := []Transform{PRFHMACSHA2_512.Transform(), PRFHMACSHA2_256.Transform()}
	integ := []Transform{IntegHMACSHA2_512_256.Transform(), IntegHMACSHA2_256_128.Transform()}
	cat := func(ts ...[]Transform) []Transform {
		var out []Transform
		for _, t := range ts {
			out = append(out, t...)
		}
		return withDH(out, libreswanDH)
	}
	return &Message{
		Header: Header{SPIi: 0x3c1f0e8d7a6b5c4d, Exchange: ExchangeIKESAInit, Flags: FlagInitiator},
		Payloads: []Payload{
			&SA{Proposals: []Proposal{
				{Number: 1, Protocol: ProtocolIKE, Transforms: cat([]Transform{EncrAESGCM16.Transform(256)}, prfs)},
				{Number: 2, Protocol: ProtocolIKE, Transforms: cat([]Transform{EncrChaCha20Poly1305.Transform(0)}, prfs)},
				{Number: 3, Protocol: ProtocolIKE, Transforms: cat([]Transform{EncrAESCBC.Transform(256)}, prfs, integ)},
				{Number: 4, Protocol: ProtocolIKE, Transforms: cat([]Transform{EncrAESCBC.Transform(128)}, prfs, integ)},
			}},
			&KE{Group: DHECP256, Data: fill(0x19, 64)},
			&Nonce{Data: fill(0x4c, 32)},
			NewNotify(NotifyIKEv2FragmentationSupported, nil),
			natd(NotifyNATDetectionSourceIP, 0x55),
			natd(NotifyNATDetectionDestinationIP, 0x56),
			NewHashAlgorithms(HashSHA2_256, HashSHA2_384, HashSHA2_512, HashIdentity),
			&VendorID{Data: []byte("OESWAN-oe-agent-test")},
		},
	}
}

// ikeAuthInner is the inner chain of an OE IKE_AUTH request in transport
// mode between two hosts, authenticated with an RFC 7427 signature.
func ikeAuthInner() []Payload {
	return []Payload{
		IDFromAddr(netip.MustParseAddr("192.0.2.1"), false),
		NewNotify(NotifyInitialContact, nil),
		&Auth{Method: AuthDigitalSignature, Data: fill(0xa5, 16+256)},
		NewNotify(NotifyUseTransportMode, nil),
		NewNotify(NotifyESPTFCPaddingNotSupported, nil),
		&SA{Proposals: []Proposal{
			{Number: 1, Protocol: ProtocolESP, SPI: []byte{0xc1, 0x0f, 0xfe, 0xe1}, Transforms: []Transform{
				EncrAESGCM16.Transform(256), EncrAESGCM16.Transform(128), ESNNo.Transform(),
			}},
			{Number: 2, Protocol: ProtocolESP, SPI: []byte{0xc1, 0x0f, 0xfe, 0xe1}, Transforms: []Transform{
				EncrAESCBC.Transform(256), IntegHMACSHA2_256_128.Transform(), ESNNo.Transform(),
			}},
		}},
		&TrafficSelectors{Selectors: []TrafficSelector{TSFromPrefix(netip.MustParsePrefix("192.0.2.1/32"), 0)}},
		&TrafficSelectors{Responder: true, Selectors: []TrafficSelector{
			TSFromPrefix(netip.MustParsePrefix("198.51.100.2/32"), 0),
			TSFromPrefix(netip.MustParsePrefix("2001:db8::/64"), 6),
		}},
	}
}

type namedPacket struct {
	name string
	m    *Message
	b    []byte
}

// realisticMessages returns the hand-built exchanges above, encoded; they
// are also the seeds of FuzzDecodeMessage (see TestFuzzSeedsUpToDate).
func realisticMessages(t testing.TB) []namedPacket {
	t.Helper()
	first, inner, err := EncodePayloads(ikeAuthInner())
	if err != nil {
		t.Fatal(err)
	}
	authHdr := Header{SPIi: 0x8a6f9c2e51d3b704, SPIr: 0x2b7e151628aed2a6, Exchange: ExchangeIKEAuth, Flags: FlagInitiator, MessageID: 1}
	// AES-GCM: 8-octet IV, plaintext + 1 octet Pad Length, 16-octet tag.
	auth, l, err := EncodeSK(authHdr, nil, first, 8, len(inner)+1, 16)
	if err != nil {
		t.Fatal(err)
	}
	copy(auth[l.Ciphertext:], inner) // a stand-in for the ciphertext
	ms := []struct {
		name string
		m    *Message
	}{
		{"strongswan-ike-sa-init-request", strongSwanInitRequest()},
		{"strongswan-ike-sa-init-response", strongSwanInitResponse()},
		{"libreswan-ike-sa-init-request", libreswanInitRequest()},
		{"cookie-response", &Message{
			Header:   Header{SPIi: 0x3c1f0e8d7a6b5c4d, Exchange: ExchangeIKESAInit, Flags: FlagResponse},
			Payloads: []Payload{NewNotify(NotifyCookie, fill(0xc0, 32))},
		}},
		{"invalid-ke-response", &Message{
			Header:   Header{SPIi: 0x3c1f0e8d7a6b5c4d, Exchange: ExchangeIKESAInit, Flags: FlagResponse},
			Payloads: []Payload{NewInvalidKE(DHCurve25519)},
		}},
		{"informational-empty-sk", &Message{
			Header:   Header{SPIi: 0x8a6f9c2e51d3b704, SPIr: 0x2b7e151628aed2a6, Exchange: ExchangeInformational, MessageID: 7},
			Payloads: []Payload{&Encrypted{Data: fill(0xee, 8+16+16)}},
		}},
		{"ike-auth-fragment-2-of-3", &Message{
			Header:   authHdr,
			Payloads: []Payload{&EncryptedFragment{Number: 2, Total: 3, Data: fill(0xf2, 8+400+16)}},
		}},
	}
	var out []namedPacket
	for _, x := range ms {
		out = append(out, namedPacket{x.name, x.m, mustEncode(t, x.m)})
	}
	m, err := Decode(auth)
	if err != nil {
		t.Fatal(err)
	}
	return append(out, namedPacket{"ike-auth-request-sk", m, auth})
}

// TestRealisticMessages decodes the hand-built exchanges and checks the
// fields an IKE state machine reads from them.
func TestRealisticMessages(t *testing.T) {
	for _, p := range realisticMessages(t) {
		t.Run(p.name, func(t *testing.T) {
			m, err := Decode(p.b)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(p.m, m, cmpOpts); diff != "" {
				t.Fatalf("(-want +got):\n%s", diff)
			}
			if err := CheckUnique(m.Payloads); err != nil {
				t.Fatal(err)
			}
		})
	}
	m, err := Decode(mustEncode(t, strongSwanInitRequest()))
	if err != nil {
		t.Fatal(err)
	}
	sa := Find(m.Payloads, PayloadSA).(*SA)
	if got, want := sa.Proposals[1].String(), "#2 IKE: ENCR_AES_GCM_16_128/ENCR_AES_GCM_16_192/ENCR_AES_GCM_16_256/ENCR_CHACHA20_POLY1305/PRF_HMAC_SHA2_256/PRF_HMAC_SHA2_384/PRF_HMAC_SHA2_512/CURVE25519/CURVE448/ECP_256/ECP_384/ECP_521/MODP_3072/MODP_4096/MODP_6144/MODP_8192/MODP_2048"; got != want {
		t.Errorf("proposal 2 = %q, want %q", got, want)
	}
	hs, err := FindNotify(m.Payloads, NotifySignatureHashAlgorithms).HashAlgorithms()
	if err != nil || !cmp.Equal(hs, []HashAlgorithm{HashSHA2_256, HashSHA2_384, HashSHA2_512, HashIdentity}) {
		t.Errorf("HashAlgorithms = %v, %v", hs, err)
	}
	if h, err := FindNotify(m.Payloads, NotifyNATDetectionSourceIP).NATDetectionHash(); err != nil || len(h) != 20 {
		t.Errorf("NATDetectionHash = %x, %v", h, err)
	}
	if !m.IsInitiator() || m.IsResponse() || m.SPIr != 0 {
		t.Errorf("header %+v: want initiator request with zero SPIr", m.Header)
	}
}

// TestHandAssembledIKESAInit pins the exact octets of a small IKE_SA_INIT
// request assembled by hand from the RFC 7296 §3 diagrams, independently of
// the encoder: header (§3.1), SA with one proposal and four transforms
// (§3.3, key length attribute §3.3.5), KE (§3.4), Nonce (§3.9) and Notify
// (§3.10).
func TestHandAssembledIKESAInit(t *testing.T) {
	h := strings.Join([]string{
		// IKE header: SPIi, SPIr, next=SA(33) ver=2.0 exch=34 flags=I, msgid 0, length 144
		"0102030405060708", "0000000000000000", "21", "20", "22", "08", "00000000", "00000090",
		// SA: next=KE(34), len 48; proposal: last, len 44, #1, IKE, spi size 0, 4 transforms
		"22000030", "0000002c", "01010004",
		"0300000c", "0100000c", "800e0080", // ENCR_AES_CBC, key length 128
		"03000008", "02000005", // PRF_HMAC_SHA2_256
		"03000008", "0300000c", // AUTH_HMAC_SHA2_256_128
		"00000008", "0400001f", // DH 31 (Curve25519), last transform
		// KE: next=Nonce(40), len 40, group 31, 32 octets
		"28000028", "001f0000", strings.Repeat("11", 32),
		// Nonce: next=N(41), len 20
		"29000014", strings.Repeat("22", 16),
		// N: last, len 8, protocol 0, spi size 0, IKEV2_FRAGMENTATION_SUPPORTED (16430)
		"00000008", "0000402e",
	}, "")
	want, err := hex.DecodeString(h)
	if err != nil {
		t.Fatal(err)
	}
	m := &Message{
		Header: Header{SPIi: 0x0102030405060708, Exchange: ExchangeIKESAInit, Flags: FlagInitiator},
		Payloads: []Payload{
			&SA{Proposals: []Proposal{{Number: 1, Protocol: ProtocolIKE, Transforms: []Transform{
				EncrAESCBC.Transform(128), PRFHMACSHA2_256.Transform(), IntegHMACSHA2_256_128.Transform(), DHCurve25519.Transform(),
			}}}},
			&KE{Group: DHCurve25519, Data: bytes.Repeat([]byte{0x11}, 32)},
			&Nonce{Data: bytes.Repeat([]byte{0x22}, 16)},
			NewNotify(NotifyIKEv2FragmentationSupported, nil),
		},
	}
	got := mustEncode(t, m)
	if !bytes.Equal(got, want) {
		t.Fatalf("Encode:\n got %x\nwant %x", got, want)
	}
	dec, err := Decode(want)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(m, dec, cmpOpts); diff != "" {
		t.Fatalf("Decode (-want +got):\n%s", diff)
	}
}
