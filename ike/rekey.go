package ike

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"time"

	"github.com/oe-agent/oe-agent/ike/wire"
	"go.uber.org/zap"
)

// rekeyRetry is how long to wait before retrying a rekey the peer refused
// with TEMPORARY_FAILURE (RFC 7296 §2.25), plus jitter.
const rekeyRetry = 10 * time.Second

// retryDelay returns a random delay in [rekeyRetry, 2*rekeyRetry), so
// that two ends refused by each other's collision retry at different times.
func (s *SA) retryDelay() time.Duration {
	b, err := s.randBytes(2)
	if err != nil {
		return rekeyRetry
	}
	return rekeyRetry + time.Duration(binary.BigEndian.Uint16(b))*rekeyRetry/65536
}

// CreateChild negotiates an additional Child SA with CREATE_CHILD_SA (RFC
// 7296 §1.3.1) using the configured proposals and selectors; PFS is used
// when the first Child SA proposal lists DH groups.
func (s *SA) CreateChild(now time.Time) ([]Action, error) {
	if err := s.commandOK(); err != nil {
		return nil, err
	}
	s.enqueue(now, s.createChildCmd)
	return s.take(), nil
}

// RekeyChild rekeys the Child SA whose inbound SPI is spi (RFC 7296
// §1.3.3): the new one is installed, then the old one deleted.
func (s *SA) RekeyChild(now time.Time, spi uint32) ([]Action, error) {
	if err := s.commandOK(); err != nil {
		return nil, err
	}
	if s.children[spi] == nil {
		return nil, fmt.Errorf("%w: inbound SPI %#08x", ErrNoChild, spi)
	}
	s.enqueue(now, func(now time.Time) bool { return s.rekeyChildCmd(now, spi) })
	return s.take(), nil
}

// RekeyIKE replaces the IKE SA with a new one (RFC 7296 §2.18); Child SAs
// move to it.
func (s *SA) RekeyIKE(now time.Time) ([]Action, error) {
	if err := s.commandOK(); err != nil {
		return nil, err
	}
	s.enqueue(now, s.rekeyIKECmd)
	return s.take(), nil
}

// commandOK refuses commands before establishment and after deletion.
func (s *SA) commandOK() error {
	switch s.state {
	case stateClosed:
		return ErrClosed
	case stateEstablished:
		return nil
	}
	return fmt.Errorf("%w: IKE SA is %v", ErrBusy, s.state)
}

func (s *SA) createChildCmd(now time.Time) bool { return s.createChild(now, 0) }

// createChild sends CREATE_CHILD_SA for a new Child SA, with PFS group
// group if non-zero, retrying once with the group the peer asks for.
func (s *SA) createChild(now time.Time, group wire.DHGroup) bool {
	pc, ps, err := s.offerChild(true, nil, group)
	if err != nil {
		s.emit(ChildFailed{Err: err})
		return false
	}
	err = s.sendRequest(now, s.cur, wire.ExchangeCreateChildSA, ps, func(now time.Time, rps []wire.Payload) error {
		if g, ok := s.pfsRetryGroup(rps, group); ok && group == 0 {
			s.queueFront(func(now time.Time) bool { return s.createChild(now, g) })
			return nil
		}
		nr, _ := wire.Find(rps, wire.PayloadNonce).(*wire.Nonce)
		var nd []byte
		if nr != nil {
			nd = nr.Data
		} else if _, isErr := notifyOf(rps); !isErr {
			s.emit(ChildFailed{Err: fmt.Errorf("%w: CREATE_CHILD_SA response without Nr", ErrUnexpected)})
			return nil
		}
		s.completeChild(now, pc, rps, nd)
		return nil
	})
	return err == nil
}

func (s *SA) rekeyChildCmd(now time.Time, spi uint32) bool { return s.rekeyChild(now, spi, 0) }

// rekeyChild sends CREATE_CHILD_SA rekeying the Child SA with inbound SPI
// spi, with PFS group group if non-zero.
func (s *SA) rekeyChild(now time.Time, spi uint32, group wire.DHGroup) bool {
	c := s.children[spi]
	if c == nil || c.state != childActive {
		return false
	}
	pc, ps, err := s.offerChild(true, c, group)
	if err != nil {
		s.emit(ChildFailed{Err: err})
		return false
	}
	n := &wire.Notify{Protocol: c.sa.Protocol, SPI: binary.BigEndian.AppendUint32(nil, spi), NotifyType: wire.NotifyRekeySA}
	ps = append([]wire.Payload{n}, ps...)
	c.state = childRekeying
	c.peerRekey = nil
	err = s.sendRequest(now, s.cur, wire.ExchangeCreateChildSA, ps, func(now time.Time, rps []wire.Payload) error {
		if g, ok := s.pfsRetryGroup(rps, group); ok && group == 0 && c.peerRekey == nil {
			c.state = childActive
			s.queueFront(func(now time.Time) bool { return s.rekeyChild(now, spi, g) })
			return nil
		}
		s.finishChildRekey(now, c, pc, rps)
		return nil
	})
	if err != nil {
		c.state = childActive
		return false
	}
	s.cur.req.onCancel = func(now time.Time) {
		if c.state == childRekeying {
			c.state = childActive
			c.rekeyAt = now.Add(s.retryDelay())
		}
	}
	return true
}

