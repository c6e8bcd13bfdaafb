package dnskeys_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/oe-agent/oe-agent/dnskeys"
	"github.com/oe-agent/oe-agent/dnskeys/dnskeystest"
	"github.com/oe-agent/oe-agent/internal/testenv"
)

const peer1 = "1.2.0.192.in-addr.arpa."

// editLines applies f to each line of a signed zone; f returns the new line
// and whether to keep it.
func editLines(signed string, f func(fields []string, line string) (string, bool)) string {
	var out []string
	for _, line := range strings.Split(signed, "\n") {
		if nl, keep := f(strings.Fields(line), line); keep {
			out = append(out, nl)
		}
	}
	return strings.Join(out, "\n")
}

// isSigOver reports whether fields are an RRSIG line over (owner, rrtype).
func isSigOver(fields []string, owner, rrtype string) bool {
	return len(fields) > 5 && strings.EqualFold(fields[0], owner) && fields[3] == "RRSIG" && fields[4] == rrtype
}

// corruptSig flips one character of the RRSIG over peer1's IPSECKEY.
func corruptSig(z *treeZones) {
	z.V4.MutateSigned = func(t testing.TB, _ *dnskeystest.Zone, signed string) string {
		n := 0
		s := editLines(signed, func(f []string, line string) (string, bool) {
			if !isSigOver(f, peer1, "IPSECKEY") {
				return line, true
			}
			n++
			sig := f[len(f)-1]
			flip := "A"
			if sig[0] == 'A' {
				flip = "B"
			}
			return strings.Join(f[:len(f)-1], " ") + " " + flip + sig[1:], true
		})
		if n == 0 {
			t.Fatal("no RRSIG over the IPSECKEY to corrupt")
		}
		return s
	}
}

func TestNetnsNSDTreeBogus(t *testing.T) {
	testenv.RequireNetns(t)
	k := keys(t)
	cases := []struct {
		name   string
		mutate func(*treeZones)
		// proxy, if set, rewrites answers from the 2.0.192 zone's server.
		proxy      func(*dns.Msg)
		wantReason []string
	}{{
		name:       "corrupted signature",
		mutate:     corruptSig,
		wantReason: []string{"bogus: RRSIG over " + peer1 + " IPSECKEY by key", "does not verify", "(zone " + v4Zone + ")"},
	}, {
		name: "expired signature",
		mutate: func(z *treeZones) {
			z.V4.MutateSigned = func(t testing.TB, zone *dnskeystest.Zone, signed string) string {
				exp := time.Now().Add(-24 * time.Hour).Truncate(time.Second)
				return dnskeystest.Resign(t, zone, signed, peer1, dns.TypeIPSECKEY, exp.Add(-10*24*time.Hour), exp)
			}
		},
		wantReason: []string{"bogus: RRSIG over " + peer1 + " IPSECKEY expired " + time.Now().Add(-24*time.Hour).UTC().Format("2006-01-02T"), "(zone " + v4Zone + ")"},
	}, {
		name: "stripped signatures",
		mutate: func(z *treeZones) {
			z.V4.MutateSigned = func(t testing.TB, _ *dnskeystest.Zone, signed string) string {
				return editLines(signed, func(f []string, line string) (string, bool) {
					return line, !(len(f) > 3 && f[3] == "RRSIG")
				})
			}
		},
		wantReason: []string{"bogus: no RRSIG over " + peer1 + " IPSECKEY in signed zone " + v4Zone, "(zone " + v4Zone + ")"},
	}, {
		name: "DS matches no DNSKEY",
		mutate: func(z *treeZones) {
			z.V4.MutateDS = func(ds string) string {
				return editLines(ds, func(f []string, line string) (string, bool) {
					if len(f) < 7 {
						return line, true
					}
					d := f[len(f)-1]
					last := "0"
					if d[len(d)-1] == '0' {
						last = "1"
					}
					return strings.Join(f[:len(f)-1], " ") + " " + d[:len(d)-1] + last, true
				})
			}
		},
		wantReason: []string{"bogus: DS for " + v4Zone + " in in-addr.arpa. matches no DNSKEY", "(zone " + v4Zone + ")"},
	}, {
		name: "record replaced in transit",
		proxy: func(m *dns.Msg) {
			for _, rr := range m.Answer {
				if k2, ok := rr.(*dns.IPSECKEY); ok {
					k2.Algorithm = uint8(dnskeys.AlgEdDSA)
					k2.PublicKey = k.atkB64
				}
			}
		},
		wantReason: []string{"bogus: RRSIG over " + peer1 + " IPSECKEY by key", "does not verify", "(zone " + v4Zone + ")"},
	}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			noLeaks(t)
			var px *dnskeystest.Proxy
			_, r := served(t, tc.mutate, func(c *dnskeys.Config, tr *dnskeystest.Tree) {
				if tc.proxy != nil {
					px = dnskeystest.NewProxy(t, tr.Servers[v4Zone], tc.proxy)
					c.Stub[v4Zone] = []string{px.Addr}
				}
			})
			res, err := r.Lookup(t.Context(), peer1, dns.TypeIPSECKEY)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%s", res)
			if res.State != dnskeys.Bogus || res.Zone != v4Zone {
				t.Fatalf("state %s zone %q, want bogus in %s: %s", res.State, res.Zone, v4Zone, res.Reason)
			}
			for _, w := range tc.wantReason {
				if !strings.Contains(res.Reason, w) {
					t.Errorf("reason %q lacks %q", res.Reason, w)
				}
			}
			kr, err := r.LookupName(t.Context(), peer1)
			if err != nil {
				t.Fatal(err)
			}
			if kr.Usable() {
				t.Errorf("a key from a bogus answer is usable: %v", kr.Best())
			}
			if px != nil && px.UDPQueries.Load() == 0 {
				t.Error("the proxy saw no query")
			}
		})
	}
}

