package trap

import (
	"fmt"
	"net/netip"
	"slices"

	"github.com/oe-agent/oe-agent/xfrm"
)

const (
	protoICMP   = 1
	protoICMPv6 = 58
	protoTCP    = 6
	protoUDP    = 17
)

// Compute turns groups, conns, per-peer entries and resolvers into the
// desired set of kernel policies. It is pure: the same Input always gives
// the same Set. Invalid input yields an *InputError listing every problem,
// and no set.
//
// What it installs (see the package documentation for why):
//
//	source              out                      in                        fwd
//	resolver            bypass udp+tcp to port   bypass from port          -
//	IPv6 ND (133-137)   bypass                   bypass                    -
//	PMTU ICMP errors    -                        bypass                    -
//	conn tunnel         ESP tunnel template      template, required        template, required
//	conn transport      ESP transport template   template, required        -
//	conn passthrough    bypass                   bypass                    bypass (local subnet)
//	conn drop           block                    block                     block (local subnet)
//	peer ipsec          ESP transport, reqid     template, required        -
//	peer hold           ESP transport, reqid     -                         -
//	peer pass           bypass                   bypass                    -
//	peer drop           block                    -                         -
//	clear               bypass                   bypass                    -
//	clear-or-private    bypass                   bypass                    -
//	private-or-clear    trap (ESP transport)     bypass                    -
//	private             trap (ESP transport)     template, required        -
//	block               block                    block                     -
//	implicit clear      bypass                   bypass                    -
func Compute(in Input) (*Set, error) {
	if err := in.validate(); err != nil {
		return nil, err
	}
	var b builder
	for _, r := range in.Resolvers {
		b.resolver(r)
	}
	for _, c := range in.Conns {
		if c.installed() {
			b.conn(c)
		}
	}
	for _, p := range in.Peers {
		b.peer(p)
	}
	for _, g := range Groups {
		for _, d := range in.Groups[g] {
			for _, local := range localPrefixes(in.Local, d.Prefix.Addr().Is4()) {
				b.group(g, d, local)
			}
		}
	}
	b.implicitClear(in)
	if b.trapsIPv6() {
		b.neighbourDiscovery()
	}
	b.pathMTU()
	return newSet(b.entries)
}

// localPrefixes returns the host prefixes of the local addresses of one
// family, or the family's any-prefix when no local address was given.
func localPrefixes(local []netip.Addr, is4 bool) []netip.Prefix {
	if len(local) == 0 {
		return []netip.Prefix{anyPrefix(is4)}
	}
	var out []netip.Prefix
	for _, a := range local {
		if a.Is4() == is4 {
			out = append(out, hostPrefix(a))
		}
	}
	return out
}

// resolver exempts DNS to and from r: UDP and TCP (RFC 7766: DNS over TCP
// is mandatory, and DNSSEC answers often need it).
func (b *builder) resolver(r netip.AddrPort) {
	a := r.Addr()
	e := Entry{Layer: LayerExempt, Owner: "resolver " + r.String(),
		Reason: "DNS to the resolvers is never trapped, so key lookups cannot deadlock"}
	for _, proto := range []uint8{protoUDP, protoTCP} {
		f := flow{local: anyPrefix(a.Is4()), remote: hostPrefix(a), proto: proto, rport: r.Port()}
		e.Source = f.String()
		b.add(e, f, bypass(xfrm.DirOut), bypass(xfrm.DirIn))
	}
}

// conn adds a configured connection's policies for every pair of its
// local and remote prefixes.
func (b *builder) conn(c Conn) {
	for _, f := range c.pairs() {
		e := Entry{Layer: LayerConn, Owner: "conn " + c.Name, Source: f.String()}
		fwd := f.local.Bits() != f.local.Addr().BitLen()
		switch c.Type {
		case ConnTunnel:
			v := VerdictTrap
			e.Reason = fmt.Sprintf("ESP tunnel %s <-> %s, negotiated on the first packet", c.LocalAddr, c.RemoteAddr)
			if c.Up {
				v = VerdictEncrypt
				e.Reason = fmt.Sprintf("ESP tunnel %s <-> %s", c.LocalAddr, c.RemoteAddr)
			}
			out := xfrm.Template{Src: c.LocalAddr, Dst: c.RemoteAddr, Proto: xfrm.ProtoESP, Mode: xfrm.ModeTunnel, Reqid: c.Reqid}
			in := xfrm.Template{Src: c.RemoteAddr, Dst: c.LocalAddr, Proto: xfrm.ProtoESP, Mode: xfrm.ModeTunnel, Reqid: c.Reqid}
			b.add(e, f, protect(xfrm.DirOut, v, out), protect(xfrm.DirIn, VerdictRequire, in), protect(xfrm.DirFwd, VerdictRequire, in))
		case ConnTransport:
			v := VerdictTrap
			e.Reason = "ESP transport, negotiated on the first packet"
			if c.Up {
				v = VerdictEncrypt
				e.Reason = "ESP transport"
			}
			t := transportTmpl(c.Reqid)
			b.add(e, f, protect(xfrm.DirOut, v, t), protect(xfrm.DirIn, VerdictRequire, t))
		case ConnPassthrough:
			e.Reason = "passthrough conn: never encrypt"
			h := []half{bypass(xfrm.DirOut), bypass(xfrm.DirIn)}
			if fwd {
				h = append(h, bypass(xfrm.DirFwd))
			}
			b.add(e, f, h...)
		case ConnDrop:
			e.Reason = "drop conn: never talk"
			h := []half{block(xfrm.DirOut), block(xfrm.DirIn)}
			if fwd {
				h = append(h, block(xfrm.DirFwd))
			}
			b.add(e, f, h...)
		}
	}
}

