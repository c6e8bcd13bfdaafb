package trap

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/oe-agent/oe-agent/xfrm"
)

// want is what Explain should find for one address.
type want struct {
	addr   string
	owner  string // Out's owner
	source string // Out's source
	out    Verdict
	in     Verdict
}

func checkExplain(t *testing.T, s *Set, ws []want) {
	t.Helper()
	for _, w := range ws {
		d := s.Explain(ip(w.addr))
		owner, source := "none", ""
		if d.Out != nil {
			owner, source = d.Out.Owner, d.Out.Source
		}
		inV := VerdictClear
		if d.In != nil {
			inV = d.In.Verdict
		}
		if owner != w.owner || source != w.source || d.Verdict != w.out || inV != w.in {
			t.Errorf("%s: got %s %q out %s in %s, want %s %q out %s in %s\n%s", w.addr, owner, source, d.Verdict, inV,
				w.owner, w.source, w.out, w.in, d.Explanation)
		}
	}
}

func TestPrecedence(t *testing.T) {
	local := []netip.Addr{ip("192.0.2.1"), ip("2001:db8::1")}
	reqid := ReqidConnMin
	transport := func(name, remote string, route, up bool) Conn {
		reqid++
		return Conn{Name: name, Type: ConnTransport, LocalAddr: ip("192.0.2.1"), RemoteAddr: ip(remote), Route: route, Up: up, Reqid: reqid}
	}
	for _, tc := range []struct {
		name string
		in   Input
		want []want
	}{
		{"most specific wins", Input{Local: local, Groups: map[Group][]Dest{
			GroupPrivateOrClear: dests("0.0.0.0/0"),
			GroupClear:          dests("198.51.100.0/24"),
			GroupBlock:          dests("198.51.100.66/32"),
			GroupPrivate:        dests("198.51.100.128/25"),
		}}, []want{
			{"203.0.113.9", "group private-or-clear", "0.0.0.0/0", VerdictTrap, VerdictPass},
			{"198.51.100.5", "group clear", "198.51.100.0/24", VerdictPass, VerdictPass},
			{"198.51.100.66", "group block", "198.51.100.66/32", VerdictDrop, VerdictDrop},
			{"198.51.100.130", "group private", "198.51.100.128/25", VerdictTrap, VerdictRequire},
		}},
		{"overlapping groups nest both ways", Input{Local: local, Groups: map[Group][]Dest{
			GroupPrivate:        dests("10.0.0.0/8", "10.1.2.0/24"),
			GroupClearOrPrivate: dests("10.1.0.0/16"),
			GroupBlock:          dests("10.1.2.3/32"),
		}}, []want{
			{"10.9.9.9", "group private", "10.0.0.0/8", VerdictTrap, VerdictRequire},
			{"10.1.9.9", "group clear-or-private", "10.1.0.0/16", VerdictPass, VerdictPass},
			{"10.1.2.9", "group private", "10.1.2.0/24", VerdictTrap, VerdictRequire},
			{"10.1.2.3", "group block", "10.1.2.3/32", VerdictDrop, VerdictDrop},
			{"11.0.0.1", "none", "", VerdictClear, VerdictClear},
		}},
		{"ipv6", Input{Local: local, Groups: map[Group][]Dest{
			GroupPrivateOrClear: dests("::/0"),
			GroupPrivate:        dests("2001:db8:1::/48"),
			GroupClear:          dests("2001:db8:1:2::/64"),
			GroupBlock:          dests("2001:db8:1:2::bad/128"),
		}}, []want{
			{"2001:db8:9::1", "group private-or-clear", "::/0", VerdictTrap, VerdictPass},
			{"2001:db8:1:1::1", "group private", "2001:db8:1::/48", VerdictTrap, VerdictRequire},
			{"2001:db8:1:2::1", "group clear", "2001:db8:1:2::/64", VerdictPass, VerdictPass},
			{"2001:db8:1:2::bad", "group block", "2001:db8:1:2::bad/128", VerdictDrop, VerdictDrop},
			{"192.0.2.9", "none", "", VerdictClear, VerdictClear},
			// Implicit clear for what OE makes no sense for.
			{"fe80::1", "implicit", "fe80::/10", VerdictPass, VerdictPass},
			{"ff02::1", "implicit", "ff00::/8", VerdictPass, VerdictPass},
			{"::1", "implicit", "::1/128", VerdictPass, VerdictPass},
			{"2001:db8::1", "implicit", "2001:db8::1/128", VerdictPass, VerdictPass},
		}},
		{"conn beats any group, even a narrower one", Input{Local: local,
			Groups: map[Group][]Dest{GroupPrivate: dests("0.0.0.0/0"), GroupBlock: dests("198.51.100.5/32")},
			Conns: []Conn{
				{Name: "lan-clear", Type: ConnPassthrough, LocalAddr: ip("192.0.2.1"), Remote: []netip.Prefix{pfx("198.51.100.0/24")}, Route: true},
				transport("routed", "203.0.113.10", true, false),
				transport("up", "203.0.113.11", false, true),
				transport("down", "203.0.113.12", false, false),
			}}, []want{
			{"198.51.100.5", "conn lan-clear", "192.0.2.1/32 <-> 198.51.100.0/24", VerdictPass, VerdictPass},
			{"203.0.113.10", "conn routed", "192.0.2.1/32 <-> 203.0.113.10/32", VerdictTrap, VerdictRequire},
			{"203.0.113.11", "conn up", "192.0.2.1/32 <-> 203.0.113.11/32", VerdictEncrypt, VerdictRequire},
			{"203.0.113.12", "group private", "0.0.0.0/0", VerdictTrap, VerdictRequire},
		}},
		{"per-peer entries beat group traps", Input{Local: local,
			Groups: map[Group][]Dest{GroupPrivateOrClear: dests("0.0.0.0/0"), GroupPrivate: dests("203.0.113.0/24")},
			Peers: []Peer{
				{Remote: ip("198.51.100.7"), Action: PeerIPsec, Reqid: ReqidConnMin + 7},
				{Remote: ip("198.51.100.8"), Action: PeerPass, Reason: "no key"},
				{Remote: ip("203.0.113.9"), Action: PeerDrop, Reason: "negotiation failed"},
				{Remote: ip("203.0.113.10"), Action: PeerHold, Reqid: ReqidConnMin + 8},
				{Remote: ip("203.0.113.11"), Action: PeerPass},
			}}, []want{
			{"198.51.100.7", "peer 198.51.100.7", "0.0.0.0/0 <-> 198.51.100.7/32", VerdictEncrypt, VerdictRequire},
			{"198.51.100.8", "peer 198.51.100.8", "0.0.0.0/0 <-> 198.51.100.8/32", VerdictPass, VerdictPass},
			// A drop shunt leaves inbound to the group, so the peer can
			// still initiate.
			{"203.0.113.9", "peer 203.0.113.9", "0.0.0.0/0 <-> 203.0.113.9/32", VerdictDrop, VerdictRequire},
			{"203.0.113.10", "peer 203.0.113.10", "0.0.0.0/0 <-> 203.0.113.10/32", VerdictHold, VerdictRequire},
			// A pass shunt under private accepts the peer's cleartext.
			{"203.0.113.11", "peer 203.0.113.11", "0.0.0.0/0 <-> 203.0.113.11/32", VerdictPass, VerdictPass},
			{"198.51.100.9", "group private-or-clear", "0.0.0.0/0", VerdictTrap, VerdictPass},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			checkExplain(t, mustCompute(t, tc.in), tc.want)
		})
	}
}

