package trap

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"syscall"
	"testing"

	"github.com/oe-agent/oe-agent/xfrm"
)

var bg = context.Background()

// foreignPolicies are another daemon's: one below oe-agent's band (as
// libreswan would install), and one inside the band but with a foreign
// reqid. Apply must never see or touch them.
func foreignPolicies() []xfrm.Policy {
	return []xfrm.Policy{
		{Selector: xfrm.Selector{Src: pfx("192.0.2.1/32"), Dst: pfx("203.0.113.99/32")}, Dir: xfrm.DirOut, Priority: 1000,
			Templates: []xfrm.Template{{Proto: xfrm.ProtoESP, Mode: xfrm.ModeTransport, Reqid: 16384}}},
		{Selector: xfrm.Selector{Src: pfx("192.0.2.1/32"), Dst: pfx("203.0.113.98/32")}, Dir: xfrm.DirOut, Priority: LayerBase(LayerGroup),
			Templates: []xfrm.Template{{Proto: xfrm.ProtoESP, Mode: xfrm.ModeTransport, Reqid: 7}}},
	}
}

// reloadSteps is a sequence of states the agent goes through.
func reloadSteps() []struct {
	name string
	in   Input
} {
	local := []netip.Addr{ip("192.0.2.1")}
	res := []netip.AddrPort{netip.MustParseAddrPort("192.0.2.53:53")}
	base := map[Group][]Dest{
		GroupPrivateOrClear: dests("0.0.0.0/0", "203.0.113.0/24"),
		GroupClear:          dests("192.0.2.0/24"),
		GroupBlock:          dests("198.51.100.66/32"),
	}
	reload := map[Group][]Dest{
		GroupPrivateOrClear: dests("0.0.0.0/0"),
		GroupClear:          dests("192.0.2.0/24"),
		GroupBlock:          dests("198.51.100.67/32", "203.0.113.0/24"), // the /24 trap turns into a block
	}
	return []struct {
		name string
		in   Input
	}{
		{"start", Input{Local: local, Groups: base, Resolvers: res}},
		{"reload: block .66 removed, .67 added, 203.0.113.0/24 trap to block", Input{Local: local, Groups: reload, Resolvers: res}},
		{"oe: SA up with .7, pass shunt for .8", Input{Local: local, Groups: reload, Resolvers: res, Peers: []Peer{
			{Local: ip("192.0.2.1"), Remote: ip("198.51.100.7"), Action: PeerIPsec, Reqid: ReqidConnMin + 1},
			{Local: ip("192.0.2.1"), Remote: ip("198.51.100.8"), Action: PeerPass},
		}}},
		{"oe: .8 shunt expired, .7 rekeyed under a new reqid", Input{Local: local, Groups: reload, Resolvers: res, Peers: []Peer{
			{Local: ip("192.0.2.1"), Remote: ip("198.51.100.7"), Action: PeerIPsec, Reqid: ReqidConnMin + 2},
		}}},
		{"oe disabled: nothing", Input{}},
	}
}

func TestReconcileStates(t *testing.T) {
	k := newFakeKernel()
	for _, p := range foreignPolicies() {
		k.install(p)
	}
	r := NewReconciler(k, nil)
	var sb strings.Builder
	for i, step := range reloadSteps() {
		set := mustCompute(t, step.in)
		res, err := r.Apply(bg, set)
		if err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		calls := k.takeCalls()
		checkOrder(t, step.name, calls)
		fmt.Fprintf(&sb, "## step %d: %s\n## %s\n", i, step.name, res)
		for _, c := range calls {
			fmt.Fprintf(&sb, "%s\n", c)
		}
		fmt.Fprintf(&sb, "## ip xfrm policy\n%s\n", k.render())

		// What the kernel has is what was asked for, plus the foreign
		// policies.
		got, _ := k.Policies(bg)
		k.takeCalls()
		if xfrm.FormatPolicies(got) != set.String() {
			t.Errorf("step %d: kernel has\n%s\nwant\n%s", i, xfrm.FormatPolicies(got), set.String())
		}
		if len(k.all())-len(got) != len(foreignPolicies()) {
			t.Errorf("step %d: foreign policies touched:\n%s", i, k.render())
		}

		// Idempotence: the same set again reads the kernel and writes
		// nothing.
		res2, err := r.Apply(bg, set)
		if err != nil {
			t.Fatal(err)
		}
		if c := k.takeCalls(); writes(c) != 0 || res2.Changed() || res2.Unchanged != len(set.Entries) {
			t.Errorf("step %d: second Apply made %d writes (%s): %v", i, writes(c), res2, c)
		}
	}
	golden(t, "reconcile/states.golden", sb.String())
}

