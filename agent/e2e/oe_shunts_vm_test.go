package e2e

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/oe-agent/oe-agent/agent/api"
	"github.com/oe-agent/oe-agent/internal/oetest"
	"github.com/oe-agent/oe-agent/internal/testenv"
)

// TestVMOEShunts covers the peers that cannot do OE, in one world:
//
//   - west (private-or-clear) -> nokey, a Secure denial: the datagrams
//     arrive in clear after the lookup, the pass shunt is listed with its
//     expiry, and after oe-shunt-lifetime the trap is back and the next
//     datagram starts a new lookup;
//   - west (private-or-clear) -> bogus, a Bogus answer: nothing reaches
//     bogus in clear, the drop shunt is listed;
//   - east (private) -> bogus and -> nokey: nothing is ever sent in clear
//     and the drop shunts are listed.
func TestVMOEShunts(t *testing.T) {
	testenv.RequireVM(t)
	t.Parallel()
	w := oetest.NewWorld(t, oetest.Options{})
	// oe-shunt-lifetime=20s is shorter than the kernel's ACQUIRE lifetime
	// (net.core.xfrm_acq_expires, 30 s): the shunt lasts that long.
	const shuntLife = 30 * time.Second
	west := w.StartAgent(t, w.West, oetest.AgentConfig{Setup: map[string]string{"oe-shunt-lifetime": "20s"}})
	private := map[string][]string{
		oetest.GroupPrivate: {oetest.Prefix4.String(), oetest.Prefix6.String()},
		oetest.GroupClear:   {netip.PrefixFrom(oetest.DNSAddr4, 32).String(), netip.PrefixFrom(oetest.DNSAddr6, 128).String()},
	}
	east := w.StartAgent(t, w.East, oetest.AgentConfig{Groups: private})
	cap := w.Net.StartCapture(t)

	// nokey first, alone: packets that wait in a group trap's queue share
	// it with every other peer being negotiated, and the kernel's verdict
	// on the queue's first packet decides for all of them (a drop shunt
	// for bogus would purge nokey's first datagrams too).
	nokeySink := netip.AddrPortFrom(oetest.NoKeyAddr4, 9000)
	mNoKey := oetest.NewMarker()
	sinkNoKey := w.NoKey.ListenUDP(t, nokeySink, mNoKey)
	t0 := time.Now()
	flow := w.West.SendUDP(t, oetest.WestAddr4, nokeySink, mNoKey, oetest.Burst{Count: 100, Interval: 20 * time.Millisecond})
	p := west.WaitPeer(t, oetest.NoKeyAddr4, 10*time.Second, api.StatePassthrough)
	left := time.Until(p.ShuntExpires)
	t.Logf("west lists nokey: state %s, group %s, shunt expires in %s, error %q", p.State, p.Group, left.Round(time.Millisecond), p.LastError)
	if life := p.ShuntExpires.Sub(p.Since); p.Group != oetest.GroupPrivateOrClear || life != shuntLife || left <= 0 {
		t.Errorf("west's pass shunt for nokey: group %q, lifetime %s, expiry in %s; want private-or-clear, %s", p.Group, life, left, shuntLife)
	}
	if tr := trace(t, west, oetest.NoKeyAddr4); tr.Action != "pass" {
		t.Errorf("oectl trace nokey during the shunt: action %q (%s), want pass", tr.Action, tr.Explanation)
	}
	sinkNoKey.WaitCount(100, 5*time.Second)
	rep := sinkNoKey.Report(flow)
	t.Logf("west->nokey (private-or-clear, Secure denial): %s", rep)
	if rep.Delivered != rep.Sent {
		t.Errorf("west->nokey: not every datagram arrived in clear: %s", rep)
	}

	// Bogus from both agents and nokey from the private one, at once.
	mBogusW, mBogusE, mNoKeyE := oetest.NewMarker(), oetest.NewMarker(), oetest.NewMarker()
	sinkBogusW := w.Bogus.ListenUDP(t, netip.AddrPortFrom(oetest.BogusAddr4, 9000), mBogusW)
	sinkBogusE := w.Bogus.ListenUDP(t, netip.AddrPortFrom(oetest.BogusAddr4, 9001), mBogusE)
	sinkNoKeyE := w.NoKey.ListenUDP(t, netip.AddrPortFrom(oetest.NoKeyAddr4, 9001), mNoKeyE)
	done := make(chan struct{}, 3)
	go func() {
		w.West.SendUDP(t, oetest.WestAddr4, sinkBogusW.Addr, mBogusW, oetest.Burst{Count: 100, Interval: 20 * time.Millisecond})
		done <- struct{}{}
	}()
	go func() {
		w.East.SendUDP(t, oetest.EastAddr4, sinkBogusE.Addr, mBogusE, oetest.Burst{Count: 100, Interval: 20 * time.Millisecond})
		done <- struct{}{}
	}()
	go func() {
		w.East.SendUDP(t, oetest.EastAddr4, sinkNoKeyE.Addr, mNoKeyE, oetest.Burst{Count: 100, Interval: 20 * time.Millisecond})
		done <- struct{}{}
	}()
	for i := 0; i < 3; i++ {
		<-done
	}
	// Bogus: the flows have ended; give held packets time to leave, if
	// they were ever to.
	time.Sleep(3 * time.Second)
	pb := west.WaitPeer(t, oetest.BogusAddr4, 10*time.Second, api.StateDrop)
	t.Logf("west lists bogus: state %s, group %s, shunt expires in %s, error %q", pb.State, pb.Group, time.Until(pb.ShuntExpires).Round(time.Millisecond), pb.LastError)
	if !strings.Contains(strings.ToLower(pb.LastError), "bogus") {
		t.Errorf("west's shunt for bogus does not say Bogus: %q", pb.LastError)
	}
	for _, c := range []struct {
		a    *oetest.Agent
		dst  netip.Addr
		sink *oetest.UDPSink
		m    []byte
		what string
	}{
		{west, oetest.BogusAddr4, sinkBogusW, mBogusW, "west (private-or-clear) -> bogus"},
		{east, oetest.BogusAddr4, sinkBogusE, mBogusE, "east (private) -> bogus"},
		{east, oetest.NoKeyAddr4, sinkNoKeyE, mNoKeyE, "east (private) -> nokey"},
	} {
		clear := cleartextTo(cap, c.m, c.dst)
		t.Logf("%s: %d datagrams arrived, %d cleartext frames on the wire", c.what, c.sink.Count(), len(clear))
		if c.sink.Count() != 0 || len(clear) != 0 {
			t.Errorf("%s: %d datagrams arrived, %d frames in clear:\n%s", c.what, c.sink.Count(), len(clear), oetest.Describe(clear, 10))
		}
		if c.a == east {
			pe := east.WaitPeer(t, c.dst, 10*time.Second, api.StateDrop)
			t.Logf("%s: listed %s, group %s, shunt expires in %s, error %q", c.what, pe.State, pe.Group, time.Until(pe.ShuntExpires).Round(time.Millisecond), pe.LastError)
			if pe.Group != oetest.GroupPrivate || pe.ShuntExpires.IsZero() {
				t.Errorf("%s: drop shunt group %q expiry %v", c.what, pe.Group, pe.ShuntExpires)
			}
		}
	}
	if tr := trace(t, east, oetest.BogusAddr4); tr.Action != "drop" {
		t.Errorf("oectl trace bogus on east: action %q (%s), want drop", tr.Action, tr.Explanation)
	}
	if out, _, err := east.Oectl("status"); err != nil || !strings.Contains(out, oetest.BogusAddr4.String()) {
		t.Errorf("oectl status on east does not list bogus (%v):\n%s", err, out)
	} else {
		t.Logf("oectl status on east:\n%s", out)
	}

	// The pass shunt expires back to a trap.
	waitNoPeer(t, west, oetest.NoKeyAddr4, shuntLife+15*time.Second)
	t.Logf("west: nokey's pass shunt gone %s after the burst began", time.Since(t0).Round(time.Millisecond))
	if tr := trace(t, west, oetest.NoKeyAddr4); tr.Action != "trap" {
		t.Errorf("oectl trace nokey after the shunt expired: action %q (%s), want trap", tr.Action, tr.Explanation)
	}
	if tr, ok := w.West.TrapFor(t, oetest.NoKeyAddr4); !ok || tr.Group != oetest.GroupPrivateOrClear {
		t.Errorf("no private-or-clear trap covers nokey after the shunt expired:\n%s", kernelDump(t, w.West))
	}
	// The kernel's larval state of the first ACQUIRE is gone with the
	// shunt: while it lived, a packet to nokey would raise no new ACQUIRE.
	for _, s := range w.West.States(t) {
		if s.SPI == 0 && s.Dst == oetest.NoKeyAddr4 {
			t.Errorf("the shunt expired before the kernel's ACQUIRE for nokey:\n%s", kernelDump(t, w.West))
			break
		}
	}
	before := west.Status(t).Counters
	rep2, m2 := udpRound(t, w.West, oetest.WestAddr4, w.NoKey, netip.AddrPortFrom(oetest.NoKeyAddr4, 9002), 10, 20*time.Millisecond, 10*time.Second)
	if rep2.Delivered != rep2.Sent {
		t.Logf("after expiry: %d frames to nokey carried the datagrams:\n%s%s", len(cleartextTo(cap, m2, oetest.NoKeyAddr4)),
			oetest.Describe(cleartextTo(cap, m2, oetest.NoKeyAddr4), 10), kernelDump(t, w.West))
	}
	p2 := west.WaitPeer(t, oetest.NoKeyAddr4, 10*time.Second, api.StatePassthrough)
	after := west.Status(t).Counters
	t.Logf("after expiry: %s; acquires %d->%d, DNS lookups %d->%d; shunt again until %s", rep2,
		before.Acquires, after.Acquires, before.DNSLookups, after.DNSLookups, p2.ShuntExpires.Format(time.RFC3339))
	if after.Acquires <= before.Acquires || after.DNSLookups <= before.DNSLookups {
		t.Errorf("the datagram after the shunt expired started no new lookup: acquires %d->%d, lookups %d->%d",
			before.Acquires, after.Acquires, before.DNSLookups, after.DNSLookups)
	}
	if rep2.Delivered != rep2.Sent {
		t.Errorf("west->nokey after the shunt expired: %s", rep2)
	}
	cap.Stop()
}