// TestResolverBypassBeatsEverything: a resolver inside a blocked prefix,
// under a conn and under a peer's drop shunt still gets its DNS through,
// in both directions and over UDP and TCP, and nothing else to it does.
func TestResolverBypassBeatsEverything(t *testing.T) {
	res := netip.MustParseAddrPort("198.51.100.53:53")
	s := mustCompute(t, Input{
		Local:     []netip.Addr{ip("192.0.2.1")},
		Groups:    map[Group][]Dest{GroupBlock: dests("198.51.100.0/24"), GroupPrivate: dests("0.0.0.0/0")},
		Conns:     []Conn{{Name: "c", Type: ConnDrop, LocalAddr: ip("192.0.2.1"), RemoteAddr: ip("198.51.100.53"), Route: true}},
		Peers:     []Peer{{Remote: ip("198.51.100.53"), Action: PeerDrop}},
		Resolvers: []netip.AddrPort{res},
	})
	var resolver []Entry
	worst := uint32(0)
	for _, e := range s.Entries {
		if e.Layer == LayerExempt {
			resolver = append(resolver, e)
			worst = max(worst, e.Policy.Priority)
		}
	}
	for _, e := range s.Entries {
		if e.Layer != LayerExempt && e.Policy.Priority <= worst {
			t.Errorf("%s has priority 0x%08x, not above the resolver bypass (0x%08x)", e, e.Policy.Priority, worst)
		}
	}
	got := map[string]bool{}
	for _, e := range resolver {
		if e.Policy.Kind() != xfrm.KindBypass {
			t.Errorf("resolver entry %s is not a bypass", e)
		}
		got[e.Policy.Dir.String()+" "+e.Policy.Selector.String()] = true
	}
	for _, w := range []string{
		"out src 0.0.0.0/0 dst 198.51.100.53/32 proto udp dport 53",
		"out src 0.0.0.0/0 dst 198.51.100.53/32 proto tcp dport 53",
		"in src 198.51.100.53/32 dst 0.0.0.0/0 proto udp sport 53",
		"in src 198.51.100.53/32 dst 0.0.0.0/0 proto tcp sport 53",
	} {
		if !got[w] {
			t.Errorf("no resolver bypass %q; have %v", w, got)
		}
	}
	d := s.Explain(res.Addr())
	if d.Out == nil || d.Out.Owner != "conn c" || d.Verdict != VerdictDrop {
		t.Errorf("other traffic to the resolver: %s", d.Explanation)
	}
	if len(d.Exceptions) != 2 || !strings.Contains(d.Explanation, "except proto tcp dport 53 and proto udp dport 53, which passes in clear") {
		t.Errorf("exceptions %v: %s", d.Exceptions, d.Explanation)
	}
}

