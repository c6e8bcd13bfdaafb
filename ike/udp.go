package ike

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"syscall"
	"time"

	"go.uber.org/zap"
	"golang.org/x/sys/unix"
)

// Standard IKE ports (RFC 7296 §2, RFC 3948).
const (
	PortIKE  = 500
	PortNATT = 4500
)

// DriverConfig configures a Driver.
type DriverConfig struct {
	// Dispatcher routes datagrams and owns the SPI table. Required.
	Dispatcher *Dispatcher
	// Conns, when set, are used instead of opening sockets for Listen:
	// sockets opened elsewhere, or in-memory fakes in tests
	// (iketest.PacketNet). Bypass is not applied to them.
	Conns []PacketConn
	// Listen are the local addresses to bind, e.g. 0.0.0.0:500, [::]:500,
	// 0.0.0.0:4500, [::]:4500. Port 0 picks a free port (tests). Sockets
	// on NATTPort carry the 4-octet non-ESP marker (RFC 3948 §2.2).
	Listen []netip.AddrPort
	// NATTPort is the port whose sockets use the non-ESP marker; zero
	// means PortNATT.
	NATTPort uint16
	// Bypass, if set, is applied to every socket before use, to exempt
	// it from IPsec policies (the agent passes xfrm.BypassSocket).
	Bypass func(syscall.RawConn) error
	// Handler receives every action other than Send, on the goroutine of
	// the SA that produced it. It must not block for long; it may call
	// Driver.Do.
	Handler func(sa *SA, a Action)
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Logger receives socket errors; nil discards.
	Logger *zap.Logger
}

// PacketConn is the datagram socket a Driver reads and writes;
// *net.UDPConn implements it. Reads must return net.ErrClosed after Close.
type PacketConn interface {
	ReadMsgUDPAddrPort(b, oob []byte) (n, oobn, flags int, addr netip.AddrPort, err error)
	WriteMsgUDPAddrPort(b, oob []byte, addr netip.AddrPort) (n, oobn int, err error)
	LocalAddr() net.Addr
	Close() error
}

var _ PacketConn = (*net.UDPConn)(nil)

// A Driver is the thin I/O shell around the pure state machines: it owns
// UDP sockets (IPv4 and IPv6, ports 500 and 4500), runs one goroutine per
// SA that owns it (feeding it datagrams, timer events at its Deadline and
// commands), and sends what the SAs ask.
type Driver struct {
	cfg   DriverConfig
	log   *zap.Logger
	socks []*udpSocket

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu    sync.Mutex
	loops map[*SA]*saLoop // guarded by mu
}

type udpSocket struct {
	conn     PacketConn
	addr     netip.AddrPort // as bound (port resolved)
	natt     bool
	wildcard bool
}

// saLoop is the goroutine that owns one SA.
type saLoop struct {
	sa *SA
	in chan func(now time.Time) []Action
}

// NewDriver opens and configures the sockets. Call Run to start serving
// and Close (or cancel Run's context) to stop.
func NewDriver(cfg DriverConfig) (*Driver, error) {
	if cfg.Dispatcher == nil {
		return nil, fmt.Errorf("%w: driver without a dispatcher", ErrConfig)
	}
	if cfg.NATTPort == 0 {
		cfg.NATTPort = PortNATT
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	d := &Driver{cfg: cfg, log: cfg.Logger, loops: map[*SA]*saLoop{}}
	if d.log == nil {
		d.log = zap.NewNop()
	}
	d.ctx, d.cancel = context.WithCancel(context.Background())
	for _, c := range cfg.Conns {
		ua, ok := c.LocalAddr().(*net.UDPAddr)
		if !ok {
			return nil, fmt.Errorf("%w: conn with local address %v", ErrConfig, c.LocalAddr())
		}
		a := ua.AddrPort()
		a = netip.AddrPortFrom(a.Addr().Unmap(), a.Port())
		d.socks = append(d.socks, &udpSocket{conn: c, addr: a, natt: a.Port() == cfg.NATTPort, wildcard: a.Addr().IsUnspecified()})
	}
	for _, la := range cfg.Listen {
		if len(cfg.Conns) > 0 {
			break
		}
		s, err := d.listen(la)
		if err != nil {
			d.closeSockets()
			return nil, err
		}
		d.socks = append(d.socks, s)
	}
	if len(d.socks) == 0 {
		return nil, fmt.Errorf("%w: no listen addresses", ErrConfig)
	}
	return d, nil
}

func (d *Driver) listen(la netip.AddrPort) (*udpSocket, error) {
	network := "udp4"
	if la.Addr().Is6() && !la.Addr().Is4In6() {
		network = "udp6"
	}
	conn, err := net.ListenUDP(network, net.UDPAddrFromAddrPort(la))
	if err != nil {
		return nil, fmt.Errorf("ike: listen %v: %w", la, err)
	}
	rc, err := conn.SyscallConn()
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("ike: socket %v: %w", la, err)
	}
	if d.cfg.Bypass != nil {
		if err := d.cfg.Bypass(rc); err != nil {
			conn.Close()
			return nil, fmt.Errorf("ike: IPsec bypass on %v: %w", la, err)
		}
	}
	s := &udpSocket{conn: conn, addr: conn.LocalAddr().(*net.UDPAddr).AddrPort(), wildcard: la.Addr().IsUnspecified()}
	s.addr = netip.AddrPortFrom(s.addr.Addr().Unmap(), s.addr.Port())
	s.natt = s.addr.Port() == d.cfg.NATTPort
	if s.wildcard {
		// Learn each datagram's destination address, which is our
		// address for that peer (NAT detection hashes it).
		var serr error
		err := rc.Control(func(fd uintptr) {
			if network == "udp4" {
				serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_IP, unix.IP_PKTINFO, 1)
			} else {
				serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_IPV6, unix.IPV6_RECVPKTINFO, 1)
			}
		})
		if err == nil {
			err = serr
		}
		if err != nil {
			conn.Close()
			return nil, fmt.Errorf("ike: packet info on %v: %w", la, err)
		}
	}
	return s, nil
}

