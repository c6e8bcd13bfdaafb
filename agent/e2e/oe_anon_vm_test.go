package e2e

import (
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/oe-agent/oe-agent/agent/api"
	"github.com/oe-agent/oe-agent/internal/oetest"
	"github.com/oe-agent/oe-agent/internal/testenv"
)

// anonAddr4 is a host of its own beside the world's: no IPSECKEY, no PTR
// (its reverse name does not exist: a Secure denial).
var anonAddr4 = netip.MustParseAddr("192.0.2.6")

// TestVMOEAnonymous is anonymous OE (RFC 7619), off by default: two hosts
// that publish no key, nokey and anon, both in private-or-clear.
//
// With oe-authnull=yes on both (and no host key, so each authenticates
// with NULL), a burst from nokey triggers OE and arrives, the wire
// carries only IKE and ESP, both agents list the peer as anonymous (JSON
// and oectl status). With oe-authnull=no on one side (which then needs a
// host key, unpublished), the Secure denial of the peer's key ends every
// negotiation in private-or-clear's pass shunt: traffic flows in clear,
// both ways, and no SA, anonymous or not, is ever installed.
func TestVMOEAnonymous(t *testing.T) {
	testenv.RequireVM(t)
	t.Parallel()
	w := oetest.NewWorld(t, oetest.Options{})
	anon := w.Net.AddHost(t, "anon", anonAddr4)
	noKeyFile := filepath.Join(t.TempDir(), "no-hostkey.pem") // never created
	anon.KeyFile = noKeyFile
	anonCfg := func(authnull string) oetest.AgentConfig {
		return oetest.AgentConfig{Setup: map[string]string{"oe-authnull": authnull, "hostkey": noKeyFile}}
	}
	nk := w.StartAgent(t, w.NoKey, anonCfg("yes"))
	an := w.StartAgent(t, anon, anonCfg("yes"))
	cap := w.Net.StartCapture(t)

	// Both allow NULL authentication: encrypted, anonymous.
	rep, m1 := udpRound(t, w.NoKey, oetest.NoKeyAddr4, anon, netip.AddrPortFrom(anonAddr4, 9000), 100, 10*time.Millisecond, 30*time.Second)
	t.Logf("nokey->anon, both oe-authnull=yes: %s", rep)
	// The first-packet guarantee is TestVMOEWestEast's; here the burst
	// must arrive once the anonymous SA is up (a lost trigger datagram is
	// logged above, not failed on).
	if len(rep.Lost) > 1 || len(rep.Lost) == 1 && rep.Lost[0] != 0 {
		t.Errorf("nokey->anon: anonymous OE lost datagrams: %s", rep)
	}
	for _, c := range []struct {
		a    *oetest.Agent
		peer netip.Addr
	}{{nk, anonAddr4}, {an, oetest.NoKeyAddr4}} {
		p := c.a.WaitPeer(t, c.peer, 30*time.Second, api.StateUp)
		if !p.Anonymous {
			t.Errorf("%s: peer %s is up but not marked anonymous:\n%s", c.a.Host, c.peer, statusJSON(t, c.a))
		}
		out, errOut, err := c.a.Oectl("status")
		if err != nil {
			t.Fatalf("oectl status on %s: %v\n%s", c.a.Host, err, errOut)
		}
		if !statusRowHas(out, c.peer.String(), "private-or-clear anonymous") {
			t.Errorf("%s: oectl status does not mark %s anonymous:\n%s", c.a.Host, c.peer, out)
		}
	}
	back, m2 := udpRound(t, anon, anonAddr4, w.NoKey, netip.AddrPortFrom(oetest.NoKeyAddr4, 9001), 50, 10*time.Millisecond, 20*time.Second)
	t.Logf("anon->nokey over the anonymous SAs: %s", back)
	if back.Delivered != back.Sent {
		t.Errorf("anon->nokey over the anonymous SAs: %s", back)
	}
	for _, h := range []*oetest.Host{w.NoKey, anon} {
		waitESPCount(t, h, oetest.NoKeyAddr4, anonAddr4, 2, time.Second, 30*time.Second)
	}
	cap.Stop()
	cap.AssertNoCleartext(t, m1)
	cap.AssertNoCleartext(t, m2)
	cap.AssertOnly(t, w.NoKey, anon, oetest.OEKinds...)

	// nokey refuses NULL authentication (and so needs its host key, which
	// it does not publish); anon still allows it. Fresh agents: SIGTERM
	// removes every SA and policy.
	if err := nk.Stop(); err != nil {
		t.Fatal(err)
	}
	an.Restart(t)
	nk = w.StartAgent(t, w.NoKey, oetest.AgentConfig{Setup: map[string]string{"oe-authnull": "no"}})
	cap2 := w.Net.StartCapture(t)
	for _, d := range []struct {
		name          string
		from, to      *oetest.Host
		src, dst      netip.Addr
		init, respond *oetest.Agent
	}{
		{"nokey(authnull=no)->anon", w.NoKey, anon, oetest.NoKeyAddr4, anonAddr4, nk, an},
		{"anon->nokey(authnull=no)", anon, w.NoKey, anonAddr4, oetest.NoKeyAddr4, an, nk},
	} {
		// The first burst triggers OE; it ends in the pass shunt.
		first, _ := udpRound(t, d.from, d.src, d.to, netip.AddrPortFrom(d.dst, 9100), 100, 10*time.Millisecond, 5*time.Second)
		t.Logf("%s, first burst: %s", d.name, first)
		p := d.init.WaitPeer(t, d.dst, 60*time.Second, api.StatePassthrough)
		t.Logf("%s: %s lists %s as %s: %s", d.name, d.init.Host, d.dst, p.State, p.LastError)
		// Then traffic flows, in clear.
		rep, m := udpRound(t, d.from, d.src, d.to, netip.AddrPortFrom(d.dst, 9101), 50, 10*time.Millisecond, 20*time.Second)
		t.Logf("%s after the shunt: %s", d.name, rep)
		if rep.Delivered != rep.Sent {
			t.Errorf("%s: private-or-clear must pass in clear after the denial: %s", d.name, rep)
		}
		if n := len(cleartextTo(cap2, m, d.dst)); n != rep.Delivered {
			t.Errorf("%s: %d of %d delivered datagrams seen in clear on the wire", d.name, n, rep.Delivered)
		}
	}
	for _, c := range []struct {
		a    *oetest.Agent
		peer netip.Addr
	}{{nk, anonAddr4}, {an, oetest.NoKeyAddr4}} {
		if p := c.a.Peer(t, c.peer); p != nil && (p.Anonymous || p.State == api.StateUp) {
			t.Errorf("%s: peer %s is %s (anonymous %v) although nokey refuses NULL authentication:\n%s",
				c.a.Host, c.peer, p.State, p.Anonymous, statusJSON(t, c.a))
		}
	}
	for _, h := range []*oetest.Host{w.NoKey, anon} {
		if sas := espSAs(t, h, oetest.NoKeyAddr4, anonAddr4); len(sas) != 0 {
			t.Errorf("%s: %d ESP SAs with the peer although nokey refuses NULL authentication:\n%s", h, len(sas), h.XfrmDump(t))
		}
	}
	cap2.Stop()
	if esp := cap2.Filter(func(p *oetest.Packet) bool { return p.Kind == oetest.KindESP }); len(esp) != 0 {
		t.Errorf("%d ESP packets on the wire although no SA may exist:\n%s", len(esp), oetest.Describe(esp, 10))
	}
}

