package trap

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/oe-agent/oe-agent/xfrm"
)

// Decision explains what the desired set does with traffic to and from one
// address, for `oectl trace`.
type Decision struct {
	Addr netip.Addr
	// Out is the entry an outgoing packet to Addr meets (any protocol),
	// and In the entry a packet from Addr meets; nil when no oe-agent
	// policy covers the address in that direction.
	Out, In *Entry
	// Verdict is Out's verdict, or VerdictClear.
	Verdict Verdict
	// Exceptions are narrower entries (one protocol or port, such as a
	// resolver's DNS) that beat Out for part of the traffic to Addr with
	// another verdict.
	Exceptions []Entry
	// Shadowed are entries for Out's selector that lost to it.
	Shadowed []Entry
	// Explanation is a sentence for a person.
	Explanation string
}

// Explain tells which entry covers addr and what a packet meets, as the
// kernel would choose: among the policies whose selector matches, the one
// with the lowest priority. The source address is not known here, so
// entries for any of this host's addresses count; the explanation names
// the source when an entry applies to one only.
func (s *Set) Explain(addr netip.Addr) Decision {
	addr = addr.Unmap().WithZone("")
	d := Decision{Addr: addr, Verdict: VerdictClear}
	d.Out = s.winner(addr, xfrm.DirOut)
	d.In = s.winner(addr, xfrm.DirIn)
	if d.Out != nil {
		d.Verdict = d.Out.Verdict
	}
	for _, e := range s.Entries {
		if e.Policy.Dir != xfrm.DirOut || e.Policy.Selector.Proto == 0 || !e.Policy.Selector.Dst.Contains(addr) {
			continue
		}
		if d.Out == nil || (e.Policy.Priority < d.Out.Policy.Priority && e.Verdict != d.Out.Verdict) {
			d.Exceptions = append(d.Exceptions, e)
		}
	}
	if d.Out != nil {
		k := keyOf(d.Out.Policy)
		for _, e := range s.Shadowed {
			if keyOf(e.Policy) == k {
				d.Shadowed = append(d.Shadowed, e)
			}
		}
	}
	d.Explanation = d.explain()
	return d
}

// winner returns the lowest-priority entry of direction dir whose remote
// side contains addr and which applies to all protocols.
func (s *Set) winner(addr netip.Addr, dir xfrm.Dir) *Entry {
	var best *Entry
	for i := range s.Entries {
		e := &s.Entries[i]
		sel := e.Policy.Selector
		remote := sel.Dst
		if dir != xfrm.DirOut {
			remote = sel.Src
		}
		if e.Policy.Dir != dir || sel.Proto != 0 || !remote.Contains(addr) {
			continue
		}
		if best == nil || e.Policy.Priority < best.Policy.Priority {
			best = e
		}
	}
	return best
}

// GroupOf returns the OE policy group that covers traffic to addr beneath
// any per-peer entry (an SA's policy, a hold or a shunt), or 0 when a
// connection, an exemption or nothing covers it. It is what decides
// whether a peer that initiates IKE is answered (RFC 4322 §3.2), whatever
// the state oe keeps for that peer: a peer that restarted must be
// answered although an SA with it is still installed.
func (s *Set) GroupOf(addr netip.Addr) Group {
	addr = addr.Unmap().WithZone("")
	var best *Entry
	for i := range s.Entries {
		e := &s.Entries[i]
		sel := e.Policy.Selector
		if e.Layer == LayerPeer || e.Policy.Dir != xfrm.DirOut || sel.Proto != 0 || !sel.Dst.Contains(addr) {
			continue
		}
		if best == nil || e.Policy.Priority < best.Policy.Priority {
			best = e
		}
	}
	if best == nil {
		return 0
	}
	return best.Group
}

var verdictWords = map[Verdict]string{
	VerdictClear:   "no oe-agent policy, packets go in clear",
	VerdictPass:    "passes in clear",
	VerdictDrop:    "is dropped",
	VerdictTrap:    "is trapped: the kernel asks oe-agent for an SA (ACQUIRE) and holds or drops the packet meanwhile",
	VerdictHold:    "is held until the SA being negotiated is up",
	VerdictEncrypt: "is encrypted with ESP",
	VerdictRequire: "is accepted only if ESP protected it",
}

func (d Decision) explain() string {
	var sb strings.Builder
	if d.Out == nil && d.In == nil {
		fmt.Fprintf(&sb, "%s is covered by no policy group, conn or peer entry: traffic goes in clear", d.Addr)
	} else {
		src := d.Out
		if src == nil {
			src = d.In
		}
		sb.WriteString(d.Addr.String())
		if d.Out != nil && d.Out.Policy.Selector.Src.Bits() != 0 {
			fmt.Fprintf(&sb, ", from %s", d.Out.Policy.Selector.Src)
		}
		fmt.Fprintf(&sb, ": %s %s (%s)", src.Owner, src.Source, src.Reason)
		outV, inV := VerdictClear, VerdictClear
		if d.Out != nil {
			outV = d.Out.Verdict
		}
		if d.In != nil {
			inV = d.In.Verdict
		}
		fmt.Fprintf(&sb, "; outgoing traffic %s; incoming traffic %s", verdictWords[outV], verdictWords[inV])
	}
	// One clause per owner: "except proto tcp dport 53 and proto udp
	// dport 53, which passes in clear (resolver 192.0.2.53:53)".
	var owners []string
	what := make(map[string][]string)
	verdict := make(map[string]Verdict)
	for _, e := range d.Exceptions {
		if _, ok := what[e.Owner]; !ok {
			owners = append(owners, e.Owner)
		}
		n := narrowing(e.Policy.Selector)
		if e.Owner == "ipv6-nd" {
			n = "ICMPv6 neighbour discovery"
		}
		if !slices.Contains(what[e.Owner], n) {
			what[e.Owner] = append(what[e.Owner], n)
		}
		verdict[e.Owner] = e.Verdict
	}
	for _, o := range owners {
		fmt.Fprintf(&sb, "; except %s, which %s (%s)", strings.Join(what[o], " and "), verdictWords[verdict[o]], o)
	}
	if len(d.Shadowed) > 0 {
		names := make([]string, len(d.Shadowed))
		for i, e := range d.Shadowed {
			names[i] = e.Owner + " " + e.Source
		}
		fmt.Fprintf(&sb, "; overrides %s", strings.Join(names, ", "))
	}
	return sb.String()
}

// narrowing describes the protocol and ports of a selector: "proto udp
// dport 53".
func narrowing(sel xfrm.Selector) string {
	s := "proto " + protoName(sel.Proto)
	if sel.SrcPort != 0 {
		s += fmt.Sprintf(" sport %d", sel.SrcPort)
	}
	if sel.DstPort != 0 {
		s += fmt.Sprintf(" dport %d", sel.DstPort)
	}
	return s
}
