package oetest

import (
	"net/netip"
	"testing"
	"time"

	"github.com/oe-agent/oe-agent/agent/api"
	"github.com/oe-agent/oe-agent/internal/testenv"
)

// TestNetnsAgentHold: with the agent on west (private-or-clear,
// oe-negotiation-shunt=hold, xfrm_larval_drop=0) and nobody answering IKE
// on east, a datagram to east waits in the kernel: it never crosses the
// wire in clear while the agent says it is negotiating, and the kernel
// holds a larval state for the flow. The capture also shows what the
// agent did: its DNS queries and its IKE_SA_INIT to east.
func TestNetnsAgentHold(t *testing.T) {
	testenv.RequireNetns(t)
	t.Parallel()
	w := NewWorld(t, Options{})
	c := w.Net.StartCapture(t)
	a := w.StartAgent(t, w.West, AgentConfig{Setup: map[string]string{"oe-negotiation-shunt": "hold"}})
	checkHold(t, w, c, a, 3*time.Second)
}

// checkHold sends one datagram west -> east and watches for window.
func checkHold(t *testing.T, w *World, c *Capture, a *Agent, window time.Duration) {
	t.Helper()
	marker := NewMarker()
	sink := w.East.ListenUDP(t, netip.AddrPortFrom(w.East.Addr4, 7001), marker)
	flow := w.West.SendUDP(t, w.West.Addr4, sink.Addr, marker, Burst{Count: 1})
	if flow.Errors != 0 {
		t.Fatalf("send into the trap failed: %v (with xfrm_larval_drop=0 the kernel queues it)", flow.ErrFirst)
	}
	// The invariant of hold: no cleartext before the agent decides. A
	// status read that says "connecting" was served on the agent's loop
	// before any shunt replaced the trap, so cleartext seen before that
	// read began is a leak.
	var lastConnecting time.Time
	var peer *api.Peer
	deadline := time.Now().Add(window)
	for time.Now().Before(deadline) {
		before := time.Now()
		peer = a.Peer(t, w.East.Addr4)
		if peer != nil && peer.State == api.StateConnecting {
			lastConnecting = before
		}
		time.Sleep(100 * time.Millisecond)
	}
	if lastConnecting.IsZero() {
		t.Fatalf("the agent never reported east as connecting; last peer state %+v", peer)
	}
	for _, p := range c.Carrying(marker) {
		if p.Time.Before(lastConnecting) {
			t.Errorf("cleartext datagram on the wire while the agent was negotiating: %s", p)
		}
	}
	if peer.State == api.StateConnecting {
		// Still negotiating: the datagram is still queued, nothing
		// arrived, and the kernel holds a larval state for the flow.
		if n := sink.Count(); n != 0 {
			t.Errorf("east received %d datagrams while west is still negotiating", n)
		}
		larval := false
		for _, s := range w.West.States(t) {
			larval = larval || (s.Dst == w.East.Addr4 && s.Proto == "esp" && s.SPI == 0)
		}
		if !larval {
			t.Errorf("no larval (SPI 0) state to east while negotiating:\n%s", w.West.XfrmDump(t))
		}
	}
	if st := a.Status(t); st.Counters.Acquires == 0 || st.Counters.DNSLookups == 0 {
		t.Errorf("counters %+v: want at least one ACQUIRE and one DNS lookup", st.Counters)
	}
	// What the agent put on the wire: DNS to the resolver, IKE to east.
	if c.WaitFor(time.Second, func(p *Packet) bool { return p.Kind == KindDNS && p.Between(w.West, w.DNS) }) == nil {
		t.Errorf("no DNS between west and the resolver:\n%s", Describe(c.All(), 40))
	}
	if c.WaitFor(time.Second, func(p *Packet) bool { return p.Kind == KindIKE && p.Src == w.West.Addr4 && p.Dst == w.East.Addr4 }) == nil {
		t.Errorf("no IKE from west to east:\n%s", Describe(c.All(), 40))
	}
}

// TestNetnsAgentKill9KeepsTraps: after kill -9 the agent's traps stay in
// the kernel, so a datagram to east still goes nowhere in clear (it waits
// for an SA nobody will bring); a restarted agent takes over its stale
// socket and policies.
func TestNetnsAgentKill9KeepsTraps(t *testing.T) {
	testenv.RequireNetns(t)
	t.Parallel()
	w := NewWorld(t, Options{})
	c := w.Net.StartCapture(t)
	a := w.StartAgent(t, w.West, AgentConfig{})
	before := w.West.Traps(t)
	if len(before) == 0 {
		t.Fatalf("no traps after start:\n%s", w.West.XfrmDump(t))
	}
	a.Kill9(t)
	after := w.West.Traps(t)
	if len(after) != len(before) {
		t.Errorf("kill -9 changed the traps: %d before, %d after:\n%s", len(before), len(after), w.West.XfrmDump(t))
	}
	marker := NewMarker()
	sink := w.East.ListenUDP(t, netip.AddrPortFrom(w.East.Addr4, 7002), marker)
	sink6 := w.East.ListenUDP(t, netip.AddrPortFrom(w.East.Addr6, 7002), marker)
	w.West.SendUDP(t, w.West.Addr4, sink.Addr, marker, Burst{Count: 5, Interval: 20 * time.Millisecond})
	w.West.SendUDP(t, w.West.Addr6, sink6.Addr, marker, Burst{Count: 5, Interval: 20 * time.Millisecond})
	time.Sleep(1500 * time.Millisecond)
	c.AssertNoCleartext(t, marker)
	if sink.Count()+sink6.Count() != 0 {
		t.Errorf("east received %d+%d datagrams from west with the agent dead", sink.Count(), sink6.Count())
	}

	a.Restart(t)
	if got := w.West.Traps(t); len(got) != len(before) {
		t.Errorf("after restart: %d traps, want %d:\n%s", len(got), len(before), w.West.XfrmDump(t))
	}
	if err := a.Stop(); err != nil {
		t.Fatal(err)
	}
	if got := w.West.Traps(t); len(got) != 0 {
		t.Errorf("SIGTERM left %d traps:\n%s", len(got), w.West.XfrmDump(t))
	}
}

// TestNetnsLarvalDropPerNetns records a kernel fact the rig relies on:
// net.core.xfrm_larval_drop is per network namespace.
func TestNetnsLarvalDropPerNetns(t *testing.T) {
	testenv.RequireNetns(t)
	t.Parallel()
	checkLarvalDropPerNetns(t)
}

func checkLarvalDropPerNetns(t *testing.T) {
	n := NewNet(t)
	a, b := n.AddHost(t, "a"), n.AddHost(t, "b")
	if got := Sysctl(t, b.NS, "net/core/xfrm_larval_drop"); got != "1" {
		t.Fatalf("a fresh namespace has xfrm_larval_drop=%s, want the default 1", got)
	}
	SetSysctl(t, a.NS, "net/core/xfrm_larval_drop", "0")
	if got := Sysctl(t, b.NS, "net/core/xfrm_larval_drop"); got != "1" {
		t.Errorf("setting xfrm_larval_drop=0 in one namespace changed another's to %s", got)
	}
}
