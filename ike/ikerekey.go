package ike

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"slices"
	"time"

	"github.com/oe-agent/oe-agent/ike/crypto"
	"github.com/oe-agent/oe-agent/ike/wire"
	"go.uber.org/zap"
)

// retiredLinger bounds how long a replaced or redundant IKE SA waits for
// its Delete exchange: at least a minute, and long enough for the peer to
// retransmit a request whose answer (say, the rekey response) was lost.
func (s *SA) retiredLinger() time.Duration {
	rt := s.cfg.Retransmit.withDefaults()
	var span time.Duration
	for n := 1; n <= rt.Tries; n++ {
		span += rt.wait(n)
	}
	return max(time.Minute, span+10*time.Second)
}

// ikeRekeyState is our outstanding IKE SA rekey.
type ikeRekeyState struct {
	ni []byte
}

// collided is an IKE SA created by the peer's rekey while ours was
// outstanding (RFC 7296 §2.8.2), waiting for our own to finish.
type collided struct {
	g      *ikeGen
	ni, nr []byte
}

// lowestNonce returns the smaller of two nonces.
func lowestNonce(a, b []byte) []byte {
	if bytes.Compare(a, b) <= 0 {
		return a
	}
	return b
}

// rekeyIKECmd starts an IKE SA rekey (RFC 7296 §1.3.2).
func (s *SA) rekeyIKECmd(now time.Time) bool {
	if s.ikeRekey != nil || s.state != stateEstablished {
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
	s.ikeRekey = &ikeRekeyState{ni: ni}
	err = s.sendRequest(now, s.cur, wire.ExchangeCreateChildSA, ps, func(now time.Time, rps []wire.Payload) error {
		s.ikeRekey = nil
		return s.finishIKERekey(now, offer, spi, ni, dh, rps)
	})
	if err != nil {
		s.ikeRekey = nil
		return false
	}
	return true
}

// finishIKERekey completes our IKE SA rekey. If the peer rekeyed at the
// same time and we answered (RFC 7296 §2.8.2), the new IKE SA created with
// the lowest of the four nonces is redundant and deleted by the end that
// initiated its exchange; the survivor's initiator deletes the old one.
func (s *SA) finishIKERekey(now time.Time, offer *wire.SA, spi uint64, ni []byte, dh *crypto.DHKey, rps []wire.Payload) error {
	peer := s.collision
	s.collision = nil
	ng, nr, err := s.ikeRekeyResult(offer, spi, ni, dh, rps)
	if err != nil {
		if peer != nil {
			// The peer's rekey stands alone; it deletes the old SA.
			s.switchGen(now, peer.g)
			return nil
		}
		s.rekeyAt = now.Add(s.retryDelay())
		return err
	}
	if peer != nil && bytes.Compare(lowestNonce(ni, nr), lowestNonce(peer.ni, peer.nr)) < 0 {
		s.log.Info("simultaneous IKE SA rekey: ours is redundant", zap.Stringer("ike_sa", s))
		s.switchGen(now, peer.g)
		s.retire(now, ng)
		s.sendIKEDelete(now, ng)
		return nil
	}
	if peer != nil {
		s.log.Info("simultaneous IKE SA rekey: the peer's is redundant", zap.Stringer("ike_sa", s))
		s.retire(now, peer.g)
	}
	old := s.cur
	s.switchGen(now, ng)
	s.sendIKEDelete(now, old)
	return nil
}

// ikeRekeyResult checks the rekey response and derives the new IKE SA.
func (s *SA) ikeRekeyResult(offer *wire.SA, spi uint64, ni []byte, dh *crypto.DHKey, rps []wire.Payload) (*ikeGen, []byte, error) {
	if n, ok := notifyOf(rps); ok {
		s.log.Info("IKE SA rekey refused", zap.Stringer("ike_sa", s), zap.Stringer("notify", n.NotifyType))
		return nil, nil, fmt.Errorf("IKE SA rekey: %w", NotifyError(n.NotifyType))
	}
	saP, _ := wire.Find(rps, wire.PayloadSA).(*wire.SA)
	nr, _ := wire.Find(rps, wire.PayloadNonce).(*wire.Nonce)
	ke, _ := wire.Find(rps, wire.PayloadKE).(*wire.KE)
	if saP == nil || nr == nil || ke == nil {
		return nil, nil, fmt.Errorf("%w: IKE rekey response lacks SA, Nr or KE", ErrUnexpected)
	}
	prop, err := checkAccepted(offer, saP, false)
	if err != nil {
		return nil, nil, err
	}
	if len(prop.SPI) != 8 || binary.BigEndian.Uint64(prop.SPI) == 0 {
		return nil, nil, fmt.Errorf("%w: IKE rekey response with SPI %x", ErrUnexpected, prop.SPI)
	}
	suite, err := ikeSuiteOf(prop)
	if err != nil {
		return nil, nil, err
	}
	if suite.DH != wire.DHGroup(dh.Group()) || ke.Group != suite.DH {
		return nil, nil, fmt.Errorf("%w: IKE rekey response with DH %v, we sent %v", ErrUnexpected, ke.Group, dh.Group())
	}
	ng, err := s.rekeyedGen(suite, dh, ke.Data, ni, nr.Data, spi, binary.BigEndian.Uint64(prop.SPI), true)
	if err != nil {
		return nil, nil, err
	}
	if s.disp != nil {
		s.disp.register(ng.localSPI(), s)
	}
	return ng, nr.Data, nil
}

// sendIKEDelete deletes the retired IKE SA g with an INFORMATIONAL
// exchange on g itself.
func (s *SA) sendIKEDelete(now time.Time, g *ikeGen) {
	if err := s.sendRequest(now, g, wire.ExchangeInformational, []wire.Payload{&wire.Delete{Protocol: wire.ProtocolIKE}},
		func(now time.Time, _ []wire.Payload) error { s.dropGen(now, g); return nil }); err == nil {
		g.req.onTimeout = func(now time.Time) { s.dropGen(now, g) }
	}
}

// rekeyedGen derives the keys of a new IKE SA from the current one's SK_d
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

// switchGen makes ng the current IKE SA and retires the old one until its
// Delete exchange completes.
func (s *SA) switchGen(now time.Time, ng *ikeGen) {
	old := s.cur
	s.retire(now, old)
	s.cur = ng
	if s.disp != nil {
		s.disp.register(ng.localSPI(), s)
	}
	s.rekeyAt = time.Time{}
	s.scheduleIKERekey(now)
	s.log.Info("IKE SA rekeyed", zap.Stringer("ike_sa", s))
	s.emit(IKERekeyed{OldSPIi: old.spiI, OldSPIr: old.spiR, SPIi: ng.spiI, SPIr: ng.spiR})
}

// retire keeps g for its Delete exchange, at most retiredLinger.
func (s *SA) retire(now time.Time, g *ikeGen) {
	g.expires = now.Add(s.retiredLinger())
	s.retired = append(s.retired, g)
}

// dropGen forgets the retired IKE SA g, abandoning its outstanding
// request.
func (s *SA) dropGen(now time.Time, g *ikeGen) {
	i := slices.Index(s.retired, g)
	if i < 0 {
		return
	}
	s.retired = slices.Delete(s.retired, i, i+1)
	if r := g.req; r != nil {
		g.req = nil
		if r.onCancel != nil {
			r.onCancel(now)
		}
	}
	if s.disp != nil {
		s.disp.unregister(g.localSPI())
	}
	g.keys.Wipe()
}

// isRetired reports whether g is a replaced IKE SA.
func (s *SA) isRetired(g *ikeGen) bool { return slices.Contains(s.retired, g) }

// gens returns the current and the retired IKE SAs.
func (s *SA) gens() []*ikeGen {
	if s.cur == nil {
		return s.retired
	}
	return append([]*ikeGen{s.cur}, s.retired...)
}

// respondIKERekey answers the peer's IKE SA rekey. While our own rekey is
// outstanding the new IKE SA is kept aside until ours completes (RFC 7296
// §2.8.2); a second collision, or a rekey while another request of ours
// is outstanding, is refused with TEMPORARY_FAILURE.
func (s *SA) respondIKERekey(now time.Time, g *ikeGen, h wire.Header, ps []wire.Payload, saP *wire.SA, ni []byte) error {
	refuse := func(n *wire.Notify, err error) error {
		s.respond(g, h, []wire.Payload{n})
		return err
	}
	if s.state != stateEstablished || s.collision != nil {
		return refuse(wire.NewNotify(wire.NotifyTemporaryFailure, nil), fmt.Errorf("IKE rekey while %v: %w", s.state, ErrTemporaryFailure))
	}
	if g.req != nil && s.ikeRekey == nil {
		// An exchange of ours is in flight on this IKE SA; its answer
		// could be lost if the SA were replaced and deleted now, so let
		// the peer retry later (RFC 7296 §2.25).
		return refuse(wire.NewNotify(wire.NotifyTemporaryFailure, nil), fmt.Errorf("IKE rekey during %v: %w", g.req, ErrTemporaryFailure))
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
	if err != nil || len(prop.SPI) != 8 || binary.BigEndian.Uint64(prop.SPI) == 0 {
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
	if s.ikeRekey != nil {
		s.collision = &collided{g: ng, ni: bytes.Clone(ni), nr: nr}
		if s.disp != nil {
			s.disp.register(ng.localSPI(), s)
		}
		return nil
	}
	s.switchGen(now, ng)
	return nil
}

// scheduleIKERekey arms the IKE SA rekey timer.
func (s *SA) scheduleIKERekey(now time.Time) {
	if s.cfg.IKELifetime > 0 {
		s.rekeyAt = now.Add(s.cfg.IKELifetime - s.jitter(s.cfg.IKELifetime))
	}
}
