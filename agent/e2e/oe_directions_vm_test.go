package e2e

import (
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/oe-agent/oe-agent/agent/api"
	"github.com/oe-agent/oe-agent/internal/oetest"
	"github.com/oe-agent/oe-agent/internal/testenv"
)

// TestVMOEDirections runs the west/east scenario the other ways round, in
// one world: both sides initiate at the same instant, every datagram of
// both bursts arrives, and they end with one working pair of ESP SAs;
// west initiates over IPv6 (2001:db8::/64, keys in
// the ip6.arpa tree); then, from fresh agents, east initiates over IPv4.
func TestVMOEDirections(t *testing.T) {
	testenv.RequireVM(t)
	t.Parallel()
	w := oetest.NewWorld(t, oetest.Options{})
	west := w.StartAgent(t, w.West, oetest.AgentConfig{})
	east := w.StartAgent(t, w.East, oetest.AgentConfig{})

	// Both initiate at once (IPv4), from agents that never met.
	cap2 := w.Net.StartCapture(t)
	mw, me := oetest.NewMarker(), oetest.NewMarker()
	sinkE := w.East.ListenUDP(t, netip.AddrPortFrom(oetest.EastAddr4, 9100), mw)
	sinkW := w.West.ListenUDP(t, netip.AddrPortFrom(oetest.WestAddr4, 9100), me)
	var wg sync.WaitGroup
	var flowW, flowE *oetest.Flow
	start := make(chan struct{})
	wg.Add(2)
	go func() {
		defer wg.Done()
		<-start
		flowW = w.West.SendUDP(t, oetest.WestAddr4, sinkE.Addr, mw, oetest.Burst{Count: 100, Interval: 10 * time.Millisecond})
	}()
	go func() {
		defer wg.Done()
		<-start
		flowE = w.East.SendUDP(t, oetest.EastAddr4, sinkW.Addr, me, oetest.Burst{Count: 100, Interval: 10 * time.Millisecond})
	}()
	close(start)
	wg.Wait()
	sinkE.WaitCount(100, 30*time.Second)
	sinkW.WaitCount(100, 30*time.Second)
	rw, re := sinkE.Report(flowW), sinkW.Report(flowE)
	t.Logf("simultaneous: west->east %s", rw)
	t.Logf("simultaneous: east->west %s", re)
	if rw.Delivered != rw.Sent || re.Delivered != re.Sent {
		// Each end holds the outbound SA of the IKE SA it answered
		// while its own exists (HoldFirstOut), releases its held
		// datagrams through the Child SA both keep, and lets the
		// initiator of the IKE SA both keep delete the other.
		t.Errorf("simultaneous initiation lost datagrams: west->east %s; east->west %s", rw, re)
		logCollision(t, cap2, flowW, flowE, w.West, w.East, west, east)
	}
	west.WaitPeer(t, oetest.EastAddr4, 30*time.Second, api.StateUp)
	east.WaitPeer(t, oetest.WestAddr4, 30*time.Second, api.StateUp)
	t0 := time.Now()
	var spis [2][]oetest.State
	for i, h := range []*oetest.Host{w.West, w.East} {
		spis[i] = waitESPCount(t, h, oetest.WestAddr4, oetest.EastAddr4, 2, 5*time.Second, 90*time.Second)
	}
	t.Logf("simultaneous: one ESP SA pair in each namespace after %s (west %v, east %v)",
		time.Since(t0).Round(time.Millisecond), spiList(spis[0]), spiList(spis[1]))
	// The two namespaces hold the same pair.
	if !sameSPIs(spis[0], spis[1]) {
		t.Errorf("simultaneous: west and east hold different SA pairs: west %v, east %v", spiList(spis[0]), spiList(spis[1]))
	}
	for _, a := range []*oetest.Agent{west, east} {
		var peer netip.Addr
		if a == west {
			peer = oetest.EastAddr4
		} else {
			peer = oetest.WestAddr4
		}
		p := a.WaitPeer(t, peer, 10*time.Second, api.StateUp)
		if len(p.Children) != 1 {
			t.Errorf("simultaneous: %s lists %d Child SAs with %s, want 1:\n%s", a.Host, len(p.Children), peer, statusJSON(t, a))
		}
	}
	// And it carries traffic both ways.
	ra, ma := udpRound(t, w.West, oetest.WestAddr4, w.East, netip.AddrPortFrom(oetest.EastAddr4, 9200), 50, 10*time.Millisecond, 20*time.Second)
	rb, mb := udpRound(t, w.East, oetest.EastAddr4, w.West, netip.AddrPortFrom(oetest.WestAddr4, 9200), 50, 10*time.Millisecond, 20*time.Second)
	t.Logf("after settling: west->east %s; east->west %s", ra, rb)
	if ra.Delivered != ra.Sent || rb.Delivered != rb.Sent {
		t.Errorf("after settling: west->east %d/%d, east->west %d/%d delivered", ra.Delivered, ra.Sent, rb.Delivered, rb.Sent)
	}
	for _, h := range []*oetest.Host{w.West, w.East} {
		if n := len(espSAs(t, h, oetest.WestAddr4, oetest.EastAddr4)); n != 2 {
			t.Errorf("after settling: %s has %d ESP SAs for the pair, want 2:\n%s", h, n, kernelDump(t, h))
		}
	}
	cap2.Stop()
	for _, m := range [][]byte{mw, me, ma, mb} {
		cap2.AssertNoCleartext(t, m)
	}
	cap2.AssertOnly(t, w.West, w.East, oetest.OEKinds...)

	// West initiates over IPv6: the same first scenario.
	cap6 := w.Net.StartCapture(t)
	rep6, m6 := udpRound(t, w.West, oetest.WestAddr6, w.East, netip.AddrPortFrom(oetest.EastAddr6, 9000), 300, 10*time.Millisecond, 30*time.Second)
	t.Logf("west->east burst (IPv6): %s", rep6)
	if rep6.Delivered != rep6.Sent {
		t.Errorf("west->east IPv6: burst lost datagrams: %s", rep6)
	}
	wp := west.WaitPeer(t, oetest.EastAddr6, 30*time.Second, api.StateUp)
	east.WaitPeer(t, oetest.WestAddr6, 30*time.Second, api.StateUp)
	t.Logf("west's IPv6 peer: %s %s key %q", wp.Addr, wp.State, wp.Remote.KeySource)
	w.East.ServeTCP(t, netip.AddrPortFrom(oetest.EastAddr6, 9001))
	res6 := w.West.TCPEcho(oetest.WestAddr6, netip.AddrPortFrom(oetest.EastAddr6, 9001), m6, 10*time.Second)
	t.Logf("west->east TCP (IPv6): connect %s, echo %s, retransmits %d, err %v", res6.Connect, res6.Echo, res6.Retransmits, res6.Err)
	if res6.Err != nil {
		t.Errorf("west->east IPv6 TCP echo: %v", res6.Err)
	}
	for _, h := range []*oetest.Host{w.West, w.East} {
		sas := waitESPCount(t, h, oetest.WestAddr6, oetest.EastAddr6, 2, 2*time.Second, 30*time.Second)
		t.Logf("%s: %d ESP SAs for the IPv6 pair", h, len(sas))
	}
	cap6.Stop()
	cap6.AssertNoCleartext(t, m6)
	cap6.AssertOnly(t, w.West, w.East, oetest.OEKinds...)

	// East initiates (IPv4): from fresh agents again. Both stop before
	// either starts; the kernel keeps the larval states of the last
	// ACQUIREs for 30 s and a restarted agent negotiates for those (its
	// predecessor's pending ACQUIREs), so wait until the IPv4 pair has none.
	for _, a := range []*oetest.Agent{west, east} {
		if err := a.Stop(); err != nil {
			t.Fatal(err)
		}
	}
	t1 := time.Now()
	for _, h := range []*oetest.Host{w.West, w.East} {
		for {
			n := 0
			for _, s := range h.States(t) {
				if (s.Src == oetest.WestAddr4 || s.Dst == oetest.WestAddr4) && (s.Src == oetest.EastAddr4 || s.Dst == oetest.EastAddr4) {
					n++
				}
			}
			if n == 0 {
				break
			}
			if time.Since(t1) > 40*time.Second {
				t.Fatalf("%s: %d states for the IPv4 pair 40 s after SIGTERM:\n%s", h, n, kernelDump(t, h))
			}
			time.Sleep(500 * time.Millisecond)
		}
	}
	t.Logf("restart: no state left for the IPv4 pair %s after SIGTERM", time.Since(t1).Round(time.Millisecond))
	west.Start(t)
	east.Start(t)
	cap := w.Net.StartCapture(t)
	// East initiates (IPv4): every datagram of the burst arrives.
	rep, m4 := udpRound(t, w.East, oetest.EastAddr4, w.West, netip.AddrPortFrom(oetest.WestAddr4, 9000), 300, 10*time.Millisecond, 30*time.Second)
	t.Logf("east->west burst (IPv4, east initiates): %s", rep)
	if rep.Delivered != rep.Sent {
		t.Errorf("east->west: burst lost datagrams: %s", rep)
	}
	east.WaitPeer(t, oetest.WestAddr4, 30*time.Second, api.StateUp)
	west.WaitPeer(t, oetest.EastAddr4, 30*time.Second, api.StateUp)
	w.West.ServeTCP(t, netip.AddrPortFrom(oetest.WestAddr4, 9001))
	res := w.East.TCPEcho(oetest.EastAddr4, netip.AddrPortFrom(oetest.WestAddr4, 9001), m4, 10*time.Second)
	t.Logf("east->west TCP: connect %s, echo %s, retransmits %d, err %v", res.Connect, res.Echo, res.Retransmits, res.Err)
	if res.Err != nil {
		t.Errorf("east->west TCP echo: %v", res.Err)
	}
	for _, h := range []*oetest.Host{w.West, w.East} {
		sas := waitESPCount(t, h, oetest.WestAddr4, oetest.EastAddr4, 2, 2*time.Second, 30*time.Second)
		t.Logf("%s: %d ESP SAs for the IPv4 pair", h, len(sas))
	}

	cap.Stop()
	cap.AssertNoCleartext(t, m4)
	cap.AssertOnly(t, w.West, w.East, oetest.OEKinds...)
}

