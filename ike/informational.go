package ike

import (
	"encoding/binary"
	"fmt"
	"time"

	"github.com/oe-agent/oe-agent/ike/wire"
	"go.uber.org/zap"
)

// Delete deletes the IKE SA and with it every Child SA (RFC 7296 §1.4.1).
// Closed follows when the peer answers or the retransmissions run out.
// Before IKE_AUTH completes the SA is simply dropped.
func (s *SA) Delete(now time.Time) []Action {
	switch s.state {
	case stateClosed, stateDeleting:
		return nil
	case stateEstablished:
		s.queue = append([]command{s.deleteIKECmd}, s.queue...)
		s.runQueue(now)
	default:
		s.close(nil)
	}
	return s.take()
}

// DeleteChild deletes the Child SA whose inbound SPI is spi.
func (s *SA) DeleteChild(now time.Time, spi uint32) ([]Action, error) {
	if err := s.commandOK(); err != nil {
		return nil, err
	}
	if s.children[spi] == nil {
		return nil, fmt.Errorf("%w: inbound SPI %#08x", ErrNoChild, spi)
	}
	s.enqueue(now, func(now time.Time) bool { return s.deleteChildCmd(now, spi) })
	return s.take(), nil
}

func (s *SA) deleteIKECmd(now time.Time) bool {
	if s.state != stateEstablished {
		return false
	}
	s.state = stateDeleting
	s.queue = nil
	err := s.sendRequest(now, s.cur, wire.ExchangeInformational, []wire.Payload{&wire.Delete{Protocol: wire.ProtocolIKE}},
		func(time.Time, []wire.Payload) error { s.close(nil); return nil })
	if err != nil {
		s.close(err)
		return false
	}
	s.cur.req.onTimeout = func(time.Time) { s.close(nil) }
	return true
}

// deleteChildCmd sends a Delete for one Child SA. Its outbound half is
// gone when the request leaves and the inbound half when the answer comes
// (RFC 7296 §1.4.1); the driver removes both on DeleteChild.
func (s *SA) deleteChildCmd(now time.Time, spi uint32) bool {
	c := s.children[spi]
	if c == nil || c.state == childDeleting {
		return false
	}
	c.state = childDeleting
	d := &wire.Delete{Protocol: c.sa.Protocol, SPIs: [][]byte{binary.BigEndian.AppendUint32(nil, spi)}}
	err := s.sendRequest(now, s.cur, wire.ExchangeInformational, []wire.Payload{d},
		func(time.Time, []wire.Payload) error { s.removeChild(c, nil); return nil })
	if err != nil {
		return false
	}
	s.cur.req.onTimeout = func(now time.Time) {
		s.removeChild(c, nil)
		s.close(fmt.Errorf("%w: Child SA delete unanswered", ErrTimeout))
	}
	s.cur.req.onCancel = func(time.Time) { s.removeChild(c, nil) }
	return true
}

func (s *SA) dpdCmd(now time.Time) bool {
	if s.state != stateEstablished {
		return false
	}
	err := s.sendRequest(now, s.cur, wire.ExchangeInformational, nil, func(now time.Time, _ []wire.Payload) error {
		if s.cfg.DPDInterval > 0 {
			s.dpdAt = now.Add(s.cfg.DPDInterval)
		}
		return nil
	})
	return err == nil
}

// handleInformationalRequest answers INFORMATIONAL requests: deletes,
// liveness checks and notifications (RFC 7296 §1.4, §1.5).
func (s *SA) handleInformationalRequest(now time.Time, g *ikeGen, h wire.Header, ps []wire.Payload) error {
	var out []wire.Payload
	deleteIKE := false
	var removed []*child
	for _, p := range ps {
		switch p := p.(type) {
		case *wire.Delete:
			if p.Protocol == wire.ProtocolIKE {
				deleteIKE = true
				continue
			}
			var ours [][]byte
			for _, b := range p.SPIs {
				c := s.childByOutbound(p.Protocol, binary.BigEndian.Uint32(b))
				if c == nil {
					// Perhaps a Child SA whose creation we have not seen
					// answered yet: remember, so it is not installed.
					s.notePeerDeleted(binary.BigEndian.Uint32(b))
					continue
				}
				// If we are deleting it too, the response must not list it
				// (RFC 7296 §1.4.1, simultaneous deletes).
				if c.state != childDeleting {
					ours = append(ours, binary.BigEndian.AppendUint32(nil, c.sa.InboundSPI))
				}
				removed = append(removed, c)
			}
			if len(ours) > 0 {
				out = append(out, &wire.Delete{Protocol: p.Protocol, SPIs: ours})
			}
		case *wire.Notify:
			if p.NotifyType == wire.NotifyAuthenticationFailed && g == s.cur {
				s.respond(g, h, nil)
				s.close(fmt.Errorf("peer reports: %w", ErrAuthenticationFail))
				return nil
			}
			if p.NotifyType < 16384 {
				s.log.Info("error notification from peer", zap.Stringer("ike_sa", s), zap.Stringer("notify", p.NotifyType))
			}
		}
	}
	if deleteIKE {
		s.respond(g, h, nil)
		switch {
		case s.isRetired(g):
			s.dropGen(now, g)
		case s.collision != nil && g == s.collision.g:
			// The peer found its rekey redundant (RFC 7296 §2.8.2)
			// before our own exchange finished.
			if s.disp != nil {
				s.disp.unregister(g.localSPI())
			}
			s.collision = nil
		case s.collision != nil:
			// The peer's rekey won and it deleted the old IKE SA before
			// our response arrived (reordering): adopt its IKE SA.
			adopt, old := s.collision.g, s.cur
			s.collision, s.ikeRekey = nil, nil
			s.switchGen(now, adopt)
			s.dropGen(now, old)
		default:
			s.close(ErrPeerDeleted)
		}
		return nil
	}
	for _, c := range removed {
		s.removeChild(c, nil)
	}
	s.respond(g, h, out)
	return nil
}

// maxPeerDeleted bounds the memory of unknown SPIs the peer deleted.
const maxPeerDeleted = 16

// notePeerDeleted remembers that the peer deleted its inbound SPI spi
// before we knew it: the response creating that Child SA may still be on
// its way (retransmitted), and must then not install it.
func (s *SA) notePeerDeleted(spi uint32) {
	if len(s.peerDeleted) >= maxPeerDeleted {
		s.peerDeleted = s.peerDeleted[1:]
	}
	s.peerDeleted = append(s.peerDeleted, spi)
}
