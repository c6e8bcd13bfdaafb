package trap

import (
	"errors"
	"flag"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/oe-agent/oe-agent/xfrm"
)

var update = flag.Bool("update", false, "rewrite golden files under testdata/")

func pfx(s string) netip.Prefix { return netip.MustParsePrefix(s) }
func ip(s string) netip.Addr    { return netip.MustParseAddr(s) }

func dests(ss ...string) []Dest {
	out := make([]Dest, len(ss))
	for i, s := range ss {
		out[i] = Dest{Prefix: pfx(s)}
	}
	return out
}

// golden compares got with testdata/name, or rewrites it under -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs (run with -update to accept):\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

func mustCompute(t *testing.T, in Input) *Set {
	t.Helper()
	s, err := Compute(in)
	if err != nil {
		t.Fatal(err)
	}
	checkSetInvariants(t, s)
	return s
}

// checkSetInvariants asserts what every computed set must satisfy: each
// policy is installable (xfrm's own validation, priority in oe-agent's band
// and in the sub-band of its layer), keys are unique, and the order is
// the documented one.
func checkSetInvariants(t *testing.T, s *Set) {
	t.Helper()
	seen := make(map[policyKey]bool)
	for i, e := range s.Entries {
		if err := e.Policy.Validate(); err != nil {
			t.Errorf("entry %s does not validate: %v", e, err)
		}
		if !xfrm.OwnedPolicy(e.Policy) {
			t.Errorf("entry %s is not recognisably oe-agent's", e)
		}
		if l, ok := LayerOf(e.Policy.Priority); !ok || l != e.Layer {
			t.Errorf("entry %s: priority 0x%08x not in layer %s's sub-band", e, e.Policy.Priority, e.Layer)
		}
		k := keyOf(e.Policy)
		if seen[k] {
			t.Errorf("two entries for %s dir %s", e.Policy.Selector, e.Policy.Dir)
		}
		seen[k] = true
		if i > 0 && compareEntries(s.Entries[i-1], e) > 0 {
			t.Errorf("entries out of order at %d", i)
		}
	}
	// The kernel must never choose between two matching policies of one
	// priority: its choice would depend on insertion order.
	if len(s.Entries) > 400 {
		return
	}
	for i, a := range s.Entries {
		for _, b := range s.Entries[i+1:] {
			if a.Policy.Dir == b.Policy.Dir && a.Policy.Priority == b.Policy.Priority && overlap(a.Policy.Selector, b.Policy.Selector) {
				t.Errorf("equal priorities for overlapping selectors: %s and %s", a, b)
			}
		}
	}
}

// overlap reports whether some packet matches both selectors.
func overlap(a, b xfrm.Selector) bool {
	port := func(x, y uint16) bool { return x == 0 || y == 0 || x == y }
	return a.Src.Overlaps(b.Src) && a.Dst.Overlaps(b.Dst) &&
		(a.Proto == 0 || b.Proto == 0 || a.Proto == b.Proto) && port(a.SrcPort, b.SrcPort) && port(a.DstPort, b.DstPort)
}

// siteInput is a realistic configuration: OE for everything, a clear
// subnet with a private range inside, a blocked host, a tunnel conn, a
// passthrough conn, two peers, two resolvers, IPv4 and IPv6.
func siteInput() Input {
	return Input{
		Local: []netip.Addr{ip("192.0.2.1"), ip("2001:db8::1")},
		Groups: map[Group][]Dest{
			GroupPrivateOrClear: dests("0.0.0.0/0", "::/0"),
			GroupClear:          dests("192.0.2.0/24"),
			GroupPrivate:        dests("192.0.2.128/25", "2001:db8:77::/48"),
			GroupBlock:          {{Prefix: pfx("198.51.100.66/32")}, {Prefix: pfx("203.0.113.0/24"), Proto: 6, RemotePort: 25}},
			GroupClearOrPrivate: dests("198.51.100.0/24"),
		},
		Conns: []Conn{
			{Name: "to-branch", Type: ConnTunnel, LocalAddr: ip("192.0.2.1"), RemoteAddr: ip("198.51.100.200"),
				Local: []netip.Prefix{pfx("10.1.0.0/16")}, Remote: []netip.Prefix{pfx("10.2.0.0/16")}, Route: true, Reqid: ReqidConnMin},
			{Name: "backup-clear", Type: ConnPassthrough, LocalAddr: ip("192.0.2.1"), RemoteAddr: ip("198.51.100.9"), Route: true},
		},
		Peers: []Peer{
			{Remote: ip("198.51.100.7"), Local: ip("192.0.2.1"), Action: PeerIPsec, Reqid: ReqidConnMin + 0x10},
			{Remote: ip("2001:db8:5::9"), Action: PeerPass, Reason: "no IPSECKEY: failure shunt",
				Expires: time.Date(2026, 11, 27, 16, 15, 0, 0, time.UTC)},
		},
		Resolvers: []netip.AddrPort{netip.MustParseAddrPort("192.0.2.53:53"), netip.MustParseAddrPort("[2001:db8::53]:53")},
	}
}

