package trap

import (
	"fmt"
	"strings"
	"testing"
)

// TestExplainGolden pins what `oectl trace` will say for the site
// configuration, one address per interesting case.
func TestExplainGolden(t *testing.T) {
	s := mustCompute(t, siteInput())
	var sb strings.Builder
	for _, a := range []string{
		"203.0.113.9",    // private-or-clear 0.0.0.0/0
		"203.0.113.25",   // block for tcp/25 only: an exception
		"192.0.2.20",     // clear /24
		"192.0.2.200",    // private /25 inside the clear /24
		"192.0.2.53",     // resolver in the clear /24
		"192.0.2.1",      // this host
		"198.51.100.7",   // peer with an SA, inside clear-or-private
		"198.51.100.9",   // passthrough conn
		"198.51.100.66",  // blocked host
		"10.2.3.4",       // tunnel conn's remote subnet (traffic from 10.1.0.0/16 only)
		"224.0.0.251",    // multicast
		"2001:db8:77::5", // private /48
		"2001:db8:5::9",  // peer pass shunt
		"2001:db8::53",   // IPv6 resolver
		"fe80::1",        // link-local
		"2001:db8:99::1", // private-or-clear ::/0
	} {
		d := s.Explain(ip(a))
		fmt.Fprintf(&sb, "%s\t%s\n\t%s\n", a, d.Verdict, d.Explanation)
	}
	golden(t, "explain/site.txt", sb.String())
}

// TestExplainUnmaps: an IPv4-mapped address is explained as IPv4, as the
// kernel sees it.
func TestExplainUnmaps(t *testing.T) {
	s := mustCompute(t, siteInput())
	if a, b := s.Explain(ip("::ffff:198.51.100.66")), s.Explain(ip("198.51.100.66")); a.Explanation != b.Explanation || a.Verdict != VerdictDrop {
		t.Errorf("mapped: %s\nplain: %s", a.Explanation, b.Explanation)
	}
}

// TestGroupOfIgnoresPeers: the group of an address with a per-peer entry
// (an SA's policy, a shunt) is the group beneath it, so that the peer is
// still answered when it initiates again (after a restart).
func TestGroupOfIgnoresPeers(t *testing.T) {
	s := mustCompute(t, siteInput())
	for _, c := range []struct {
		addr string
		want Group
	}{
		{"198.51.100.7", GroupClearOrPrivate},  // peer with an SA
		{"2001:db8:5::9", GroupPrivateOrClear}, // peer pass shunt
		{"203.0.113.9", GroupPrivateOrClear},
		{"192.0.2.200", GroupPrivate},
		{"198.51.100.9", 0}, // passthrough conn
		{"192.0.2.53", GroupClear},
	} {
		if d := s.Explain(ip(c.addr)); c.addr == "198.51.100.7" && (d.Out == nil || d.Out.Layer != LayerPeer) {
			t.Fatalf("%s: the site input has no peer entry for it any more: %v", c.addr, d.Out)
		}
		if got := s.GroupOf(ip(c.addr)); got != c.want {
			t.Errorf("GroupOf(%s) = %v, want %v", c.addr, got, c.want)
		}
	}
}
