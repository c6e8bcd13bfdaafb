package config

import (
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParsePolicyFile(t *testing.T) {
	data := "# comment\n\n10.0.1.0/24 tcp 0 25   # mail\n0.0.0.0/0\n2001:db8::/32\n192.0.2.7\n0.0.0.0/0 udp 53 0\n198.51.100.0/24 icmp 8 0\n"
	got, err := ParsePolicyFile("/p/private", []byte(data))
	if err != nil {
		t.Fatal(err)
	}
	pfx := netip.MustParsePrefix
	want := []PolicyEntry{
		{Prefix: pfx("10.0.1.0/24"), Proto: 6, DPort: 25, Pos: Pos{"/p/private", 3}},
		{Prefix: pfx("0.0.0.0/0"), Pos: Pos{"/p/private", 4}},
		{Prefix: pfx("2001:db8::/32"), Pos: Pos{"/p/private", 5}},
		{Prefix: pfx("192.0.2.7/32"), Pos: Pos{"/p/private", 6}},
		{Prefix: pfx("0.0.0.0/0"), Proto: 17, SPort: 53, Pos: Pos{"/p/private", 7}},
		{Prefix: pfx("198.51.100.0/24"), Proto: 1, SPort: 8, Pos: Pos{"/p/private", 8}},
	}
	if diff := cmp.Diff(want, got, cmpConfig[2:]...); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if s := got[0].String(); s != "10.0.1.0/24 tcp 0 25" {
		t.Errorf("String() = %q", s)
	}
}

func TestParsePolicyFileErrors(t *testing.T) {
	data := "10.0.0.0/33\n10.0.0.1/8\n10.0.0.0/8 tcp 25\n10.0.0.0/8 tcp 0 99999\n10.0.0.0/8 0 1 2\n10.0.0.0/8 gre 0 0\n" +
		"10.0.0.0/8 47 1 0\nfoo\n192.0.2.0/24\n192.0.2.0/24 # again\n"
	_, err := ParsePolicyFile("/p/clear", []byte(data))
	want := []string{
		`/p/clear:1: invalid subnet "10.0.0.0/33"`,
		`/p/clear:2: subnet "10.0.0.1/8" has host bits set (did you mean "10.0.0.0/8"?)`,
		`/p/clear:3: expected "CIDR" or "CIDR protocol source-port destination-port"`,
		`/p/clear:4: invalid port "99999" (0-65535, 0 for any)`,
		`/p/clear:5: ports need a protocol`,
		`/p/clear:6: invalid protocol "gre" (a name such as tcp, udp, icmp, or a number 0-255)`,
		`/p/clear:7: protocol 47 has no ports`,
		`/p/clear:8: invalid subnet "foo"`,
		`/p/clear:10: 192.0.2.0/24 is already listed at line 9`,
	}
	if diff := cmp.Diff(want, errLines(err)); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestParsePolicies(t *testing.T) {
	fsys := mapFS(map[string]string{
		"/pol/private-or-clear": "0.0.0.0/0\n::/0\n",
		"/pol/clear":            "192.0.2.53\n",
		"/pol/block":            "203.0.113.0/24\n",
		"/pol/privat":           "198.51.100.0/24\n",
		"/pol/README~":          "editor backup, ignored silently\n",
	})
	pol, warns, err := ParsePolicies(fsys, "/pol")
	if err != nil {
		t.Fatal(err)
	}
	count := map[string]int{}
	for g, es := range pol.Groups {
		count[g.String()] = len(es)
	}
	if diff := cmp.Diff(map[string]int{"private-or-clear": 2, "clear": 1, "block": 1}, count); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	var w []string
	for _, e := range warns {
		w = append(w, e.Error())
	}
	if diff := cmp.Diff([]string{`/pol/privat: not a policy group file, ignored (did you mean "private"?)`}, w); diff != "" {
		t.Errorf("warnings (-want +got):\n%s", diff)
	}

	// The same selector in two groups is an error; a missing directory is not.
	fsys["pol/private"] = fsys["pol/privat"]
	fsys["pol/block"].Data = []byte("198.51.100.0/24\n")
	_, _, err = ParsePolicies(fsys, "/pol")
	want := []string{`/pol/block:1: 198.51.100.0/24 is also in group private (/pol/private:1): a destination can be in one group only`}
	if diff := cmp.Diff(want, errLines(err)); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	pol, _, err = ParsePolicies(fsys, "/nonexistent")
	if err != nil || len(pol.Groups) != 0 {
		t.Errorf("missing dir: %v, %v", pol, err)
	}
}
