package xfrm

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/oe-agent/oe-agent/internal/testenv"
)

// Addresses behind each side for tunnel mode: one on each side's loopback,
// routed through the veth.
var (
	westNet = netip.MustParseAddr("198.51.100.1")
	eastNet = netip.MustParseAddr("203.0.113.1")
)

// vmPair is pair plus the subnets behind each side and routes to them.
func vmPair(t *testing.T) (west, east *testenv.Netns) {
	t.Helper()
	west, east = pair(t)
	west.Run(t, "ip", "addr", "add", "198.51.100.1/32", "dev", "lo")
	east.Run(t, "ip", "addr", "add", "203.0.113.1/32", "dev", "lo")
	west.Run(t, "ip", "route", "add", "203.0.113.0/24", "via", "192.0.2.2", "src", "198.51.100.1")
	east.Run(t, "ip", "route", "add", "198.51.100.0/24", "via", "192.0.2.1", "src", "203.0.113.1")
	return west, east
}

func randomKey(t testing.TB, n int) []byte {
	t.Helper()
	if n == 0 {
		return nil
	}
	k := make([]byte, n)
	if _, err := rand.Read(k); err != nil {
		t.Fatal(err)
	}
	return k
}

// canary is a distinctive payload that must never cross the wire in clear.
func canary(name string) []byte {
	return bytes.Repeat([]byte("OE-AGENT-CLEARTEXT-CANARY-"+name+"|"), 32)
}

// tcpRoundTrip connects from src (in from) to dst:port (in to), sends
// payload, and expects it echoed back.
func tcpRoundTrip(from *testenv.Netns, src netip.Addr, to *testenv.Netns, dst netip.Addr, payload []byte) error {
	var ln *net.TCPListener
	if err := to.Do(func() error {
		var err error
		ln, err = net.ListenTCP("tcp", net.TCPAddrFromAddrPort(netip.AddrPortFrom(dst, 7777)))
		return err
	}); err != nil {
		return err
	}
	defer ln.Close()
	served := make(chan error, 1)
	go func() {
		ln.SetDeadline(time.Now().Add(60 * time.Second))
		c, err := ln.Accept()
		if err != nil {
			served <- err
			return
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(60 * time.Second))
		buf := make([]byte, len(payload))
		if _, err := io.ReadFull(c, buf); err != nil {
			served <- fmt.Errorf("server read: %w", err)
			return
		}
		_, err = c.Write(buf)
		served <- err
	}()
	var c net.Conn
	if err := from.Do(func() error {
		d := net.Dialer{LocalAddr: net.TCPAddrFromAddrPort(netip.AddrPortFrom(src, 0)), Timeout: 30 * time.Second}
		var err error
		c, err = d.Dial("tcp", netip.AddrPortFrom(dst, 7777).String())
		return err
	}); err != nil {
		return fmt.Errorf("connect %s -> %s: %w", src, dst, err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(60 * time.Second))
	if _, err := c.Write(payload); err != nil {
		return err
	}
	got := make([]byte, len(payload))
	if _, err := io.ReadFull(c, got); err != nil {
		return fmt.Errorf("client read: %w", err)
	}
	if !bytes.Equal(got, payload) {
		return errors.New("echo differs from what was sent")
	}
	return <-served
}

// capture records the frames one interface of ns sends, with an AF_PACKET
// socket, until stop is called. Only outgoing frames are kept: capturing
// what each end of a veth sends sees exactly what crossed the wire, whereas
// incoming frames include the inner packets of tunnel-mode ESP, which the
// kernel re-injects on the same device after decryption.
type capture struct {
	fd     int
	mu     sync.Mutex
	frames [][]byte
	done   chan struct{}
	quit   chan struct{}
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

func startCapture(t *testing.T, ns *testenv.Netns, ifname string) *capture {
	t.Helper()
	c := &capture{done: make(chan struct{}), quit: make(chan struct{})}
	err := ns.Do(func() error {
		ifi, err := net.InterfaceByName(ifname)
		if err != nil {
			return err
		}
		fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, int(htons(unix.ETH_P_ALL)))
		if err != nil {
			return err
		}
		if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL), Ifindex: ifi.Index}); err != nil {
			unix.Close(fd)
			return err
		}
		tv := unix.NsecToTimeval((100 * time.Millisecond).Nanoseconds())
		unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)
		c.fd = fd
		return nil
	})
	if err != nil {
		t.Fatalf("capture on %s: %v", ifname, err)
	}
	go func() {
		defer close(c.done)
		buf := make([]byte, 65536)
		// Once stopped, read on until the socket is empty (a read times
		// out): under TCG the reader lags, and frames still queued at
		// the stop were once lost, failing a count of ESP frames.
		draining := false
		for {
			if !draining {
				select {
				case <-c.quit:
					draining = true
				default:
				}
			}
			n, from, err := unix.Recvfrom(c.fd, buf, 0)
			if errors.Is(err, unix.EAGAIN) && draining {
				return
			}
			if errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR) {
				continue
			}
			if err != nil {
				return
			}
			if ll, ok := from.(*unix.SockaddrLinklayer); !ok || ll.Pkttype != unix.PACKET_OUTGOING {
				continue
			}
			c.mu.Lock()
			c.frames = append(c.frames, bytes.Clone(buf[:n]))
			c.mu.Unlock()
		}
	}()
	t.Cleanup(c.stop)
	return c
}

func (c *capture) stop() {
	select {
	case <-c.quit:
		return
	default:
	}
	close(c.quit)
	<-c.done
	unix.Close(c.fd)
}

// summary stops the captures and counts ESP packets (IP protocol 50), ESP
// in UDP 4500, and frames containing needle.
func summary(t *testing.T, needle []byte, logLeaks bool, caps ...*capture) (esp, ah, espInUDP, leaks, total int) {
	var frames [][]byte
	for _, c := range caps {
		c.stop()
		c.mu.Lock()
		frames = append(frames, c.frames...)
		c.mu.Unlock()
	}
	for _, f := range frames {
		total++
		if bytes.Contains(f, needle[:40]) {
			leaks++
			if logLeaks {
				t.Logf("frame with cleartext: % x", f[:min(len(f), 80)])
			}
		}
		if len(f) < 14 {
			continue
		}
		ip := f[14:]
		var proto byte
		var l4 []byte
		switch binary.BigEndian.Uint16(f[12:]) {
		case 0x0800:
			if len(ip) < 20 {
				continue
			}
			proto, l4 = ip[9], ip[int(ip[0]&0xf)*4:]
		case 0x86dd:
			if len(ip) < 40 {
				continue
			}
			proto, l4 = ip[6], ip[40:]
		default:
			continue
		}
		switch {
		case proto == 50:
			esp++
		case proto == 51:
			ah++
		case proto == 17 && len(l4) >= 8 && binary.BigEndian.Uint16(l4[2:]) == 4500:
			espInUDP++
		}
	}
	return esp, ah, espInUDP, leaks, total
}

// saveGuestSeed writes a raw kernel message seen in the guest to the
// writable vmtest share (kept with `vmrun test -keep`), from where it can
// be copied into testdata/fuzz.
func saveGuestSeed(t *testing.T, fuzzName, name string, b []byte) {
	dir := filepath.Join("/run/vmtest/xfrm-seeds", fuzzName)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Logf("no seed share: %v", err)
		return
	}
	body := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", b)
	if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
		t.Logf("write seed: %v", err)
	}
}