// pairs returns the conn's flows: every local and remote prefix of one
// family, narrowed by its protocol and ports.
func (c Conn) pairs() []flow {
	locals, remotes := c.Local, c.Remote
	if len(locals) == 0 && c.LocalAddr.IsValid() {
		locals = []netip.Prefix{hostPrefix(c.LocalAddr)}
	}
	if len(remotes) == 0 && c.RemoteAddr.IsValid() {
		remotes = []netip.Prefix{hostPrefix(c.RemoteAddr)}
	}
	var out []flow
	for _, l := range locals {
		for _, r := range remotes {
			if l.Addr().Is4() == r.Addr().Is4() {
				out = append(out, flow{local: l, remote: r, proto: c.Proto, lport: c.LocalPort, rport: c.RemotePort})
			}
		}
	}
	return out
}

// peer adds one of oe's per-peer entries.
func (b *builder) peer(p Peer) {
	local := anyPrefix(p.Remote.Is4())
	if p.Local.IsValid() {
		local = hostPrefix(p.Local)
	}
	f := flow{local: local, remote: hostPrefix(p.Remote), proto: p.Proto, lport: p.LocalPort, rport: p.RemotePort}
	e := Entry{Layer: LayerPeer, Owner: "peer " + p.Remote.String(), Source: f.String(), Reason: p.Reason, Expires: p.Expires}
	switch p.Action {
	case PeerIPsec:
		e.Reason = cmpOr(e.Reason, "SA up")
		t := transportTmpl(p.Reqid)
		b.add(e, f, protect(xfrm.DirOut, VerdictEncrypt, t), protect(xfrm.DirIn, VerdictRequire, t))
	case PeerHold:
		e.Reason = cmpOr(e.Reason, "negotiating: packets held until the SA is up")
		b.add(e, f, protect(xfrm.DirOut, VerdictHold, transportTmpl(p.Reqid)))
	case PeerPass:
		e.Reason = cmpOr(e.Reason, "pass shunt")
		b.add(e, f, bypass(xfrm.DirOut), bypass(xfrm.DirIn))
	case PeerDrop:
		e.Reason = cmpOr(e.Reason, "drop shunt")
		b.add(e, f, block(xfrm.DirOut))
	}
}

func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// groupReasons explain each group in a few words.
var groupReasons = map[Group]string{
	GroupClear:          "never encrypt",
	GroupClearOrPrivate: "clear; OE only when the peer initiates",
	GroupPrivateOrClear: "try OE, fall back to clear",
	GroupPrivate:        "OE or nothing",
	GroupBlock:          "never talk",
}

// group adds the policies of one destination of group g for traffic from
// local.
func (b *builder) group(g Group, d Dest, local netip.Prefix) {
	f := flow{local: local, remote: d.Prefix, proto: d.Proto, lport: d.LocalPort, rport: d.RemotePort}
	e := Entry{Layer: LayerGroup, Owner: "group " + g.String(), Source: d.String(), Reason: groupReasons[g], Group: g}
	switch g {
	case GroupClear, GroupClearOrPrivate:
		b.add(e, f, bypass(xfrm.DirOut), bypass(xfrm.DirIn))
	case GroupPrivateOrClear:
		b.add(e, f, protect(xfrm.DirOut, VerdictTrap, transportTmpl(GroupReqid(g))), bypass(xfrm.DirIn))
	case GroupPrivate:
		t := transportTmpl(GroupReqid(g))
		b.add(e, f, protect(xfrm.DirOut, VerdictTrap, t), protect(xfrm.DirIn, VerdictRequire, t))
	case GroupBlock:
		b.add(e, f, block(xfrm.DirOut), block(xfrm.DirIn))
	}
}