// checkOrder asserts the order Apply documents: every add and update
// before any delete, adds and updates by ascending priority (highest
// precedence first), deletes by descending priority.
func checkOrder(t *testing.T, step string, calls []string) {
	t.Helper()
	seenDelete := false
	var lastWrite, lastDel uint64
	first := true
	for _, c := range calls {
		if c == "list" {
			continue
		}
		var prio uint64
		if _, err := fmt.Sscanf(c[strings.LastIndex(c, "priority "):], "priority 0x%x", &prio); err != nil {
			t.Fatalf("%s: cannot read priority of %q", step, c)
		}
		switch {
		case strings.HasPrefix(c, "delete"):
			if seenDelete && prio > lastDel {
				t.Errorf("%s: delete %q after a lower-precedence one", step, c)
			}
			seenDelete, lastDel = true, prio
		default:
			if seenDelete {
				t.Errorf("%s: %q after a delete", step, c)
			}
			if !first && prio < lastWrite {
				t.Errorf("%s: %q out of precedence order", step, c)
			}
			lastWrite, first = prio, false
		}
	}
}

// TestReconcileTrapToBlockIsAtomic: turning a trap into a block for the
// same selector is one UpdatePolicy, never a delete and an add.
func TestReconcileTrapToBlockIsAtomic(t *testing.T) {
	k := newFakeKernel()
	r := NewReconciler(k, nil)
	in := Input{Local: []netip.Addr{ip("192.0.2.1")}, Groups: map[Group][]Dest{GroupPrivate: dests("203.0.113.0/24")}}
	if _, err := r.Apply(bg, mustCompute(t, in)); err != nil {
		t.Fatal(err)
	}
	k.takeCalls()
	in.Groups = map[Group][]Dest{GroupBlock: dests("203.0.113.0/24")}
	res, err := r.Apply(bg, mustCompute(t, in))
	if err != nil {
		t.Fatal(err)
	}
	calls := k.takeCalls()
	want := []string{
		"list",
		"update src 203.0.113.0/24 dst 192.0.2.1/32 dir in priority 0x0e4107ec",
		"update src 192.0.2.1/32 dst 203.0.113.0/24 dir out priority 0x0e4107ec",
	}
	if strings.Join(calls, "\n") != strings.Join(want, "\n") {
		t.Errorf("calls:\n%s\nwant:\n%s", strings.Join(calls, "\n"), strings.Join(want, "\n"))
	}
	if len(res.Updated) != 2 || len(res.Added)+len(res.Deleted) != 0 {
		t.Errorf("result %s", res)
	}
	// And back.
	in.Groups = map[Group][]Dest{GroupPrivate: dests("203.0.113.0/24")}
	if _, err := r.Apply(bg, mustCompute(t, in)); err != nil {
		t.Fatal(err)
	}
	for _, c := range k.takeCalls() {
		if strings.HasPrefix(c, "add") || strings.HasPrefix(c, "delete") {
			t.Errorf("block back to trap: %s", c)
		}
	}
}

// TestReconcileCollectsErrors: a failing change does not stop the others;
// Apply reports it, and the next Apply retries only what is missing.
func TestReconcileCollectsErrors(t *testing.T) {
	k := newFakeKernel()
	r := NewReconciler(k, nil)
	set := mustCompute(t, Input{Local: []netip.Addr{ip("192.0.2.1")},
		Groups: map[Group][]Dest{GroupPrivateOrClear: dests("0.0.0.0/0"), GroupClear: dests("198.51.100.0/24")}})
	bad := set.Entries[0].Policy // in clear /24
	k.fail[callName("add", bad)] = syscall.ENOBUFS
	res, err := r.Apply(bg, set)
	if err == nil {
		t.Fatal("no error")
	}
	wantMsg := fmt.Sprintf("trap: 1 of %d policy changes failed: xfrm: add policy %s: no buffer space available", len(set.Entries), bad)
	if !errors.Is(err, syscall.ENOBUFS) || err.Error() != wantMsg {
		t.Errorf("error %q\nwant %q", err, wantMsg)
	}
	if len(res.Failed) != 1 || res.Failed[0].Op != OpAdd || keyOf(res.Failed[0].Policy) != keyOf(bad) || len(res.Added) != len(set.Entries)-1 {
		t.Errorf("result %s, failed %v", res, res.Failed)
	}
	k.takeCalls()
	res, err = r.Apply(bg, set)
	if err != nil {
		t.Fatal(err)
	}
	if c := k.takeCalls(); writes(c) != 1 || len(res.Added) != 1 {
		t.Errorf("retry made %v (%s)", c, res)
	}
}

