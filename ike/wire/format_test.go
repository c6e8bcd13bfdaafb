package wire

import (
	"net/netip"
	"testing"
)

func TestStrings(t *testing.T) {
	tests := []struct {
		got  interface{ String() string }
		want string
	}{
		{ExchangeIKESAInit, "IKE_SA_INIT"},
		{ExchangeType(99), "ExchangeType(99)"},
		{PayloadSKF, "SKF"},
		{PayloadNonce, "Nonce"},
		{PayloadType(250), "PayloadType(250)"},
		{ProtocolESP, "ESP"},
		{IDNull, "ID_NULL"},
		{AuthDigitalSignature, "DIGITAL_SIGNATURE"},
		{AuthNull, "NULL"},
		{CertX509Signature, "X509_SIGNATURE"},
		{TransformDH, "DH"},
		{EncrAESGCM16, "ENCR_AES_GCM_16"},
		{EncrChaCha20Poly1305, "ENCR_CHACHA20_POLY1305"},
		{EncrNull, "ENCR_NULL"},
		{PRFHMACSHA2_512, "PRF_HMAC_SHA2_512"},
		{IntegHMACSHA2_384_192, "AUTH_HMAC_SHA2_384_192"},
		{DHModP2048, "MODP_2048"},
		{DHCurve25519, "CURVE25519"},
		{ESNYes, "ESN"},
		{ESNID(2), "ESN(2)"},
		{NotifyNATDetectionDestinationIP, "NAT_DETECTION_DESTINATION_IP"},
		{NotifyIKEv2FragmentationSupported, "IKEV2_FRAGMENTATION_SUPPORTED"},
		{NotifyType(12345), "NotifyType(12345)"},
		{HashSHA2_256, "SHA2_256"},
		{TSIPv6AddrRange, "TS_IPV6_ADDR_RANGE"},
		{CFGReply, "CFG_REPLY"},
		{FlagInitiator | FlagResponse, "I|R"},
		{Flags(0), "0"},
		{EncrAESCBC.Transform(256), "ENCR_AES_CBC_256"},
		{Transform{Type: 9, ID: 36}, "ML_KEM_768"},
		{Transform{Type: 77, ID: 3}, "TransformType(77)(3)"},
		{IDFromAddr(netip.MustParseAddr("2001:db8::1"), true), "ID_IPV6_ADDR:2001:db8::1"},
		{&ID{IDType: IDFQDN, Data: []byte("oe.example")}, `ID_FQDN:"oe.example"`},
		{TSFromPrefix(netip.MustParsePrefix("198.51.100.0/24"), 17), "198.51.100.0-198.51.100.255[proto=17,ports=0-65535]"},
		{&Notify{Protocol: ProtocolESP, SPI: []byte{1, 2, 3, 4}, NotifyType: NotifyRekeySA}, "N(REKEY_SA,ESP,spi=0x01020304)"},
		{strongSwanInitRequest(), "IKE_SA_INIT request 0 [ SA KE Nonce N(NAT_DETECTION_SOURCE_IP) N(NAT_DETECTION_DESTINATION_IP) N(IKEV2_FRAGMENTATION_SUPPORTED) N(SIGNATURE_HASH_ALGORITHMS) N(REDIRECT_SUPPORTED) ]"},
		{&Message{Header: Header{Exchange: ExchangeIKEAuth, Flags: FlagResponse, MessageID: 1}, Payloads: []Payload{&EncryptedFragment{Number: 2, Total: 3}}}, "IKE_AUTH response 1 [ SKF(2/3) ]"},
	}
	for _, tc := range tests {
		if s := tc.got.String(); s != tc.want {
			t.Errorf("%#v.String() = %q, want %q", tc.got, s, tc.want)
		}
	}
	if s := PayloadSummary(ikeAuthInner()[:3]); s != "IDi N(INITIAL_CONTACT) AUTH" {
		t.Errorf("PayloadSummary = %q", s)
	}
}

func TestTSFromPrefix(t *testing.T) {
	for _, tc := range []struct{ prefix, start, end string }{
		{"192.0.2.77/32", "192.0.2.77", "192.0.2.77"},
		{"192.0.2.77/26", "192.0.2.64", "192.0.2.127"},
		{"0.0.0.0/0", "0.0.0.0", "255.255.255.255"},
		{"2001:db8::1/128", "2001:db8::1", "2001:db8::1"},
		{"2001:db8:1::/47", "2001:db8::", "2001:db8:1:ffff:ffff:ffff:ffff:ffff"},
	} {
		ts := TSFromPrefix(netip.MustParsePrefix(tc.prefix), 0)
		if ts.StartAddr.String() != tc.start || ts.EndAddr.String() != tc.end || ts.StartPort != 0 || ts.EndPort != 65535 {
			t.Errorf("TSFromPrefix(%s) = %v", tc.prefix, ts)
		}
	}
}

func TestNotifyAccessors(t *testing.T) {
	if g, err := NewInvalidKE(DHECP384).DHGroup(); err != nil || g != DHECP384 {
		t.Errorf("DHGroup = %v, %v", g, err)
	}
	if _, err := NewNotify(NotifyInvalidKEPayload, []byte{1}).DHGroup(); err == nil {
		t.Error("DHGroup accepted 1 octet")
	}
	if _, err := NewNotify(NotifyCookie, nil).Cookie(); err == nil {
		t.Error("Cookie accepted an empty cookie")
	}
	if _, err := NewNotify(NotifyCookie, make([]byte, 65)).Cookie(); err == nil {
		t.Error("Cookie accepted 65 octets")
	}
	if c, err := NewNotify(NotifyCookie, []byte{7}).Cookie(); err != nil || len(c) != 1 {
		t.Errorf("Cookie = %x, %v", c, err)
	}
	if _, err := NewNotify(NotifyNATDetectionSourceIP, make([]byte, 19)).NATDetectionHash(); err == nil {
		t.Error("NATDetectionHash accepted 19 octets")
	}
	if _, err := NewNotify(NotifySignatureHashAlgorithms, []byte{0, 2, 0}).HashAlgorithms(); err == nil {
		t.Error("HashAlgorithms accepted an odd length")
	}
	if _, err := NewNotify(NotifyCookie, []byte{0, 2}).HashAlgorithms(); err == nil {
		t.Error("HashAlgorithms accepted a COOKIE")
	}
	cr := &CertReq{Encoding: CertX509Signature, Data: make([]byte, 40)}
	if hs, ok := cr.Authorities(); !ok || len(hs) != 2 {
		t.Errorf("Authorities = %d, %v", len(hs), ok)
	}
	if _, ok := (&CertReq{Encoding: CertX509Signature, Data: make([]byte, 21)}).Authorities(); ok {
		t.Error("Authorities accepted 21 octets")
	}
	if a, ok := IDFromAddr(netip.MustParseAddr("203.0.113.9"), false).Addr(); !ok || a != netip.MustParseAddr("203.0.113.9") {
		t.Errorf("Addr = %v, %v", a, ok)
	}
	if !NotifyTSUnacceptable.IsError() || NotifyCookie.IsError() {
		t.Error("IsError")
	}
}