func spiList(sas []oetest.State) []string {
	var out []string
	for _, s := range sas {
		out = append(out, s.Src.String()+">"+s.Dst.String()+":"+hex32(s.SPI))
	}
	return out
}

func hex32(v uint32) string {
	const digits = "0123456789abcdef"
	b := make([]byte, 8)
	for i := 7; i >= 0; i-- {
		b[i] = digits[v&0xf]
		v >>= 4
	}
	return "0x" + string(b)
}

// sameSPIs reports whether two namespaces hold the same SAs (by
// direction and SPI).
func sameSPIs(a, b []oetest.State) bool {
	key := func(s oetest.State) string { return s.Src.String() + ">" + s.Dst.String() + ":" + hex32(s.SPI) }
	m := map[string]bool{}
	for _, s := range a {
		m[key(s)] = true
	}
	if len(a) != len(b) {
		return false
	}
	for _, s := range b {
		if !m[key(s)] {
			return false
		}
	}
	return true
}

// logCollision logs what a lost datagram of the simultaneous start needs
// to be explained: when each was sent, the ESP frames on the wire, the
// kernel's counters and both agents' logs so far.
func logCollision(t *testing.T, c *oetest.Capture, flowW, flowE *oetest.Flow, hw, he *oetest.Host, aw, ae *oetest.Agent) {
	t.Helper()
	for _, f := range []*oetest.Flow{flowW, flowE} {
		if len(f.Sent) > 0 {
			t.Logf("flow to %s: seq 0 sent %s, seq %d sent %s", f.Dst, f.Sent[0].Format("15:04:05.000"), len(f.Sent)-1, f.Sent[len(f.Sent)-1].Format("15:04:05.000"))
		}
	}
	ps := c.Filter(func(p *oetest.Packet) bool { return p.Kind == oetest.KindESP || p.Kind == oetest.KindIKE })
	t.Logf("ESP and IKE frames so far (%d):\n%s", len(ps), oetest.Describe(ps, 120))
	t.Logf("kernel now:\n%s\n%s", kernelDump(t, hw), kernelDump(t, he))
	for _, a := range []*oetest.Agent{aw, ae} {
		t.Logf("oe-agentd log of %s so far:\n%s", a.Host, a.Log())
	}
}
