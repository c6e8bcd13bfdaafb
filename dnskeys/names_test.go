package dnskeys

import (
	"net/netip"
	"sort"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestReverseName(t *testing.T) {
	cases := []struct{ addr, want string }{
		{"192.0.2.1", "1.2.0.192.in-addr.arpa."},
		{"198.51.100.254", "254.100.51.198.in-addr.arpa."},
		{"::ffff:203.0.113.7", "7.113.0.203.in-addr.arpa."},
		// RFC 3596 §2.5 example form, in the documentation prefix.
		{"2001:db8::567:89ab", "b.a.9.8.7.6.5.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa."},
		{"2001:db8::1%eth0", "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa."},
	}
	for _, tc := range cases {
		got, err := ReverseName(netip.MustParseAddr(tc.addr))
		if err != nil || got != tc.want {
			t.Errorf("ReverseName(%s) = %q, %v; want %q", tc.addr, got, err, tc.want)
		}
		back, err := ParseReverseName(got)
		if err != nil || back != netip.MustParseAddr(tc.addr).Unmap().WithZone("") {
			t.Errorf("ParseReverseName(%q) = %v, %v", got, back, err)
		}
	}
	if _, err := ReverseName(netip.Addr{}); err == nil {
		t.Error("ReverseName of the zero Addr succeeded")
	}
}

func TestParseReverseNameRejects(t *testing.T) {
	for _, n := range []string{
		"2.0.192.in-addr.arpa.",         // not a full address
		"01.2.0.192.in-addr.arpa.",      // leading zero
		"256.2.0.192.in-addr.arpa.",     // out of range
		"1.0.8.b.d.0.1.0.0.2.ip6.arpa.", // too few nibbles
		"10.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa.",
		"g.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa.",
		"example.com.",
	} {
		if a, err := ParseReverseName(n); err == nil {
			t.Errorf("ParseReverseName(%q) = %v, want error", n, a)
		}
	}
}

func TestNormalizeName(t *testing.T) {
	if got, err := NormalizeName("Host.Example.COM"); err != nil || got != "host.example.com." {
		t.Errorf("got %q, %v", got, err)
	}
	for _, bad := range []string{"", "a..b", "a\\.b.example."} {
		if _, err := NormalizeName(bad); err == nil {
			t.Errorf("NormalizeName(%q) succeeded", bad)
		}
	}
}

// TestCanonicalOrder checks the example ordering of RFC 4034 §6.1.
func TestCanonicalOrder(t *testing.T) {
	want := []string{
		"example.", "a.example.", "yljkjljk.a.example.", "z.a.example.",
		"zabc.a.example.", "z.example.", "\\001.z.example.", "*.z.example.", "\\200.z.example.",
	}
	got := append([]string(nil), want...)
	sort.Slice(got, func(i, j int) bool { return compareCanonical(got[len(got)-1-i], got[len(got)-1-j]) > 0 })
	sort.SliceStable(got, func(i, j int) bool { return compareCanonical(got[i], got[j]) < 0 })
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("canonical order (-want +got):\n%s", diff)
	}
}

func TestNameHelpers(t *testing.T) {
	if got := nextCloser("a.b.c.example.", "example."); got != "c.example." {
		t.Errorf("nextCloser = %q", got)
	}
	if got := commonAncestor("a.b.example.", "c.b.example."); got != "b.example." {
		t.Errorf("commonAncestor = %q", got)
	}
	if got := ancestors("a.b.example.", "example."); len(got) != 3 || got[2] != "example." {
		t.Errorf("ancestors = %v", got)
	}
	if ancestors("a.example.", "other.") != nil {
		t.Error("ancestors outside stop")
	}
	if !isSubdomain(".", "x.") || isSubdomain("b.example.", "ab.example.") || !isProperSubdomain("example.", "a.example.") {
		t.Error("isSubdomain")
	}
}

func TestNSECCovers(t *testing.T) {
	zone := "example."
	n := nsecRec{owner: "b.example.", next: "d.example."}
	last := nsecRec{owner: "y.example.", next: "example."}
	deleg := nsecRec{owner: "b.example.", next: "d.example.", types: []uint16{2 /* NS */, 46, 47}}
	cases := []struct {
		rec  nsecRec
		name string
		want bool
	}{
		{n, "c.example.", true},
		{n, "b.example.", false},
		{n, "d.example.", false},
		{n, "a.b.example.", true},
		{deleg, "a.b.example.", false}, // below a delegation: not in this zone
		{last, "z.example.", true},
		{last, "a.example.", false},
		{n, "c.other.", false},
	}
	for _, tc := range cases {
		if got := tc.rec.covers(tc.name, zone); got != tc.want {
			t.Errorf("%v covers %s = %v, want %v", tc.rec, tc.name, got, tc.want)
		}
	}
}