// Addrs returns the bound addresses (with ports resolved).
func (d *Driver) Addrs() []netip.AddrPort {
	out := make([]netip.AddrPort, len(d.socks))
	for i, s := range d.socks {
		out[i] = s.addr
	}
	return out
}

// Run serves until ctx is cancelled or Close is called, then closes the
// sockets and waits for every goroutine it started.
func (d *Driver) Run(ctx context.Context) error {
	for _, s := range d.socks {
		d.wg.Add(1)
		go d.readLoop(s)
	}
	select {
	case <-ctx.Done():
	case <-d.ctx.Done():
	}
	d.cancel()
	d.closeSockets()
	d.wg.Wait()
	return nil
}

// Close stops Run.
func (d *Driver) Close() { d.cancel() }

func (d *Driver) closeSockets() {
	for _, s := range d.socks {
		s.conn.Close()
	}
}

// Initiate starts an IKE SA from local (one of our addresses; its port
// picks the socket) to remote, on a new goroutine.
func (d *Driver) Initiate(cfg *Config, local, remote netip.AddrPort) (*SA, error) {
	if d.ctx.Err() != nil {
		return nil, ErrClosed
	}
	sa, acts, err := d.cfg.Dispatcher.Initiate(d.cfg.Now(), cfg, local, remote)
	if err != nil {
		return nil, err
	}
	d.startLoop(sa, acts)
	return sa, nil
}

// Do runs cmd on sa's goroutine (e.g. sa.RekeyChild, sa.Delete wrapped in
// a closure) and carries out the actions it returns. It does not wait.
func (d *Driver) Do(sa *SA, cmd func(now time.Time) []Action) error {
	d.mu.Lock()
	l := d.loops[sa]
	d.mu.Unlock()
	if l == nil {
		return ErrClosed
	}
	select {
	case l.in <- cmd:
		return nil
	case <-d.ctx.Done():
		return ErrClosed
	}
}

// readLoop reads datagrams from one socket and routes them.
func (d *Driver) readLoop(s *udpSocket) {
	defer d.wg.Done()
	buf := make([]byte, 65536)
	oob := make([]byte, 128)
	for {
		n, oobn, _, from, err := s.conn.ReadMsgUDPAddrPort(buf, oob)
		if err != nil {
			if d.ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return
			}
			d.log.Warn("IKE socket read", zap.Stringer("socket", s.addr), zap.Error(err))
			continue
		}
		data := buf[:n]
		if s.natt {
			// Non-ESP marker (RFC 3948 §2.2); anything else on this
			// port is ESP-in-UDP for the kernel.
			if n < 4 || data[0]|data[1]|data[2]|data[3] != 0 {
				continue
			}
			data = data[4:]
		}
		local := s.addr
		if s.wildcard {
			if a, ok := pktinfoDst(oob[:oobn]); ok {
				local = netip.AddrPortFrom(a, s.addr.Port())
			}
		}
		from = netip.AddrPortFrom(from.Addr().Unmap(), from.Port())
		d.route(local, from, append([]byte(nil), data...))
	}
}

// route hands a datagram to its SA's goroutine, or carries out the
// Dispatcher's stateless answer, or starts a new responder SA.
func (d *Driver) route(local, from netip.AddrPort, data []byte) {
	now := d.cfg.Now()
	sa, acts, err := d.cfg.Dispatcher.Route(now, local, from, data)
	switch {
	case sa == nil:
		if err != nil {
			d.log.Debug("IKE datagram refused", zap.Stringer("from", from), zap.Error(err))
		}
		d.perform(nil, acts)
	case acts != nil:
		d.startLoop(sa, acts)
	default:
		d.mu.Lock()
		l := d.loops[sa]
		d.mu.Unlock()
		if l == nil {
			return
		}
		select {
		case l.in <- func(now time.Time) []Action { acts, _ := sa.Handle(now, local, from, data); return acts }:
		default:
			d.log.Debug("IKE SA busy, datagram dropped", zap.Stringer("ike_sa", sa))
		}
	}
}

