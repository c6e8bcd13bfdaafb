package interop

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/oe-agent/oe-agent/ike"
)

// peerControl is how a scenario commands the other IKE implementation.
type peerControl interface {
	initiate(t *testing.T)
	rekeyChild(t *testing.T)
	rekeyIKE(t *testing.T)
	deleteIKE(t *testing.T)
	// log returns the peer's log so far.
	log() string
}

// scenario is one interop run: establish, traffic, rekeys, delete.
type scenario struct {
	ours     *driver
	cfg      *ike.Config // ours as initiator
	peer     peerControl
	peerAddr netip.Addr
	// weInitiate says who starts the IKE SA. The IKE initiator rekeys the
	// first Child SA; the responder rekeys the IKE SA, rekeys the Child SA
	// again (now with keys from the new IKE SA's SK_d) and deletes, so that
	// each operation runs in both directions across the two roles.
	weInitiate bool
	// timeout bounds each step.
	timeout time.Duration
	// startStream starts a TCP stream through the SAs, or is nil.
	startStream func(t *testing.T) *stream
	// checkKernel asserts that the SAs with SPIs want are in both ends'
	// kernels and those with gone are not (it may poll); nil skips.
	checkKernel func(t *testing.T, step string, want, gone []uint32)
	// checkUsed asserts that ESP traffic went through child; nil skips.
	checkUsed func(t *testing.T, child ike.ChildSA)
	// checkClean asserts that neither end has SAs or IPsec policies left,
	// unless revived reports that the peer negotiated a new IKE SA.
	checkClean func(t *testing.T, revived func() bool)
	// checkLoss runs after the TCP stream ends, to look at what the
	// kernels counted while it ran; nil skips.
	checkLoss func(t *testing.T)
}

func spis(c ike.ChildSA) []uint32 { return []uint32{c.InboundSPI, c.OutboundSPI} }

// run plays the scenario and returns the Child SAs it went through.
func (s *scenario) run(t *testing.T) []ike.ChildSA {
	t.Helper()
	last := time.Now()
	lap := func(step string) {
		now := time.Now()
		t.Logf("step %q took %v", step, now.Sub(last).Round(10*time.Millisecond))
		last = now
	}
	check := func(step string, want, gone []uint32) {
		if s.checkKernel != nil {
			s.checkKernel(t, step, want, gone)
		}
	}
	if s.weInitiate {
		if err := s.ours.initiate(s.cfg, s.peerAddr); err != nil {
			t.Fatal(err)
		}
	} else {
		s.peer.initiate(t)
	}
	st := s.ours.waitFor(s.timeout, "IKE SA established with one Child SA", func(st driverStatus) bool {
		return st.Established == 1 && len(st.Children) == 1
	})
	c1, _ := st.child()
	lap("establish")
	check("established", spis(c1), nil)
	lap("check kernel")

	var str *stream
	if s.startStream != nil {
		str = s.startStream(t)
		str.waitProgress(t, 5, s.timeout)
		if s.checkUsed != nil {
			s.checkUsed(t, c1)
		}
		lap("start TCP stream")
	}
	progress := func() {
		if str != nil {
			str.waitProgress(t, 5, s.timeout)
		}
	}

	rekeyChild := func(byUs bool, old ike.ChildSA, step string) ike.ChildSA {
		if byUs {
			if err := s.ours.rekeyChild(old.InboundSPI); err != nil {
				t.Fatal(err)
			}
		} else {
			s.peer.rekeyChild(t)
		}
		st := s.ours.waitFor(s.timeout, step, func(st driverStatus) bool {
			c, ok := st.child()
			return len(st.Children) == 1 && ok && c.InboundSPI != old.InboundSPI
		})
		c, _ := st.child()
		lap(step)
		if c.OutboundSPI == old.OutboundSPI {
			t.Fatalf("%s: outbound SPI %#08x did not change", step, c.OutboundSPI)
		}
		check(step, spis(c), spis(old))
		lap("check kernel")
		progress()
		if s.checkUsed != nil && str != nil {
			s.checkUsed(t, c)
		}
		lap("traffic")
		return c
	}

	// Child SA rekey by the IKE initiator.
	c2 := rekeyChild(s.weInitiate, c1, "first Child SA rekey")

	// IKE SA rekey by the IKE responder: the Child SA stays.
	before := s.ours.status().IKESPIs
	if !s.weInitiate {
		if err := s.ours.rekeyIKE(); err != nil {
			t.Fatal(err)
		}
	} else {
		s.peer.rekeyIKE(t)
	}
	st = s.ours.waitFor(s.timeout, "IKE SA rekeyed", func(st driverStatus) bool { return st.IKERekeys == 1 })
	lap("IKE SA rekey")
	if st.IKESPIs == before {
		t.Fatalf("IKE SPIs %016x/%016x unchanged by the rekey", before[0], before[1])
	}
	if c, ok := st.child(); !ok || c.InboundSPI != c2.InboundSPI || len(st.Children) != 1 {
		t.Fatalf("IKE SA rekey changed the Child SAs: %v", st.Children)
	}
	progress()
	lap("traffic")

	// Child SA rekey by the IKE responder, over the rekeyed IKE SA.
	c3 := rekeyChild(!s.weInitiate, c2, "second Child SA rekey (after the IKE SA rekey)")

	if str != nil {
		str.stop(t)
		if s.checkLoss != nil {
			s.checkLoss(t)
		}
		lap("stop TCP stream")
	}

	// Delete by the IKE responder.
	if !s.weInitiate {
		if err := s.ours.deleteIKE(); err != nil {
			t.Fatal(err)
		}
	} else {
		s.peer.deleteIKE(t)
	}
	// A peer told to keep the connection up (libreswan after whack
	// --initiate) may negotiate a new IKE SA right after a delete: the
	// deleted SAs must be gone all the same.
	st = s.ours.waitFor(s.timeout, "IKE SA deleted", func(st driverStatus) bool {
		_, left := st.Children[c3.InboundSPI]
		return st.Closed >= 1 && !left
	})
	lap("delete")
	check("delete", nil, spis(c3))
	revived := func() bool { return s.ours.status().Established > 1 }
	if s.checkClean != nil {
		s.checkClean(t, revived)
	}
	if revived() {
		t.Logf("the peer negotiated a new IKE SA after the delete")
	}
	lap("check kernel clean")
	for _, err := range st.CloseErrs {
		if !(s.weInitiate && errors.Is(err, ike.ErrPeerDeleted)) {
			t.Errorf("IKE SA closed with %v", err)
		}
	}
	if len(st.Failures) > 0 {
		t.Errorf("driver failures: %v", st.Failures)
	}
	// Counted from the first IKE SA only: a revival adds its own.
	if st.IKERekeys != 1 || st.Installs-(st.Established-1) != 3 || st.Deletes != 3 {
		t.Errorf("status %+v: want 1 IKE rekey, 3 Child SAs installed and deleted", st)
	}
	return []ike.ChildSA{c1, c2, c3}
}

