package oetest

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// NewMarker returns a fresh cleartext marker ("OETEST-" and 16 hex
// digits) to put in payloads and look for on the wire.
func NewMarker() []byte {
	var b [8]byte
	rand.Read(b[:])
	return []byte("OETEST-" + hex.EncodeToString(b[:]))
}

// Datagram layout: marker, then a big-endian uint32 sequence number and the
// sender's clock in Unix nanoseconds, then padding to the flow's size.
const seqHeader = 4 + 8

// UDPSink receives a flow's datagrams in a host's namespace and records
// when each sequence number first arrived.
type UDPSink struct {
	Addr   netip.AddrPort
	Marker []byte

	conn *net.UDPConn
	done chan struct{}

	mu      sync.Mutex
	arrived map[uint32]time.Time
	dups    int
	order   []uint32
	from    map[netip.Addr]int
}

// ListenUDP opens a sink on addr in h's namespace for datagrams carrying
// marker (others are ignored); it closes when the test ends.
func (h *Host) ListenUDP(t testing.TB, addr netip.AddrPort, marker []byte) *UDPSink {
	t.Helper()
	s := &UDPSink{Addr: addr, Marker: marker, done: make(chan struct{}), arrived: map[uint32]time.Time{}, from: map[netip.Addr]int{}}
	err := h.NS.Do(func() error {
		network := "udp4"
		if addr.Addr().Is6() {
			network = "udp6"
		}
		var err error
		s.conn, err = net.ListenUDP(network, net.UDPAddrFromAddrPort(addr))
		return err
	})
	if err != nil {
		t.Fatalf("oetest: listen udp %s on %s: %v", addr, h, err)
	}
	s.conn.SetReadBuffer(4 << 20)
	go s.loop()
	t.Cleanup(s.Close)
	return s
}

func (s *UDPSink) loop() {
	defer close(s.done)
	buf := make([]byte, 65536)
	for {
		n, from, err := s.conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		now := time.Now()
		b := buf[:n]
		if len(b) < len(s.Marker)+seqHeader || string(b[:len(s.Marker)]) != string(s.Marker) {
			continue
		}
		seq := binary.BigEndian.Uint32(b[len(s.Marker):])
		s.mu.Lock()
		if _, ok := s.arrived[seq]; ok {
			s.dups++
		} else {
			s.arrived[seq] = now
			s.order = append(s.order, seq)
		}
		s.from[from.Addr().Unmap()]++
		s.mu.Unlock()
	}
}

// Close stops the sink.
func (s *UDPSink) Close() {
	s.conn.Close()
	<-s.done
}

// Count is the number of distinct sequence numbers received.
func (s *UDPSink) Count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.arrived)
}

