package e2e

import (
	"net/netip"
	"testing"
	"time"

	"github.com/oe-agent/oe-agent/agent/api"
	"github.com/oe-agent/oe-agent/internal/oetest"
	"github.com/oe-agent/oe-agent/internal/testenv"
)

// TestVMOEWestEast is the heart of OE: two hosts never configured for each
// other, both private-or-clear for the test link, each publishing its key
// in a DNSSEC-signed reverse zone. The first datagram of a numbered burst
// from west triggers OE, and every datagram of the burst arrives; a TCP
// connect succeeds at the first try; the wire between them carries only
// ESP and IKE; both agents list the peer.
func TestVMOEWestEast(t *testing.T) {
	testenv.RequireVM(t)
	t.Parallel()
	w := oetest.NewWorld(t, oetest.Options{})
	west := w.StartAgent(t, w.West, oetest.AgentConfig{})
	east := w.StartAgent(t, w.East, oetest.AgentConfig{})
	cap := w.Net.StartCapture(t)

	marker := oetest.NewMarker()
	sink := w.East.ListenUDP(t, netip.AddrPortFrom(oetest.EastAddr4, 9000), marker)
	flow := w.West.SendUDP(t, oetest.WestAddr4, netip.AddrPortFrom(oetest.EastAddr4, 9000), marker,
		oetest.Burst{Count: 300, Interval: 10 * time.Millisecond})
	sink.WaitCount(300, 20*time.Second)
	rep := sink.Report(flow)
	t.Logf("west->east burst: %s", rep)
	if rep.Delivered != rep.Sent {
		t.Errorf("burst lost datagrams: %s", rep)
	}
	west.WaitPeer(t, oetest.EastAddr4, 30*time.Second, api.StateUp)
	east.WaitPeer(t, oetest.WestAddr4, 30*time.Second, api.StateUp)

	w.East.ServeTCP(t, netip.AddrPortFrom(oetest.EastAddr4, 9001))
	res := w.West.TCPEcho(oetest.WestAddr4, netip.AddrPortFrom(oetest.EastAddr4, 9001), marker, 10*time.Second)
	if res.Err != nil {
		t.Errorf("TCP echo: %v", res.Err)
	}
	cap.Stop()
	cap.AssertNoCleartext(t, marker)
	cap.AssertOnly(t, w.West, w.East, oetest.OEKinds...)
}
