package iketest

import (
	"bytes"
	"net"
	"net/netip"
	"sync"

	"github.com/oe-agent/oe-agent/ike"
)

// PacketNet is an in-memory datagram network for Driver tests: each Conn is
// a fake UDP socket (an ike.PacketConn). Delivery goes through channels, so
// a Driver on these conns blocks durably and runs under testing/synctest
// with fake time.
type PacketNet struct {
	mu    sync.Mutex
	conns map[netip.AddrPort]*Conn // guarded by mu
	// filter decides whether a datagram is delivered; guarded by mu.
	filter func(from, to netip.AddrPort, b []byte) bool
}

// NewPacketNet returns an empty network.
func NewPacketNet() *PacketNet { return &PacketNet{conns: map[netip.AddrPort]*Conn{}} }

// SetFilter installs f, which sees every datagram sent (also to addresses
// nobody is bound to) and returns false to drop it. Nil delivers
// everything.
func (n *PacketNet) SetFilter(f func(from, to netip.AddrPort, b []byte) bool) {
	n.mu.Lock()
	n.filter = f
	n.mu.Unlock()
}

// Conn returns a new socket bound to addr.
func (n *PacketNet) Conn(addr netip.AddrPort) *Conn {
	c := &Conn{net: n, addr: addr, in: make(chan packet, 256), closed: make(chan struct{})}
	n.mu.Lock()
	n.conns[addr] = c
	n.mu.Unlock()
	return c
}

type packet struct {
	from netip.AddrPort
	data []byte
}

// Conn is a fake UDP socket on a PacketNet.
type Conn struct {
	net    *PacketNet
	addr   netip.AddrPort
	in     chan packet
	closed chan struct{}
	once   sync.Once
}

var _ ike.PacketConn = (*Conn)(nil)

// ReadMsgUDPAddrPort blocks until a datagram arrives or the conn closes.
func (c *Conn) ReadMsgUDPAddrPort(b, oob []byte) (n, oobn, flags int, addr netip.AddrPort, err error) {
	select {
	case p := <-c.in:
		return copy(b, p.data), 0, 0, p.from, nil
	case <-c.closed:
		return 0, 0, 0, netip.AddrPort{}, net.ErrClosed
	}
}

// WriteMsgUDPAddrPort delivers b to the conn bound to addr, if any and if
// the filter agrees; a full receive queue drops it, like a real socket.
func (c *Conn) WriteMsgUDPAddrPort(b, oob []byte, addr netip.AddrPort) (n, oobn int, err error) {
	select {
	case <-c.closed:
		return 0, 0, net.ErrClosed
	default:
	}
	c.net.mu.Lock()
	dst, f := c.net.conns[addr], c.net.filter
	c.net.mu.Unlock()
	if (f != nil && !f(c.addr, addr, b)) || dst == nil {
		return len(b), 0, nil
	}
	select {
	case dst.in <- packet{from: c.addr, data: bytes.Clone(b)}:
	default:
	}
	return len(b), 0, nil
}

// LocalAddr returns the bound address as a *net.UDPAddr.
func (c *Conn) LocalAddr() net.Addr { return net.UDPAddrFromAddrPort(c.addr) }

// Close unbinds the conn and wakes its reader.
func (c *Conn) Close() error {
	c.once.Do(func() {
		close(c.closed)
		c.net.mu.Lock()
		if c.net.conns[c.addr] == c {
			delete(c.net.conns, c.addr)
		}
		c.net.mu.Unlock()
	})
	return nil
}
