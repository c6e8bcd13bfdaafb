package ike_test

import (
	"context"
	"errors"
	"net/netip"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/oe-agent/oe-agent/ike"
	"github.com/oe-agent/oe-agent/ike/iketest"
)

// driverEnd is one Driver under test with its actions on a channel.
type driverEnd struct {
	d      *ike.Driver
	events chan ike.Action
	done   chan struct{}
	bypass atomic.Int32
}

func startDriver(t *testing.T, listen []netip.AddrPort, responder *ike.Config) *driverEnd {
	t.Helper()
	disp, err := ike.NewDispatcher(ike.DispatcherConfig{Responder: responder})
	if err != nil {
		t.Fatal(err)
	}
	e := &driverEnd{events: make(chan ike.Action, 100), done: make(chan struct{})}
	e.d, err = ike.NewDriver(ike.DriverConfig{
		Dispatcher: disp,
		Listen:     listen,
		Bypass:     func(syscall.RawConn) error { e.bypass.Add(1); return nil },
		Handler:    func(_ *ike.SA, a ike.Action) { e.events <- a },
	})
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		e.d.Run(context.Background())
		close(e.done)
	}()
	t.Cleanup(func() {
		e.d.Close()
		<-e.done
	})
	return e
}

// waitFor reads e's actions until one of type T arrives.
func waitFor[T ike.Action](t *testing.T, e *driverEnd) T {
	t.Helper()
	timeout := time.After(20 * time.Second)
	for {
		select {
		case a := <-e.events:
			if x, ok := a.(T); ok {
				return x
			}
			if c, ok := a.(ike.Closed); ok {
				var zero T
				t.Fatalf("waiting for %T: SA closed: %v", zero, c.Err)
			}
		case <-timeout:
			var zero T
			t.Fatalf("timed out waiting for %T", zero)
		}
	}
}

// TestDriverLoopback runs two Drivers in one process over 127.0.0.1 and
// ::1 (responder on wildcard sockets, to exercise packet info): handshake,
// Child SA rekey, delete, and no goroutines left behind.
func TestDriverLoopback(t *testing.T) {
	before := runtime.NumGoroutine()
	for _, tc := range []struct {
		name       string
		loop, wild string
	}{
		{"ipv4", "127.0.0.1", "0.0.0.0"},
		{"ipv6", "::1", "::"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			icfg, rcfg := pskConfigs()
			r := startDriver(t, []netip.AddrPort{netip.AddrPortFrom(netip.MustParseAddr(tc.wild), 0)}, rcfg)
			i := startDriver(t, []netip.AddrPort{netip.AddrPortFrom(netip.MustParseAddr(tc.loop), 0)}, nil)
			if r.bypass.Load() != 1 || i.bypass.Load() != 1 {
				t.Fatalf("bypass hook called %d and %d times", r.bypass.Load(), i.bypass.Load())
			}
			raddr := netip.AddrPortFrom(netip.MustParseAddr(tc.loop), r.d.Addrs()[0].Port())
			sa, err := i.d.Initiate(icfg, i.d.Addrs()[0], raddr)
			if err != nil {
				t.Fatal(err)
			}
			ie := waitFor[ike.Established](t, i)
			re := waitFor[ike.Established](t, r)
			if ie.NATLocal || ie.NATRemote || re.NATLocal || re.NATRemote {
				t.Errorf("NAT detected on loopback: %+v %+v", ie, re)
			}
			ic := waitFor[ike.InstallChild](t, i)
			rc := waitFor[ike.InstallChild](t, r)
			checkChildPair(t, ic.Child, rc.Child)
			if ic.Child.Remote != raddr.Addr() {
				t.Errorf("tunnel endpoint %v, want %v", ic.Child.Remote, raddr.Addr())
			}

			i.d.Do(sa, func(now time.Time) []ike.Action {
				acts, err := sa.RekeyChild(now, ic.Child.InboundSPI)
				if err != nil {
					t.Error(err)
				}
				return acts
			})
			if n := waitFor[ike.InstallChild](t, r); n.Replaces != ic.Child.OutboundSPI {
				t.Errorf("rekey replaces %#x, want %#x", n.Replaces, ic.Child.OutboundSPI)
			}
			waitFor[ike.DeleteChild](t, i)

			i.d.Do(sa, sa.Delete)
			if c := waitFor[ike.Closed](t, r); c.Err != ike.ErrPeerDeleted {
				t.Errorf("responder closed with %v", c.Err)
			}
		})
	}
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		t.Errorf("%d goroutines left, %d before", n, before)
	}
}

