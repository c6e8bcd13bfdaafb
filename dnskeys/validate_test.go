package dnskeys_test

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/oe-agent/oe-agent/dnskeys"
)

// The evidence under testdata/evidence was recorded from the NSD test tree
// (TestNetnsNSDRecordFixtures); it is replayed here through the pure validator
// at the recorded time, so these tests need no server.

func loadFixture(t testing.TB, file string) (*dnskeys.Evidence, *dnskeys.Anchors, time.Time) {
	t.Helper()
	dir := filepath.Join("testdata", "evidence")
	b, err := os.ReadFile(filepath.Join(dir, file))
	if err != nil {
		t.Fatal(err)
	}
	ev, err := dnskeys.UnpackEvidence(b)
	if err != nil {
		t.Fatal(err)
	}
	anchors, err := dnskeys.LoadAnchors(filepath.Join(dir, "anchor.key"))
	if err != nil {
		t.Fatal(err)
	}
	nb, err := os.ReadFile(filepath.Join(dir, "now"))
	if err != nil {
		t.Fatal(err)
	}
	sec, err := strconv.ParseInt(strings.TrimSpace(string(nb)), 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return ev, anchors, time.Unix(sec, 0)
}

func TestValidateRecorded(t *testing.T) {
	cases := []struct {
		file   string
		state  dnskeys.State
		denial dnskeys.Denial
		zone   string
		reason string
		zones  string
	}{
		{"secure_v4.bin", dnskeys.Secure, dnskeys.DenialNone, v4Zone, "IPSECKEY signed by " + v4Zone, ". in-addr.arpa. " + v4Zone},
		{"secure_v6.bin", dnskeys.Secure, dnskeys.DenialNone, v6Zone, "signed by " + v6Zone, ". ip6.arpa. " + v6Zone},
		{"nodata_nsec.bin", dnskeys.Secure, dnskeys.DenialNoData, v4Zone, "has no IPSECKEY (NSEC from", ""},
		{"nxdomain_nsec.bin", dnskeys.Secure, dnskeys.DenialNXDomain, v4Zone, "does not exist (NSEC from", ""},
		{"nodata_nsec3.bin", dnskeys.Secure, dnskeys.DenialNoData, v6Zone, "has no IPSECKEY (NSEC3 from", ""},
		{"nxdomain_nsec3.bin", dnskeys.Secure, dnskeys.DenialNXDomain, v6Zone, "does not exist (NSEC3 from", ""},
		{"wildcard.bin", dnskeys.Secure, dnskeys.DenialNone, v4Zone, "signed by", ""},
		{"cname_cross.bin", dnskeys.Secure, dnskeys.DenialNone, v6Zone, "signed by " + v6Zone, ". in-addr.arpa. " + v4Zone + " ip6.arpa. " + v6Zone},
		{"insecure.bin", dnskeys.Insecure, dnskeys.DenialNone, unsignedZ, "has no DS (NSEC proof)", ""},
	}
	for _, tc := range cases {
		t.Run(tc.file, func(t *testing.T) {
			ev, anchors, now := loadFixture(t, tc.file)
			res := dnskeys.Validate(ev, anchors, now, dnskeys.Options{})
			if res.State != tc.state || res.Denial != tc.denial || res.Zone != tc.zone || !strings.Contains(res.Reason, tc.reason) {
				t.Fatalf("got %s denial %s zone %s: %s\nwant %s denial %s zone %s reason with %q",
					res.State, res.Denial, res.Zone, res.Reason, tc.state, tc.denial, tc.zone, tc.reason)
			}
			if tc.zones != "" && strings.Join(res.Zones, " ") != tc.zones {
				t.Errorf("zones %v, want %s", res.Zones, tc.zones)
			}
			if tc.denial == dnskeys.DenialNone && len(res.Answer) == 0 {
				t.Error("positive result without its answer")
			}
			if res.State == dnskeys.Secure && (res.TTL <= 0 || res.TTL > 300*time.Second) {
				t.Errorf("TTL %v, want within (0, 300s]", res.TTL)
			}
		})
	}
}

func TestValidateTime(t *testing.T) {
	ev, anchors, now := loadFixture(t, "secure_v4.bin")
	cases := []struct {
		name   string
		now    time.Time
		skew   time.Duration
		state  dnskeys.State
		reason string
	}{
		{"expired", now.Add(31 * 24 * time.Hour), 0, dnskeys.Bogus, "expired"},
		{"not yet valid", now.Add(-2 * time.Hour), 0, dnskeys.Bogus, "not valid before"},
		{"within default skew", now.Add(-time.Hour - 4*time.Minute), 0, dnskeys.Secure, ""},
		{"outside a smaller skew", now.Add(-time.Hour - 4*time.Minute), time.Minute, dnskeys.Bogus, "not valid before"},
		{"no skew", now.Add(-time.Hour - 30*time.Second), -1, dnskeys.Bogus, "not valid before"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res := dnskeys.Validate(ev, anchors, tc.now, dnskeys.Options{ClockSkew: tc.skew})
			if res.State != tc.state || !strings.Contains(res.Reason, tc.reason) {
				t.Fatalf("got %s: %s", res.State, res.Reason)
			}
		})
	}
}