// stream is a TCP connection carrying a counter every interval, echoed
// back by the server; it records errors and the longest wait for an echo.
type stream struct {
	conn     net.Conn
	ln       net.Listener
	interval time.Duration

	mu       sync.Mutex
	echoed   uint64
	last     time.Time
	maxGap   time.Duration
	err      error
	changed  chan struct{}
	stopping bool
	done     chan struct{}
}

// startStream listens on addr with listen, dials it with dial and starts
// sending. listen and dial run in the right namespaces.
func startStream(t *testing.T, listen func() (net.Listener, error), dial func() (net.Conn, error)) *stream {
	t.Helper()
	ln, err := listen()
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { defer c.Close(); io.Copy(c, c) }()
		}
	}()
	conn, err := dial()
	if err != nil {
		ln.Close()
		t.Fatalf("interop: dial: %v", err)
	}
	s := &stream{conn: conn, ln: ln, interval: 50 * time.Millisecond, last: time.Now(), changed: make(chan struct{}), done: make(chan struct{})}
	go s.send()
	go s.receive()
	t.Cleanup(func() { conn.Close(); ln.Close() })
	return s
}

func (s *stream) send() {
	var b [8]byte
	for n := uint64(1); ; n++ {
		s.mu.Lock()
		stop := s.stopping || s.err != nil
		s.mu.Unlock()
		if stop {
			return
		}
		binary.BigEndian.PutUint64(b[:], n)
		if _, err := s.conn.Write(b[:]); err != nil {
			s.setErr(fmt.Errorf("write %d: %w", n, err))
			return
		}
		time.Sleep(s.interval)
	}
}

func (s *stream) receive() {
	defer close(s.done)
	var b [8]byte
	for want := uint64(1); ; want++ {
		if _, err := io.ReadFull(s.conn, b[:]); err != nil {
			s.mu.Lock()
			stopping := s.stopping
			s.mu.Unlock()
			if !stopping {
				s.setErr(fmt.Errorf("read %d: %w", want, err))
			}
			return
		}
		if got := binary.BigEndian.Uint64(b[:]); got != want {
			s.setErr(fmt.Errorf("echo %d, want %d", got, want))
			return
		}
		s.mu.Lock()
		now := time.Now()
		if gap := now.Sub(s.last); gap > s.maxGap {
			s.maxGap = gap
		}
		s.last, s.echoed = now, want
		close(s.changed)
		s.changed = make(chan struct{})
		s.mu.Unlock()
	}
}

func (s *stream) setErr(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err == nil {
		s.err = err
		close(s.changed)
		s.changed = make(chan struct{})
	}
}

// waitProgress waits for n more echoes.
func (s *stream) waitProgress(t *testing.T, n uint64, timeout time.Duration) {
	t.Helper()
	s.mu.Lock()
	goal := s.echoed + n
	s.mu.Unlock()
	deadline := time.After(timeout)
	for {
		s.mu.Lock()
		echoed, err, ch := s.echoed, s.err, s.changed
		s.mu.Unlock()
		if err != nil {
			t.Fatalf("interop: TCP stream broke: %v", err)
		}
		if echoed >= goal {
			return
		}
		select {
		case <-ch:
		case <-deadline:
			t.Fatalf("interop: TCP stream stalled at %d echoes (want %d) for %v", echoed, goal, timeout)
		}
	}
}

// stop half-closes the stream, waits for the last echo and checks that
// nothing went wrong. It logs the longest gap between echoes.
func (s *stream) stop(t *testing.T) {
	t.Helper()
	s.mu.Lock()
	s.stopping = true
	s.mu.Unlock()
	time.Sleep(2 * s.interval) // let send notice
	if tc, ok := s.conn.(*net.TCPConn); ok {
		tc.CloseWrite()
	}
	select {
	case <-s.done:
	case <-time.After(30 * time.Second):
		t.Fatal("interop: TCP stream did not end after close")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		t.Fatalf("interop: TCP stream: %v", s.err)
	}
	t.Logf("TCP stream: %d counters echoed in order, longest wait between echoes %v", s.echoed, s.maxGap.Round(time.Millisecond))
}