// TestDriverNATTMarker runs the handshake on a NAT-T port pair, where
// every IKE message carries the non-ESP marker.
func TestDriverNATTMarker(t *testing.T) {
	icfg, rcfg := pskConfigs()
	lo := netip.MustParseAddr("127.0.0.1")
	mk := func(responder *ike.Config) *driverEnd {
		// Port 0 would not be recognised as NAT-T; find a free port
		// first, then declare it the NAT-T port.
		probe := startDriver(t, []netip.AddrPort{netip.AddrPortFrom(lo, 0)}, nil)
		port := probe.d.Addrs()[0].Port()
		probe.d.Close()
		<-probe.done
		disp, _ := ike.NewDispatcher(ike.DispatcherConfig{Responder: responder})
		e := &driverEnd{events: make(chan ike.Action, 100), done: make(chan struct{})}
		var err error
		e.d, err = ike.NewDriver(ike.DriverConfig{Dispatcher: disp, Listen: []netip.AddrPort{netip.AddrPortFrom(lo, port)}, NATTPort: port,
			Handler: func(_ *ike.SA, a ike.Action) { e.events <- a }})
		if err != nil {
			t.Fatal(err)
		}
		go func() { e.d.Run(context.Background()); close(e.done) }()
		t.Cleanup(func() { e.d.Close(); <-e.done })
		return e
	}
	r, i := mk(rcfg), mk(nil)
	if _, err := i.d.Initiate(icfg, i.d.Addrs()[0], r.d.Addrs()[0]); err != nil {
		t.Fatal(err)
	}
	waitFor[ike.Established](t, i)
	waitFor[ike.Established](t, r)
}

// TestDriverFakeTime runs two Drivers on in-memory conns under
// testing/synctest: a handshake, then the responder vanishes and the
// initiator's liveness check retransmits on the real timers (in fake
// time) with exponential back-off and gives up.
func TestDriverFakeTime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		pn := iketest.NewPacketNet()
		var mu sync.Mutex
		var sends []time.Time
		start := time.Now()
		pn.SetFilter(func(from, to netip.AddrPort, b []byte) bool {
			if from == iketest.InitiatorAddr {
				mu.Lock()
				sends = append(sends, time.Now())
				mu.Unlock()
			}
			return true
		})
		icfg, rcfg := pskConfigs()
		icfg.DPDInterval = 30 * time.Second
		mk := func(addr netip.AddrPort, responder *ike.Config) (*ike.Driver, chan ike.Action) {
			disp, err := ike.NewDispatcher(ike.DispatcherConfig{Responder: responder})
			if err != nil {
				t.Fatal(err)
			}
			events := make(chan ike.Action, 100)
			d, err := ike.NewDriver(ike.DriverConfig{Dispatcher: disp, Conns: []ike.PacketConn{pn.Conn(addr)},
				Handler: func(_ *ike.SA, a ike.Action) { events <- a }})
			if err != nil {
				t.Fatal(err)
			}
			return d, events
		}
		di, ie := mk(iketest.InitiatorAddr, nil)
		dr, re := mk(iketest.ResponderAddr, rcfg)
		var wg sync.WaitGroup
		for _, d := range []*ike.Driver{di, dr} {
			wg.Go(func() { d.Run(context.Background()) })
		}
		if _, err := di.Initiate(icfg, iketest.InitiatorAddr, iketest.ResponderAddr); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		var est int
		for len(ie) > 0 {
			if _, ok := (<-ie).(ike.Established); ok {
				est++
			}
		}
		if est != 1 || len(re) == 0 {
			t.Fatalf("initiator established %d times, responder has %d events", est, len(re))
		}
		if got := time.Since(start); got != 0 {
			t.Errorf("handshake took %v of fake time", got)
		}
		// The responder disappears.
		dr.Close()
		mu.Lock()
		sends = nil
		mu.Unlock()
		var closed ike.Closed
		for a := range ie {
			if c, ok := a.(ike.Closed); ok {
				closed = c
				break
			}
		}
		if !errors.Is(closed.Err, ike.ErrTimeout) {
			t.Fatalf("Closed %v, want ErrTimeout", closed.Err)
		}
		mu.Lock()
		var offs []time.Duration
		for _, s := range sends {
			offs = append(offs, s.Sub(start))
		}
		mu.Unlock()
		want := []time.Duration{30 * time.Second, 30500 * time.Millisecond, 31500 * time.Millisecond, 33500 * time.Millisecond, 37500 * time.Millisecond}
		if len(offs) != len(want) {
			t.Errorf("liveness checks sent at %v, want %v (closed at %v: %v)", offs, want, time.Since(start), closed.Err)
		}
		for i := range min(len(want), len(offs)) {
			if offs[i] != want[i] {
				t.Errorf("send %d at %v, want %v", i, offs[i], want[i])
			}
		}
		if got := time.Since(start); got != 45500*time.Millisecond {
			t.Errorf("declared dead at %v, want 45.5s", got)
		}
		di.Close()
		wg.Wait()
	})
}
