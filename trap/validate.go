package trap

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/oe-agent/oe-agent/xfrm"
)

// InputError lists every problem found in an Input. Compute returns it
// instead of a partial set: installing half of a policy configuration could
// leave a private destination in the clear.
type InputError struct {
	Problems []string
}

func (e *InputError) Error() string {
	if len(e.Problems) == 1 {
		return "trap: invalid input: " + e.Problems[0]
	}
	return fmt.Sprintf("trap: invalid input (%d problems): %s", len(e.Problems), strings.Join(e.Problems, "; "))
}

type problems struct{ list []string }

func (p *problems) addf(format string, args ...any) {
	p.list = append(p.list, fmt.Sprintf(format, args...))
}

func (p *problems) err() error {
	if len(p.list) == 0 {
		return nil
	}
	return &InputError{Problems: p.list}
}

// checkPrefix reports what is wrong with a prefix, or "".
func checkPrefix(pfx netip.Prefix) string {
	switch {
	case !pfx.IsValid():
		return "invalid prefix"
	case pfx.Addr().Zone() != "":
		return fmt.Sprintf("prefix %s has a zone", pfx)
	case pfx.Addr().Is4In6():
		return fmt.Sprintf("prefix %s is IPv4-mapped IPv6; write the IPv4 prefix", pfx)
	case pfx.Masked() != pfx:
		return fmt.Sprintf("prefix %s has host bits set (did you mean %s?)", pfx, pfx.Masked())
	}
	return ""
}

// checkAddr reports what is wrong with a host address, or "".
func checkAddr(a netip.Addr) string {
	switch {
	case !a.IsValid():
		return "missing address"
	case a.Zone() != "":
		return fmt.Sprintf("address %s has a zone", a)
	case a.Is4In6():
		return fmt.Sprintf("address %s is IPv4-mapped IPv6; write the IPv4 address", a)
	case a.IsUnspecified():
		return fmt.Sprintf("address %s is unspecified", a)
	}
	return ""
}

// checkPorts reports ports given without a protocol, or "".
func checkPorts(proto uint8, lport, rport uint16) string {
	if proto == 0 && (lport != 0 || rport != 0) {
		return "ports need a protocol"
	}
	return ""
}

// checkReqid reports a reqid outside what conns and peers may use, or "".
func checkReqid(reqid uint32) string {
	switch {
	case reqid == 0:
		return "needs a reqid"
	case !xfrm.OwnedReqid(reqid):
		return fmt.Sprintf("reqid 0x%08x is outside oe-agent's range 0x%08x-0x%08x", reqid, xfrm.ReqidMin, xfrm.ReqidMax)
	case reqid < ReqidConnMin:
		return fmt.Sprintf("reqid 0x%08x is reserved for group traps (use 0x%08x or above)", reqid, ReqidConnMin)
	}
	return ""
}

// validate checks in and returns every problem found.
func (in *Input) validate() error {
	var p problems
	seenLocal := make(map[netip.Addr]bool)
	for _, a := range in.Local {
		if s := checkAddr(a); s != "" {
			p.addf("local address: %s", s)
		} else if seenLocal[a] {
			p.addf("local address %s listed twice", a)
		}
		seenLocal[a] = true
	}
	seenDest := make(map[Dest]Group)
	var unknown []int
	for g := range in.Groups {
		if g < GroupClear || g > GroupBlock {
			unknown = append(unknown, int(g))
		}
	}
	slices.Sort(unknown)
	for _, g := range unknown {
		p.addf("unknown policy group %d", g)
	}
	for _, g := range Groups {
		for _, d := range in.Groups[g] {
			if s := checkPrefix(d.Prefix); s != "" {
				p.addf("group %s: %s", g, s)
				continue
			}
			if s := checkPorts(d.Proto, d.LocalPort, d.RemotePort); s != "" {
				p.addf("group %s: %s: %s", g, d, s)
				continue
			}
			if prev, dup := seenDest[d]; dup {
				if prev == g {
					p.addf("group %s: %s listed twice", g, d)
				} else {
					p.addf("%s is in groups %s and %s: a destination can be in one group only", d, prev, g)
				}
				continue
			}
			seenDest[d] = g
		}
	}
	seenConn := make(map[string]bool)
	seenReqid := make(map[uint32]string)
	for i := range in.Conns {
		c := &in.Conns[i]
		name := c.Name
		if name == "" {
			name = fmt.Sprintf("#%d", i+1)
			p.addf("conn %s: no name", name)
		} else if seenConn[name] {
			p.addf("conn %s: defined twice", name)
		}
		seenConn[name] = true
		for _, s := range c.problems() {
			p.addf("conn %s: %s", name, s)
		}
		if c.IPsec() && c.Reqid != 0 {
			if other, dup := seenReqid[c.Reqid]; dup {
				p.addf("conn %s: reqid 0x%08x is also conn %s's", name, c.Reqid, other)
			}
			seenReqid[c.Reqid] = name
		}
	}
	seenPeer := make(map[Peer]bool)
	for _, pe := range in.Peers {
		for _, s := range pe.problems() {
			p.addf("peer %s: %s", pe.Remote, s)
		}
		key := Peer{Local: pe.Local, Remote: pe.Remote, Proto: pe.Proto, LocalPort: pe.LocalPort, RemotePort: pe.RemotePort}
		if seenPeer[key] {
			p.addf("peer %s: two entries for the same traffic", pe.Remote)
		}
		seenPeer[key] = true
	}
	seenRes := make(map[netip.AddrPort]bool)
	for _, r := range in.Resolvers {
		if s := checkAddr(r.Addr()); s != "" {
			p.addf("resolver: %s", s)
		} else if r.Port() == 0 {
			p.addf("resolver %s: port 0", r.Addr())
		} else if seenRes[r] {
			p.addf("resolver %s listed twice", r)
		}
		seenRes[r] = true
	}
	return p.err()
}

