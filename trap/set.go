package trap

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/oe-agent/oe-agent/xfrm"
)

// Verdict is what a packet meets at a policy, in the words of `oectl
// trace`.
type Verdict uint8

// Verdicts.
const (
	// VerdictClear: no oe-agent policy matches; the packet goes in clear
	// (or whatever another daemon's policy says).
	VerdictClear Verdict = iota
	// VerdictPass: a bypass policy lets the packet through in clear.
	VerdictPass
	// VerdictDrop: a block policy drops it.
	VerdictDrop
	// VerdictTrap: a template policy without an SA yet: the kernel sends
	// an ACQUIRE and holds (xfrm_larval_drop=0) or drops the packet.
	VerdictTrap
	// VerdictHold: a negotiation is under way; packets are queued on the
	// template policy until the SA arrives.
	VerdictHold
	// VerdictEncrypt: the packet is protected by an established SA.
	VerdictEncrypt
	// VerdictRequire (inbound): only packets an SA decrypted are accepted;
	// cleartext is dropped.
	VerdictRequire
)

func (v Verdict) String() string {
	switch v {
	case VerdictClear:
		return "clear"
	case VerdictPass:
		return "pass"
	case VerdictDrop:
		return "drop"
	case VerdictTrap:
		return "trap"
	case VerdictHold:
		return "hold"
	case VerdictEncrypt:
		return "encrypt"
	case VerdictRequire:
		return "require-ipsec"
	}
	return fmt.Sprintf("verdict-%d", uint8(v))
}

// Entry is one kernel policy of the desired set, with where it comes from
// and why.
type Entry struct {
	Policy xfrm.Policy
	Layer  Layer
	// Owner names the source: "resolver 192.0.2.53:53", "ipv6-nd", "conn
	// NAME", "peer 198.51.100.7", "group private-or-clear", "implicit".
	Owner string
	// Source is the line of the source this entry implements: a group
	// destination ("203.0.113.0/24"), a conn's subnet pair, a peer flow.
	Source string
	// Reason is a short explanation for a person.
	Reason  string
	Verdict Verdict
	// Group is set for group entries (LayerGroup, explicit groups only).
	Group Group
	// Expires is a per-peer entry's expiry, as oe reported it.
	Expires time.Time

	// rank breaks ties between entries with the same key and priority:
	// the lower rank wins (explicit groups before implicit clear).
	rank int
}

func (e Entry) String() string {
	return fmt.Sprintf("%s %s: %s (%s, %s)", e.Owner, e.Source, e.Policy, e.Verdict, e.Reason)
}

// policyKey is what the kernel identifies a policy by: selector, direction
// and mark. Two policies with one key cannot coexist.
type policyKey struct {
	sel  xfrm.Selector
	dir  xfrm.Dir
	mark xfrm.Mark
}

func keyOf(p xfrm.Policy) policyKey {
	return policyKey{sel: p.Selector, dir: p.Dir, mark: p.Mark}
}

// Set is a desired set of kernel policies, computed by Compute. The zero
// Set is empty: applying it removes all of oe-agent's policies.
type Set struct {
	// Entries are the policies to install, one per kernel key, sorted by
	// direction, priority and selector.
	Entries []Entry
	// Shadowed are entries that lost to an entry of higher precedence with
	// the same selector and direction (the kernel holds one policy per
	// key): e.g. a group's /32 under a per-peer entry for the same host.
	Shadowed []Entry
}

// Policies returns the kernel policies of the set.
func (s *Set) Policies() []xfrm.Policy {
	out := make([]xfrm.Policy, len(s.Entries))
	for i, e := range s.Entries {
		out[i] = e.Policy
	}
	return out
}

// String renders the set as `ip xfrm policy` would show it.
func (s *Set) String() string { return xfrm.FormatPolicies(s.Policies()) }

// Describe renders one line per entry, for logs and `oectl`: direction,
// priority, selector, verdict, owner, source and reason.
func (s *Set) Describe() string {
	var sb strings.Builder
	for _, e := range s.Entries {
		fmt.Fprintf(&sb, "%-3s 0x%08x %-7s %s: %s, %s %s (%s", e.Policy.Dir, e.Policy.Priority,
			e.Verdict, e.Policy.Selector, e.Layer, e.Owner, e.Source, e.Reason)
		if !e.Expires.IsZero() {
			fmt.Fprintf(&sb, ", expires %s", e.Expires.UTC().Format(time.RFC3339))
		}
		sb.WriteString(")\n")
	}
	for _, e := range s.Shadowed {
		fmt.Fprintf(&sb, "shadowed: %s %s (%s %s)\n", e.Policy.Dir, e.Policy.Selector, e.Owner, e.Source)
	}
	return sb.String()
}

// compareEntries orders entries by direction, priority and selector text:
// the order of FormatPolicies, and of precedence within a direction.
func compareEntries(a, b Entry) int {
	return cmp.Or(cmp.Compare(a.Policy.Dir, b.Policy.Dir), cmp.Compare(a.Policy.Priority, b.Policy.Priority),
		compareSelectors(a.Policy.Selector, b.Policy.Selector))
}

// compareSelectors orders selectors by destination, source, protocol and
// ports, without formatting them (sets hold tens of thousands).
func compareSelectors(a, b xfrm.Selector) int {
	return cmp.Or(comparePrefixes(a.Dst, b.Dst), comparePrefixes(a.Src, b.Src), cmp.Compare(a.Proto, b.Proto),
		cmp.Compare(a.SrcPort, b.SrcPort), cmp.Compare(a.DstPort, b.DstPort))
}

func comparePrefixes(a, b netip.Prefix) int {
	return cmp.Or(a.Addr().Compare(b.Addr()), cmp.Compare(a.Bits(), b.Bits()))
}

// newSet keeps, for each kernel key, the entry of highest precedence
// (lowest priority, then lowest rank) and records the others as shadowed.
// Two entries of different owners that tie (the same layer, selector and
// rank: two conns for the same traffic) are a conflict no precedence rule
// settles; they are reported as problems.
func newSet(entries []Entry) (*Set, error) {
	best := make(map[policyKey]int)
	var shadowed []Entry
	var p problems
	for i, e := range entries {
		k := keyOf(e.Policy)
		j, dup := best[k]
		if !dup {
			best[k] = i
			continue
		}
		cur := entries[j]
		switch {
		case e.Policy.Priority < cur.Policy.Priority || (e.Policy.Priority == cur.Policy.Priority && e.rank < cur.rank):
			best[k] = i
			shadowed = append(shadowed, cur)
		case e.Policy.Priority == cur.Policy.Priority && e.rank == cur.rank && e.Owner != cur.Owner:
			p.addf("%s and %s both cover %s dir %s", cur.Owner, e.Owner, e.Policy.Selector, e.Policy.Dir)
		default:
			shadowed = append(shadowed, e)
		}
	}
	if err := p.err(); err != nil {
		return nil, err
	}
	s := &Set{Shadowed: shadowed}
	for _, i := range best {
		s.Entries = append(s.Entries, entries[i])
	}
	slices.SortFunc(s.Entries, compareEntries)
	slices.SortFunc(s.Shadowed, compareEntries)
	return s, nil
}
