package xfrm

import (
	"context"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/oe-agent/oe-agent/internal/testenv"
)

// TestNetnsManyPolicies lists and cleans up more policies than fit in one
// netlink dump message batch, while another goroutine keeps changing the
// table (which may make the kernel flag a dump as interrupted: retried).
func TestNetnsManyPolicies(t *testing.T) {
	testenv.RequireNetns(t)
	ns := testenv.NewNetns(t)
	k := openNS(t, ns)
	const n = 600
	for i := range n {
		p := Policy{
			Selector: Selector{Src: host(west4), Dst: netip.PrefixFrom(netip.AddrFrom4([4]byte{198, 51, byte(i / 256), byte(i)}), 32)},
			Dir:      DirOut, Priority: prioTrap,
			Templates: []Template{{Proto: ProtoESP, Mode: ModeTransport, Reqid: testReqid + uint32(i)}},
		}
		if err := k.AddPolicy(bg, p); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(bg)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // churn: add and delete one policy over and over
		defer wg.Done()
		p := Policy{Selector: Selector{Src: host(west4), Dst: pfx("203.0.113.0/24")}, Dir: DirIn, Priority: prioClear}
		for ctx.Err() == nil {
			k.AddPolicy(bg, p)
			k.DeletePolicy(bg, p)
		}
	}()
	for range 20 {
		ps, err := k.Policies(bg)
		if err != nil {
			t.Fatal(err)
		}
		if len(ps) != n && len(ps) != n+1 {
			t.Fatalf("listed %d policies, want %d or %d", len(ps), n, n+1)
		}
	}
	cancel()
	wg.Wait()
	if err := k.Cleanup(bg); err != nil {
		t.Fatal(err)
	}
	if ps, err := k.Policies(bg); err != nil || len(ps) != 0 {
		t.Fatalf("after Cleanup: %d policies, %v", len(ps), err)
	}
}

// TestNetnsEventsLost floods a subscriber that does not read with ACQUIREs
// until the kernel drops some, and checks that the loss is reported as a
// *Lost while the subscription goes on.
func TestNetnsEventsLost(t *testing.T) {
	testenv.RequireNetns(t)
	west, _ := pair(t)
	k := openNS(t, west)
	ctx, cancel := context.WithCancel(bg)
	defer cancel()
	events, err := k.Subscribe(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// The kernel raises one ACQUIRE per SA it lacks (endpoints and
	// reqid), not per flow: flood with many IPv6 destinations.
	if err := k.AddPolicy(bg, Policy{
		Selector: Selector{Src: host(west6), Dst: pfx("2001:db8::/32")}, Dir: DirOut, Priority: prioTrap,
		Templates: []Template{{Proto: ProtoESP, Mode: ModeTransport, Reqid: testReqid}},
	}); err != nil {
		t.Fatal(err)
	}
	west.Run(t, "ip", "-6", "route", "add", "2001:db8:1::/64", "via", "2001:db8::2")
	tx := listenUDP(t, west, netip.AddrPortFrom(west6, 0))
	// The socket buffer (capped by net.core.rmem_max) holds a few hundred.
	const flows = 4000
	for i := 1; i <= flows; i++ {
		dst := netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 0, 1, 14: byte(i >> 8), 15: byte(i)})
		tx.WriteToUDPAddrPort([]byte("x"), netip.AddrPortFrom(dst, 9))
	}
	acquires, lost := 0, 0
	timeout := time.After(10 * time.Second)
loop:
	for {
		select {
		case ev := <-events:
			switch ev := ev.(type) {
			case *Acquire:
				acquires++
			case *Lost:
				if ev.Fatal {
					t.Fatalf("subscription failed: %v", ev.Err)
				}
				lost++
			}
		case <-time.After(500 * time.Millisecond):
			break loop
		case <-timeout:
			break loop
		}
	}
	t.Logf("%d ACQUIREs delivered, %d losses reported", acquires, lost)
	if lost == 0 {
		t.Errorf("no *Lost after %d ACQUIREs for %d destinations", acquires, flows)
	}
	if acquires == 0 {
		t.Error("no ACQUIRE delivered")
	}
	// The subscription still works afterwards.
	tx.WriteToUDPAddrPort([]byte("x"), netip.AddrPortFrom(netip.MustParseAddr("2001:db8::77"), 9))
	if _, ok := nextEvent(t, events, 2*time.Second).(*Acquire); !ok {
		t.Error("no ACQUIRE after the loss")
	}
}
