package config

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseProposals(t *testing.T) {
	tests := []struct {
		in   string
		kind ProposalKind
		want string // canonical form
	}{
		// libreswan spellings
		{"aes_gcm256-sha2;dh31", ProposalIKE, "aes256gcm16-prfsha256-x25519"},
		{"aes_gcm_c_256-sha2_512;dh19", ProposalIKE, "aes256gcm16-prfsha512-ecp256"},
		{"aes_gcm_a-sha2;dh20", ProposalIKE, "aes256gcm8-aes128gcm8-prfsha256-ecp384"},
		{"aes256-sha2_512+sha2_256;dh19+dh31", ProposalIKE, "aes256-sha512-sha256-prfsha512-prfsha256-ecp256-x25519"},
		{"aes-sha1;modp2048", ProposalIKE, "aes256-aes128-sha1-prfsha1-modp2048"},
		{"aes-128-sha2_256-modp3072", ProposalIKE, "aes128-sha256-prfsha256-modp3072"},
		{"3des-sha1;dh14", ProposalIKE, "3des-sha1-prfsha1-modp2048"},
		{"chacha20_poly1305-sha2;dh31", ProposalIKE, "chacha20poly1305-prfsha256-x25519"},
		{"aes_gcm128", ProposalESP, "aes128gcm16"},
		{"aes_gcm256-none", ProposalESP, "aes256gcm16"},
		{"aes_gcm256-null", ProposalESP, "aes256gcm16"},
		{"aes_ctr256-sha2_256;none", ProposalESP, "aes256ctr-sha256"},
		{"aes256-sha2;dh19", ProposalESP, "aes256-sha256-ecp256"},
		{"null-sha2_256", ProposalESP, "null-sha256"},
		{"aes_gmac256", ProposalESP, "aes256gmac"},
		{"camellia_cbc256-sha2_256", ProposalESP, "camellia256-sha256"},
		{"aes_ccm_b128", ProposalESP, "aes128ccm12"},
		{"aes_gcm_16_256", ProposalESP, "aes256gcm16"},
		{"aes_gcm_8-256", ProposalESP, "aes256gcm8"},
		{"aes_ccm_12", ProposalESP, "aes256ccm12-aes128ccm12"},
		{"aes_gcm_128", ProposalESP, "aes128gcm16"},
		{"aes_gcm_16", ProposalESP, "aes256gcm16-aes128gcm16"},
		{"aes_cbc-sha2_256_128+hmac_sha1+aes_xcbc_96", ProposalESP, "aes256-aes128-sha256-sha1-aesxcbc"},
		{"null_auth_aes_gmac", ProposalESP, "aes256gmac-aes128gmac"},
		// strongSwan spellings
		{"aes256gcm16-prfsha256-x25519", ProposalIKE, "aes256gcm16-prfsha256-x25519"},
		{"aes256gcm16-aes128gcm16-prfsha384-prfsha256-ecp384-modp3072", ProposalIKE, "aes256gcm16-aes128gcm16-prfsha384-prfsha256-ecp384-modp3072"},
		{"aes128-sha256-modp2048!", ProposalIKE, "aes128-sha256-prfsha256-modp2048!"},
		{"aes256-sha384-prfsha512-curve25519", ProposalIKE, "aes256-sha384-prfsha512-x25519"},
		{"aes128gcm128-x448", ProposalIKE, "aes128gcm16-prfsha512-prfsha384-prfsha256-x448"},
		{"aes128ccm8-esn", ProposalESP, "aes128ccm8-esn"},
		{"aes256gcm16-ecp256bp-mlkem768", ProposalESP, "aes256gcm16-ecp256bp-mlkem768"},
		{"AES256GCM16", ProposalESP, "aes256gcm16"},
		{"aes128-aesxcbc,aes256-sha512", ProposalESP, "aes128-aesxcbc,aes256-sha512"},
		{"aes128", ProposalESP, "aes128-sha512-sha384-sha256"},
		{"aes128", ProposalIKE, "aes128-sha512-sha384-sha256-prfsha512-prfsha384-prfsha256-x25519-ecp256-ecp384-modp3072"},
		{"default", ProposalESP, "aes256gcm16-aes128gcm16-chacha20poly1305,aes256-aes128-sha512-sha384-sha256"},
		{"aes256-aes256-sha256-sha2", ProposalESP, "aes256-sha256"}, // duplicates collapse
	}
	for _, tt := range tests {
		t.Run(tt.kind.String()+"="+tt.in, func(t *testing.T) {
			p, err := ParseProposals(tt.in, tt.kind)
			if err != nil {
				t.Fatal(err)
			}
			if got := p.String(); got != tt.want {
				t.Errorf("got %s, want %s", got, tt.want)
			}
			again, err := ParseProposals(p.String(), tt.kind)
			if err != nil {
				t.Fatalf("canonical form does not parse: %v", err)
			}
			if diff := cmp.Diff(p, again); diff != "" {
				t.Errorf("canonical form parses differently (-first +again):\n%s", diff)
			}
		})
	}
}

