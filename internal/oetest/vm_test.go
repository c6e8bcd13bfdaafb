package oetest

import (
	"net/netip"
	"testing"
	"time"

	"github.com/oe-agent/oe-agent/agent/api"
	"github.com/oe-agent/oe-agent/internal/testenv"
)

// TestVMRigESP checks the rig in the guest (kernel with ESP): the world
// comes up there (NSD, unbound, signing tools through the overlay root),
// a hand-keyed ESP SA pair between west and east carries a UDP burst and a
// TCP echo with every datagram delivered, and the capture sees only ESP
// between them and never the cleartext. It also records that
// xfrm_larval_drop is per namespace on the guest kernel.
func TestVMRigESP(t *testing.T) {
	testenv.RequireVM(t)
	t.Parallel()
	checkLarvalDropPerNetns(t)
	w := NewWorld(t, Options{})
	c := w.Net.StartCapture(t)
	t0 := time.Now()
	spiAB, spiBA := StaticESP(t, w.West, w.West.Addr4, w.East, w.East.Addr4, 42)
	StaticESP(t, w.West, w.West.Addr6, w.East, w.East.Addr6, 43)
	t.Logf("static ESP SAs installed in %s", time.Since(t0).Round(time.Millisecond))

	marker := NewMarker()
	for _, pair := range [][2]netip.Addr{{w.West.Addr4, w.East.Addr4}, {w.West.Addr6, w.East.Addr6}} {
		sink := w.East.ListenUDP(t, netip.AddrPortFrom(pair[1], 7100), marker)
		flow := w.West.SendUDP(t, pair[0], sink.Addr, marker, Burst{Count: 50, Interval: 2 * time.Millisecond, Size: 600})
		sink.WaitCount(50, 10*time.Second)
		if r := sink.Report(flow); r.Delivered != 50 || r.FirstSeq != 0 {
			t.Errorf("UDP %s -> %s over static ESP: %s", pair[0], pair[1], r)
		}
		t1 := time.Now()
		srv := w.East.ServeTCP(t, netip.AddrPortFrom(pair[1], 7101))
		r := w.West.TCPEcho(pair[0], srv.Addr, marker, 10*time.Second)
		if r.Err != nil {
			t.Errorf("TCP %s -> %s over static ESP: %v", pair[0], pair[1], r.Err)
		}
		t.Logf("%s -> %s: UDP burst in %s, TCP connect %s echo %s (retransmits %d)", pair[0], pair[1],
			t1.Sub(flow.Sent[0]).Round(time.Millisecond), r.Connect.Round(time.Millisecond), r.Echo.Round(time.Millisecond), r.Retransmits)
	}
	time.Sleep(100 * time.Millisecond)
	c.Stop()
	c.AssertNoCleartext(t, marker)
	c.AssertOnly(t, w.West, w.East, OEKinds...)
	spis := map[uint32]int{}
	for _, p := range c.Filter(func(p *Packet) bool { return p.Kind == KindESP }) {
		spis[p.SPI]++
	}
	if spis[spiAB] < 50 || spis[spiBA] == 0 {
		t.Errorf("ESP packets by SPI %v: want >= 50 with %#x (west->east) and some with %#x (TCP replies)", spis, spiAB, spiBA)
	}
}

// TestVMAgentHoldAndKill9 is the netns tier's hold and kill -9 checks on
// the guest kernel: a datagram to east waits while west's agent
// negotiates, and once the agent is killed with SIGKILL its traps keep
// further datagrams off the wire.
func TestVMAgentHoldAndKill9(t *testing.T) {
	testenv.RequireVM(t)
	t.Parallel()
	w := NewWorld(t, Options{})
	c := w.Net.StartCapture(t)
	a := w.StartAgent(t, w.West, AgentConfig{Setup: map[string]string{"oe-negotiation-shunt": "hold"}})
	checkHold(t, w, c, a, 3*time.Second)

	a.Kill9(t)
	if len(w.West.Traps(t)) == 0 {
		t.Fatalf("no traps left after kill -9:\n%s", w.West.XfrmDump(t))
	}
	marker := NewMarker()
	sink := w.East.ListenUDP(t, netip.AddrPortFrom(w.East.Addr6, 7003), marker)
	w.West.SendUDP(t, w.West.Addr6, sink.Addr, marker, Burst{Count: 5, Interval: 20 * time.Millisecond})
	time.Sleep(time.Second)
	c.AssertNoCleartext(t, marker)
	if n := sink.Count(); n != 0 {
		t.Errorf("east received %d datagrams with west's agent dead", n)
	}
}

// TestVMRigTwoAgents runs the rig with agents on west and east (the OE
// scenario's setup) and cross-checks its instruments against each other:
// the capture must see the Child SA's SPIs that the agents report, only
// ESP and IKE between the two hosts, and never the cleartext; the sink
// must count what the kernel counters say arrived. The flow's losses and
// first delivery are logged, not asserted: that is the scenarios' job.
func TestVMRigTwoAgents(t *testing.T) {
	testenv.RequireVM(t)
	t.Parallel()
	w := NewWorld(t, Options{})
	c := w.Net.StartCapture(t)
	west := w.StartAgent(t, w.West, AgentConfig{})
	east := w.StartAgent(t, w.East, AgentConfig{})
	marker := NewMarker()
	sink := w.East.ListenUDP(t, netip.AddrPortFrom(w.East.Addr4, 7000), marker)
	flow := w.West.SendUDP(t, w.West.Addr4, sink.Addr, marker, Burst{Count: 100, Interval: 10 * time.Millisecond})
	wp := west.WaitPeer(t, w.East.Addr4, 60*time.Second, api.StateUp)
	ep := east.WaitPeer(t, w.West.Addr4, 30*time.Second, api.StateUp)
	sink.WaitCount(100, 5*time.Second)
	t.Logf("west -> east, 100 datagrams every 10 ms from the first packet: %s", sink.Report(flow))
	c.Stop()
	c.AssertNoCleartext(t, marker)
	c.AssertOnly(t, w.West, w.East, OEKinds...)
	if len(wp.Children) == 0 || len(ep.Children) == 0 {
		t.Fatalf("peers up without Child SAs: west %s east %s", jsonOf(wp), jsonOf(ep))
	}
	out := wp.Children[0].SPIOut
	if ep.Children[0].SPIIn != out {
		t.Errorf("west's outbound SPI %#x is not east's inbound SPI %#x", out, ep.Children[0].SPIIn)
	}
	esp := c.Filter(func(p *Packet) bool { return p.Kind == KindESP && p.Src == w.West.Addr4 && p.Dst == w.East.Addr4 })
	for _, p := range esp {
		if p.SPI != out {
			t.Errorf("ESP west -> east with SPI %#x, the agents report %#x: %s", p.SPI, out, p)
			break
		}
	}
	// East's kernel counted every datagram the sink got (status is
	// read after the flow ended). The capture is a witness, not a
	// counter: under load its socket buffer may drop frames.
	ep = east.Peer(t, w.West.Addr4)
	if got := sink.Count(); ep.Children[0].PacketsIn < uint64(got) || len(esp) == 0 {
		t.Errorf("sink got %d datagrams, east's SA counted %d packets in, the capture %d ESP packets", got, ep.Children[0].PacketsIn, len(esp))
	}
}
