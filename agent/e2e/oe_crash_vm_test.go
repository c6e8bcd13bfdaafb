package e2e

import (
	"net/netip"
	"testing"
	"time"

	"github.com/oe-agent/oe-agent/agent/api"
	"github.com/oe-agent/oe-agent/internal/oetest"
	"github.com/oe-agent/oe-agent/internal/testenv"
)

// TestVMOECrash kills agents with SIGKILL during traffic, in one world:
//
//   - west's agent (east is private for west) dies: its traps and IPsec
//     policies stay in the kernel, so nothing leaves in clear; restarted,
//     it reconciles and traffic resumes encrypted;
//   - east's agent dies and restarts: west's SA is stale (east's kernel
//     lost it), and west renegotiates without manual action.
func TestVMOECrash(t *testing.T) {
	testenv.RequireVM(t)
	t.Parallel()
	w := oetest.NewWorld(t, oetest.Options{})
	west := w.StartAgent(t, w.West, oetest.AgentConfig{Groups: map[string][]string{
		oetest.GroupPrivate: {oetest.Prefix4.String(), oetest.Prefix6.String()},
		oetest.GroupClear:   {netip.PrefixFrom(oetest.DNSAddr4, 32).String(), netip.PrefixFrom(oetest.DNSAddr6, 128).String()},
	}})
	east := w.StartAgent(t, w.East, oetest.AgentConfig{})
	cap := w.Net.StartCapture(t)

	// A flow of 20 datagrams a second through the crash and the restart.
	const interval = 50 * time.Millisecond
	marker := oetest.NewMarker()
	dst := netip.AddrPortFrom(oetest.EastAddr4, 9000)
	sink := w.East.ListenUDP(t, dst, marker)
	flowDone := make(chan *oetest.Flow, 1)
	go func() {
		flowDone <- w.West.SendUDP(t, oetest.WestAddr4, dst, marker, oetest.Burst{Count: 400, Interval: interval})
	}()
	west.WaitPeer(t, oetest.EastAddr4, 30*time.Second, api.StateUp)
	time.Sleep(2 * time.Second)
	west.Kill9(t)
	killed := time.Now()
	nBefore := sink.Count()
	t.Logf("west's agent killed with %d datagrams delivered", nBefore)
	trapsAfterKill := len(w.West.Traps(t))
	time.Sleep(5 * time.Second)
	t.Logf("5 s after the kill: %d delivered (the SAs outlive the agent), %d ESP policies in west's kernel", sink.Count(), trapsAfterKill)
	if trapsAfterKill == 0 {
		t.Errorf("west's kernel lost its ESP policies with the agent:\n%s", kernelDump(t, w.West))
	}
	west.Start(t)
	restarted := time.Now()
	flow := <-flowDone
	sink.WaitCount(len(flow.Sent), 20*time.Second)
	rep := sink.Report(flow)
	t.Logf("flow through kill -9 (after %s) and restart (after %s): %s", killed.Sub(flow.Sent[0]).Round(time.Millisecond),
		restarted.Sub(flow.Sent[0]).Round(time.Millisecond), rep)
	west.WaitPeer(t, oetest.EastAddr4, 30*time.Second, api.StateUp)
	// A burst after the restart: all delivered, encrypted.
	rep2, m2 := udpRound(t, w.West, oetest.WestAddr4, w.East, netip.AddrPortFrom(oetest.EastAddr4, 9001), 100, 10*time.Millisecond, 20*time.Second)
	t.Logf("burst after west's restart: %s", rep2)
	if rep2.Delivered != rep2.Sent {
		t.Errorf("after west's restart: %s", rep2)
	}
	waitESPCount(t, w.West, oetest.WestAddr4, oetest.EastAddr4, 2, 2*time.Second, 30*time.Second)
	cap.AssertNoCleartext(t, marker)
	cap.AssertNoCleartext(t, m2)
	if clear := cap.Filter(func(p *oetest.Packet) bool {
		return p.Src == oetest.WestAddr4 && p.Dst == oetest.EastAddr4 && (p.Kind == oetest.KindUDP || p.Kind == oetest.KindTCP || p.Kind == oetest.KindICMP)
	}); len(clear) > 0 {
		t.Errorf("west sent %d packets to its private peer in clear:\n%s", len(clear), oetest.Describe(clear, 10))
	}

	// East's agent dies and comes back: its kernel's SAs with west are
	// gone, west's are stale. A one-way flow west->east must recover.
	m3 := oetest.NewMarker()
	dst3 := netip.AddrPortFrom(oetest.EastAddr4, 9002)
	sink3 := w.East.ListenUDP(t, dst3, m3)
	flow3Done := make(chan *oetest.Flow, 1)
	const n3 = 1100 // 55 s at 20 a second: recovery takes about 30 s
	go func() {
		flow3Done <- w.West.SendUDP(t, oetest.WestAddr4, dst3, m3, oetest.Burst{Count: n3, Interval: interval})
	}()
	time.Sleep(2 * time.Second)
	east.Kill9(t)
	east.Start(t)
	eastBack := time.Now()
	atRestart := sink3.Count()
	// Wait for the flow to come back.
	recovered := time.Time{}
	for deadline := time.Now().Add(75 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if sink3.Count() > atRestart+20 {
			recovered = time.Now()
			break
		}
	}
	flow3 := <-flow3Done
	sink3.WaitCount(n3, 5*time.Second)
	rep3 := sink3.Report(flow3)
	if recovered.IsZero() {
		t.Errorf("west->east did not recover within 75 s of east's restart: %s\nwest:\n%s\n%s", rep3, statusJSON(t, west), kernelDump(t, w.West))
	} else {
		t.Logf("east restarted: west->east flowed again %s after east's agent was back (%d datagrams lost in all): %s",
			recovered.Sub(eastBack).Round(time.Millisecond), len(rep3.Lost), rep3)
	}
	west.WaitPeer(t, oetest.EastAddr4, 10*time.Second, api.StateUp)
	east.WaitPeer(t, oetest.WestAddr4, 10*time.Second, api.StateUp)
	for _, h := range []*oetest.Host{w.West, w.East} {
		sas := waitESPCount(t, h, oetest.WestAddr4, oetest.EastAddr4, 2, 2*time.Second, 30*time.Second)
		t.Logf("%s after east's restart: ESP SAs %v", h, spiList(sas))
	}
	cap.Stop()
	cap.AssertNoCleartext(t, m3)
	cap.AssertOnly(t, w.West, w.East, oetest.OEKinds...)
}
