package trap

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/oe-agent/oe-agent/internal/testenv"
	"github.com/oe-agent/oe-agent/xfrm"
)

// family holds the addresses of one address family in the netns test:
// west sends from src; east holds, on its loopback, a trapped host, a
// clear host, a blocked host, a host blocked only after the reload, and a
// resolver, all inside the private-or-clear prefix.
type family struct {
	name                                 string
	src, next                            netip.Addr
	prefix                               netip.Prefix
	trapped, clear, blocked, later, resv netip.Addr
}

var families = []family{
	{"ipv4", ip("192.0.2.1"), ip("192.0.2.2"), pfx("203.0.113.0/24"),
		ip("203.0.113.1"), ip("203.0.113.2"), ip("203.0.113.3"), ip("203.0.113.4"), ip("203.0.113.53")},
	{"ipv6", ip("2001:db8::1"), ip("2001:db8::2"), pfx("2001:db8:1::/64"),
		ip("2001:db8:1::1"), ip("2001:db8:1::2"), ip("2001:db8:1::3"), ip("2001:db8:1::4"), ip("2001:db8:1::53")},
}

const dataPort = 4242

// netnsInput is the set the test applies: private-or-clear for the
// prefix, a clear /32 (/128) and a block /32 (/128) inside it, and the
// resolver; blocked is the host in the block group.
func netnsInput(blocked func(f family) netip.Addr) Input {
	in := Input{Groups: map[Group][]Dest{}}
	for _, f := range families {
		in.Local = append(in.Local, f.src)
		in.Groups[GroupPrivateOrClear] = append(in.Groups[GroupPrivateOrClear], Dest{Prefix: f.prefix})
		in.Groups[GroupClear] = append(in.Groups[GroupClear], Dest{Prefix: hostPrefix(f.clear)})
		in.Groups[GroupBlock] = append(in.Groups[GroupBlock], Dest{Prefix: hostPrefix(blocked(f))})
		in.Resolvers = append(in.Resolvers, netip.AddrPortFrom(f.resv, 53))
	}
	return in
}