// WaitCount waits up to d for n distinct datagrams; it reports whether
// they came.
func (s *UDPSink) WaitCount(n int, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for s.Count() < n {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
	return true
}

// Flow is a sent burst: when each datagram left.
type Flow struct {
	Src    netip.AddrPort // the sender's bound address
	Dst    netip.AddrPort
	Marker []byte
	Sent   []time.Time // by sequence number
	// Errors counts sends the kernel refused (EPERM from a block
	// policy, EAGAIN, ...); ErrFirst is the first.
	Errors   int
	ErrFirst error
}

// Burst describes datagrams to send.
type Burst struct {
	Count    int
	Interval time.Duration // between sends; 0 sends back to back
	Size     int           // payload bytes (at least marker + 12); default 100
	// SrcPort binds the sender to a fixed port (0: any).
	SrcPort uint16
}

// SendUDP sends a burst from src (one of h's addresses) to dst; each
// datagram carries marker, its sequence number and its send time. The
// sending socket belongs to h's namespace.
func (h *Host) SendUDP(t testing.TB, src netip.Addr, dst netip.AddrPort, marker []byte, b Burst) *Flow {
	t.Helper()
	if b.Size == 0 {
		b.Size = 100
	}
	if b.Size < len(marker)+seqHeader {
		b.Size = len(marker) + seqHeader
	}
	f := &Flow{Dst: dst, Marker: marker, Sent: make([]time.Time, b.Count)}
	err := h.NS.Do(func() error {
		c, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(src, b.SrcPort)))
		if err != nil {
			return err
		}
		defer c.Close()
		f.Src = c.LocalAddr().(*net.UDPAddr).AddrPort()
		buf := make([]byte, b.Size)
		copy(buf, marker)
		start := time.Now()
		for i := 0; i < b.Count; i++ {
			if b.Interval > 0 {
				if d := time.Until(start.Add(time.Duration(i) * b.Interval)); d > 0 {
					time.Sleep(d)
				}
			}
			now := time.Now()
			binary.BigEndian.PutUint32(buf[len(marker):], uint32(i))
			binary.BigEndian.PutUint64(buf[len(marker)+4:], uint64(now.UnixNano()))
			f.Sent[i] = now
			if _, err := c.WriteToUDPAddrPort(buf, dst); err != nil {
				f.Errors++
				if f.ErrFirst == nil {
					f.ErrFirst = err
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("oetest: send udp from %s to %s: %v", src, dst, err)
	}
	return f
}

// FlowReport compares what was sent with what arrived.
type FlowReport struct {
	Sent, Delivered, Duplicates int
	// Lost are the sequence numbers that never arrived.
	Lost []uint32
	// FirstSeq is the lowest sequence number delivered (0 when the very
	// first datagram made it); FirstDelivery is the time from the first
	// send to the first arrival of any datagram.
	FirstSeq      uint32
	FirstDelivery time.Duration
	// Reordered counts arrivals with a lower sequence number than an
	// earlier arrival.
	Reordered int
}

func (r FlowReport) String() string {
	lost := fmt.Sprint(r.Lost)
	if len(r.Lost) > 20 {
		lost = fmt.Sprintf("%v... (%d)", r.Lost[:20], len(r.Lost))
	}
	return fmt.Sprintf("sent %d, delivered %d, lost %s, duplicates %d, reordered %d, first delivered seq %d after %s",
		r.Sent, r.Delivered, lost, r.Duplicates, r.Reordered, r.FirstSeq, r.FirstDelivery)
}

// Report is the sink's view of flow f.
func (s *UDPSink) Report(f *Flow) FlowReport {
	s.mu.Lock()
	defer s.mu.Unlock()
	return flowReport(f.Sent, s.arrived, s.order, s.dups)
}

// flowReport compares send times (by sequence number) with first arrival
// times and the order of first arrivals.
func flowReport(sent []time.Time, arrived map[uint32]time.Time, order []uint32, dups int) FlowReport {
	r := FlowReport{Sent: len(sent), Duplicates: dups}
	var first time.Time
	max := int64(-1)
	lowest := uint32(0)
	for _, seq := range order {
		if int(seq) >= len(sent) {
			continue
		}
		if r.Delivered == 0 || seq < lowest {
			lowest = seq
		}
		r.Delivered++
		if int64(seq) < max {
			r.Reordered++
		} else {
			max = int64(seq)
		}
		if at := arrived[seq]; first.IsZero() || at.Before(first) {
			first = at
		}
	}
	if r.Delivered > 0 {
		r.FirstDelivery = first.Sub(sent[0])
		r.FirstSeq = lowest
	}
	for i := range sent {
		if _, ok := arrived[uint32(i)]; !ok {
			r.Lost = append(r.Lost, uint32(i))
		}
	}
	return r
}

// TCPServer accepts connections in a host's namespace and echoes what it
// reads.
type TCPServer struct {
	Addr netip.AddrPort
	ln   *net.TCPListener
	wg   sync.WaitGroup

	mu       sync.Mutex
	accepted int
}

// ServeTCP starts an echo server on addr in h's namespace; it stops when
// the test ends.
func (h *Host) ServeTCP(t testing.TB, addr netip.AddrPort) *TCPServer {
	t.Helper()
	s := &TCPServer{Addr: addr}
	err := h.NS.Do(func() error {
		var err error
		s.ln, err = net.ListenTCP("tcp", net.TCPAddrFromAddrPort(addr))
		return err
	})
	if err != nil {
		t.Fatalf("oetest: listen tcp %s on %s: %v", addr, h, err)
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := s.ln.Accept()
			if err != nil {
				return
			}
			s.mu.Lock()
			s.accepted++
			s.mu.Unlock()
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				defer c.Close()
				c.SetDeadline(time.Now().Add(2 * time.Minute))
				buf := make([]byte, 4096)
				for {
					n, err := c.Read(buf)
					if n > 0 {
						c.Write(buf[:n])
					}
					if err != nil {
						return
					}
				}
			}()
		}
	}()
	t.Cleanup(func() { s.ln.Close(); s.wg.Wait() })
	return s
}

// Accepted is the number of connections accepted so far.
func (s *TCPServer) Accepted() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.accepted
}

// TCPResult is one connection attempt with an echo round trip.
type TCPResult struct {
	// Connect is the time connect(2) took (SYN to established), Echo the
	// round trip of the payload after it.
	Connect, Echo time.Duration
	// Retransmits is TCP_INFO's total_retrans when the echo came back (a
	// lost SYN shows as 1 and about a second more of Connect).
	Retransmits uint32
	Err         error
}

// TCPEcho connects from src (one of h's addresses; port 0 for any) to
// dst, sends payload, waits for the echo and closes, all within timeout.
func (h *Host) TCPEcho(src netip.Addr, dst netip.AddrPort, payload []byte, timeout time.Duration) TCPResult {
	var r TCPResult
	var c *net.TCPConn
	start := time.Now()
	err := h.NS.Do(func() error {
		d := net.Dialer{Timeout: timeout, LocalAddr: net.TCPAddrFromAddrPort(netip.AddrPortFrom(src, 0))}
		conn, err := d.Dial("tcp", dst.String())
		if err != nil {
			return err
		}
		c = conn.(*net.TCPConn)
		return nil
	})
	r.Connect = time.Since(start)
	if err != nil {
		r.Err = fmt.Errorf("oetest: tcp connect %s -> %s: %w", src, dst, err)
		return r
	}
	defer c.Close()
	c.SetDeadline(start.Add(timeout))
	t0 := time.Now()
	if _, err := c.Write(payload); err != nil {
		r.Err = fmt.Errorf("oetest: tcp write to %s: %w", dst, err)
		return r
	}
	got := make([]byte, len(payload))
	if _, err := io.ReadFull(c, got); err != nil {
		r.Err = fmt.Errorf("oetest: tcp echo from %s: %w", dst, err)
		return r
	}
	r.Echo = time.Since(t0)
	if string(got) != string(payload) {
		r.Err = fmt.Errorf("oetest: tcp echo from %s differs", dst)
	}
	if rc, err := c.SyscallConn(); err == nil {
		rc.Control(func(fd uintptr) {
			if info, err := unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO); err == nil {
				r.Retransmits = info.Total_retrans
			}
		})
	}
	return r
}
