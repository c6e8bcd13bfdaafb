package e2e

import (
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/oe-agent/oe-agent/internal/testenv"
)

const hostConf = `config setup
	oe=no
	secrets=@DIR@/secrets
	hostkey=@DIR@/hostkey.pem
	dnssec-anchors=@DIR@/root.key

`

// TestVMStaticTransportPSK: two agents bring up a transport-mode conn with
// PSK (auto=start on one side, auto=add on the other); TCP passes through
// ESP only, both sides' status shows the SAs with growing counters, and
// oectl down removes the SAs on both sides.
func TestVMStaticTransportPSK(t *testing.T) {
	testenv.RequireVM(t)
	t.Parallel()
	west, east := testenv.NewNetns(t), testenv.NewNetns(t)
	testenv.Veth(t, west, "eth0", []string{"192.0.2.1/24"}, east, "eth0", []string{"192.0.2.2/24"})
	secrets := `192.0.2.1 192.0.2.2 : PSK "static transport secret"` + "\n"
	e := newDaemon(t, east, hostConf+`conn host
	type=transport
	left=192.0.2.2
	right=192.0.2.1
	authby=secret
	auto=add
`, secrets)
	w := newDaemon(t, west, hostConf+`conn host
	type=transport
	left=192.0.2.1
	right=192.0.2.2
	authby=secret
	auto=start
`, secrets)
	wc := w.waitConn("host", "up", 60*time.Second)
	ec := e.waitConn("host", "up", 30*time.Second)
	if len(wc.Children) == 0 || len(ec.Children) == 0 || wc.Children[0].SPIOut != ec.Children[0].SPIIn {
		t.Fatalf("SPIs do not pair: west %+v east %+v", wc.Children, ec.Children)
	}
	capW, capE := startCapture(t, west, "eth0"), startCapture(t, east, "eth0")
	tcpEcho(t, west, east, "192.0.2.2:7001", "MARKER-static-transport")
	time.Sleep(300 * time.Millisecond)
	capW.stop()
	capE.stop()
	if n := merge(capW, capE).assertOnlyESP(t, "MARKER-static-transport"); n < 4 {
		t.Errorf("only %d ESP packets for a TCP round trip", n)
	}
	before := w.conn("host").Children[0]
	tcpEcho(t, west, east, "192.0.2.2:7002", "second round trip")
	after := w.conn("host").Children[0]
	if after.PacketsOut <= before.PacketsOut || after.BytesIn <= before.BytesIn {
		t.Errorf("kernel counters did not grow: before %+v after %+v", before, after)
	}
	if out := w.oectl("status"); !strings.Contains(out, "host") || !strings.Contains(out, "up") {
		t.Errorf("oectl status:\n%s", out)
	}
	w.oectl("down", "host")
	w.waitConn("host", "down", 30*time.Second)
	e.waitConn("host", "down", 30*time.Second)
	for _, ns := range []*testenv.Netns{west, east} {
		if st := ns.Run(t, "ip", "xfrm", "state"); strings.Contains(st, "proto esp") {
			t.Errorf("%s: SAs left after down:\n%s", ns.Name, st)
		}
	}

	// SIGTERM removes the agent's own policies and nothing else; after a
	// kill -9, oe-agentd --cleanup (ExecStopPost=) does the same.
	foreign := []string{"ip", "xfrm", "policy", "add", "src", "192.0.2.1/32", "dst", "198.51.100.9/32", "dir", "out", "priority", "100", "action", "block"}
	west.Run(t, foreign...)
	east.Run(t, foreign...)
	w.oectl("up", "host")
	w.waitConn("host", "up", 60*time.Second)
	w.stop(syscall.SIGTERM)
	assertOnlyForeign(t, west)
	e.stop(syscall.SIGKILL)
	if pol := east.Run(t, "ip", "xfrm", "policy"); strings.Count(pol, "dir ") < 2 {
		t.Errorf("%s: kill -9 should leave the agent's policies in place:\n%s", east.Name, pol)
	}
	east.Run(t, filepath.Join(binDir(t), "oe-agentd"), "--cleanup")
	assertOnlyForeign(t, east)
}

// assertOnlyForeign checks that ns holds no SA and only the foreign block
// policy the test installed.
func assertOnlyForeign(t *testing.T, ns *testenv.Netns) {
	t.Helper()
	if st := ns.Run(t, "ip", "xfrm", "state"); strings.TrimSpace(st) != "" {
		t.Errorf("%s: SAs left:\n%s", ns.Name, st)
	}
	pol := ns.Run(t, "ip", "xfrm", "policy")
	if !strings.Contains(pol, "dst 198.51.100.9/32") || strings.Count(pol, "dir ") != 1 {
		t.Errorf("%s: want exactly the foreign policy left, have:\n%s", ns.Name, pol)
	}
}