// mutate copies the evidence and lets f edit the copy's responses.
func mutate(t *testing.T, ev *dnskeys.Evidence, f func(q dns.Question, m *dns.Msg)) *dnskeys.Evidence {
	t.Helper()
	b, err := ev.Pack()
	if err != nil {
		t.Fatal(err)
	}
	cp, err := dnskeys.UnpackEvidence(b)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range cp.Responses {
		f(m.Question[0], m)
	}
	return cp
}

func dropSigs(rrs []dns.RR, covered uint16) []dns.RR {
	var out []dns.RR
	for _, rr := range rrs {
		if s, ok := rr.(*dns.RRSIG); ok && (covered == 0 || s.TypeCovered == covered) {
			continue
		}
		out = append(out, rr)
	}
	return out
}

// tamperCase edits secure_v4.bin's evidence and names the verdict.
type tamperCase struct {
	name   string
	f      func(q dns.Question, m *dns.Msg)
	state  dnskeys.State
	zone   string
	reason string
}

func tamperCases() []tamperCase {
	is := func(q dns.Question, name string, t uint16) bool {
		return q.Qtype == t && strings.EqualFold(q.Name, name)
	}
	return []tamperCase{{
		name: "answer signature stripped",
		f: func(q dns.Question, m *dns.Msg) {
			if is(q, peer1, dns.TypeIPSECKEY) {
				m.Answer = dropSigs(m.Answer, 0)
			}
		},
		state: dnskeys.Bogus, zone: v4Zone, reason: "no RRSIG over " + peer1 + " IPSECKEY in signed zone " + v4Zone,
	}, {
		name: "answer data changed",
		f: func(q dns.Question, m *dns.Msg) {
			if is(q, peer1, dns.TypeIPSECKEY) {
				for _, rr := range m.Answer {
					if k, ok := rr.(*dns.IPSECKEY); ok {
						k.Precedence++
					}
				}
			}
		},
		state: dnskeys.Bogus, zone: v4Zone, reason: "does not verify",
	}, {
		name: "DNSKEY signature corrupted",
		f: func(q dns.Question, m *dns.Msg) {
			if is(q, v4Zone, dns.TypeDNSKEY) {
				for _, rr := range m.Answer {
					if sig, ok := rr.(*dns.RRSIG); ok {
						b := []byte(sig.Signature)
						if i := len(b) / 2; b[i] == 'A' { // another base64 digit
							b[i] = 'B'
						} else {
							b[i] = 'A'
						}
						sig.Signature = string(b)
					}
				}
			}
		},
		state: dnskeys.Bogus, zone: v4Zone, reason: "does not verify",
	}, {
		name: "DNSKEY signatures stripped",
		f: func(q dns.Question, m *dns.Msg) {
			if is(q, v4Zone, dns.TypeDNSKEY) {
				m.Answer = dropSigs(m.Answer, 0)
			}
		},
		state: dnskeys.Bogus, zone: v4Zone, reason: "DNSKEY RRset of " + v4Zone + " carries no RRSIG by a key its DS names",
	}, {
		name: "DS signatures stripped",
		f: func(q dns.Question, m *dns.Msg) {
			if is(q, v4Zone, dns.TypeDS) {
				m.Answer = dropSigs(m.Answer, 0)
			}
		},
		state: dnskeys.Bogus, zone: "in-addr.arpa.", reason: "no signed DS for " + v4Zone + " in signed zone in-addr.arpa.",
	}, {
		name: "DS answer missing",
		f: func(q dns.Question, m *dns.Msg) {
			if is(q, v4Zone, dns.TypeDS) {
				m.Question[0].Name = "elsewhere."
			}
		},
		state: dnskeys.Indeterminate, reason: "no response to " + v4Zone + " DS",
	}, {
		name: "server failure for DNSKEY",
		f: func(q dns.Question, m *dns.Msg) {
			if is(q, ".", dns.TypeDNSKEY) {
				m.Rcode = dns.RcodeServerFailure
			}
		},
		state: dnskeys.Indeterminate, zone: ".", reason: "server answered SERVFAIL to . DNSKEY",
	}}
}

