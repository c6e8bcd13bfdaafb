package interop

import (
	"bytes"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/oe-agent/oe-agent/ike"
	"github.com/oe-agent/oe-agent/ike/wire"
	"github.com/oe-agent/oe-agent/internal/testenv"
)

// TestNetnsDriverPort4500 sends an IKE_SA_INIT request with the non-ESP
// marker (RFC 3948 §2.2) to the driver's port 4500, as a peer does after
// moving there, and checks that the answer comes back from port 4500 with
// the marker; a datagram without the marker (ESP in UDP) is ignored.
func TestNetnsDriverPort4500(t *testing.T) {
	testenv.RequireNetns(t)
	west, east := testenv.NewNetns(t), testenv.NewNetns(t)
	testenv.Veth(t, west, "eth0", []string{"192.0.2.1/24"}, east, "eth0", []string{"192.0.2.2/24"})
	cfg := engineConfig(t, oursAddr, peerAddr, suites[0], authPSK, nil, false)
	newDriver(t, driverOptions{Addr: oursAddr, Responder: cfg, Kernel: newFakeKernel(), Reqid: nextReqid(),
		Listen: nsListen(west), Bypass: bypass})

	peerEnd := netip.AddrPortFrom(peerAddr, portNATT)
	oursEnd := netip.AddrPortFrom(oursAddr, portNATT)
	icfg := engineConfig(t, peerAddr, oursAddr, suites[0], authPSK, nil, false)
	sa, err := ike.NewInitiator(icfg, peerEnd, oursEnd, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	acts, err := sa.Initiate(time.Now())
	if err != nil || len(acts) != 1 {
		t.Fatalf("Initiate: %v, %v", acts, err)
	}
	req := acts[0].(ike.Send).Data

	var c *net.UDPConn
	if err := east.Do(func() (err error) { c, err = net.ListenUDP("udp4", net.UDPAddrFromAddrPort(peerEnd)); return err }); err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	to := net.UDPAddrFromAddrPort(oursEnd)
	// Without the marker the datagram is not IKE: no answer.
	if _, err := c.WriteToUDP(req, to); err != nil {
		t.Fatal(err)
	}
	if _, err := c.WriteToUDP(append(bytes.Clone(nonESPMarker), req...), to); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 65536)
	n, from, err := c.ReadFromUDPAddrPort(buf)
	if err != nil {
		t.Fatal(err)
	}
	if from != oursEnd {
		t.Errorf("answer from %v, want %v", from, oursEnd)
	}
	if !bytes.HasPrefix(buf[:n], nonESPMarker) {
		t.Fatalf("answer lacks the non-ESP marker: % x", buf[:min(n, 8)])
	}
	h, _, _, err := wire.ParseHeader(buf[len(nonESPMarker):n])
	if err != nil || h.Exchange != wire.ExchangeIKESAInit || !h.IsResponse() {
		t.Fatalf("answer %+v, %v; want an IKE_SA_INIT response", h, err)
	}
	c.SetReadDeadline(time.Now().Add(time.Second))
	if n, _, err := c.ReadFromUDPAddrPort(buf); err == nil {
		t.Errorf("a second answer of %d octets: the unmarked request was taken for IKE", n)
	}
}
