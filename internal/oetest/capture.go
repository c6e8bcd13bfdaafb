package oetest

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/oe-agent/oe-agent/internal/testenv"
)

// Capture records every frame that enters the switch from a host: what
// was really on the wire, cleartext or ESP. It reads an AF_PACKET socket
// in the switch namespace (no tcpdump process) and also writes a pcap file
// (Path) that tcpdump or Wireshark can read; the file is kept, and its
// path shown, when the test fails.
type Capture struct {
	// Path is the pcap file (LINKTYPE_ETHERNET).
	Path string

	net  *Net
	fd   int
	stop chan struct{}
	done chan struct{}

	mu      sync.Mutex
	packets []*Packet
	pcap    *bufio.Writer
	file    *os.File
	stopped bool
}

// StartCapture starts capturing on every port of the switch. It stops when
// the test ends (or at Stop).
func (n *Net) StartCapture(t testing.TB) *Capture {
	t.Helper()
	c := &Capture{net: n, stop: make(chan struct{}), done: make(chan struct{})}
	c.Path = filepath.Join(ArtifactDir(t), fmt.Sprintf("switch-%d.pcap", time.Now().UnixNano()%1e6))
	f, err := os.Create(c.Path)
	if err != nil {
		t.Fatalf("oetest: capture file: %v", err)
	}
	c.file, c.pcap = f, bufio.NewWriter(f)
	// pcap global header: magic, v2.4, GMT offset, accuracy, snaplen,
	// LINKTYPE_ETHERNET.
	hdr := make([]byte, 24)
	binary.LittleEndian.PutUint32(hdr[0:], 0xa1b2c3d4)
	binary.LittleEndian.PutUint16(hdr[4:], 2)
	binary.LittleEndian.PutUint16(hdr[6:], 4)
	binary.LittleEndian.PutUint32(hdr[16:], 65535)
	binary.LittleEndian.PutUint32(hdr[20:], 1)
	c.pcap.Write(hdr)

	err = n.Switch.Do(func() error {
		fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, int(htons(unix.ETH_P_ALL)))
		if err != nil {
			return err
		}
		tv := unix.NsecToTimeval((50 * time.Millisecond).Nanoseconds())
		if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
			unix.Close(fd)
			return err
		}
		_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, 8<<20)
		if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL)}); err != nil {
			unix.Close(fd)
			return err
		}
		c.fd = fd
		return nil
	})
	if err != nil {
		t.Fatalf("oetest: capture on the switch: %v", err)
	}
	go c.loop()
	t.Cleanup(func() {
		c.Stop()
		if t.Failed() {
			t.Logf("oetest: capture of the switch kept at %s (%d frames; read with tcpdump -nr)", c.Path, len(c.All()))
		}
	})
	return c
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

func (c *Capture) loop() {
	defer close(c.done)
	buf := make([]byte, 65536)
	// Once stopped, read on until the socket is empty (a read times out):
	// frames still queued at the stop are part of what the capture saw,
	// and a cleartext check must not miss them.
	draining := false
	for {
		if !draining {
			select {
			case <-c.stop:
				draining = true
			default:
			}
		}
		n, from, err := unix.Recvfrom(c.fd, buf, 0)
		if err != nil {
			if draining && !errors.Is(err, unix.EINTR) {
				return // empty (timeout) or closed
			}
			continue // timeout, EINTR
		}
		ll, ok := from.(*unix.SockaddrLinklayer)
		if !ok || ll.Pkttype == unix.PACKET_OUTGOING {
			continue // each frame is counted once, where it enters the switch
		}
		h := c.net.portHost(ll.Ifindex)
		if h == nil {
			continue // the bridge device itself
		}
		now := time.Now()
		frame := append([]byte(nil), buf[:n]...)
		p := DecodeFrame(frame)
		p.Time, p.From = now, h
		rec := make([]byte, 16)
		binary.LittleEndian.PutUint32(rec[0:], uint32(now.Unix()))
		binary.LittleEndian.PutUint32(rec[4:], uint32(now.Nanosecond()/1000))
		binary.LittleEndian.PutUint32(rec[8:], uint32(n))
		binary.LittleEndian.PutUint32(rec[12:], uint32(n))
		c.mu.Lock()
		c.packets = append(c.packets, p)
		c.pcap.Write(rec)
		c.pcap.Write(frame)
		c.mu.Unlock()
	}
}