// TestNetnsReconcileTraffic applies a desired set to a real namespace and
// checks what packets meet: the trapped destination yields an ACQUIRE
// naming the private-or-clear group and nothing on the wire; the clear
// host and the resolver's DNS arrive in clear; the blocked host gets
// nothing. A reload then swaps the blocked host, and the policy another
// daemon installed beforehand survives everything, including the final
// removal of all of oe-agent's policies.
func TestNetnsReconcileTraffic(t *testing.T) {
	testenv.RequireNetns(t)
	west, east := testenv.NewNetns(t), testenv.NewNetns(t)
	testenv.Veth(t, west, "veth0", []string{"192.0.2.1/24", "2001:db8::1/64"},
		east, "veth0", []string{"192.0.2.2/24", "2001:db8::2/64"})
	for _, f := range families {
		for _, a := range []netip.Addr{f.trapped, f.clear, f.blocked, f.later, f.resv} {
			east.Run(t, "ip", "addr", "add", hostPrefix(a).String(), "dev", "lo")
		}
		west.Run(t, "ip", "route", "add", f.prefix.String(), "via", f.next.String())
	}
	// Queue packets on a trap instead of dropping them, as oe-agentd does.
	setLarvalDrop(t, west, false)
	// Another daemon's policy (libreswan-like priority and reqid).
	foreign := []string{"src", "192.0.2.1/32", "dst", "198.51.100.99/32", "dir", "out", "priority", "1000",
		"tmpl", "proto", "esp", "reqid", "16384", "mode", "transport"}
	west.Run(t, append([]string{"ip", "xfrm", "policy", "add"}, foreign...)...)

	k, err := xfrm.OpenAt(west.Handle, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { k.Close() })
	r := NewReconciler(k, zaptest.NewLogger(t))

	set1 := mustCompute(t, netnsInput(func(f family) netip.Addr { return f.blocked }))
	res, err := r.Apply(bg, set1)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Added) != len(set1.Entries) {
		t.Errorf("first apply: %s, want %d added", res, len(set1.Entries))
	}
	checkKernel(t, k, set1)
	if res, err := r.Apply(bg, set1); err != nil || res.Changed() {
		t.Errorf("second apply of the same set: %s, %v", res, err)
	}

	acq := collectAcquires(t, k)
	wire := startCapture(t, east, "veth0")
	rx := map[string]*udpListener{}
	for _, a := range []string{"0.0.0.0:4242", "0.0.0.0:53", "[::]:4242", "[::]:53"} {
		rx[a] = listen(t, east, a)
	}
	rxFor := func(dst netip.AddrPort) *udpListener {
		if dst.Addr().Is4() {
			return rx[fmt.Sprintf("0.0.0.0:%d", dst.Port())]
		}
		return rx[fmt.Sprintf("[::]:%d", dst.Port())]
	}

	for _, f := range families {
		t.Run(f.name, func(t *testing.T) {
			// Clear /32 inside the trap: arrives in clear, no ACQUIRE.
			clearDst := netip.AddrPortFrom(f.clear, dataPort)
			if err := sendFrom(t, west, f.src, clearDst, "clear "+f.name); err != nil {
				t.Errorf("send to the clear host: %v", err)
			}
			if !rxFor(clearDst).waitFor("clear "+f.name, 2*time.Second) {
				t.Errorf("clear host %s did not receive the datagram", f.clear)
			}
			// Resolver inside the trap: DNS arrives in clear.
			dns := netip.AddrPortFrom(f.resv, 53)
			if err := sendFrom(t, west, f.src, dns, "dns "+f.name); err != nil {
				t.Errorf("send to the resolver: %v", err)
			}
			if !rxFor(dns).waitFor("dns "+f.name, 2*time.Second) {
				t.Errorf("resolver %s did not receive the DNS datagram", f.resv)
			}
			// Block /32: EPERM or silently dropped.
			err := sendFrom(t, west, f.src, netip.AddrPortFrom(f.blocked, dataPort), "blocked "+f.name)
			if err != nil && !errors.Is(err, syscall.EPERM) {
				t.Errorf("send to the blocked host: %v, want EPERM or nothing", err)
			}
			// Trapped: an ACQUIRE from the group's trap, nothing sent.
			if err := sendFrom(t, west, f.src, netip.AddrPortFrom(f.trapped, dataPort), "trapped "+f.name); err != nil {
				t.Errorf("send into the trap: %v (with xfrm_larval_drop=0 the packet is queued)", err)
			}
			checkAcquire(t, acq, f.src, f.trapped)
			// The resolver host's non-DNS traffic is trapped like its
			// neighbours': the exemption is for DNS only.
			sendFrom(t, west, f.src, netip.AddrPortFrom(f.resv, dataPort), "resolver data "+f.name)
			checkAcquire(t, acq, f.src, f.resv)
		})
	}
	time.Sleep(300 * time.Millisecond) // let stragglers reach the capture
	for _, f := range families {
		if n := len(wire.to(f.clear)); n == 0 {
			t.Errorf("%s: capture saw nothing to the clear host; is the capture working?", f.name)
		}
		for _, a := range []netip.Addr{f.trapped, f.blocked} {
			if got := wire.to(a); len(got) > 0 {
				t.Errorf("%s: %d packets on the wire to %s (proto %d), want none", f.name, len(got), a, got[0].proto)
			}
		}
		if rxFor(netip.AddrPortFrom(f.trapped, dataPort)).has("trapped "+f.name) ||
			rxFor(netip.AddrPortFrom(f.blocked, dataPort)).has("blocked "+f.name) {
			t.Errorf("%s: trapped or blocked datagram delivered", f.name)
		}
		if acq.any(f.clear) || acq.any(f.blocked) {
			t.Errorf("%s: ACQUIRE for the clear or blocked host", f.name)
		}
	}

	// Reload: the block moves from .3 to .4 (::3 to ::4).
	set2 := mustCompute(t, netnsInput(func(f family) netip.Addr { return f.later }))
	res, err = r.Apply(bg, set2)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Added) != 4 || len(res.Deleted) != 4 || len(res.Updated) != 0 {
		t.Errorf("reload: %s, want 4 added (2 families x in/out), 4 deleted", res)
	}
	checkKernel(t, k, set2)
	for _, f := range families {
		// The formerly blocked host is now trapped by the group...
		if err := sendFrom(t, west, f.src, netip.AddrPortFrom(f.blocked, dataPort), "unblocked "+f.name); err != nil {
			t.Errorf("%s: send to the unblocked host: %v", f.name, err)
		}
		checkAcquire(t, acq, f.src, f.blocked)
		// ...and the new one blocked.
		err := sendFrom(t, west, f.src, netip.AddrPortFrom(f.later, dataPort), "later "+f.name)
		if err != nil && !errors.Is(err, syscall.EPERM) {
			t.Errorf("%s: send to the newly blocked host: %v", f.name, err)
		}
	}
	time.Sleep(300 * time.Millisecond)
	for _, f := range families {
		for _, a := range []netip.Addr{f.blocked, f.later} {
			if got := wire.to(a); len(got) > 0 {
				t.Errorf("%s: after reload, %d packets on the wire to %s", f.name, len(got), a)
			}
		}
		if acq.any(f.later) {
			t.Errorf("%s: ACQUIRE for the newly blocked host", f.name)
		}
	}

	out := west.Run(t, "ip", "xfrm", "policy", "list")
	if !strings.Contains(out, "dst 198.51.100.99/32") || !strings.Contains(out, "reqid 16384") {
		t.Errorf("foreign policy gone after reload:\n%s", out)
	}
	// Removing everything leaves only the foreign policy.
	if _, err := r.Apply(bg, nil); err != nil {
		t.Fatal(err)
	}
	if got, err := k.Policies(bg); err != nil || len(got) != 0 {
		t.Errorf("after removing all: %d policies left (%v)", len(got), err)
	}
	out = west.Run(t, "ip", "xfrm", "policy", "list")
	if !strings.Contains(out, "dst 198.51.100.99/32") || strings.Count(out, "dir ") != 1 {
		t.Errorf("want only the foreign policy left, have:\n%s", out)
	}
}