func TestValidateTampered(t *testing.T) {
	ev, anchors, now := loadFixture(t, "secure_v4.bin")
	cases := tamperCases()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res := dnskeys.Validate(mutate(t, ev, tc.f), anchors, now, dnskeys.Options{})
			if res.State != tc.state || (tc.zone != "" && res.Zone != tc.zone) || !strings.Contains(res.Reason, tc.reason) {
				t.Fatalf("got %s zone %q: %s\nwant %s zone %q reason with %q", res.State, res.Zone, res.Reason, tc.state, tc.zone, tc.reason)
			}
			if len(res.Answer) != 0 {
				t.Error("a non-secure result carries an answer")
			}
		})
	}
}

func TestValidateAnchors(t *testing.T) {
	ev, _, now := loadFixture(t, "secure_v4.bin")
	parse := func(s string) *dnskeys.Anchors {
		a, err := dnskeys.ParseAnchors(strings.NewReader(s), "test")
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	cases := []struct {
		name    string
		anchors string
		state   dnskeys.State
		reason  string
	}{
		{"wrong root key", ". DS 12345 13 2 " + strings.Repeat("ab", 32), dnskeys.Bogus, "no DNSKEY of . matches its trust anchor"},
		{"unsupported algorithm only", ". DS 12345 5 2 " + strings.Repeat("ab", 32), dnskeys.Insecure, "only unsupported algorithms"},
		{"unsupported digest only", ". DS 12345 13 1 " + strings.Repeat("ab", 20), dnskeys.Insecure, "only unsupported"},
		{"no anchor covers", "example. DS 12345 13 2 " + strings.Repeat("ab", 32), dnskeys.Indeterminate, "no trust anchor covers"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res := dnskeys.Validate(ev, parse(tc.anchors), now, dnskeys.Options{})
			if res.State != tc.state || !strings.Contains(res.Reason, tc.reason) {
				t.Fatalf("got %s: %s", res.State, res.Reason)
			}
		})
	}
}

