package agent

import (
	"bytes"
	"context"
	"net/netip"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/oe-agent/oe-agent/agent/config"
	"github.com/oe-agent/oe-agent/ike"
	"github.com/oe-agent/oe-agent/ike/wire"
	"github.com/oe-agent/oe-agent/oe"
	"github.com/oe-agent/oe-agent/trap"
	"github.com/oe-agent/oe-agent/xfrm"
	"github.com/oe-agent/oe-agent/xfrm/xfrmtest"
)

// activityAgent is an agent with a fake kernel, an OE engine with the
// given idle timeout and one peer up with a Child SA installed.
func activityAgent(t *testing.T, idle time.Duration, now *time.Time) (*Agent, *xfrmtest.Kernel, netip.Addr, ike.ChildSA) {
	t.Helper()
	k := xfrmtest.New()
	setup := config.DefaultSetup()
	setup.OEIdleTimeout = idle
	setup.DNSResolvers = []netip.AddrPort{netip.MustParseAddrPort("192.0.2.53:53")}
	a := &Agent{
		log: zap.NewNop(), kernel: k, now: func() time.Time { return *now },
		bundle: &config.Bundle{Config: &config.Config{Setup: setup}},
		oe:     oe.New(oeConfigOf(setup)),
		conns:  map[string]*connState{}, peerSA: map[oe.Pair]*saRunner{},
		peerChildren: map[oe.Pair][]childInfo{}, peerAuth: map[oe.Pair]ike.AuthMethod{},
	}
	a.rec = trap.NewReconciler(k, a.log)
	local, remote := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2")
	var reqid uint32
	for _, act := range a.oe.Handle(*now, oe.Acquire{Local: local, Remote: remote, Group: trap.GroupPrivateOrClear}) {
		if in, ok := act.(oe.Initiate); ok {
			reqid = in.Reqid
		}
	}
	a.oe.Handle(*now, oe.Negotiated{Local: local, Remote: remote, Reqid: reqid, Initiator: true})
	ch := a.installChild(t, k, local, remote, reqid, 0x1000, 0x2000)
	return a, k, remote, ch
}

// installChild puts a Child SA's two SAs into the fake kernel and the
// agent's books.
func (a *Agent) installChild(t *testing.T, k *xfrmtest.Kernel, local, remote netip.Addr, reqid, in, out uint32) ike.ChildSA {
	t.Helper()
	ch := ike.ChildSA{Protocol: wire.ProtocolESP, Local: local, Remote: remote, InboundSPI: in, OutboundSPI: out}
	for _, sa := range []xfrm.SA{
		{Src: remote, Dst: local, SPI: in},
		{Src: local, Dst: remote, SPI: out},
	} {
		sa.Proto, sa.Mode, sa.Reqid, sa.ReplayWindow = xfrm.ProtoESP, xfrm.ModeTransport, reqid, 32
		sa.Cipher, sa.CipherKey = xfrm.CipherAESGCM128, bytes.Repeat([]byte{0xaa}, 20)
		if err := k.AddState(context.Background(), sa); err != nil {
			t.Fatal(err)
		}
	}
	pk := oe.Pair{Local: local, Remote: remote}
	a.peerChildren[pk] = append([]childInfo{{child: ch}}, a.peerChildren[pk]...)
	return ch
}

// TestPollActivityIdleExpiry: traffic seen in the SA counters keeps an OE
// peer; once they stop moving for oe-idle-timeout the engine forgets it
// (and the agent tears its SA down). A rekeyed SA that carries traffic
// counts as use.
func TestPollActivityIdleExpiry(t *testing.T) {
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	a, k, remote, ch := activityAgent(t, 10*time.Second, &now)
	ctx := context.Background()
	up := func() bool {
		for _, p := range a.oe.Peers() {
			if p.Remote == remote && p.State == oe.Up {
				return true
			}
		}
		return false
	}
	step := func(d time.Duration) { now = now.Add(d); a.pollActivity(ctx) }

	step(3 * time.Second) // first poll: no traffic yet
	ids := childSAIDs(ch)
	if err := k.AddTraffic(ids[1], 1000, 10); err != nil {
		t.Fatal(err)
	}
	step(3 * time.Second) // t=6: used
	step(8 * time.Second) // t=14: idle 8 s
	if !up() {
		t.Fatalf("peer gone after 8 s idle with a 10 s timeout")
	}
	// A rekey: the new SAs carry the traffic, the old ones go.
	ch2 := a.installChild(t, k, ch.Local, ch.Remote, a.oe.Peers()[0].Reqid, 0x1001, 0x2001)
	pk := oe.Pair{Local: ch.Local, Remote: remote}
	a.peerChildren[pk] = a.peerChildren[pk][:1]
	if err := k.AddTraffic(childSAIDs(ch2)[0], 500, 5); err != nil {
		t.Fatal(err)
	}
	step(5 * time.Second) // t=19: used (inbound on the new SA)
	step(9 * time.Second) // t=28: idle 9 s
	if !up() {
		t.Fatalf("peer gone 9 s after traffic on the rekeyed SA")
	}
	step(2 * time.Second) // t=30: idle 11 s
	if up() {
		t.Fatalf("peer still up after 11 s without traffic (timeout 10 s): %v", a.oe.Peers())
	}
	if len(a.oe.Peers()) != 0 {
		t.Errorf("engine still lists %v", a.oe.Peers())
	}
}

// TestPollActivityNeverIdle: oe-idle-timeout=0 keeps idle SAs.
func TestPollActivityNeverIdle(t *testing.T) {
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	a, _, remote, _ := activityAgent(t, 0, &now)
	for i := 0; i < 10; i++ {
		now = now.Add(time.Hour)
		a.pollActivity(context.Background())
	}
	if ps := a.oe.Peers(); len(ps) != 1 || ps[0].Remote != remote || ps[0].State != oe.Up {
		t.Errorf("idle peer expired with oe-idle-timeout=0: %v", ps)
	}
}

func TestActivityInterval(t *testing.T) {
	for _, c := range []struct{ idle, want time.Duration }{
		{0, 30 * time.Second}, {2 * time.Second, time.Second}, {12 * time.Second, 3 * time.Second},
		{10 * time.Minute, 30 * time.Second},
	} {
		if got := activityInterval(config.Setup{OEIdleTimeout: c.idle}); got != c.want {
			t.Errorf("activityInterval(idle %s) = %s, want %s", c.idle, got, c.want)
		}
	}
}
