package agent

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"time"

	"go.uber.org/zap"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"

	"github.com/oe-agent/oe-agent/ike"
	"github.com/oe-agent/oe-agent/xfrm"
)

// ikeIO is the agent's IKE transport: UDP sockets on the IKE ports for
// IPv4 and IPv6, each exempt from XFRM policies (so IKE is never trapped
// by the policies it negotiates), and one goroutine per IKE SA that owns
// the SA, feeds it datagrams, commands and timer ticks, and carries out
// its actions in order. Sends and kernel SA installs happen on the SA's
// goroutine, so an SA is in the kernel before the message that lets the
// peer use it leaves; everything else is reported to the agent's loop.
type ikeIO struct {
	log    *zap.Logger
	disp   *ike.Dispatcher
	kernel xfrm.Kernel
	socks  map[netip.AddrPort]*ikeSocket // by wildcard local address:port, per family
	events chan<- ikeEvent

	mu      sync.Mutex
	runners map[*ike.SA]*saRunner // guarded by mu
}

// ikeEvent is an SA's action (other than Send), reported to the loop after
// the SA's goroutine carried out its part, or the creation of a responder
// SA (Action nil).
type ikeEvent struct {
	r   *saRunner
	act ike.Action
	err error // install failure, for InstallChild
}

// ikeSocket is one UDP socket with packet info, for the local address of
// received datagrams and the source of sent ones.
type ikeSocket struct {
	port uint16
	v4   *ipv4.PacketConn
	v6   *ipv6.PacketConn
	c    *net.UDPConn
}

// openIKE opens the IKE sockets on ports (500 and 4500 in production).
func openIKE(ctx context.Context, log *zap.Logger, disp *ike.Dispatcher, k xfrm.Kernel, ports []uint16, events chan<- ikeEvent) (*ikeIO, error) {
	io := &ikeIO{log: log.Named("ike"), disp: disp, kernel: k, socks: map[netip.AddrPort]*ikeSocket{}, events: events, runners: map[*ike.SA]*saRunner{}}
	for _, port := range ports {
		for _, fam := range []string{"udp4", "udp6"} {
			s, err := listenIKE(fam, port)
			if err != nil {
				io.close()
				return nil, err
			}
			var any netip.Addr
			if fam == "udp4" {
				any = netip.IPv4Unspecified()
			} else {
				any = netip.IPv6Unspecified()
			}
			io.socks[netip.AddrPortFrom(any, port)] = s
			go io.receive(ctx, s)
		}
	}
	return io, nil
}

func listenIKE(fam string, port uint16) (*ikeSocket, error) {
	lc := net.ListenConfig{}
	pc, err := lc.ListenPacket(context.Background(), fam, fmt.Sprintf(":%d", port))
	if err != nil {
		return nil, fmt.Errorf("agent: IKE socket %s port %d: %w", fam, port, err)
	}
	c := pc.(*net.UDPConn)
	rc, err := c.SyscallConn()
	if err == nil {
		err = xfrm.BypassSocket(rc)
	}
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("agent: IKE socket %s port %d: %w", fam, port, err)
	}
	s := &ikeSocket{port: port, c: c}
	if fam == "udp4" {
		s.v4 = ipv4.NewPacketConn(c)
		err = s.v4.SetControlMessage(ipv4.FlagDst|ipv4.FlagInterface, true)
	} else {
		s.v6 = ipv6.NewPacketConn(c)
		err = s.v6.SetControlMessage(ipv6.FlagDst|ipv6.FlagInterface, true)
	}
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("agent: IKE socket %s port %d: packet info: %w", fam, port, err)
	}
	return s, nil
}

func (io *ikeIO) close() {
	for _, s := range io.socks {
		s.c.Close()
	}
}