func TestValidateDenialTampered(t *testing.T) {
	for _, file := range []string{"nodata_nsec.bin", "nxdomain_nsec.bin", "nodata_nsec3.bin", "nxdomain_nsec3.bin"} {
		t.Run(file, func(t *testing.T) {
			ev, anchors, now := loadFixture(t, file)
			q := ev.QName
			cases := map[string]func(dns.Question, *dns.Msg){
				"NSEC signatures stripped": func(qq dns.Question, m *dns.Msg) {
					if strings.EqualFold(qq.Name, q) {
						m.Ns = dropSigs(m.Ns, dns.TypeNSEC)
						m.Ns = dropSigs(m.Ns, dns.TypeNSEC3)
					}
				},
				"NSEC records removed": func(qq dns.Question, m *dns.Msg) {
					if strings.EqualFold(qq.Name, q) {
						var keep []dns.RR
						for _, rr := range m.Ns {
							if t := rr.Header().Rrtype; t == dns.TypeSOA || (t == dns.TypeRRSIG && rr.(*dns.RRSIG).TypeCovered == dns.TypeSOA) {
								keep = append(keep, rr)
							}
						}
						m.Ns = keep
					}
				},
				"rcode flipped": func(qq dns.Question, m *dns.Msg) {
					if strings.EqualFold(qq.Name, q) {
						if m.Rcode == dns.RcodeNameError {
							m.Rcode = dns.RcodeSuccess
						} else {
							m.Rcode = dns.RcodeNameError
						}
					}
				},
			}
			for name, f := range cases {
				res := dnskeys.Validate(mutate(t, ev, f), anchors, now, dnskeys.Options{})
				if res.State != dnskeys.Bogus {
					t.Errorf("%s: got %s: %s", name, res.State, res.Reason)
				}
			}
		})
	}
}

func TestValidateChainsAndWildcards(t *testing.T) {
	t.Run("CNAME link unsigned", func(t *testing.T) {
		ev, anchors, now := loadFixture(t, "cname_cross.bin")
		res := dnskeys.Validate(mutate(t, ev, func(q dns.Question, m *dns.Msg) {
			if strings.EqualFold(q.Name, ev.QName) {
				m.Answer = dropSigs(m.Answer, dns.TypeCNAME)
			}
		}), anchors, now, dnskeys.Options{})
		if res.State != dnskeys.Bogus || !strings.Contains(res.Reason, "no RRSIG over "+ev.QName+" CNAME") {
			t.Fatalf("got %s: %s", res.State, res.Reason)
		}
	})
	t.Run("CNAME target tampered", func(t *testing.T) {
		ev, anchors, now := loadFixture(t, "cname_cross.bin")
		res := dnskeys.Validate(mutate(t, ev, func(q dns.Question, m *dns.Msg) {
			if q.Qtype == dns.TypeIPSECKEY && !strings.EqualFold(q.Name, ev.QName) {
				for _, rr := range m.Answer {
					if k, ok := rr.(*dns.IPSECKEY); ok {
						k.GatewayType, k.GatewayAddr = 1, []byte{192, 0, 2, 66}
					}
				}
			}
		}), anchors, now, dnskeys.Options{})
		if res.State != dnskeys.Bogus || res.Zone != v6Zone {
			t.Fatalf("got %s zone %s: %s", res.State, res.Zone, res.Reason)
		}
	})
	t.Run("wildcard without proof", func(t *testing.T) {
		ev, anchors, now := loadFixture(t, "wildcard.bin")
		res := dnskeys.Validate(mutate(t, ev, func(q dns.Question, m *dns.Msg) {
			if strings.EqualFold(q.Name, ev.QName) {
				m.Ns = nil
			}
		}), anchors, now, dnskeys.Options{})
		if res.State != dnskeys.Bogus || !strings.Contains(res.Reason, "expands wildcard *.w."+v4Zone) {
			t.Fatalf("got %s: %s", res.State, res.Reason)
		}
	})
	t.Run("insecure delegation proof removed", func(t *testing.T) {
		ev, anchors, now := loadFixture(t, "insecure.bin")
		res := dnskeys.Validate(mutate(t, ev, func(q dns.Question, m *dns.Msg) {
			if q.Qtype == dns.TypeDS && strings.EqualFold(q.Name, unsignedZ) {
				m.Ns = dropSigs(m.Ns, 0)
			}
		}), anchors, now, dnskeys.Options{})
		if res.State != dnskeys.Bogus || !strings.Contains(res.Reason, "no RRSIG over "+unsignedZ+" IPSECKEY") {
			t.Fatalf("got %s: %s", res.State, res.Reason)
		}
	})
}
