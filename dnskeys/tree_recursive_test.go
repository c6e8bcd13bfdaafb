package dnskeys_test

import (
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/oe-agent/oe-agent/dnskeys"
	"github.com/oe-agent/oe-agent/dnskeys/dnskeystest"
	"github.com/oe-agent/oe-agent/internal/testenv"
)

// TestNetnsUnboundRecursive resolves through a real recursive resolver
// (unbound, reaching the NSD tree through stub zones), as the agent does in
// production: RecursiveFetcher asks with RD, DO and CD set and validates
// itself. With CD set, unbound passes a corrupted answer on, and our
// validator calls it Bogus; without CD unbound would only say SERVFAIL.
func TestNetnsUnboundRecursive(t *testing.T) {
	testenv.RequireNetns(t)
	for _, tc := range []struct {
		name   string
		mutate func(*treeZones)
		addr   string
		state  dnskeys.State
		reason string
	}{
		{"secure key", nil, "192.0.2.1", dnskeys.Secure, "signed by " + v4Zone},
		{"secure denial NSEC3", nil, "2001:db8::3", dnskeys.Secure, "NSEC3 from " + v6Zone},
		{"unsigned delegation", nil, "192.0.2.9", dnskeys.Insecure, "has no DS"},
		{"corrupted signature", corruptSig, "192.0.2.1", dnskeys.Bogus, "does not verify (zone " + v4Zone + ")"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			noLeaks(t)
			var resolver string
			_, r := served(t, tc.mutate, func(c *dnskeys.Config, tr *dnskeystest.Tree) {
				resolver = dnskeystest.ServeUnbound(t, tr.Servers, tr.Anchor, v4Zone, dns.TypeSOA)
				c.Stub = nil
				c.Servers = []string{resolver}
			})
			kr := lookupAddr(t, r, tc.addr)
			if kr.IPSECKEY.State != tc.state || !strings.Contains(kr.IPSECKEY.Reason, tc.reason) {
				t.Fatalf("got %s: %s", kr.IPSECKEY.State, kr.IPSECKEY.Reason)
			}
			if tc.state == dnskeys.Bogus {
				m := new(dns.Msg)
				m.SetQuestion(peer1, dns.TypeIPSECKEY)
				m.SetEdns0(1232, true)
				resp, _, err := (&dns.Client{Timeout: 2 * time.Second}).Exchange(m, resolver)
				if err != nil || resp.Rcode != dns.RcodeServerFailure {
					t.Errorf("without CD unbound should answer SERVFAIL: %v %v", resp, err)
				}
			}
		})
	}
}