// startLoop starts the goroutine owning sa, which first carries out acts.
func (d *Driver) startLoop(sa *SA, acts []Action) {
	l := &saLoop{sa: sa, in: make(chan func(time.Time) []Action, 64)}
	d.mu.Lock()
	d.loops[sa] = l
	d.mu.Unlock()
	d.wg.Add(1)
	go d.runLoop(l, acts)
}

func (d *Driver) runLoop(l *saLoop, acts []Action) {
	defer d.wg.Done()
	defer func() {
		d.mu.Lock()
		delete(d.loops, l.sa)
		d.mu.Unlock()
	}()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	d.perform(l.sa, acts)
	for !l.sa.IsClosed() {
		timer.Stop()
		var tc <-chan time.Time
		if dl := l.sa.Deadline(); !dl.IsZero() {
			timer.Reset(max(dl.Sub(d.cfg.Now()), 0))
			tc = timer.C
		}
		select {
		case f := <-l.in:
			d.perform(l.sa, f(d.cfg.Now()))
		case <-tc:
			d.perform(l.sa, l.sa.Tick(d.cfg.Now()))
		case <-d.ctx.Done():
			return
		}
	}
}

// perform carries out actions: sends datagrams and NAT keepalives, passes
// the rest to the Handler.
func (d *Driver) perform(sa *SA, acts []Action) {
	for _, a := range acts {
		switch a := a.(type) {
		case Send:
			if err := d.send(a); err != nil {
				d.log.Debug("IKE send", zap.Stringer("to", a.Remote), zap.Error(err))
			}
			continue
		case NATKeepalive:
			if sock := d.socketFor(a.Local); sock != nil {
				_, _, err := sock.conn.WriteMsgUDPAddrPort([]byte{0xff}, nil, a.Remote)
				if err != nil {
					d.log.Debug("NAT keepalive", zap.Stringer("to", a.Remote), zap.Error(err))
				}
			}
			continue
		}
		if d.cfg.Handler != nil && sa != nil {
			d.cfg.Handler(sa, a)
		}
	}
}

// send writes one datagram from the socket matching s.Local.
func (d *Driver) send(s Send) error {
	sock := d.socketFor(s.Local)
	if sock == nil {
		return fmt.Errorf("ike: no socket for local address %v", s.Local)
	}
	data := s.Data
	if sock.natt {
		data = append([]byte{0, 0, 0, 0}, data...)
	}
	var oob []byte
	if sock.wildcard && s.Local.Addr().IsValid() && !s.Local.Addr().IsUnspecified() {
		oob = pktinfoSrc(s.Local.Addr())
	}
	_, _, err := sock.conn.WriteMsgUDPAddrPort(data, oob, s.Remote)
	return err
}

// socketFor picks the socket bound to local, or a wildcard socket of the
// same family and port.
func (d *Driver) socketFor(local netip.AddrPort) *udpSocket {
	var wild *udpSocket
	for _, s := range d.socks {
		if s.addr == local {
			return s
		}
		if s.wildcard && s.addr.Port() == local.Port() && s.addr.Addr().Is4() == local.Addr().Unmap().Is4() {
			wild = s
		}
	}
	return wild
}

// pktinfoDst returns the destination address from IP_PKTINFO or
// IPV6_PKTINFO control messages.
func pktinfoDst(oob []byte) (netip.Addr, bool) {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return netip.Addr{}, false
	}
	for _, m := range msgs {
		switch {
		case m.Header.Level == unix.IPPROTO_IP && m.Header.Type == unix.IP_PKTINFO && len(m.Data) >= unix.SizeofInet4Pktinfo:
			// struct in_pktinfo: ifindex (4), spec_dst (4), addr (4).
			return netip.AddrFrom4([4]byte(m.Data[8:12])), true
		case m.Header.Level == unix.IPPROTO_IPV6 && m.Header.Type == unix.IPV6_PKTINFO && len(m.Data) >= unix.SizeofInet6Pktinfo:
			// struct in6_pktinfo: addr (16), ifindex (4).
			return netip.AddrFrom16([16]byte(m.Data[:16])).Unmap(), true
		}
	}
	return netip.Addr{}, false
}

// pktinfoSrc builds the control message that sets a datagram's source
// address on a wildcard socket.
func pktinfoSrc(a netip.Addr) []byte {
	if a.Is4() {
		return unix.PktInfo4(&unix.Inet4Pktinfo{Spec_dst: a.As4()})
	}
	return unix.PktInfo6(&unix.Inet6Pktinfo{Addr: a.As16()})
}
