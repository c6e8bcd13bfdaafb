package trap

import (
	"net/netip"
	"testing"

	"github.com/oe-agent/oe-agent/xfrm"
)

// TestDiff checks the pure plan: unchanged policies are left alone (the
// kernel-assigned index does not count), a changed one is updated in place,
// a missing one added, an unwanted one deleted, in Apply's order.
func TestDiff(t *testing.T) {
	want := mustCompute(t, Input{Local: []netip.Addr{ip("192.0.2.1")},
		Groups: map[Group][]Dest{GroupPrivate: dests("198.51.100.0/24"), GroupClear: dests("198.51.100.7/32")}})
	have := want.Policies()
	for i := range have {
		have[i].Index = uint32(8 * (i + 1))
	}
	// The kernel has the private /24 "in" as a bypass, lacks the clear
	// /32 "out", and has a stale block.
	var kernel []xfrm.Policy
	for _, p := range have {
		switch {
		case p.Dir == xfrm.DirIn && p.Selector.Src == pfx("198.51.100.0/24"):
			p.Templates = nil
		case p.Dir == xfrm.DirOut && p.Selector.Dst == pfx("198.51.100.7/32"):
			continue
		}
		kernel = append(kernel, p)
	}
	stale := xfrm.Policy{Selector: xfrm.Selector{Src: pfx("192.0.2.1/32"), Dst: pfx("203.0.113.0/24")},
		Dir: xfrm.DirOut, Action: xfrm.ActionBlock, Priority: Priority(LayerGroup, 100)}
	kernel = append(kernel, stale)

	plan := Diff(kernel, want)
	got := plan.String()
	wantPlan := "add out src 192.0.2.1/32 dst 198.51.100.7/32 priority 0x0e40f3c4\n" +
		"update in src 198.51.100.0/24 dst 192.0.2.1/32 priority 0x0e4107ec\n" +
		"delete out src 192.0.2.1/32 dst 203.0.113.0/24 priority 0x0e4144a0\n"
	if got != wantPlan || plan.Unchanged != 3 {
		t.Errorf("plan (%d unchanged):\n%s\nwant (3 unchanged: the private /24 out, the clear /32 in, the PMTU exemption):\n%s", plan.Unchanged, got, wantPlan)
	}
	if p := Diff(nil, nil); len(p.Changes) != 0 || p.Unchanged != 0 {
		t.Errorf("empty diff: %v", p)
	}
	if p := Diff(kernel, nil); len(p.Changes) != len(kernel) {
		t.Errorf("diff to nothing deletes %d of %d", len(p.Changes), len(kernel))
	}
}
