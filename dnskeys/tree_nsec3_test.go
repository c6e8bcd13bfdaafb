package dnskeys_test

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/oe-agent/oe-agent/dnskeys"
	"github.com/oe-agent/oe-agent/dnskeys/dnskeystest"
	"github.com/oe-agent/oe-agent/internal/testenv"
)

// TestNetnsNSDNSEC3OptOut signs the ip6.arpa. reverse zone with NSEC3 opt-out
// and delegates 2001:db8:1::/48 to an unsigned zone: the missing DS is
// proven by an opt-out span, so the key there is Insecure (RFC 5155 §8.6),
// while signed names in the zone stay Secure.
func TestNetnsNSDNSEC3OptOut(t *testing.T) {
	testenv.RequireNetns(t)
	k := keys(t)
	child := "1.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa."
	_, r := served(t, func(z *treeZones) {
		z.V6.OptOut = true
		z.Extra = append(z.Extra, dnskeystest.ZoneSpec{Name: child, Unsigned: true, Records: []string{
			rel(t, "2001:db8:1::1", child) + " IPSECKEY 10 0 4 . " + k.edB64,
		}})
	}, nil)
	kr := lookupAddr(t, r, "2001:db8:1::1")
	if kr.State != dnskeys.Insecure || kr.Usable() || !strings.Contains(kr.Reason, "opt-out") || kr.IPSECKEY.Zone != child {
		t.Fatalf("got %s zone %s: %s", kr.State, kr.IPSECKEY.Zone, kr.Reason)
	}
	if kr := lookupAddr(t, r, "2001:db8::1"); kr.State != dnskeys.Secure || !kr.Usable() {
		t.Fatalf("signed name in the opt-out zone: %s %s", kr.State, kr.Reason)
	}
	// An NXDOMAIN inside an opt-out span cannot exclude an unsigned
	// delegation, so it is Insecure too.
	if kr := lookupAddr(t, r, "2001:db8::4"); kr.State != dnskeys.Insecure || !strings.Contains(kr.Reason, "opt-out") {
		t.Fatalf("nxdomain in an opt-out span: %s %s", kr.State, kr.Reason)
	}
}

// TestNetnsNSDNSEC3Iterations signs with 20 extra NSEC3 iterations and applies
// the RFC 9276 limits below and above that.
func TestNetnsNSDNSEC3Iterations(t *testing.T) {
	testenv.RequireNetns(t)
	for _, tc := range []struct {
		name            string
		insecure, bogus uint16
		state           dnskeys.State
		reason          string
	}{
		{"within limits", 0, 0, dnskeys.Secure, "NSEC3 from"},
		{"above the insecure limit", 10, 0, dnskeys.Insecure, "20 iterations, more than 10"},
		{"above the bogus limit", 5, 15, dnskeys.Bogus, "20 iterations, more than the limit of 15"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, r := served(t, func(z *treeZones) { z.V6.Iterations = 20 }, func(c *dnskeys.Config, _ *dnskeystest.Tree) {
				c.Validation.NSEC3InsecureIterations = tc.insecure
				c.Validation.NSEC3BogusIterations = tc.bogus
			})
			kr, err := r.LookupAddr(t.Context(), netip.MustParseAddr("2001:db8::3"))
			if err != nil {
				t.Fatal(err)
			}
			res := kr.IPSECKEY
			if res.State != tc.state || !strings.Contains(res.Reason, tc.reason) {
				t.Fatalf("got %s: %s", res.State, res.Reason)
			}
			if tc.state != dnskeys.Secure && res.Zone != v6Zone {
				t.Errorf("zone %q, want %s", res.Zone, v6Zone)
			}
		})
	}
}