func TestParseProposalsTyped(t *testing.T) {
	p, err := ParseProposals("aes_gcm256-sha2;dh31", ProposalIKE)
	if err != nil {
		t.Fatal(err)
	}
	want := Proposals{List: []Proposal{{
		Encr: []Transform{{ID: EncrAESGCM16, KeyLen: 256}},
		PRF:  []uint16{PRFHMACSHA2_256},
		DH:   []uint16{DHCurve25519},
	}}}
	if diff := cmp.Diff(want, p); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	p, err = ParseProposals("aes128-sha256-modp2048", ProposalESP)
	if err != nil {
		t.Fatal(err)
	}
	want = Proposals{List: []Proposal{{
		Encr:  []Transform{{ID: EncrAESCBC, KeyLen: 128}},
		Integ: []uint16{IntegHMACSHA2_256128},
		DH:    []uint16{DHMODP2048},
	}}}
	if diff := cmp.Diff(want, p); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestParseProposalsErrors(t *testing.T) {
	tests := []struct {
		in   string
		kind ProposalKind
		want string
	}{
		{"", ProposalIKE, "empty proposal list"},
		{"aes256,", ProposalIKE, "empty proposal between commas"},
		{"aes256--sha256", ProposalIKE, `proposal "aes256--sha256": empty algorithm name (doubled "-", "+" or ";"?)`},
		{"sha256-x25519", ProposalIKE, `proposal "sha256-x25519": no encryption algorithm`},
		{"aes256gcm16-aes256-sha256", ProposalESP, `proposal "aes256gcm16-aes256-sha256": combined-mode (AEAD) and classic ciphers in one proposal; put them in separate proposals separated by "," (RFC 5282 §8)`},
		{"aes256gcm16-sha256", ProposalESP, `proposal "aes256gcm16-sha256": integrity algorithm given with a combined-mode (AEAD) cipher, which has its own`},
		{"aes256gcm16-sha256-prfsha256", ProposalIKE, `proposal "aes256gcm16-sha256-prfsha256": integrity algorithm given with a combined-mode (AEAD) cipher, which has its own`},
		{"aes256-prfsha256", ProposalESP, `proposal "aes256-prfsha256": PRF "prfsha256" is only valid in ike=`},
		{"aes256-sha256-esn", ProposalIKE, `proposal "aes256-sha256-esn": "esn" is only valid in esp=`},
		{"null-sha256", ProposalIKE, `proposal "null-sha256": "null" encryption is not allowed for IKE`},
		{"aes256-sha256;none", ProposalIKE, `proposal "aes256-sha256;none": IKE needs a key exchange (DH) group; "none" is only valid in esp=`},
		{"aes256-none", ProposalESP, `proposal "aes256-none": integrity "none" needs a combined-mode (AEAD) cipher`},
		{"aes256-null", ProposalESP, `proposal "aes256-null": integrity "none" needs a combined-mode (AEAD) cipher`},
		{"aes-sha1;dh1", ProposalIKE, `proposal "aes-sha1;dh1": "dh1" (MODP-768) is broken and not supported`},
		{"des-sha1", ProposalESP, `proposal "des-sha1": "des" is broken and not supported`},
		{"aes512", ProposalESP, `proposal "aes512": unknown algorithm "aes512" (did you mean "aes128"?)`},
		{"aes256-sha256-curve2519", ProposalIKE, `proposal "aes256-sha256-curve2519": unknown algorithm "curve2519" (did you mean "curve25519"?)`},
		{"aes256-prfsha2", ProposalIKE, `proposal "aes256-prfsha2": unknown PRF "prfsha2" (did you mean "prfsha1"?)`},
		{"3des-64", ProposalESP, `proposal "3des-64": key length "64" does not follow a cipher that takes one`},
		{"aes-100", ProposalESP, `proposal "aes-100": invalid key length "100" (128, 192 or 256)`},
		{"aes;dh19;dh20", ProposalESP, `proposal "aes;dh19;dh20": more than one ";"`},
		{"camellia256gcm16", ProposalESP, `proposal "camellia256gcm16": unknown algorithm "camellia256gcm16"`},
	}
	for _, tt := range tests {
		_, err := ParseProposals(tt.in, tt.kind)
		if err == nil {
			t.Errorf("%s=%s: no error", tt.kind, tt.in)
			continue
		}
		if err.Error() != tt.want {
			t.Errorf("%s=%s:\n got %s\nwant %s", tt.kind, tt.in, err, tt.want)
		}
	}
}

func TestDefaultProposalsValid(t *testing.T) {
	for _, k := range []ProposalKind{ProposalIKE, ProposalESP} {
		ps := DefaultProposals(k)
		for _, p := range ps.List {
			if len(p.Encr) == 0 || (!p.AEAD() && len(p.Integ) == 0) {
				t.Errorf("%s default %s incomplete", k, p)
			}
			if k == ProposalIKE && (len(p.PRF) == 0 || len(p.DH) == 0) {
				t.Errorf("ike default %s lacks PRF or DH", p)
			}
		}
	}
}

func TestEncrKeyBytes(t *testing.T) {
	for _, tt := range []struct {
		t    Transform
		want int
	}{
		{Transform{EncrAESCBC, 128}, 16},
		{Transform{EncrAESGCM16, 256}, 36},
		{Transform{EncrAESCCM8, 128}, 19},
		{Transform{EncrAESCTR, 192}, 28},
		{Transform{EncrChaCha20Poly1305, 0}, 36},
		{Transform{Encr3DES, 0}, 24},
		{Transform{EncrNull, 0}, 0},
	} {
		if got := EncrKeyBytes(tt.t); got != tt.want {
			t.Errorf("%s: %d, want %d", encrName(tt.t), got, tt.want)
		}
	}
}