// implicitPrefixes are destinations opportunistic encryption makes no
// sense for; they are clear unless a group lists them explicitly.
var implicitPrefixes = []struct {
	prefix netip.Prefix
	reason string
}{
	{netip.MustParsePrefix("127.0.0.0/8"), "loopback"},
	{netip.MustParsePrefix("169.254.0.0/16"), "link-local"},
	{netip.MustParsePrefix("224.0.0.0/4"), "multicast"},
	{netip.MustParsePrefix("255.255.255.255/32"), "broadcast"},
	{netip.MustParsePrefix("::1/128"), "loopback"},
	{netip.MustParsePrefix("fe80::/10"), "link-local"},
	{netip.MustParsePrefix("ff00::/8"), "multicast"},
}

// implicitClear adds clear entries for loopback, link-local, multicast,
// broadcast and this host's own addresses wherever a trap or block group
// covers them. They rank below explicit group entries with the same
// selector, and a more specific group entry inside them still wins.
func (b *builder) implicitClear(in Input) {
	type cand struct {
		prefix netip.Prefix
		reason string
	}
	var cands []cand
	for _, ip := range implicitPrefixes {
		cands = append(cands, cand{ip.prefix, ip.reason})
	}
	for _, a := range in.Local {
		cands = append(cands, cand{hostPrefix(a), "this host's own address"})
	}
	for _, c := range cands {
		if !coveredByNonClear(in.Groups, c.prefix) {
			continue
		}
		for _, local := range localPrefixes(in.Local, c.prefix.Addr().Is4()) {
			f := flow{local: local, remote: c.prefix}
			e := Entry{Layer: LayerGroup, Owner: "implicit", Source: c.prefix.String(), Reason: c.reason + ": never encrypt", rank: 1}
			b.add(e, f, bypass(xfrm.DirOut), bypass(xfrm.DirIn))
		}
	}
}

// coveredByNonClear reports whether a trap or block group destination
// overlaps pfx.
func coveredByNonClear(groups map[Group][]Dest, pfx netip.Prefix) bool {
	for _, g := range []Group{GroupPrivateOrClear, GroupPrivate, GroupBlock} {
		if slices.ContainsFunc(groups[g], func(d Dest) bool { return d.Prefix.Overlaps(pfx) }) {
			return true
		}
	}
	return false
}

// trapsIPv6 reports whether any IPv6 entry so far is not a bypass: only
// then can neighbour discovery be caught.
func (b *builder) trapsIPv6() bool {
	return slices.ContainsFunc(b.entries, func(e Entry) bool {
		return e.Policy.Selector.Is6() && e.Policy.Kind() != xfrm.KindBypass
	})
}

// neighbourDiscovery exempts ICMPv6 router and neighbour solicitation and
// advertisement and redirect (types 133-137, RFC 4861 §4), in and out: a
// trap or block policy for ::/0 or a peer's /128 would otherwise catch the
// neighbour solicitations that resolve the peer's link-layer address. The
// kernel matches an ICMPv6 type as the selector's source port.
func (b *builder) neighbourDiscovery() {
	e := Entry{Layer: LayerExempt, Owner: "ipv6-nd", Reason: "neighbour discovery is never trapped (RFC 4861)"}
	for typ := uint16(133); typ <= 137; typ++ {
		f := flow{local: anyPrefix(false), remote: anyPrefix(false), proto: protoICMPv6, lport: typ}
		e.Source = fmt.Sprintf("ipv6-icmp type %d", typ)
		b.add(e, f, bypass(xfrm.DirOut), bypass(xfrm.DirIn))
	}
}

// pathMTU lets the ICMP errors of path MTU discovery in, in clear, where
// an inbound policy would refuse cleartext (private groups, IPsec conns
// and peers, blocks): IPv4 "fragmentation needed" (type 3 code 4, RFC
// 1191) and ICMPv6 "packet too big" (type 2, RFC 8201). Routers on the
// path cannot protect them, and refusing them blackholes every flow whose
// packets (ESP-enlarged) exceed the path MTU. RFC 4301 §6.1.1 requires an
// implementation to be configurable to accept unprotected ICMP errors;
// oe-agent accepts these two only.
func (b *builder) pathMTU() {
	refuses := map[bool]bool{}
	for _, e := range b.entries {
		if e.Policy.Dir == xfrm.DirIn && e.Policy.Kind() != xfrm.KindBypass {
			refuses[e.Policy.Selector.Dst.Addr().Is4()] = true
		}
	}
	e := Entry{Layer: LayerExempt, Owner: "pmtu", Reason: "path MTU discovery errors are accepted in clear (RFC 4301 §6.1.1)"}
	if refuses[true] {
		f := flow{local: anyPrefix(true), remote: anyPrefix(true), proto: protoICMP, lport: 3, rport: 4}
		e.Source = "icmp type 3 code 4"
		b.add(e, f, bypass(xfrm.DirIn))
	}
	if refuses[false] {
		f := flow{local: anyPrefix(false), remote: anyPrefix(false), proto: protoICMPv6, lport: 2}
		e.Source = "ipv6-icmp type 2"
		b.add(e, f, bypass(xfrm.DirIn))
	}
}
