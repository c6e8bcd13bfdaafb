package trap

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/oe-agent/oe-agent/internal/testenv"
	"github.com/oe-agent/oe-agent/xfrm"
)

// wirePacket is an IP packet seen on an interface.
type wirePacket struct {
	dst   netip.Addr
	proto uint8
}

// capture records every IPv4 and IPv6 packet arriving on an interface of
// a namespace, through an AF_PACKET socket: what was really on the wire,
// cleartext or ESP.
type capture struct {
	fd   int
	mu   sync.Mutex
	seen []wirePacket
	done chan struct{}
}

func startCapture(t *testing.T, ns *testenv.Netns, ifname string) *capture {
	t.Helper()
	c := &capture{done: make(chan struct{})}
	err := ns.Do(func() error {
		ifc, err := net.InterfaceByName(ifname)
		if err != nil {
			return err
		}
		proto := int(htons(unix.ETH_P_ALL))
		fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, proto)
		if err != nil {
			return err
		}
		tv := unix.NsecToTimeval((100 * time.Millisecond).Nanoseconds())
		if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
			unix.Close(fd)
			return err
		}
		if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL), Ifindex: ifc.Index}); err != nil {
			unix.Close(fd)
			return err
		}
		c.fd = fd
		return nil
	})
	if err != nil {
		t.Fatalf("capture on %s in %s: %v", ifname, ns.Name, err)
	}
	stop := make(chan struct{})
	go c.loop(stop)
	t.Cleanup(func() { close(stop); <-c.done; unix.Close(c.fd) })
	return c
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

func (c *capture) loop(stop <-chan struct{}) {
	defer close(c.done)
	buf := make([]byte, 65536)
	for {
		select {
		case <-stop:
			return
		default:
		}
		n, _, err := unix.Recvfrom(c.fd, buf, 0)
		if err != nil {
			continue // timeout, or EINTR
		}
		if p, ok := parseIP(buf[:n]); ok {
			c.mu.Lock()
			c.seen = append(c.seen, p)
			c.mu.Unlock()
		}
	}
}

// parseIP reads the destination and protocol of an IP packet (the
// payload of a cooked AF_PACKET socket).
func parseIP(b []byte) (wirePacket, bool) {
	if len(b) < 1 {
		return wirePacket{}, false
	}
	switch b[0] >> 4 {
	case 4:
		if len(b) < 20 {
			return wirePacket{}, false
		}
		return wirePacket{dst: netip.AddrFrom4([4]byte(b[16:20])), proto: b[9]}, true
	case 6:
		if len(b) < 40 {
			return wirePacket{}, false
		}
		return wirePacket{dst: netip.AddrFrom16([16]byte(b[24:40])), proto: b[6]}, true
	}
	return wirePacket{}, false
}

// to returns the packets seen to dst.
func (c *capture) to(dst netip.Addr) []wirePacket {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []wirePacket
	for _, p := range c.seen {
		if p.dst == dst {
			out = append(out, p)
		}
	}
	return out
}

// udpListener opens a UDP socket in ns that collects the payloads it
// receives.
type udpListener struct {
	mu   sync.Mutex
	got  map[string]bool
	conn *net.UDPConn
}

func listen(t *testing.T, ns *testenv.Netns, addr string) *udpListener {
	t.Helper()
	l := &udpListener{got: make(map[string]bool)}
	err := ns.Do(func() error {
		var err error
		ap := netip.MustParseAddrPort(addr)
		network := "udp4" // udp6 on a wildcard address sets IPV6_V6ONLY
		if ap.Addr().Is6() {
			network = "udp6"
		}
		l.conn, err = net.ListenUDP(network, net.UDPAddrFromAddrPort(ap))
		return err
	})
	if err != nil {
		t.Fatalf("listen %s in %s: %v", addr, ns.Name, err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 2048)
		for {
			n, _, err := l.conn.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			l.mu.Lock()
			l.got[string(buf[:n])] = true
			l.mu.Unlock()
		}
	}()
	t.Cleanup(func() { l.conn.Close(); <-done })
	return l
}

// waitFor waits up to d for payload.
func (l *udpListener) waitFor(payload string, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for {
		l.mu.Lock()
		ok := l.got[payload]
		l.mu.Unlock()
		if ok || time.Now().After(deadline) {
			return ok
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (l *udpListener) has(payload string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.got[payload]
}

// sendFrom sends one datagram from a fresh socket bound to src in ns and
// returns the send error (EPERM for a block policy).
func sendFrom(t *testing.T, ns *testenv.Netns, src netip.Addr, dst netip.AddrPort, payload string) error {
	t.Helper()
	var c *net.UDPConn
	if err := ns.Do(func() error {
		var err error
		c, err = net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(src, 0)))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, err := c.WriteToUDPAddrPort([]byte(payload), dst)
	return err
}

// acquires collects the ACQUIREs of a subscription, by destination.
type acquires struct {
	mu  sync.Mutex
	got map[netip.Addr][]*xfrm.Acquire
}

func collectAcquires(t *testing.T, k xfrm.Kernel) *acquires {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ch, err := k.Subscribe(ctx)
	if err != nil {
		t.Fatal(err)
	}
	a := &acquires{got: make(map[netip.Addr][]*xfrm.Acquire)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ev := range ch {
			switch ev := ev.(type) {
			case *xfrm.Acquire:
				a.mu.Lock()
				a.got[ev.Dst] = append(a.got[ev.Dst], ev)
				a.mu.Unlock()
			case *xfrm.Lost:
				t.Errorf("lost XFRM events: %v", ev.Err)
			}
		}
	}()
	t.Cleanup(func() { cancel(); <-done })
	return a
}

// wait waits up to d for an ACQUIRE to dst.
func (a *acquires) wait(dst netip.Addr, d time.Duration) *xfrm.Acquire {
	deadline := time.Now().Add(d)
	for {
		a.mu.Lock()
		l := a.got[dst]
		a.mu.Unlock()
		if len(l) > 0 {
			return l[0]
		}
		if time.Now().After(deadline) {
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (a *acquires) any(dst netip.Addr) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.got[dst]) > 0
}

// setLarvalDrop sets net.core.xfrm_larval_drop in ns (per namespace): with
// false, packets that hit a trap wait in the kernel's queue on the policy
// instead of being dropped, as oe-agentd configures it.
func setLarvalDrop(t *testing.T, ns *testenv.Netns, drop bool) {
	t.Helper()
	const path = "/proc/sys/net/core/xfrm_larval_drop"
	want := "0"
	if drop {
		want = "1"
	}
	err := ns.Do(func() error {
		if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
			return err
		}
		got, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if strings.TrimSpace(string(got)) != want {
			return fmt.Errorf("%s reads %q after writing %s", path, got, want)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("set xfrm_larval_drop in %s: %v", ns.Name, err)
	}
}