func TestComputeGolden(t *testing.T) {
	s := mustCompute(t, siteInput())
	golden(t, "compute/site.policy", s.String())
	golden(t, "compute/site.describe", s.Describe())
}

func TestComputeDeterministic(t *testing.T) {
	first := mustCompute(t, siteInput()).String()
	for range 20 { // map iteration order differs between runs
		if got := mustCompute(t, siteInput()).String(); got != first {
			t.Fatal("Compute is not deterministic")
		}
	}
}

func TestComputeEmpty(t *testing.T) {
	s := mustCompute(t, Input{})
	if len(s.Entries) != 0 || len(s.Shadowed) != 0 {
		t.Errorf("empty input gave %d entries", len(s.Entries))
	}
	if d := s.Explain(ip("192.0.2.1")); d.Out != nil || d.In != nil || d.Verdict != VerdictClear {
		t.Errorf("empty set explains %+v", d)
	}
}

func TestComputeRejects(t *testing.T) {
	ok := Conn{Name: "c", Type: ConnTransport, LocalAddr: ip("192.0.2.1"), RemoteAddr: ip("192.0.2.2"), Route: true, Reqid: ReqidConnMin}
	withConn := func(mod func(*Conn)) Input {
		c := ok
		mod(&c)
		return Input{Conns: []Conn{c}}
	}
	for _, tc := range []struct {
		name string
		in   Input
		want []string
	}{
		{"host bits", Input{Groups: map[Group][]Dest{GroupPrivate: dests("192.0.2.1/24")}},
			[]string{"group private: prefix 192.0.2.1/24 has host bits set (did you mean 192.0.2.0/24?)"}},
		{"mapped", Input{Groups: map[Group][]Dest{GroupClear: dests("::ffff:192.0.2.0/120")}}, []string{"IPv4-mapped"}},
		{"invalid prefix", Input{Groups: map[Group][]Dest{GroupClear: {{}}}}, []string{"group clear: invalid prefix"}},
		{"unknown group", Input{Groups: map[Group][]Dest{9: dests("192.0.2.0/24")}}, []string{"unknown policy group 9"}},
		{"two groups", Input{Groups: map[Group][]Dest{GroupClear: dests("192.0.2.0/24"), GroupBlock: dests("192.0.2.0/24")}},
			[]string{"192.0.2.0/24 is in groups clear and block"}},
		{"twice", Input{Groups: map[Group][]Dest{GroupClear: dests("192.0.2.0/24", "192.0.2.0/24")}}, []string{"listed twice"}},
		{"ports without proto", Input{Groups: map[Group][]Dest{GroupClear: {{Prefix: pfx("192.0.2.0/24"), RemotePort: 53}}}},
			[]string{"ports need a protocol"}},
		{"local unspecified", Input{Local: []netip.Addr{ip("0.0.0.0")}}, []string{"local address: address 0.0.0.0 is unspecified"}},
		{"local zone", Input{Local: []netip.Addr{ip("fe80::1%eth0")}}, []string{"has a zone"}},
		{"conn no name", withConn(func(c *Conn) { c.Name = "" }), []string{"conn #1: no name"}},
		{"conn dup", Input{Conns: []Conn{ok, ok}}, []string{"conn c: defined twice", "reqid 0x0e000100 is also conn c's"}},
		{"conn reqid foreign", withConn(func(c *Conn) { c.Reqid = 16384 }), []string{"outside oe-agent's range"}},
		{"conn reqid group", withConn(func(c *Conn) { c.Reqid = GroupReqid(GroupPrivate) }), []string{"reserved for group traps"}},
		{"conn reqid missing", withConn(func(c *Conn) { c.Reqid = 0 }), []string{"conn c: needs a reqid"}},
		{"conn type", withConn(func(c *Conn) { c.Type = 0 }), []string{"unknown type 0"}},
		{"tunnel endpoints", withConn(func(c *Conn) {
			c.Type = ConnTunnel
			c.LocalAddr = netip.Addr{}
			c.Local = []netip.Prefix{pfx("10.0.0.0/8")}
		}),
			[]string{"tunnel mode needs both endpoint addresses"}},
		{"routed %any", withConn(func(c *Conn) { c.RemoteAddr = netip.Addr{} }), []string{"cannot be routed"}},
		{"families", withConn(func(c *Conn) { c.Remote = []netip.Prefix{pfx("2001:db8::/32")} }),
			[]string{"no local and remote subnet of the same address family"}},
		{"passthrough reqid", withConn(func(c *Conn) { c.Type = ConnPassthrough }), []string{"a passthrough conn takes no reqid"}},
		{"peer no addr", Input{Peers: []Peer{{Action: PeerPass}}}, []string{"missing address"}},
		{"peer family", Input{Peers: []Peer{{Remote: ip("192.0.2.7"), Local: ip("2001:db8::1"), Action: PeerPass}}},
			[]string{"peer 192.0.2.7: local address 2001:db8::1 is of another family"}},
		{"peer reqid", Input{Peers: []Peer{{Remote: ip("192.0.2.7"), Action: PeerIPsec}}}, []string{"peer 192.0.2.7: needs a reqid"}},
		{"peer action", Input{Peers: []Peer{{Remote: ip("192.0.2.7")}}}, []string{"unknown action 0"}},
		{"peer dup", Input{Peers: []Peer{{Remote: ip("192.0.2.7"), Action: PeerPass}, {Remote: ip("192.0.2.7"), Action: PeerDrop}}},
			[]string{"two entries for the same traffic"}},
		{"conns overlap exactly", Input{Conns: []Conn{ok, {Name: "d", Type: ConnDrop, LocalAddr: ip("192.0.2.1"), RemoteAddr: ip("192.0.2.2"), Route: true}}},
			[]string{"conn c and conn d both cover src 192.0.2.1/32 dst 192.0.2.2/32 dir out"}},
		{"resolver port", Input{Resolvers: []netip.AddrPort{netip.AddrPortFrom(ip("192.0.2.53"), 0)}}, []string{"resolver 192.0.2.53: port 0"}},
		{"several", Input{Local: []netip.Addr{{}}, Groups: map[Group][]Dest{GroupBlock: dests("10.0.0.1/8")}},
			[]string{"2 problems", "local address: missing address", "did you mean 10.0.0.0/8"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Compute(tc.in)
			if err == nil {
				t.Fatalf("accepted; set:\n%s", s)
			}
			if s != nil {
				t.Error("returned a set along with the error")
			}
			var ie *InputError
			if !errors.As(err, &ie) {
				t.Fatalf("error %T is not an *InputError: %v", err, err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			if !strings.HasPrefix(err.Error(), "trap: ") {
				t.Errorf("error %q lacks the package prefix", err)
			}
		})
	}
}

// TestComputeGroupDirections pins what each group installs in each
// direction.
func TestComputeGroupDirections(t *testing.T) {
	for _, tc := range []struct {
		g       Group
		out, in string // kind or "" for none
	}{
		{GroupClear, "bypass", "bypass"},
		{GroupClearOrPrivate, "bypass", "bypass"},
		{GroupPrivateOrClear, "ipsec", "bypass"},
		{GroupPrivate, "ipsec", "ipsec"},
		{GroupBlock, "block", "block"},
	} {
		t.Run(tc.g.String(), func(t *testing.T) {
			s := mustCompute(t, Input{Local: []netip.Addr{ip("192.0.2.1")}, Groups: map[Group][]Dest{tc.g: dests("198.51.100.0/24")}})
			got := map[xfrm.Dir]string{}
			n := 0
			for _, e := range s.Entries {
				if e.Layer != LayerGroup {
					continue
				}
				n++
				got[e.Policy.Dir] = e.Policy.Kind().String()
				if e.Policy.Kind() == xfrm.KindIPsec {
					want := []xfrm.Template{{Proto: xfrm.ProtoESP, Mode: xfrm.ModeTransport, Reqid: GroupReqid(tc.g)}}
					if len(e.Policy.Templates) != 1 || e.Policy.Templates[0] != want[0] {
						t.Errorf("%s templates %v, want %v", e.Policy.Dir, e.Policy.Templates, want)
					}
				}
				wantSel := xfrm.Selector{Src: pfx("192.0.2.1/32"), Dst: pfx("198.51.100.0/24")}
				if e.Policy.Dir == xfrm.DirIn {
					wantSel.Src, wantSel.Dst = wantSel.Dst, wantSel.Src
				}
				if e.Policy.Selector != wantSel {
					t.Errorf("%s selector %s, want %s", e.Policy.Dir, e.Policy.Selector, wantSel)
				}
			}
			if got[xfrm.DirOut] != tc.out || got[xfrm.DirIn] != tc.in || got[xfrm.DirFwd] != "" || n != 2 {
				t.Errorf("got %v (%d entries), want out %s in %s", got, n, tc.out, tc.in)
			}
		})
	}
}
