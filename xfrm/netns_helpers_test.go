package xfrm

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/oe-agent/oe-agent/internal/testenv"
)

// Addresses of the two-namespace topology: west and east on one veth.
var (
	west4 = netip.MustParseAddr("192.0.2.1")
	east4 = netip.MustParseAddr("192.0.2.2")
	west6 = netip.MustParseAddr("2001:db8::1")
	east6 = netip.MustParseAddr("2001:db8::2")
)

// Reqids and priorities the tests use, inside oe-agent's ranges.
const (
	testReqid = ReqidMin + 0x10
	prioTrap  = PriorityMin + 0x1000
	prioClear = PriorityMin + 0x100
)

// pair makes two namespaces joined by a veth, west (192.0.2.1,
// 2001:db8::1) and east (192.0.2.2, 2001:db8::2).
func pair(t *testing.T) (west, east *testenv.Netns) {
	t.Helper()
	west, east = testenv.NewNetns(t), testenv.NewNetns(t)
	testenv.Veth(t, west, "veth0", []string{"192.0.2.1/24", "2001:db8::1/64"},
		east, "veth0", []string{"192.0.2.2/24", "2001:db8::2/64"})
	return west, east
}

// openNS opens the Kernel of ns, closed at the end of the test.
func openNS(t testing.TB, ns *testenv.Netns) *Netlink {
	t.Helper()
	k, err := OpenAt(ns.Handle, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { k.Close() })
	return k
}

// listenUDP opens a UDP socket bound to addr in ns.
func listenUDP(t testing.TB, ns *testenv.Netns, addr netip.AddrPort) *net.UDPConn {
	t.Helper()
	var c *net.UDPConn
	err := ns.Do(func() error {
		var err error
		c, err = net.ListenUDP("udp", net.UDPAddrFromAddrPort(addr))
		return err
	})
	if err != nil {
		t.Fatalf("listen %s in %s: %v", addr, ns.Name, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// recvUDP waits up to d for one datagram and returns its payload, or nil.
func recvUDP(t testing.TB, c *net.UDPConn, d time.Duration) []byte {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(d))
	buf := make([]byte, 2048)
	n, _, err := c.ReadFromUDPAddrPort(buf)
	if err != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return nil
		}
		t.Fatalf("receive: %v", err)
	}
	return buf[:n]
}

// subscribe subscribes to k's events for the rest of the test.
func subscribe(t testing.TB, k Kernel) <-chan Event {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ch, err := k.Subscribe(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		for range ch { // the channel must close once ctx is done
		}
	})
	return ch
}

// nextEvent waits up to d for an event other than *Lost; nil on timeout.
func nextEvent(t testing.TB, ch <-chan Event, d time.Duration) Event {
	t.Helper()
	timer := time.NewTimer(d)
	defer timer.Stop()
	for {
		select {
		case ev, ok := <-ch:
			if !ok {
				t.Fatal("event channel closed")
			}
			if l, isLost := ev.(*Lost); isLost {
				t.Fatalf("lost events: %v", l.Err)
			}
			return ev
		case <-timer.C:
			return nil
		}
	}
}

func pfx(s string) netip.Prefix { return netip.MustParsePrefix(s) }

func host(a netip.Addr) netip.Prefix { return netip.PrefixFrom(a, a.BitLen()) }

// trapPolicy is an out policy that traps UDP from west to east's /24.
func trapPolicy() Policy {
	return Policy{
		Selector: Selector{Src: host(west4), Dst: pfx("192.0.2.0/24")},
		Dir:      DirOut,
		Priority: prioTrap,
		Templates: []Template{{
			Proto: ProtoESP, Mode: ModeTransport, Reqid: testReqid,
		}},
	}
}

var bg = context.Background()

// rawDump returns the raw payloads of a dump through k's socket, for seeds.
func rawDump(t *testing.T, k *Netlink, reqType, resType int) [][]byte {
	t.Helper()
	var out [][]byte
	err := k.dump(bg, reqType, resType, func(b []byte) error {
		out = append(out, bytes.Clone(b))
		return nil
	}, func() { out = out[:0] })
	if err != nil {
		t.Fatal(err)
	}
	return out
}
