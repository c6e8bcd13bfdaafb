package trap

import (
	"net/netip"
	"testing"
	"time"

	"github.com/oe-agent/oe-agent/internal/testenv"
	"github.com/oe-agent/oe-agent/xfrm"
)

// TestNetnsPeerShunts drives the per-peer layer on the real kernel, with
// net.core.xfrm_larval_drop=0 so that trapped packets wait in the kernel's
// queue on the trap policy:
//
//   - a datagram caught by the group trap is held, and a pass shunt placed
//     above the trap afterwards releases it in clear: the first packet of a
//     flow that falls back to clear is not lost;
//   - a drop shunt leaves a held datagram undelivered;
//   - a hold entry traps with the reqid oe chose, so the ACQUIRE names it.
func TestNetnsPeerShunts(t *testing.T) {
	testenv.RequireNetns(t)
	west, east := testenv.NewNetns(t), testenv.NewNetns(t)
	testenv.Veth(t, west, "veth0", []string{"192.0.2.1/24", "2001:db8::1/64"},
		east, "veth0", []string{"192.0.2.2/24", "2001:db8::2/64"})
	setLarvalDrop(t, west, false)
	base := Input{Groups: map[Group][]Dest{}}
	for _, f := range families {
		for _, a := range []netip.Addr{f.trapped, f.clear, f.blocked} {
			east.Run(t, "ip", "addr", "add", hostPrefix(a).String(), "dev", "lo")
		}
		west.Run(t, "ip", "route", "add", f.prefix.String(), "via", f.next.String())
		base.Local = append(base.Local, f.src)
		base.Groups[GroupPrivateOrClear] = append(base.Groups[GroupPrivateOrClear], Dest{Prefix: f.prefix})
	}
	k, err := xfrm.OpenAt(west.Handle, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { k.Close() })
	r := NewReconciler(k, nil)
	apply := func(in Input) {
		t.Helper()
		if _, err := r.Apply(bg, mustCompute(t, in)); err != nil {
			t.Fatal(err)
		}
	}
	apply(base)
	acq := collectAcquires(t, k)
	rx4, rx6 := listen(t, east, "0.0.0.0:4242"), listen(t, east, "[::]:4242")
	rxOf := func(f family) *udpListener {
		if f.src.Is4() {
			return rx4
		}
		return rx6
	}

	// Trap everything: the held datagrams wait in the kernel.
	for _, f := range families {
		for _, dst := range []netip.Addr{f.trapped, f.blocked} {
			if err := sendFrom(t, west, f.src, netip.AddrPortFrom(dst, dataPort), "held "+dst.String()); err != nil {
				t.Fatalf("send into the trap: %v", err)
			}
			checkAcquireGroup(t, acq, dst, GroupPrivateOrClear)
		}
	}
	for _, f := range families {
		if rxOf(f).has("held " + f.trapped.String()) {
			t.Fatalf("%s: a trapped datagram was delivered before any shunt", f.name)
		}
	}

	// oe's verdicts: no key for trapped (pass), failure for blocked (drop),
	// and a fresh negotiation towards clear (hold with oe's reqid).
	in := base
	for i, f := range families {
		in.Peers = append(in.Peers,
			Peer{Local: f.src, Remote: f.trapped, Action: PeerPass, Reason: "no IPSECKEY"},
			Peer{Local: f.src, Remote: f.blocked, Action: PeerDrop, Reason: "negotiation failed"},
			Peer{Local: f.src, Remote: f.clear, Action: PeerHold, Reqid: ReqidConnMin + 0x40 + uint32(i)})
	}
	apply(in)
	for i, f := range families {
		if !rxOf(f).waitFor("held "+f.trapped.String(), 3*time.Second) {
			t.Errorf("%s: the datagram held on the trap was not released by the pass shunt", f.name)
		}
		if err := sendFrom(t, west, f.src, netip.AddrPortFrom(f.clear, dataPort), "hold"); err != nil {
			t.Errorf("%s: send into the hold entry: %v", f.name, err)
		}
		a := acq.wait(f.clear, 2*time.Second)
		if a == nil || len(a.Templates) != 1 || a.Templates[0].Reqid != ReqidConnMin+0x40+uint32(i) {
			t.Errorf("%s: ACQUIRE for the held peer %v, want oe's reqid", f.name, a)
		}
	}
	time.Sleep(time.Second)
	for _, f := range families {
		if rxOf(f).has("held " + f.blocked.String()) {
			t.Errorf("%s: a datagram held on the trap went out despite the drop shunt", f.name)
		}
	}
}