// receive reads datagrams and routes them: to an SA's goroutine, or, for a
// new IKE_SA_INIT, to a new responder SA (after the dispatcher's cookie
// check), or answers statelessly.
func (io *ikeIO) receive(ctx context.Context, s *ikeSocket) {
	buf := make([]byte, ike.MaxDatagram+1)
	for {
		n, local, remote, err := s.read(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) || ctx.Err() != nil {
				return
			}
			io.log.Warn("IKE receive", zap.Error(err))
			continue
		}
		b := append([]byte(nil), buf[:n]...)
		now := time.Now()
		sa, acts, err := io.disp.Route(now, local, remote, b)
		switch {
		case sa != nil && acts != nil:
			r := io.start(ctx, sa, nil)
			r.post(func(time.Time) []ike.Action { return acts })
			io.events <- ikeEvent{r: r}
		case sa != nil:
			if r := io.runner(sa); r != nil {
				r.post(func(now time.Time) []ike.Action {
					acts, err := sa.Handle(now, local, remote, b)
					if err != nil {
						io.log.Debug("IKE message rejected", zap.Stringer("sa", sa), zap.Error(err))
					}
					return acts
				})
			}
		default:
			// A stateless answer (COOKIE, INVALID_KE_PAYLOAD, ...), or
			// nothing for a datagram that matches no SA.
			io.send(acts)
			if err != nil {
				io.log.Debug("IKE datagram not routed", zap.Stringer("from", remote), zap.Error(err))
			}
		}
	}
}

func (s *ikeSocket) read(buf []byte) (int, netip.AddrPort, netip.AddrPort, error) {
	var n int
	var dst net.IP
	var src net.Addr
	var err error
	if s.v4 != nil {
		var cm *ipv4.ControlMessage
		n, cm, src, err = s.v4.ReadFrom(buf)
		if cm != nil {
			dst = cm.Dst
		}
	} else {
		var cm *ipv6.ControlMessage
		n, cm, src, err = s.v6.ReadFrom(buf)
		if cm != nil {
			dst = cm.Dst
		}
	}
	if err != nil {
		return 0, netip.AddrPort{}, netip.AddrPort{}, err
	}
	ua, _ := src.(*net.UDPAddr)
	if ua == nil {
		return 0, netip.AddrPort{}, netip.AddrPort{}, fmt.Errorf("agent: datagram from %v", src)
	}
	la, _ := netip.AddrFromSlice(dst)
	return n, netip.AddrPortFrom(la.Unmap(), s.port), ua.AddrPort(), nil
}

// send writes Send actions; others are ignored (stateless answers have none).
func (io *ikeIO) send(acts []ike.Action) {
	for _, a := range acts {
		if s, ok := a.(ike.Send); ok {
			io.write(s)
		}
	}
}

func (io *ikeIO) write(s ike.Send) {
	remote := netip.AddrPortFrom(s.Remote.Addr().Unmap(), s.Remote.Port())
	var any netip.Addr
	if remote.Addr().Is4() {
		any = netip.IPv4Unspecified()
	} else {
		any = netip.IPv6Unspecified()
	}
	sock := io.socks[netip.AddrPortFrom(any, s.Local.Port())]
	if sock == nil {
		io.log.Warn("no IKE socket for local port", zap.Uint16("port", s.Local.Port()))
		return
	}
	dst := net.UDPAddrFromAddrPort(remote)
	var err error
	if sock.v4 != nil {
		var cm *ipv4.ControlMessage
		if s.Local.Addr().IsValid() && !s.Local.Addr().IsUnspecified() {
			cm = &ipv4.ControlMessage{Src: s.Local.Addr().AsSlice()}
		}
		_, err = sock.v4.WriteTo(s.Data, cm, dst)
	} else {
		var cm *ipv6.ControlMessage
		if s.Local.Addr().IsValid() && !s.Local.Addr().IsUnspecified() {
			cm = &ipv6.ControlMessage{Src: s.Local.Addr().AsSlice()}
		}
		_, err = sock.v6.WriteTo(s.Data, cm, dst)
	}
	if err != nil {
		io.log.Debug("IKE send failed", zap.Stringer("to", remote), zap.Error(err))
	}
}

func (io *ikeIO) runner(sa *ike.SA) *saRunner {
	io.mu.Lock()
	defer io.mu.Unlock()
	return io.runners[sa]
}
