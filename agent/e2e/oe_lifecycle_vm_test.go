package e2e

import (
	"net/netip"
	"testing"
	"time"

	"github.com/oe-agent/oe-agent/agent/api"
	"github.com/oe-agent/oe-agent/internal/oetest"
	"github.com/oe-agent/oe-agent/internal/testenv"
)

// TestVMOELifecycle runs an OE SA through its life with short timers: a
// continuous flow across several Child SA rekeys loses nothing; when the
// flow stops the idle SA is deleted on both sides and the trap is back;
// the next datagram negotiates again.
func TestVMOELifecycle(t *testing.T) {
	testenv.RequireVM(t)
	t.Parallel()
	const (
		saLife = 20 * time.Second
		idle   = 12 * time.Second
	)
	w := oetest.NewWorld(t, oetest.Options{})
	setup := map[string]string{"oe-sa-lifetime": "20s", "oe-idle-timeout": "12s"}
	west := w.StartAgent(t, w.West, oetest.AgentConfig{Setup: setup})
	east := w.StartAgent(t, w.East, oetest.AgentConfig{Setup: setup})
	cap := w.Net.StartCapture(t)

	// Rekey under traffic: 20 datagrams a second for 3.5 lifetimes.
	const interval = 50 * time.Millisecond
	n := int(3*saLife/interval + 10*time.Second/interval)
	// (A short wait for stragglers: the idle timer starts when the flow ends.)
	rep, marker := udpRound(t, w.West, oetest.WestAddr4, w.East, netip.AddrPortFrom(oetest.EastAddr4, 9000), n, interval, 2*time.Second)
	spis := espSPIs(cap, oetest.WestAddr4, oetest.EastAddr4)
	t.Logf("flow across rekeys (Child SA lifetime %s): %s; %d outbound SPIs used: %v", saLife, rep, len(spis), spis)
	if rep.Delivered != rep.Sent {
		t.Errorf("datagrams lost across rekeys: %s", rep)
	}
	if len(spis) < 3 {
		t.Errorf("only %d outbound SPIs over %s with a %s lifetime: the Child SA was not rekeyed twice", len(spis), time.Duration(n)*interval, saLife)
	}
	p := west.WaitPeer(t, oetest.EastAddr4, 5*time.Second, api.StateUp)
	t.Logf("west's peer after the flow: %d Child SA(s) listed", len(p.Children))
	for _, h := range []*oetest.Host{w.West, w.East} {
		waitESPCount(t, h, oetest.WestAddr4, oetest.EastAddr4, 2, time.Second, 3*saLife)
	}

	// Idle: nothing flows; the SA goes, the trap is back.
	stopped := time.Now()
	dw := waitNoPeer(t, west, oetest.EastAddr4, idle+30*time.Second)
	de := waitNoPeer(t, east, oetest.WestAddr4, 30*time.Second)
	t.Logf("idle expiry (oe-idle-timeout %s): west forgot east %s after the flow ended, east forgot west %s later", idle, (dw).Round(time.Millisecond), de.Round(time.Millisecond))
	if dw < idle-time.Second {
		t.Errorf("west expired the SA %s after the traffic stopped, before the idle timeout %s", dw, idle)
	}
	for _, h := range []*oetest.Host{w.West, w.East} {
		waitESPCount(t, h, oetest.WestAddr4, oetest.EastAddr4, 0, time.Second, 20*time.Second)
	}
	if tr := trace(t, west, oetest.EastAddr4); tr.Action != "trap" {
		t.Errorf("oectl trace east after idle expiry: action %q (%s), want trap", tr.Action, tr.Explanation)
	}
	t.Logf("idle: SAs gone from both kernels %s after the flow ended", time.Since(stopped).Round(time.Millisecond))

	// The next datagrams negotiate again, and all arrive.
	rep2, m2 := udpRound(t, w.West, oetest.WestAddr4, w.East, netip.AddrPortFrom(oetest.EastAddr4, 9001), 100, 10*time.Millisecond, 20*time.Second)
	t.Logf("after idle expiry: %s", rep2)
	if rep2.Delivered != rep2.Sent {
		t.Errorf("after idle expiry: %s", rep2)
	}
	west.WaitPeer(t, oetest.EastAddr4, 10*time.Second, api.StateUp)
	cap.Stop()
	cap.AssertNoCleartext(t, marker)
	cap.AssertNoCleartext(t, m2)
	cap.AssertOnly(t, w.West, w.East, oetest.OEKinds...)
}
