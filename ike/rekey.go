package ike

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"time"

	"github.com/oe-agent/oe-agent/ike/crypto"
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

func (s *SA) createChildCmd(now time.Time) bool {
	pc, ps, err := s.offerChild(true, nil)
	if err != nil {
		s.emit(ChildFailed{Err: err})
		return false
	}
	err = s.sendRequest(now, s.cur, wire.ExchangeCreateChildSA, ps, func(now time.Time, rps []wire.Payload) error {
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

func (s *SA) rekeyChildCmd(now time.Time, spi uint32) bool {
	c := s.children[spi]
	if c == nil || c.state != childActive {
		return false
	}
	pc, ps, err := s.offerChild(true, c)
	if err != nil {
		s.emit(ChildFailed{Err: err})
		return false
	}
	n := &wire.Notify{Protocol: c.sa.Protocol, SPI: binary.BigEndian.AppendUint32(nil, spi), NotifyType: wire.NotifyRekeySA}
	ps = append([]wire.Payload{n}, ps...)
	c.state = childRekeying
	c.peerRekey = nil
	err = s.sendRequest(now, s.cur, wire.ExchangeCreateChildSA, ps, func(now time.Time, rps []wire.Payload) error {
		s.finishChildRekey(now, c, pc, rps)
		return nil
	})
	return err == nil
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
		s.log.Info("Child SA rekey refused", zap.Stringer("sa", s), zap.Stringer("notify", n.NotifyType))
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
			s.log.Info("simultaneous Child SA rekey: ours is redundant", zap.Stringer("sa", s))
			c.state = childReplaced
			s.queueFront(func(now time.Time) bool { return s.deleteChildCmd(now, nc.sa.InboundSPI) })
			return
		}
		s.log.Info("simultaneous Child SA rekey: the peer's is redundant", zap.Stringer("sa", s))
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
	if !s.Established() || g != s.cur {
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
	cps, c, err := s.acceptChild(now, ps, ni.Data, nr, false)
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

// rekeyIKECmd starts an IKE SA rekey (RFC 7296 §1.3.2).
func (s *SA) rekeyIKECmd(now time.Time) bool {
	if s.old != nil || s.state != stateEstablished {
		s.rekeyAt = now.Add(s.retryDelay())
		return false
	}
	spi, err := s.newSPI64()
	if err != nil {
		return false
	}
	ni, err := s.nonce()
	if err != nil {
		return false
	}
	group := s.cur.suite.DH
	dh, err := s.generateDH(group)
	if err != nil {
		return false
	}
	offer := ikeSA(s.cfg.IKEProposals, binary.BigEndian.AppendUint64(nil, spi))
	ps := []wire.Payload{offer, &wire.Nonce{Data: ni}, &wire.KE{Group: group, Data: dh.PublicValue()}}
	err = s.sendRequest(now, s.cur, wire.ExchangeCreateChildSA, ps, func(now time.Time, rps []wire.Payload) error {
		return s.finishIKERekey(now, offer, spi, ni, dh, rps)
	})
	return err == nil
}

func (s *SA) finishIKERekey(now time.Time, offer *wire.SA, spi uint64, ni []byte, dh *crypto.DHKey, rps []wire.Payload) error {
	if n, ok := notifyOf(rps); ok {
		s.log.Info("IKE SA rekey refused", zap.Stringer("sa", s), zap.Stringer("notify", n.NotifyType))
		s.rekeyAt = now.Add(s.retryDelay())
		return nil
	}
	saP, _ := wire.Find(rps, wire.PayloadSA).(*wire.SA)
	nr, _ := wire.Find(rps, wire.PayloadNonce).(*wire.Nonce)
	ke, _ := wire.Find(rps, wire.PayloadKE).(*wire.KE)
	if saP == nil || nr == nil || ke == nil {
		s.rekeyAt = now.Add(s.retryDelay())
		return fmt.Errorf("%w: IKE rekey response lacks SA, Nr or KE", ErrUnexpected)
	}
	prop, err := checkAccepted(offer, saP, false)
	if err == nil && len(prop.SPI) != 8 {
		err = fmt.Errorf("%w: IKE rekey response with a %d-octet SPI", ErrUnexpected, len(prop.SPI))
	}
	var suite ikeSuite
	if err == nil {
		suite, err = ikeSuiteOf(prop)
	}
	if err == nil && (suite.DH != wire.DHGroup(dh.Group()) || ke.Group != suite.DH) {
		err = fmt.Errorf("%w: IKE rekey response with DH %v, we sent %v", ErrUnexpected, ke.Group, dh.Group())
	}
	var ng *ikeGen
	if err == nil {
		ng, err = s.rekeyedGen(suite, dh, ke.Data, ni, nr.Data, spi, binary.BigEndian.Uint64(prop.SPI), true)
	}
	if err != nil {
		s.rekeyAt = now.Add(s.retryDelay())
		return err
	}
	s.switchGen(now, ng)
	old := s.old
	if err := s.sendRequest(now, old, wire.ExchangeInformational, []wire.Payload{&wire.Delete{Protocol: wire.ProtocolIKE}},
		func(time.Time, []wire.Payload) error { s.dropOld(); return nil }); err == nil {
		old.req.onTimeout = func(time.Time) { s.dropOld() }
	}
	return nil
}

// rekeyedGen derives the keys of a new IKE SA from the old one's SK_d
// (RFC 7296 §2.18).
func (s *SA) rekeyedGen(suite ikeSuite, dh *crypto.DHKey, peerKE, ni, nr []byte, spiI, spiR uint64, initiator bool) (*ikeGen, error) {
	gir, err := s.sharedSecret(dh, peerKE)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidSyntax, err)
	}
	defer gir.Wipe()
	old := s.cur.keys
	seed, err := crypto.RekeySKEYSEED(old.PRF, old.D, gir, ni, nr)
	if err != nil {
		return nil, err
	}
	defer seed.Wipe()
	keys, err := crypto.DeriveIKEKeys(suite.crypto(), seed, ni, nr, spiI, spiR)
	if err != nil {
		return nil, err
	}
	g := &ikeGen{spiI: spiI, spiR: spiR, initiator: initiator}
	if err := g.setKeys(suite, keys); err != nil {
		return nil, err
	}
	return g, nil
}

// switchGen makes ng the current IKE SA and keeps the old one for its
// Delete exchange.
func (s *SA) switchGen(now time.Time, ng *ikeGen) {
	old := s.cur
	old.expires = now.Add(oldGenLinger)
	s.old, s.cur = old, ng
	if s.disp != nil {
		s.disp.register(ng.localSPI(), s)
	}
	s.rekeyAt = time.Time{}
	s.scheduleIKERekey(now)
	s.log.Info("IKE SA rekeyed", zap.Stringer("sa", s))
	s.emit(IKERekeyed{OldSPIi: old.spiI, OldSPIr: old.spiR, SPIi: ng.spiI, SPIr: ng.spiR})
}

// oldGenLinger bounds how long a replaced IKE SA waits for its Delete.
const oldGenLinger = 60 * time.Second

// dropOld forgets the replaced IKE SA.
func (s *SA) dropOld() {
	if s.old == nil {
		return
	}
	if s.disp != nil {
		s.disp.unregister(s.old.localSPI())
	}
	s.old.keys.Wipe()
	s.old = nil
}

// respondIKERekey answers the peer's IKE SA rekey.
func (s *SA) respondIKERekey(now time.Time, g *ikeGen, h wire.Header, ps []wire.Payload, saP *wire.SA, ni []byte) error {
	refuse := func(n *wire.Notify, err error) error {
		s.respond(g, h, []wire.Payload{n})
		return err
	}
	if s.old != nil || (g.req != nil && g.req.exchange == wire.ExchangeCreateChildSA) || s.state != stateEstablished {
		// A rekey of ours is in flight: refuse, and both ends retry after
		// a random delay (simplification of RFC 7296 §2.8.2).
		return refuse(wire.NewNotify(wire.NotifyTemporaryFailure, nil), fmt.Errorf("IKE rekey collision: %w", ErrTemporaryFailure))
	}
	ke, _ := wire.Find(ps, wire.PayloadKE).(*wire.KE)
	if ke == nil {
		return refuse(wire.NewNotify(wire.NotifyInvalidSyntax, nil), fmt.Errorf("%w: IKE rekey without KE", ErrInvalidSyntax))
	}
	prop, ok := chooseProposal(ourIKEProposals(s.cfg), saP, ke.Group, false)
	if !ok {
		return refuse(wire.NewNotify(wire.NotifyNoProposalChosen, nil), fmt.Errorf("IKE rekey: %w", ErrNoProposalChosen))
	}
	suite, err := ikeSuiteOf(prop)
	if err != nil || len(prop.SPI) != 8 {
		return refuse(wire.NewNotify(wire.NotifyInvalidSyntax, nil), fmt.Errorf("%w: IKE rekey proposal %v", ErrInvalidSyntax, prop))
	}
	if suite.DH != ke.Group {
		return refuse(wire.NewInvalidKE(suite.DH), fmt.Errorf("IKE rekey: %w", ErrInvalidKEPayload))
	}
	spi, err := s.newSPI64()
	if err != nil {
		return err
	}
	nr, err := s.nonce()
	if err != nil {
		return err
	}
	dh, err := s.generateDH(suite.DH)
	if err != nil {
		return refuse(wire.NewNotify(wire.NotifyNoProposalChosen, nil), err)
	}
	ng, err := s.rekeyedGen(suite, dh, ke.Data, ni, nr, binary.BigEndian.Uint64(prop.SPI), spi, false)
	if err != nil {
		return refuse(wire.NewNotify(wire.NotifyInvalidSyntax, nil), err)
	}
	prop.SPI = binary.BigEndian.AppendUint64(nil, spi)
	s.respond(g, h, []wire.Payload{&wire.SA{Proposals: []wire.Proposal{prop}}, &wire.Nonce{Data: nr}, &wire.KE{Group: suite.DH, Data: dh.PublicValue()}})
	s.switchGen(now, ng)
	return nil
}

// scheduleIKERekey arms the IKE SA rekey timer.
func (s *SA) scheduleIKERekey(now time.Time) {
	if s.cfg.IKELifetime > 0 {
		s.rekeyAt = now.Add(s.cfg.IKELifetime - s.jitter())
	}
}