// TestShadowed: the kernel holds one policy per selector and direction, so
// equal keys from different layers collapse to the one of highest
// precedence, and the loser is reported.
func TestShadowed(t *testing.T) {
	s := mustCompute(t, Input{
		Local: []netip.Addr{ip("192.0.2.1")},
		Groups: map[Group][]Dest{
			GroupPrivateOrClear: dests("0.0.0.0/0", "198.51.100.7/32"),
			GroupPrivate:        dests("127.0.0.0/8"), // explicit beats implicit loopback
		},
		Peers: []Peer{{Local: ip("192.0.2.1"), Remote: ip("198.51.100.7"), Action: PeerPass}},
	})
	checkExplain(t, s, []want{
		{"198.51.100.7", "peer 198.51.100.7", "192.0.2.1/32 <-> 198.51.100.7/32", VerdictPass, VerdictPass},
		{"127.0.0.1", "group private", "127.0.0.0/8", VerdictTrap, VerdictRequire},
	})
	var shadowed []string
	for _, e := range s.Shadowed {
		shadowed = append(shadowed, e.Policy.Dir.String()+" "+e.Owner+" "+e.Source)
	}
	wantShadowed := []string{
		"in group private-or-clear 198.51.100.7/32", "in implicit 127.0.0.0/8",
		"out group private-or-clear 198.51.100.7/32", "out implicit 127.0.0.0/8",
	}
	if strings.Join(shadowed, "|") != strings.Join(wantShadowed, "|") {
		t.Errorf("shadowed %q, want %q", shadowed, wantShadowed)
	}
	if d := s.Explain(ip("198.51.100.7")); !strings.Contains(d.Explanation, "overrides group private-or-clear 198.51.100.7/32") {
		t.Errorf("explanation does not name the shadowed entry: %s", d.Explanation)
	}
}

// TestNeighbourDiscoveryExempt: an IPv6 trap brings ND bypasses (types
// 133-137, both directions) above it; an IPv4-only or clear-only set has
// none.
func TestNeighbourDiscoveryExempt(t *testing.T) {
	count := func(s *Set) int {
		n := 0
		for _, e := range s.Entries {
			if e.Owner == "ipv6-nd" {
				n++
				if e.Policy.Selector.Proto != 58 || e.Policy.Selector.SrcPort < 133 || e.Policy.Selector.SrcPort > 137 || e.Policy.Kind() != xfrm.KindBypass {
					t.Errorf("bad ND entry %s", e)
				}
			}
		}
		return n
	}
	if n := count(mustCompute(t, Input{Groups: map[Group][]Dest{GroupPrivate: dests("::/0")}})); n != 10 {
		t.Errorf("IPv6 trap: %d ND entries, want 10", n)
	}
	if n := count(mustCompute(t, Input{Peers: []Peer{{Remote: ip("2001:db8::7"), Action: PeerDrop}}})); n != 10 {
		t.Errorf("IPv6 drop shunt: %d ND entries, want 10", n)
	}
	if n := count(mustCompute(t, Input{Groups: map[Group][]Dest{GroupPrivate: dests("0.0.0.0/0"), GroupClear: dests("::/0")}})); n != 0 {
		t.Errorf("no IPv6 trap: %d ND entries, want 0", n)
	}
}

