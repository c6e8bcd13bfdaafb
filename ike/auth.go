package ike

import (
	stdcrypto "crypto"
	"fmt"
	"time"

	"github.com/oe-agent/oe-agent/ike/crypto"
	"github.com/oe-agent/oe-agent/ike/wire"
	"go.uber.org/zap"
)

// heldAuth is an IKE_AUTH message whose signature waits for the peer's
// public key (NeedPeerKey / SupplyPeerKey).
type heldAuth struct {
	id      uint32 // Message ID of a held request (responder)
	request bool
	resume  func(now time.Time)
	fail    func(now time.Time, err error)
}

// sendAuthRequest sends the initiator's IKE_AUTH request (RFC 7296 §1.2):
// IDi, [IDr], AUTH, SA, TSi, TSr for the first Child SA.
func (s *SA) sendAuthRequest(now time.Time) error {
	g := s.cur
	idi := s.cfg.LocalID.payload(false)
	signed := crypto.SignedOctets(g.keys.PRF, g.keys.PI, s.initI, s.nr, restOfIDPayload(idi))
	auth, err := s.makeAuth(g.keys.PRF, g.keys.PI, signed)
	if err != nil {
		s.close(err)
		return err
	}
	ps := []wire.Payload{idi}
	if !s.cfg.Peer.ID.IsZero() {
		ps = append(ps, s.cfg.Peer.ID.payload(true))
	}
	ps = append(ps, auth)
	if s.cfg.InitialContact {
		ps = append(ps, wire.NewNotify(wire.NotifyInitialContact, nil))
	}
	pc, cps, err := s.offerChild(false, nil, 0)
	if err != nil {
		s.close(err)
		return err
	}
	ps = append(ps, cps...)
	s.state = stateAuthSent
	return s.sendRequest(now, g, wire.ExchangeIKEAuth, ps, func(now time.Time, rps []wire.Payload) error {
		return s.handleAuthResponse(now, rps, pc)
	})
}

// checkPeerID applies PeerAuth.ID to the identity the peer sent.
func (s *SA) checkPeerID(id *wire.ID) error {
	want := s.cfg.Peer.ID
	if want.IsZero() {
		return nil
	}
	if got := (Identity{Type: id.IDType, Data: id.Data}); !got.Equal(want) {
		return fmt.Errorf("%w: peer is %v, want %v", ErrAuth, got, want)
	}
	return nil
}

// handleAuthResponse authenticates the responder and sets up the first
// Child SA.
func (s *SA) handleAuthResponse(now time.Time, ps []wire.Payload, pc *pendingChild) error {
	idr, _ := wire.Find(ps, wire.PayloadIDr).(*wire.ID)
	auth, _ := wire.Find(ps, wire.PayloadAuth).(*wire.Auth)
	if idr == nil || auth == nil {
		err := fmt.Errorf("%w: IKE_AUTH response lacks IDr or AUTH", ErrUnexpected)
		if n, ok := notifyOf(ps); ok {
			err = fmt.Errorf("IKE_AUTH refused: %w", NotifyError(n.NotifyType))
		}
		s.close(err)
		return nil
	}
	if err := s.checkPeerID(idr); err != nil {
		s.refuseResponder(err)
		return nil
	}
	g := s.cur
	signed := crypto.SignedOctets(g.keys.PRF, g.keys.PR, s.initR, s.ni, restOfIDPayload(idr))
	finish := func(now time.Time) {
		if err := s.verifyAuth(g.keys.PRF, auth, g.keys.PR, signed, s.peerPub()); err != nil {
			s.refuseResponder(err)
			return
		}
		s.established(now, idr, auth.Method, false)
		s.completeChild(now, pc, ps, nil)
	}
	if needsKey(auth.Method) && s.peerPub() == nil && s.cfg.Peer.accepts(auth.Method) {
		s.hold(now, &heldAuth{request: false, resume: finish, fail: func(now time.Time, err error) { s.refuseResponder(err) }}, idr)
		return nil
	}
	finish(now)
	return nil
}

// refuseResponder closes the SA after the responder failed
// authentication, telling it with an INFORMATIONAL AUTHENTICATION_FAILED
// (RFC 7296 §2.21.2) that is sent once and not retransmitted.
func (s *SA) refuseResponder(err error) {
	g := s.cur
	data, serr := s.seal(g, wire.Header{Exchange: wire.ExchangeInformational, MessageID: g.nextID},
		[]wire.Payload{wire.NewNotify(wire.NotifyAuthenticationFailed, nil)})
	if serr == nil {
		g.nextID++
		s.send(data)
	}
	s.close(err)
}

// peerPub returns the key that verifies the peer: supplied, or configured.
func (s *SA) peerPub() stdcrypto.PublicKey {
	if s.peerKey != nil {
		return s.peerKey
	}
	return s.cfg.Peer.PublicKey
}

// hold parks an IKE_AUTH message until the peer's key arrives.
func (s *SA) hold(now time.Time, h *heldAuth, id *wire.ID) {
	if s.peerKeyErr != nil {
		h.fail(now, fmt.Errorf("%w: peer key lookup: %w", ErrAuth, s.peerKeyErr))
		return
	}
	peer := Identity{Type: id.IDType, Data: id.Data}
	if f := s.cfg.Peer.KeyFunc; f != nil {
		switch pub, err := f(peer); {
		case err != nil:
			h.fail(now, fmt.Errorf("%w: peer key lookup: %w", ErrAuth, err))
			return
		case pub != nil:
			s.peerKey = pub
			h.resume(now)
			return
		}
	}
	s.held = h
	if s.initiator && s.halfOpenExpiry.IsZero() {
		s.halfOpenExpiry = now.Add(s.cfg.halfOpenTimeout())
	}
	s.emit(NeedPeerKey{ID: peer})
}

