package dnskeys

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

// FuzzParseIPSECKEY feeds arbitrary RDATA to the IPSECKEY parser: it must
// never panic, errors carry the package prefix, and a usable key has a
// decoded public key and a well-formed gateway.
func FuzzParseIPSECKEY(f *testing.F) {
	f.Add([]byte{10, 0, 2, 1, 3, 1, 2, 3})
	f.Add([]byte{10, 1, 3, 192, 0, 2, 1})
	f.Add(append([]byte{10, 2, 4}, make([]byte, 48)...))
	f.Add([]byte{10, 3, 2, 2, 'g', 'w', 0, 3, 1, 0, 1})
	f.Add([]byte{10, 3, 2, 0xc0, 0})
	if rr, err := dns.NewRR(rfc4025Example); err == nil {
		if rd, err := rdataOf(rr); err == nil {
			f.Add(rd)
		}
	}
	f.Fuzz(func(t *testing.T, rd []byte) {
		k, err := ParseIPSECKEY(rd)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "dnskeys: ") {
				t.Fatalf("error without prefix: %v", err)
			}
			return
		}
		if k.Usable() != (k.PublicKey != nil && k.Refused == "") {
			t.Fatal("Usable inconsistent")
		}
		if k.PublicKey == nil && k.Refused == "" {
			t.Fatal("no key and no reason")
		}
		switch k.GatewayType {
		case GatewayIPv4:
			if !k.Gateway.Is4() {
				t.Fatal("IPv4 gateway not IPv4")
			}
		case GatewayIPv6:
			if !k.Gateway.Is6() {
				t.Fatal("IPv6 gateway not IPv6")
			}
		case GatewayName:
			if _, ok := dns.IsDomainName(k.GatewayName); !ok {
				t.Fatalf("gateway name %q", k.GatewayName)
			}
		}
		_ = k.String()
	})
}

// FuzzParseKEY does the same for legacy KEY RDATA.
func FuzzParseKEY(f *testing.F) {
	f.Add([]byte{0x42, 0x00, 4, 15})
	f.Add(append([]byte{0x42, 0x00, 4, 15}, make([]byte, 32)...))
	f.Add([]byte{0x42, 0x00, 4, 8, 1, 3})
	f.Fuzz(func(t *testing.T, rd []byte) {
		k, err := ParseKEY(rd)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "dnskeys: ") {
				t.Fatalf("error without prefix: %v", err)
			}
			return
		}
		if k.PublicKey == nil && k.Refused == "" {
			t.Fatal("no key and no reason")
		}
	})
}

// FuzzParseAnchors feeds arbitrary text to the trust-anchor parser.
func FuzzParseAnchors(f *testing.F) {
	f.Add(". IN DS 20326 8 2 E06D44B80B8F1D39A95C0B0D7C65D08458E880409BBC683457104237C7F8EC8D\n")
	f.Add(". 172800 IN DNSKEY 257 3 13 mdsswUyr3DPW132mOi8V9xESWE8jTo0dxCjjnopKl+GqJxpVXckHAeF+KkxLbxILfDLUT0rAK9iUzy1L53eKGQ==\n")
	f.Add("$ORIGIN corp.example.\n@ DS ( 1 13 2 00 )\n; comment\n")
	f.Fuzz(func(t *testing.T, s string) {
		a, err := ParseAnchors(strings.NewReader(s), "fuzz")
		if err != nil {
			if !strings.HasPrefix(err.Error(), "dnskeys: trust anchors fuzz") {
				t.Fatalf("error without prefix: %v", err)
			}
			return
		}
		if len(a.Zones()) == 0 {
			t.Fatal("anchors without zones")
		}
		_ = a.String()
	})
}

// FuzzParseReverseName checks that a parsed reverse name maps back to
// itself.
func FuzzParseReverseName(f *testing.F) {
	f.Add("1.2.0.192.in-addr.arpa.")
	f.Add("1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa.")
	f.Fuzz(func(t *testing.T, s string) {
		a, err := ParseReverseName(s)
		if err != nil {
			return
		}
		n, err := ReverseName(a)
		if err != nil || n != canonical(s) {
			t.Fatalf("%q -> %v -> %q (%v)", s, a, n, err)
		}
	})
}

// FuzzValidate is the validator entry point over arbitrary evidence (a
// sequence of length-prefixed DNS messages), seeded with the evidence
// recorded from the NSD test tree and validated at its recorded time with
// its anchor. It must never panic or loop, and a Secure result must be
// either a positive answer or a denial.
//
// Each run verifies signatures, so minimizing a new 4 KB input with the
// default -fuzzminimizetime=60s stalls the fuzzer for minutes (0 execs/sec);
// fuzz it with a short minimization:
//
//	go test -run '^$' -fuzz '^FuzzValidate$' -fuzztime=60s -fuzzminimizetime=2s ./dnskeys
func FuzzValidate(f *testing.F) {
	dir := filepath.Join("testdata", "evidence")
	files, _ := filepath.Glob(filepath.Join(dir, "*.bin"))
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err == nil {
			f.Add(b)
		}
	}
	_, anchors, now := fixture(f, "secure_v4.bin")
	f.Fuzz(func(t *testing.T, b []byte) {
		ev, err := UnpackEvidence(b)
		if err != nil {
			return
		}
		res := Validate(ev, anchors, now, Options{})
		if res.Reason == "" || !strings.HasPrefix(res.Reason, res.State.String()+":") {
			t.Fatalf("reason %q does not start with state %s", res.Reason, res.State)
		}
		if res.State == Secure && len(res.Answer) == 0 && res.Denial == DenialNone {
			t.Fatalf("secure result with neither answer nor denial: %s", res)
		}
		if res.State != Secure && res.State != Insecure && len(res.Answer) > 0 {
			t.Fatal("answer on a failed result")
		}
		// Validate is a pure function: the same evidence gives the same verdict.
		if res2 := Validate(ev, anchors, now, Options{}); res2.State != res.State || res2.Reason != res.Reason {
			t.Fatalf("verdict changed: %s then %s", res, res2)
		}
	})
}
