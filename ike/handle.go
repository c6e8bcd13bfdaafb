package ike

import (
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/oe-agent/oe-agent/ike/wire"
	"go.uber.org/zap"
)

// Handle processes one datagram received from remote on local and returns
// the resulting actions. The error says why a datagram was dropped or
// refused (it is informational: any response already is in the actions);
// it never means the SA is unusable, which Closed reports.
func (s *SA) Handle(now time.Time, local, remote netip.AddrPort, b []byte) ([]Action, error) {
	if s.state == stateClosed {
		return nil, ErrClosed
	}
	err := s.handle(now, local, remote, b)
	s.runQueue(now)
	return s.take(), err
}

func (s *SA) handle(now time.Time, local, remote netip.AddrPort, b []byte) error {
	if len(b) > MaxDatagram {
		return fmt.Errorf("%w: %d octets", ErrOversized, len(b))
	}
	h, _, _, err := wire.ParseHeader(b)
	if err != nil {
		return malformed("header", err)
	}
	if h.Exchange == wire.ExchangeIKESAInit {
		return s.handleInitMessage(now, h, b)
	}
	g := s.genFor(h)
	if g == nil || g.keys == nil {
		return fmt.Errorf("%w: %016x/%016x", ErrUnknownSPI, h.SPIi, h.SPIr)
	}
	if h.IsInitiator() == g.initiator {
		return fmt.Errorf("%w: I flag says the message comes from us", ErrUnexpected)
	}
	if h.IsResponse() {
		return s.handleResponse(now, g, h, b, local, remote)
	}
	return s.handleRequest(now, g, h, b, local, remote)
}

// genFor returns the generation whose SPIs h carries, or nil.
func (s *SA) genFor(h wire.Header) *ikeGen {
	for _, g := range s.gens() {
		if g.spiI == h.SPIi && g.spiR == h.SPIr {
			return g
		}
	}
	if c := s.collision; c != nil && c.g.spiI == h.SPIi && c.g.spiR == h.SPIr {
		return c.g
	}
	return nil
}

// handleResponse checks a response against the outstanding request of g
// (RFC 7296 §2.3) and hands it to the request's handler.
func (s *SA) handleResponse(now time.Time, g *ikeGen, h wire.Header, b []byte, local, remote netip.AddrPort) error {
	r := g.req
	if r == nil || h.MessageID != r.id {
		return fmt.Errorf("%w: response %d, outstanding request %v", ErrMessageID, h.MessageID, r)
	}
	if h.Exchange != r.exchange {
		return fmt.Errorf("%w: %v response to a %v request", ErrUnexpected, h.Exchange, r.exchange)
	}
	ps, err := s.open(g, b)
	if err != nil {
		return err
	}
	s.lastRecv = now
	s.followPeer(local, remote)
	g.req = nil
	return r.onResponse(now, ps)
}

// handleRequest enforces the responder window (RFC 7296 §2.3): a new
// request must carry the next Message ID; the previous one is answered
// from the cache, after checking its integrity so that spoofed copies do
// not trigger retransmissions.
func (s *SA) handleRequest(now time.Time, g *ikeGen, h wire.Header, b []byte, local, remote netip.AddrPort) error {
	switch {
	case h.MessageID == g.peerID:
	case h.MessageID+1 == g.peerID && g.resp != nil:
		if _, err := s.open(g, b); err != nil {
			return err
		}
		s.lastRecv = now
		s.sendTo(g.resp, local, remote)
		return nil
	default:
		return fmt.Errorf("%w: request %d, expected %d", ErrMessageID, h.MessageID, g.peerID)
	}
	// The response goes back the way the request came (RFC 7296 §2.11),
	// e.g. on port 4500 when the peer moved there without a NAT.
	s.reqLocal, s.reqRemote = local, remote
	if s.held != nil && s.held.request && s.held.id == h.MessageID && g == s.cur {
		return nil // a retransmission while we wait for the peer's key
	}
	ps, err := s.open(g, b)
	if err != nil {
		var we *wire.Error
		var inner innerError
		if errors.As(err, &inner) && errors.As(err, &we) {
			s.respond(g, h, []wire.Payload{errorNotify(we)})
			if h.Exchange == wire.ExchangeIKEAuth {
				s.close(err)
			}
		}
		return err
	}
	s.lastRecv = now
	s.followPeer(local, remote)
	if !s.Established() && h.Exchange != wire.ExchangeIKEAuth {
		// Nothing but IKE_AUTH before the peer is authenticated (RFC
		// 7296 §1.2).
		return fmt.Errorf("%w: %v request before IKE_AUTH", ErrUnexpected, h.Exchange)
	}
	switch h.Exchange {
	case wire.ExchangeIKEAuth:
		if g != s.cur {
			return fmt.Errorf("%w: IKE_AUTH on a rekeyed IKE SA", ErrUnexpected)
		}
		return s.handleAuthRequest(now, h, ps)
	case wire.ExchangeCreateChildSA:
		return s.handleCreateChildRequest(now, g, h, ps)
	case wire.ExchangeInformational:
		return s.handleInformationalRequest(now, g, h, ps)
	}
	s.respond(g, h, []wire.Payload{wire.NewNotify(wire.NotifyInvalidSyntax, nil)})
	return fmt.Errorf("%w: %v request", ErrUnexpected, h.Exchange)
}

// errorNotify is the notification answering a codec error.
func errorNotify(we *wire.Error) *wire.Notify {
	if t := we.NotifyType(); t == wire.NotifyUnsupportedCriticalPayload {
		return wire.NewUnsupportedCritical(we.Payload)
	}
	return wire.NewNotify(we.NotifyType(), nil)
}

// followPeer adopts the addresses of an authenticated message when a NAT
// was detected: its mapping may change (RFC 7296 §2.23), and the
// initiator may have moved to port 4500.
func (s *SA) followPeer(local, remote netip.AddrPort) {
	if s.cfg.DisableNATT || !(s.natLocal || s.natRemote) || !remote.IsValid() {
		return
	}
	if remote != s.remote || (local.IsValid() && local != s.local) {
		s.log.Info("peer address changed", zap.Stringer("ike_sa", s), zap.Stringer("remote", remote))
		s.remote = remote
		if local.IsValid() {
			s.local = local
		}
	}
}