// TestReconcileForeignSameKey: another daemon's policy with the selector of
// a desired one is not replaced; the failure says why.
func TestReconcileForeignSameKey(t *testing.T) {
	k := newFakeKernel()
	set := mustCompute(t, Input{Local: []netip.Addr{ip("192.0.2.1")}, Groups: map[Group][]Dest{GroupBlock: dests("203.0.113.0/24")}})
	foreign := groupEntry(t, set, xfrm.DirOut).Policy
	foreign.Priority = 500
	foreign.Action = xfrm.ActionAllow
	k.install(foreign)
	res, err := NewReconciler(k, nil).Apply(bg, set)
	if !errors.Is(err, xfrm.ErrNotOwned) {
		t.Fatalf("error %v, want ErrNotOwned", err)
	}
	if len(res.Failed) != 1 || res.Failed[0].Op != OpUpdate || len(res.Added) != len(set.Entries)-1 {
		t.Errorf("result %s %v", res, res.Failed)
	}
	for _, p := range k.all() {
		if keyOf(p) == keyOf(foreign) && (p.Priority != 500 || p.Action != xfrm.ActionAllow) {
			t.Errorf("foreign policy replaced: %s", p)
		}
	}
}

// TestReconcileListFails: without the kernel's view there is no diff, and
// no write.
func TestReconcileListFails(t *testing.T) {
	k := newFakeKernel()
	k.listErr = syscall.EINTR
	_, err := NewReconciler(k, nil).Apply(bg, mustCompute(t, Input{Groups: map[Group][]Dest{GroupBlock: dests("203.0.113.0/24")}}))
	if !errors.Is(err, syscall.EINTR) || !strings.HasPrefix(err.Error(), "trap: read the kernel's policies") {
		t.Errorf("error %v", err)
	}
	if c := k.takeCalls(); writes(c) != 0 {
		t.Errorf("writes after a failed list: %v", c)
	}
}

// TestReconcileCanceled: a canceled context stops writing; every change
// not made is reported.
func TestReconcileCanceled(t *testing.T) {
	k := newFakeKernel()
	ctx, cancel := context.WithCancel(bg)
	cancel()
	_, err := NewReconciler(k, nil).Apply(ctx, mustCompute(t, Input{Groups: map[Group][]Dest{GroupBlock: dests("203.0.113.0/24")}}))
	if !errors.Is(err, context.Canceled) {
		t.Errorf("error %v", err)
	}
}

// TestReconcileVanished: a policy deleted by someone else between the dump
// and the delete is not an error.
func TestReconcileVanished(t *testing.T) {
	k := newFakeKernel()
	r := NewReconciler(k, nil)
	set := mustCompute(t, Input{Groups: map[Group][]Dest{GroupBlock: dests("203.0.113.0/24")}})
	if _, err := r.Apply(bg, set); err != nil {
		t.Fatal(err)
	}
	k.fail[callName("delete", groupEntry(t, set, xfrm.DirOut).Policy)] = syscall.ENOENT
	res, err := r.Apply(bg, nil)
	if err != nil || len(res.Deleted) != len(set.Entries) || len(k.all()) != 1 {
		t.Errorf("err %v, result %s, left %d", err, res, len(k.all()))
	}
}

// groupEntry returns the set's only group entry of direction dir.
func groupEntry(t *testing.T, s *Set, dir xfrm.Dir) Entry {
	t.Helper()
	var found []Entry
	for _, e := range s.Entries {
		if e.Layer == LayerGroup && e.Policy.Dir == dir {
			found = append(found, e)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%d group entries dir %s, want 1", len(found), dir)
	}
	return found[0]
}