// finishChildRekey completes our rekey of c, resolving a simultaneous
// rekey by the peer (RFC 7296 §2.8.1): of the two new Child SAs, the one
// created by the exchange with the lowest of the four nonces is deleted by
// the end that initiated that exchange; the other end deletes the old one.
func (s *SA) finishChildRekey(now time.Time, c *child, pc *pendingChild, rps []wire.Payload) {
	peerRekeyed := c.peerRekey != nil
	restore := func() {
		switch {
		case peerRekeyed:
			c.state = childReplaced
		case c.state == childRekeying:
			c.state = childActive
			c.rekeyAt = now.Add(s.retryDelay())
		}
	}
	if n, ok := notifyOf(rps); ok && (n.NotifyType == wire.NotifyTemporaryFailure || n.NotifyType == wire.NotifyChildSANotFound) {
		s.log.Info("Child SA rekey refused", zap.Stringer("ike_sa", s), zap.Stringer("notify", n.NotifyType))
		restore()
		return
	}
	nr, _ := wire.Find(rps, wire.PayloadNonce).(*wire.Nonce)
	var nd []byte
	if nr != nil {
		nd = nr.Data
	}
	if nr == nil {
		if _, isErr := notifyOf(rps); !isErr {
			s.emit(ChildFailed{Err: fmt.Errorf("%w: CREATE_CHILD_SA response without Nr", ErrUnexpected)})
			restore()
			return
		}
	}
	nc := s.completeChild(now, pc, rps, nd)
	if nc == nil {
		restore()
		return
	}
	if peerRekeyed {
		ours := &rekeyRecord{ni: pc.ni, nr: nd, newSPI: nc.sa.InboundSPI}
		if bytes.Compare(ours.lowest(), c.peerRekey.lowest()) < 0 {
			s.log.Info("simultaneous Child SA rekey: ours is redundant", zap.Stringer("ike_sa", s))
			c.state = childReplaced
			s.queueFront(func(now time.Time) bool { return s.deleteChildCmd(now, nc.sa.InboundSPI) })
			return
		}
		s.log.Info("simultaneous Child SA rekey: the peer's is redundant", zap.Stringer("ike_sa", s))
	}
	c.state = childReplaced
	old := c.sa.InboundSPI
	s.queueFront(func(now time.Time) bool { return s.deleteChildCmd(now, old) })
}

// queueFront puts cmd before other queued commands.
func (s *SA) queueFront(cmd command) { s.queue = append([]command{cmd}, s.queue...) }

// handleCreateChildRequest answers CREATE_CHILD_SA (RFC 7296 §1.3): a new
// Child SA, a Child SA rekey (REKEY_SA) or an IKE SA rekey (SA proposal
// for protocol IKE).
func (s *SA) handleCreateChildRequest(now time.Time, g *ikeGen, h wire.Header, ps []wire.Payload) error {
	refuse := func(t wire.NotifyType, err error) error {
		s.respond(g, h, []wire.Payload{wire.NewNotify(t, nil)})
		return err
	}
	if s.state != stateEstablished || g != s.cur {
		// Not while we delete the IKE SA or on a replaced one (RFC 7296
		// §2.25).
		return refuse(wire.NotifyTemporaryFailure, fmt.Errorf("%w: CREATE_CHILD_SA while %v", ErrUnexpected, s.state))
	}
	saP, _ := wire.Find(ps, wire.PayloadSA).(*wire.SA)
	ni, _ := wire.Find(ps, wire.PayloadNonce).(*wire.Nonce)
	if saP == nil || ni == nil {
		return refuse(wire.NotifyInvalidSyntax, fmt.Errorf("%w: CREATE_CHILD_SA request lacks SA or Ni", ErrInvalidSyntax))
	}
	if len(saP.Proposals) > 0 && saP.Proposals[0].Protocol == wire.ProtocolIKE {
		return s.respondIKERekey(now, g, h, ps, saP, ni.Data)
	}
	var old *child
	if n := wire.FindNotify(ps, wire.NotifyRekeySA); n != nil {
		if len(n.SPI) != 4 {
			return refuse(wire.NotifyInvalidSyntax, fmt.Errorf("%w: REKEY_SA with a %d-octet SPI", ErrInvalidSyntax, len(n.SPI)))
		}
		old = s.childByOutbound(n.Protocol, binary.BigEndian.Uint32(n.SPI))
		switch {
		case old == nil:
			s.respond(g, h, []wire.Payload{&wire.Notify{Protocol: n.Protocol, SPI: n.SPI, NotifyType: wire.NotifyChildSANotFound}})
			return fmt.Errorf("rekey: %w", ErrChildSANotFound)
		case old.state == childDeleting || old.state == childReplaced:
			return refuse(wire.NotifyTemporaryFailure, fmt.Errorf("rekey of a Child SA being deleted: %w", ErrTemporaryFailure))
		}
	}
	nr, err := s.nonce()
	if err != nil {
		return refuse(wire.NotifyTemporaryFailure, err)
	}
	cps, c, err := s.acceptChild(now, g.keys, ps, ni.Data, nr, false)
	if err != nil {
		s.respond(g, h, cps)
		return err
	}
	out := append([]wire.Payload{cps[0], &wire.Nonce{Data: nr}}, cps[1:]...)
	replaces := uint32(0)
	if old != nil {
		replaces = old.sa.InboundSPI
		if old.state == childRekeying {
			old.peerRekey = &rekeyRecord{ni: bytes.Clone(ni.Data), nr: nr, newSPI: c.sa.InboundSPI}
		} else {
			old.state = childReplaced
		}
		old.rekeyAt = time.Time{}
	}
	s.installChild(now, c, replaces)
	s.respond(g, h, out)
	return nil
}