// TestPriorityScheme pins the documented numbers.
func TestPriorityScheme(t *testing.T) {
	if LayerBase(LayerExempt) != 0x0e100000 || LayerBase(LayerGroup) != 0x0e400000 {
		t.Errorf("layer bases moved: exempt 0x%08x group 0x%08x", LayerBase(LayerExempt), LayerBase(LayerGroup))
	}
	if top := Priority(LayerGroup, 0); top > xfrm.PriorityMax || !xfrm.OwnedPriority(top) {
		t.Errorf("lowest group priority 0x%08x outside the band", top)
	}
	if MaxSpecificity >= layerWidth {
		t.Errorf("specificities overflow a layer's sub-band")
	}
	host := Specificity(pfx("198.51.100.7/32"), pfx("0.0.0.0/0"), 0, 0, 0)
	net24 := Specificity(pfx("198.51.100.0/24"), pfx("192.0.2.1/32"), 6, 0, 25)
	if host <= net24 {
		t.Errorf("a /32 (%d) must be more specific than a /24 with ports (%d)", host, net24)
	}
	if Priority(LayerConn, 0) >= Priority(LayerPeer, MaxSpecificity) || Priority(LayerPeer, 0) >= Priority(LayerGroup, MaxSpecificity) {
		t.Error("layers overlap")
	}
	if g, ok := GroupOfReqid(GroupReqid(GroupPrivate)); !ok || g != GroupPrivate {
		t.Errorf("GroupOfReqid(GroupReqid(private)) = %v %v", g, ok)
	}
	if GroupReqid(GroupClear) != 0 || GroupReqid(GroupBlock) != 0 {
		t.Error("groups without a trap have a reqid")
	}
	if _, ok := GroupOfReqid(ReqidConnMin); ok {
		t.Error("a conn reqid maps to a group")
	}
	if _, ok := LayerOf(xfrm.PriorityMin); ok {
		t.Error("the reserved sub-band maps to a layer")
	}
}

// TestPathMTUExempt: where an inbound policy refuses cleartext, the ICMP
// errors of path MTU discovery still get in; nowhere else is there an
// exemption.
func TestPathMTUExempt(t *testing.T) {
	pmtu := func(s *Set) []string {
		var out []string
		for _, e := range s.Entries {
			if e.Owner == "pmtu" {
				out = append(out, e.Policy.Dir.String()+" "+e.Policy.Selector.String())
			}
		}
		return out
	}
	for _, tc := range []struct {
		name string
		in   Input
		want string
	}{
		{"private v4", Input{Groups: map[Group][]Dest{GroupPrivate: dests("198.51.100.0/24")}},
			"in src 0.0.0.0/0 dst 0.0.0.0/0 proto icmp sport 3 dport 4"},
		{"peer ipsec v6", Input{Peers: []Peer{{Remote: ip("2001:db8::7"), Action: PeerIPsec, Reqid: ReqidConnMin}}},
			"in src ::/0 dst ::/0 proto ipv6-icmp sport 2"},
		{"block both", Input{Groups: map[Group][]Dest{GroupBlock: dests("198.51.100.0/24", "2001:db8::/32")}},
			"in src 0.0.0.0/0 dst 0.0.0.0/0 proto icmp sport 3 dport 4|in src ::/0 dst ::/0 proto ipv6-icmp sport 2"},
		{"private-or-clear accepts clear anyway", Input{Groups: map[Group][]Dest{GroupPrivateOrClear: dests("0.0.0.0/0", "::/0")}}, ""},
		{"drop shunt is outbound only", Input{Peers: []Peer{{Remote: ip("192.0.2.7"), Action: PeerDrop}}}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := strings.Join(pmtu(mustCompute(t, tc.in)), "|"); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}