// checkKernel compares the kernel's oe-agent policies with the set.
func checkKernel(t *testing.T, k xfrm.Kernel, want *Set) {
	t.Helper()
	got, err := k.Policies(bg)
	if err != nil {
		t.Fatal(err)
	}
	if g := xfrm.FormatPolicies(got); g != want.String() {
		t.Errorf("kernel policies:\n%s\nwant:\n%s", g, want.String())
	}
}

// checkAcquire waits for the ACQUIRE of a packet from src to dst and checks
// that the private-or-clear trap sent it.
func checkAcquire(t *testing.T, acq *acquires, src, dst netip.Addr) {
	t.Helper()
	a := acq.wait(dst, 2*time.Second)
	if a == nil {
		t.Errorf("no ACQUIRE for %s", dst)
		return
	}
	if len(a.Templates) != 1 {
		t.Errorf("ACQUIRE for %s with templates %v", dst, a.Templates)
		return
	}
	if g, ok := GroupOfReqid(a.Templates[0].Reqid); !ok || g != GroupPrivateOrClear {
		t.Errorf("ACQUIRE for %s from reqid 0x%08x, want the private-or-clear trap", dst, a.Templates[0].Reqid)
	}
	if a.Src != src || a.Selector.Dst != hostPrefix(dst) || a.Selector.Proto != 17 {
		t.Errorf("ACQUIRE %v: want %s -> %s udp", a, src, dst)
	}
}

// TestNetnsSiteRoundTrip installs a set with every kind of entry (tunnel
// conn with fwd, transport and passthrough conns, per-peer IPsec, hold,
// pass and drop, all groups, ICMPv6 type selectors, port selectors, both
// families) and checks that the kernel lists exactly what was asked, so
// that a second Apply finds nothing to change on a real kernel too.
func TestNetnsSiteRoundTrip(t *testing.T) {
	testenv.RequireNetns(t)
	ns := testenv.NewNetns(t)
	k, err := xfrm.OpenAt(ns.Handle, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { k.Close() })
	in := siteInput()
	in.Conns = append(in.Conns, Conn{Name: "host", Type: ConnTransport, LocalAddr: ip("2001:db8::1"),
		RemoteAddr: ip("2001:db8:9::9"), Proto: 6, RemotePort: 443, Up: true, Reqid: ReqidConnMin + 0x20})
	in.Peers = append(in.Peers,
		Peer{Remote: ip("203.0.113.77"), Action: PeerHold, Reqid: ReqidConnMin + 0x21, Proto: 17, LocalPort: 5000, RemotePort: 53},
		Peer{Local: ip("2001:db8::1"), Remote: ip("2001:db8:6::6"), Action: PeerDrop})
	set := mustCompute(t, in)
	r := NewReconciler(k, nil)
	res, err := r.Apply(bg, set)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Added) != len(set.Entries) {
		t.Errorf("apply: %s, want %d added", res, len(set.Entries))
	}
	checkKernel(t, k, set)
	res, err = r.Apply(bg, set)
	if err != nil || res.Changed() || res.Unchanged != len(set.Entries) {
		t.Errorf("second apply on the real kernel: %s, %v", res, err)
	}
	if _, err := r.Apply(bg, nil); err != nil {
		t.Fatal(err)
	}
	if out := ns.Run(t, "ip", "xfrm", "policy", "list"); strings.TrimSpace(out) != "" {
		t.Errorf("policies left after applying the empty set:\n%s", out)
	}
}
