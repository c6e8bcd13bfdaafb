package e2e

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"strings"
	"syscall"
	"testing"
	"time"

	ikecrypto "github.com/oe-agent/oe-agent/ike/crypto"
	"github.com/oe-agent/oe-agent/internal/testenv"
)

// rsaHostKey makes an RSA-2048 host key: its PEM file and its public key
// in libreswan's 0s form, for the peer's rightrsasigkey=.
func rsaHostKey(t testing.TB) (map[string][]byte, string) {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return map[string][]byte{"hostkey.pem": pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})},
		ikecrypto.FormatLibreswanRSA(&k.PublicKey)
}

// TestVMStaticConns runs the agent issue's static scenario between two
// oe-agentd: a transport conn with RSA raw keys (auto=start), a
// subnet-to-subnet tunnel with a PSK, and an auto=route conn that comes up
// on its first packet; then a reload that adds one conn and removes
// another leaves the first one's SAs (same SPIs) alone; and kill -9 then
// restart of one agent recovers the tunnels with no stale SAs left.
func TestVMStaticConns(t *testing.T) {
	testenv.RequireVM(t)
	t.Parallel()
	west, east := testenv.NewNetns(t), testenv.NewNetns(t)
	testenv.Veth(t, west, "eth0", []string{"192.0.2.1/24", "192.0.2.11/24", "192.0.2.21/24", "192.0.2.31/24"},
		east, "eth0", []string{"192.0.2.2/24", "192.0.2.12/24", "192.0.2.22/24", "192.0.2.32/24"})
	west.Run(t, "ip", "addr", "add", "198.51.100.1/24", "dev", "lo")
	east.Run(t, "ip", "addr", "add", "203.0.113.1/24", "dev", "lo")
	west.Run(t, "ip", "route", "add", "203.0.113.0/24", "via", "192.0.2.22", "src", "198.51.100.1")
	east.Run(t, "ip", "route", "add", "198.51.100.0/24", "via", "192.0.2.21", "src", "203.0.113.1")

	wkey, wpub := rsaHostKey(t)
	ekey, epub := rsaHostKey(t)
	secrets := `192.0.2.21 192.0.2.22 : PSK "tunnel secret, long enough"
192.0.2.11 192.0.2.12 : PSK "routed secret, long enough"
192.0.2.31 192.0.2.32 : PSK "extra secret, long enough"
`
	// conns returns one side's configuration; mine/peer are "1"/"2" (west)
	// or "2"/"1" (east).
	conns := func(me, peer, peerKey string, start string, withRouted, withExtra bool) string {
		lsub, rsub := "198.51.100.0/24", "203.0.113.0/24"
		if me == "2" {
			lsub, rsub = rsub, lsub
		}
		c := hostConf + `conn host-rsa
	type=transport
	left=192.0.2.` + me + `
	right=192.0.2.` + peer + `
	authby=rsasig
	rightrsasigkey=` + peerKey + `
	auto=` + start + `

conn net-psk
	type=tunnel
	left=192.0.2.2` + me + `
	leftsubnet=` + lsub + `
	right=192.0.2.2` + peer + `
	rightsubnet=` + rsub + `
	authby=secret
	auto=` + start + `
`
		if withRouted {
			c += `
conn routed
	type=transport
	left=192.0.2.1` + me + `
	right=192.0.2.1` + peer + `
	authby=secret
	auto=route
`
		}
		if withExtra {
			c += `
conn extra
	type=transport
	left=192.0.2.3` + me + `
	right=192.0.2.3` + peer + `
	authby=secret
	auto=` + start + `
`
		}
		return c
	}
	e := newDaemon(t, east, conns("2", "1", wpub, "add", true, false), secrets, ekey)
	w := newDaemon(t, west, conns("1", "2", epub, "start", true, false), secrets, wkey)

	host := w.waitConn("host-rsa", "up", 90*time.Second)
	w.waitConn("net-psk", "up", 90*time.Second)
	e.waitConn("host-rsa", "up", 30*time.Second)
	e.waitConn("net-psk", "up", 30*time.Second)
	if c := w.conn("routed"); c.State != "trapped" {
		t.Fatalf("routed conn is %s before any traffic, want trapped", c.State)
	}

	capW, capE := startCapture(t, west, "eth0"), startCapture(t, east, "eth0")
	tcpEcho(t, west, east, "192.0.2.2:7101", "MARKER-host-rsa")
	tcpEchoFrom(t, west, east, "198.51.100.1", "203.0.113.1:7102", "MARKER-net-psk")
	// The routed conn negotiates on this connection's SYN, held meanwhile.
	tcpEchoFrom(t, west, east, "192.0.2.11", "192.0.2.12:7103", "MARKER-routed")
	time.Sleep(300 * time.Millisecond)
	capW.stop()
	capE.stop()
	merge(capW, capE).assertOnlyESP(t, "MARKER-")
	w.waitConn("routed", "up", 10*time.Second)
	e.waitConn("routed", "up", 10*time.Second)

	// Reload: add "extra", remove "routed"; host-rsa keeps its SAs.
	out := w.reconfigure(conns("1", "2", epub, "start", false, true))
	e.reconfigure(conns("2", "1", wpub, "add", false, true))
	if !hasLine(out, "added:", "extra") || !hasLine(out, "removed:", "routed") || !hasLine(out, "unchanged:", "host-rsa, net-psk") {
		t.Errorf("reload output:\n%s", out)
	}
	w.waitConn("extra", "up", 90*time.Second)
	if after := w.conn("host-rsa"); after.Children[0].SPIIn != host.Children[0].SPIIn || after.Children[0].SPIOut != host.Children[0].SPIOut {
		t.Errorf("reload replaced host-rsa's SAs: %08x/%08x -> %08x/%08x", host.Children[0].SPIIn, host.Children[0].SPIOut,
			after.Children[0].SPIIn, after.Children[0].SPIOut)
	}
	tcpEchoFrom(t, west, east, "192.0.2.31", "192.0.2.32:7104", "extra conn")

	// kill -9, then restart: the tunnels come back and neither side keeps
	// stale SAs (3 conns up: 6 SAs each side).
	w.stop(syscall.SIGKILL)
	w.start()
	w.waitConn("host-rsa", "up", 90*time.Second)
	w.waitConn("net-psk", "up", 90*time.Second)
	w.waitConn("extra", "up", 90*time.Second)
	tcpEcho(t, west, east, "192.0.2.2:7105", "after restart")
	tcpEchoFrom(t, west, east, "198.51.100.1", "203.0.113.1:7106", "tunnel after restart")
	for _, ns := range []*testenv.Netns{west, east} {
		st := ns.Run(t, "ip", "xfrm", "state")
		if n := strings.Count(st, "proto esp"); n != 6 {
			t.Errorf("%s: %d ESP SAs after the restart, want 6 (3 conns):\n%s", ns.Name, n, st)
		}
	}
}

// hasLine reports whether text has a line whose fields are key then value.
func hasLine(text, key, value string) bool {
	for _, l := range strings.Split(text, "\n") {
		if f := strings.Fields(l); len(f) > 1 && f[0] == key && strings.Join(f[1:], " ") == value {
			return true
		}
	}
	return false
}