// Stop ends the capture and flushes the pcap file. Packets stay readable.
func (c *Capture) Stop() {
	c.mu.Lock()
	if c.stopped {
		c.mu.Unlock()
		return
	}
	c.stopped = true
	c.mu.Unlock()
	close(c.stop)
	<-c.done
	unix.Close(c.fd)
	c.mu.Lock()
	c.pcap.Flush()
	c.file.Close()
	c.mu.Unlock()
}

// All returns the packets seen so far.
func (c *Capture) All() []*Packet {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]*Packet(nil), c.packets...)
}

// Filter returns the packets seen so far for which keep is true.
func (c *Capture) Filter(keep func(*Packet) bool) []*Packet {
	var out []*Packet
	for _, p := range c.All() {
		if keep(p) {
			out = append(out, p)
		}
	}
	return out
}

// WaitFor waits up to d for a packet for which match is true and returns
// the first one, or nil.
func (c *Capture) WaitFor(d time.Duration, match func(*Packet) bool) *Packet {
	deadline := time.Now().Add(d)
	for {
		if ps := c.Filter(match); len(ps) > 0 {
			return ps[0]
		}
		if time.Now().After(deadline) {
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Carrying returns the packets whose frame contains marker.
func (c *Capture) Carrying(marker []byte) []*Packet {
	return c.Filter(func(p *Packet) bool { return p.Contains(marker) })
}

// AssertNoCleartext fails the test if any frame seen carries marker (a
// payload sent in the clear would; an ESP packet never does).
func (c *Capture) AssertNoCleartext(t testing.TB, marker []byte) {
	t.Helper()
	if ps := c.Carrying(marker); len(ps) > 0 {
		t.Errorf("oetest: %d frame(s) carry the cleartext %q on the wire:\n%s", len(ps), marker, Describe(ps, 20))
	}
}

// AssertOnly fails the test if an IP packet between a and b (either
// direction, any of their addresses) is of a kind not in allowed, e.g.
// AssertOnly(t, west, east, OEKinds...).
func (c *Capture) AssertOnly(t testing.TB, a, b *Host, allowed ...Kind) {
	t.Helper()
	ok := map[Kind]bool{}
	for _, k := range allowed {
		ok[k] = true
	}
	bad := c.Filter(func(p *Packet) bool { return p.Src.IsValid() && p.Between(a, b) && !ok[p.Kind] })
	if len(bad) > 0 {
		t.Errorf("oetest: %d packet(s) between %s and %s are not %v:\n%s", len(bad), a, b, allowed, Describe(bad, 20))
	}
}

// Describe lists up to max packets, one a line.
func Describe(ps []*Packet, max int) string {
	var b strings.Builder
	for i, p := range ps {
		if i == max {
			fmt.Fprintf(&b, "  ... and %d more\n", len(ps)-max)
			break
		}
		b.WriteString("  " + p.String() + "\n")
	}
	return b.String()
}

// ArtifactEnv names a directory where the rig keeps pcaps and logs of
// failed tests; by default they go under the guest's share (vmrun test
// -keep brings them back) or the host's temporary directory.
const ArtifactEnv = "OE_TEST_ARTIFACTS"

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9_.-]+`)

// ArtifactDir is a directory for the test's pcaps and logs. It is removed
// when the test passes and kept (its path logged by the helpers that wrote
// there) when it fails.
func ArtifactDir(t testing.TB) string {
	t.Helper()
	base := os.Getenv(ArtifactEnv)
	if base == "" && testenv.InGuest() {
		if fi, err := os.Stat("/run/vmtest"); err == nil && fi.IsDir() {
			base = "/run/vmtest/artifacts"
		}
	}
	if base == "" {
		base = os.TempDir()
	}
	if err := os.MkdirAll(base, 0o755); err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp(base, "oetest-"+unsafeName.ReplaceAllString(t.Name(), "_")+"-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if !t.Failed() {
			os.RemoveAll(dir)
		}
	})
	return dir
}