// problems lists what is wrong with a conn.
func (c *Conn) problems() []string {
	var out []string
	add := func(s string) {
		if s != "" {
			out = append(out, s)
		}
	}
	if c.Type < ConnTunnel || c.Type > ConnDrop {
		add(fmt.Sprintf("unknown type %d", uint8(c.Type)))
		return out
	}
	if c.LocalAddr.IsValid() {
		add(checkAddr(c.LocalAddr))
	}
	if c.RemoteAddr.IsValid() {
		add(checkAddr(c.RemoteAddr))
	}
	if c.LocalAddr.IsValid() && c.RemoteAddr.IsValid() && c.LocalAddr.Is4() != c.RemoteAddr.Is4() {
		add(fmt.Sprintf("endpoints %s and %s are of different families", c.LocalAddr, c.RemoteAddr))
	}
	if c.installed() {
		if c.Type == ConnTunnel && (!c.LocalAddr.IsValid() || !c.RemoteAddr.IsValid()) {
			add("tunnel mode needs both endpoint addresses")
		}
		if len(c.Local) == 0 && !c.LocalAddr.IsValid() {
			add("needs a local subnet or a local address")
		}
		if len(c.Remote) == 0 && !c.RemoteAddr.IsValid() {
			add("needs a remote subnet or a remote address (a conn with right=%any cannot be routed)")
		}
	}
	for _, pfx := range c.Local {
		add(prefixProblem("local subnet", pfx))
	}
	for _, pfx := range c.Remote {
		add(prefixProblem("remote subnet", pfx))
	}
	add(checkPorts(c.Proto, c.LocalPort, c.RemotePort))
	if c.IPsec() {
		add(checkReqid(c.Reqid))
	} else if c.Reqid != 0 {
		add(fmt.Sprintf("a %s conn takes no reqid", c.Type))
	}
	if len(out) == 0 && c.installed() && len(c.pairs()) == 0 {
		add("no local and remote subnet of the same address family")
	}
	return out
}

func prefixProblem(what string, pfx netip.Prefix) string {
	if s := checkPrefix(pfx); s != "" {
		return what + ": " + s
	}
	return ""
}

// problems lists what is wrong with a per-peer entry.
func (pe *Peer) problems() []string {
	var out []string
	add := func(s string) {
		if s != "" {
			out = append(out, s)
		}
	}
	add(checkAddr(pe.Remote))
	if pe.Local.IsValid() {
		add(checkAddr(pe.Local))
		if pe.Remote.IsValid() && pe.Local.Is4() != pe.Remote.Is4() {
			add(fmt.Sprintf("local address %s is of another family", pe.Local))
		}
	}
	add(checkPorts(pe.Proto, pe.LocalPort, pe.RemotePort))
	switch pe.Action {
	case PeerIPsec, PeerHold:
		add(checkReqid(pe.Reqid))
	case PeerPass, PeerDrop:
		if pe.Reqid != 0 {
			add(fmt.Sprintf("a %s entry takes no reqid", pe.Action))
		}
	default:
		add(fmt.Sprintf("unknown action %d", uint8(pe.Action)))
	}
	return out
}