// statusRowHas reports whether a row of `oectl status` that starts with
// name contains want.
func statusRowHas(out, name, want string) bool {
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, name+" ") && strings.Contains(line, want) {
			return true
		}
	}
	return false
}

// TestVMOEAnonymousNeverReplacesAuthenticated: west (oe-authnull=yes)
// holds an SA with east authenticated by east's published key. Then east's
// address comes back keyless, authenticating with NULL (east's agent
// restarted without its host key, as an attacker on the path could): its
// anonymous negotiation is refused, and west keeps the authenticated SA,
// its SPIs unchanged, never marked anonymous (libreswan's
// newoe-27-replace-sa-auth-authnull).
func TestVMOEAnonymousNeverReplacesAuthenticated(t *testing.T) {
	testenv.RequireVM(t)
	t.Parallel()
	w := oetest.NewWorld(t, oetest.Options{})
	west := w.StartAgent(t, w.West, oetest.AgentConfig{Setup: map[string]string{"oe-authnull": "yes"}})
	east := w.StartAgent(t, w.East, oetest.AgentConfig{})
	rep, _ := udpRound(t, w.West, oetest.WestAddr4, w.East, netip.AddrPortFrom(oetest.EastAddr4, 9000), 50, 10*time.Millisecond, 30*time.Second)
	t.Logf("west->east, authenticated: %s", rep)
	p := west.WaitPeer(t, oetest.EastAddr4, 30*time.Second, api.StateUp)
	if p.Anonymous {
		t.Fatalf("west's SA with east is anonymous although east publishes its key:\n%s", statusJSON(t, west))
	}
	before := waitESPCount(t, w.West, oetest.WestAddr4, oetest.EastAddr4, 2, time.Second, 30*time.Second)

	// East comes back without its key and initiates with NULL
	// authentication. It dies by kill -9, so west is not told (a SIGTERM
	// would delete the IKE SA on both sides first, and then an anonymous
	// SA replaces nothing) and still holds the authenticated SA.
	east.Kill9(t)
	noKey := filepath.Join(t.TempDir(), "no-hostkey.pem")
	w.StartAgent(t, w.East, oetest.AgentConfig{Setup: map[string]string{"oe-authnull": "yes", "hostkey": noKey}})
	cap := w.Net.StartCapture(t)
	try, _ := udpRound(t, w.East, oetest.EastAddr4, w.West, netip.AddrPortFrom(oetest.WestAddr4, 9001), 50, 20*time.Millisecond, 5*time.Second)
	t.Logf("east (keyless, anonymous) -> west: %s", try)
	if cap.WaitFor(20*time.Second, func(p *oetest.Packet) bool {
		return p.Kind == oetest.KindIKE && p.Src == oetest.EastAddr4 && p.Dst == oetest.WestAddr4
	}) == nil {
		t.Fatal("east never tried IKE with west: the test proves nothing")
	}
	time.Sleep(5 * time.Second) // let any negotiation finish
	cap.Stop()
	p = west.WaitPeer(t, oetest.EastAddr4, 10*time.Second, api.StateUp)
	if p.Anonymous {
		t.Errorf("west's SA with east became anonymous:\n%s", statusJSON(t, west))
	}
	after := espSAs(t, w.West, oetest.WestAddr4, oetest.EastAddr4)
	if !sameSPIs(before, after) {
		t.Errorf("west's SAs with east changed: before %v, after %v", spiList(before), spiList(after))
	}
	t.Logf("west kept %v; IKE packets east->west: %d", spiList(after),
		len(cap.Filter(func(p *oetest.Packet) bool { return p.Kind == oetest.KindIKE && p.Src == oetest.EastAddr4 })))
}
