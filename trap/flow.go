package trap

import (
	"fmt"
	"net/netip"

	"github.com/oe-agent/oe-agent/xfrm"
)

// flow is traffic between a local and a remote prefix of one family,
// optionally narrowed to a protocol and ports, seen from this host.
type flow struct {
	local, remote netip.Prefix
	proto         uint8
	lport, rport  uint16
}

func hostPrefix(a netip.Addr) netip.Prefix { return netip.PrefixFrom(a, a.BitLen()) }

// anyPrefix is 0.0.0.0/0 or ::/0.
func anyPrefix(is4 bool) netip.Prefix {
	if is4 {
		return netip.PrefixFrom(netip.IPv4Unspecified(), 0)
	}
	return netip.PrefixFrom(netip.IPv6Unspecified(), 0)
}

// isICMP reports whether the kernel reads the selector's ports as ICMP
// type (source port) and code (destination port), which do not swap with
// the direction.
func isICMP(proto uint8) bool { return proto == 1 || proto == 58 }

// sel returns the selector of the flow in direction dir: out is local to
// remote; in and fwd are remote to local.
func (f flow) sel(dir xfrm.Dir) xfrm.Selector {
	if dir == xfrm.DirOut || isICMP(f.proto) {
		s := xfrm.Selector{Src: f.local, Dst: f.remote, Proto: f.proto, SrcPort: f.lport, DstPort: f.rport}
		if dir != xfrm.DirOut {
			s.Src, s.Dst = f.remote, f.local
		}
		return s
	}
	return xfrm.Selector{Src: f.remote, Dst: f.local, Proto: f.proto, SrcPort: f.rport, DstPort: f.lport}
}

func (f flow) specificity() uint32 {
	return Specificity(f.remote, f.local, f.proto, f.lport, f.rport)
}

func (f flow) String() string {
	s := fmt.Sprintf("%s <-> %s", f.local, f.remote)
	if f.proto != 0 {
		s += " " + protoName(f.proto)
		if f.lport != 0 || f.rport != 0 {
			s += fmt.Sprintf(" %d %d", f.lport, f.rport)
		}
	}
	return s
}

// half is one direction of a rule: the action and templates of its policy,
// and the verdict a packet meets.
type half struct {
	dir     xfrm.Dir
	action  xfrm.Action
	tmpls   []xfrm.Template
	verdict Verdict
}

func bypass(dir xfrm.Dir) half { return half{dir: dir, action: xfrm.ActionAllow, verdict: VerdictPass} }
func block(dir xfrm.Dir) half  { return half{dir: dir, action: xfrm.ActionBlock, verdict: VerdictDrop} }

func protect(dir xfrm.Dir, v Verdict, t xfrm.Template) half {
	return half{dir: dir, action: xfrm.ActionAllow, tmpls: []xfrm.Template{t}, verdict: v}
}

// transportTmpl is an ESP transport-mode template: its addresses are the
// packet's own.
func transportTmpl(reqid uint32) xfrm.Template {
	return xfrm.Template{Proto: xfrm.ProtoESP, Mode: xfrm.ModeTransport, Reqid: reqid}
}

// builder collects entries.
type builder struct {
	entries []Entry
}

// add appends one entry per direction of halves for flow f.
func (b *builder) add(e Entry, f flow, halves ...half) {
	prio := Priority(e.Layer, f.specificity())
	for _, h := range halves {
		ent := e
		ent.Policy = xfrm.Policy{
			Selector:  f.sel(h.dir),
			Dir:       h.dir,
			Action:    h.action,
			Priority:  prio,
			Templates: h.tmpls,
		}
		ent.Verdict = h.verdict
		b.entries = append(b.entries, ent)
	}
}