// TestNetnsNSDTruncatedSwitchesToTCP asks for an RRset too large for the
// advertised UDP size: the server truncates it and the resolver must retry
// over TCP and still validate it.
func TestNetnsNSDTruncatedSwitchesToTCP(t *testing.T) {
	testenv.RequireNetns(t)
	noLeaks(t)
	var px *dnskeystest.Proxy
	_, r := served(t, nil, func(c *dnskeys.Config, tr *dnskeystest.Tree) {
		px = dnskeystest.NewProxy(t, tr.Servers[v4Zone], nil)
		c.Stub[v4Zone] = []string{px.Addr}
	})
	kr, err := r.LookupName(t.Context(), "big."+v4Zone)
	if err != nil {
		t.Fatal(err)
	}
	if kr.State != dnskeys.Secure || len(kr.Keys) != 8 || kr.Best().Precedence != 1 {
		t.Fatalf("got %s with %d keys: %s", kr.State, len(kr.Keys), kr.Reason)
	}
	if px.TCPQueries.Load() == 0 {
		t.Errorf("no TCP query after truncation (UDP %d)", px.UDPQueries.Load())
	}
}

// TestNetnsNSDUnresponsiveIsIndeterminate points a zone at a server that never
// answers: the lookup must come back Indeterminate within its deadline.
func TestNetnsNSDUnresponsiveIsIndeterminate(t *testing.T) {
	testenv.RequireNetns(t)
	noLeaks(t)
	_, r := served(t, nil, func(c *dnskeys.Config, tr *dnskeystest.Tree) {
		c.Stub[v4Zone] = []string{dnskeystest.NewSilentServer(t)}
		c.Timeout = 200 * time.Millisecond
		c.Attempts = 3
	})
	ctx, cancel := context.WithTimeout(t.Context(), 1500*time.Millisecond)
	defer cancel()
	start := time.Now()
	res, err := r.Lookup(ctx, peer1, dns.TypeIPSECKEY)
	if err != nil {
		t.Fatal(err)
	}
	el := time.Since(start)
	t.Logf("%s after %v", res, el)
	if res.State != dnskeys.Indeterminate || !strings.Contains(res.Reason, peer1) {
		t.Fatalf("got %s: %s", res.State, res.Reason)
	}
	if el > 3*time.Second {
		t.Errorf("took %v, deadline was 1.5s", el)
	}
}