// established records a successful authentication of the peer.
func (s *SA) established(now time.Time, id *wire.ID, m AuthMethod, initialContact bool) {
	s.state = stateEstablished
	s.establishedAt = now
	s.peerID = Identity{Type: id.IDType, Data: append([]byte(nil), id.Data...)}
	s.peerMethod = m
	s.halfOpenExpiry = time.Time{}
	s.dh = nil
	if s.disp != nil {
		s.disp.established(s)
	}
	s.scheduleIKERekey(now)
	if s.cfg.DPDInterval > 0 {
		s.dpdAt = now.Add(s.cfg.DPDInterval)
	}
	if s.natLocal && !s.cfg.DisableNATT && s.cfg.keepaliveInterval() > 0 {
		s.sentAny = false
		s.keepaliveAt = now.Add(s.cfg.keepaliveInterval())
	}
	s.log.Info("IKE SA established", zap.Stringer("ike_sa", s), zap.Stringer("peer", s.peerID), zap.Stringer("method", m))
	s.emit(Established{SPIi: s.cur.spiI, SPIr: s.cur.spiR, Initiator: s.initiator, PeerID: s.peerID, PeerAuth: m,
		NATLocal: s.natLocal, NATRemote: s.natRemote, InitialContact: initialContact})
}

// handleAuthRequest is the responder's IKE_AUTH (RFC 7296 §1.2).
func (s *SA) handleAuthRequest(now time.Time, h wire.Header, ps []wire.Payload) error {
	g := s.cur
	if s.state != stateInitDone {
		s.respond(g, h, []wire.Payload{wire.NewNotify(wire.NotifyInvalidSyntax, nil)})
		return fmt.Errorf("%w: IKE_AUTH request in state %v", ErrUnexpected, s.state)
	}
	idi, _ := wire.Find(ps, wire.PayloadIDi).(*wire.ID)
	auth, _ := wire.Find(ps, wire.PayloadAuth).(*wire.Auth)
	if idi == nil || auth == nil {
		s.respond(g, h, []wire.Payload{wire.NewNotify(wire.NotifyInvalidSyntax, nil)})
		err := fmt.Errorf("%w: IKE_AUTH request lacks IDi or AUTH", ErrInvalidSyntax)
		s.close(err)
		return err
	}
	fail := func(now time.Time, err error) {
		s.respond(g, h, []wire.Payload{wire.NewNotify(wire.NotifyAuthenticationFailed, nil)})
		s.close(err)
	}
	if err := s.checkPeerID(idi); err != nil {
		fail(now, err)
		return err
	}
	signed := crypto.SignedOctets(g.keys.PRF, g.keys.PI, s.initI, s.nr, restOfIDPayload(idi))
	var retrySigned []byte
	if s.initIRetry != nil {
		retrySigned = crypto.SignedOctets(g.keys.PRF, g.keys.PI, s.initIRetry, s.nr, restOfIDPayload(idi))
	}
	finish := func(now time.Time) {
		err := s.verifyAuth(g.keys.PRF, auth, g.keys.PI, signed, s.peerPub())
		if err != nil && retrySigned != nil {
			// The initiator signs the last IKE_SA_INIT it sent: the
			// cookie retry, if it made one.
			err = s.verifyAuth(g.keys.PRF, auth, g.keys.PI, retrySigned, s.peerPub())
		}
		if err != nil {
			fail(now, err)
			return
		}
		s.finishAuthRequest(now, h, ps, idi, auth.Method)
	}
	if needsKey(auth.Method) && s.peerPub() == nil && s.cfg.Peer.accepts(auth.Method) {
		s.hold(now, &heldAuth{id: h.MessageID, request: true, resume: finish, fail: fail}, idi)
		return nil
	}
	finish(now)
	if s.state == stateClosed {
		return s.closeErr
	}
	return nil
}

// finishAuthRequest answers an authenticated IKE_AUTH request with IDr,
// AUTH and the first Child SA (or an error notification for the Child SA
// only, which leaves the IKE SA up, RFC 7296 §2.21.3).
func (s *SA) finishAuthRequest(now time.Time, h wire.Header, ps []wire.Payload, idi *wire.ID, m AuthMethod) {
	g := s.cur
	idr := s.cfg.LocalID.payload(true)
	signed := crypto.SignedOctets(g.keys.PRF, g.keys.PR, s.initR, s.ni, restOfIDPayload(idr))
	auth, err := s.makeAuth(g.keys.PRF, g.keys.PR, signed)
	if err != nil {
		s.respond(g, h, []wire.Payload{wire.NewNotify(wire.NotifyAuthenticationFailed, nil)})
		s.close(err)
		return
	}
	s.established(now, idi, m, wire.FindNotify(ps, wire.NotifyInitialContact) != nil)
	out := []wire.Payload{idr, auth}
	if wire.Find(ps, wire.PayloadSA) == nil && wire.Find(ps, wire.PayloadTSi) == nil && wire.Find(ps, wire.PayloadTSr) == nil {
		// Childless IKE_AUTH (RFC 6023): the IKE SA alone.
		s.respond(g, h, out)
		return
	}
	cps, c, err := s.acceptChild(now, g.keys, ps, s.ni, s.nr, true)
	if err != nil {
		s.log.Info("first Child SA refused", zap.Stringer("ike_sa", s), zap.Error(err))
		out = append(out, cps...)
		s.emit(ChildFailed{Err: err})
	} else {
		out = append(out, cps...)
		s.installChild(now, c, 0)
	}
	s.respond(g, h, out)
}
