package ike

import (
	"bytes"
	"crypto/sha1"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"time"

	"github.com/oe-agent/oe-agent/ike/crypto"
	"github.com/oe-agent/oe-agent/ike/wire"
	"go.uber.org/zap"
)

// Limits on IKE_SA_INIT restarts, so that a hostile responder cannot keep
// an initiator busy forever.
const (
	maxCookieRounds = 3
	maxKERounds     = 2
)

// Initiate starts the IKE SA: it sends the IKE_SA_INIT request (RFC 7296
// §1.2). The DH group is the first of the first IKE proposal; the
// responder may ask for another with INVALID_KE_PAYLOAD (§1.3).
func (s *SA) Initiate(now time.Time) ([]Action, error) {
	if !s.initiator || s.state != stateIdle {
		return nil, fmt.Errorf("%w: Initiate on a %v SA", ErrBusy, s.state)
	}
	if err := s.startInit(now); err != nil {
		return nil, err
	}
	return s.take(), nil
}

func (s *SA) startInit(now time.Time) error {
	spi, err := s.newSPI64()
	if err != nil {
		return err
	}
	if s.ni, err = s.nonce(); err != nil {
		return err
	}
	s.cur = &ikeGen{spiI: spi, initiator: true}
	if s.disp != nil {
		s.disp.register(spi, s)
	}
	s.dhGroup = s.cfg.IKEProposals[0].DH[0]
	s.state = stateInitSent
	s.log.Debug("initiating", zap.Stringer("ike_sa", s))
	return s.sendInit(now)
}

// sendInit (re)builds and sends the IKE_SA_INIT request with the current
// cookie and DH group; the nonce and SPI stay the same (RFC 7296 §2.6).
func (s *SA) sendInit(now time.Time) error {
	if s.dh == nil || wire.DHGroup(s.dh.Group()) != s.dhGroup {
		dh, err := s.generateDH(s.dhGroup)
		if err != nil {
			return fmt.Errorf("ike: key exchange %v: %w", s.dhGroup, err)
		}
		s.dh = dh
	}
	s.initOffer = ikeSA(s.cfg.IKEProposals, nil)
	var ps []wire.Payload
	if s.cookie != nil {
		ps = append(ps, wire.NewNotify(wire.NotifyCookie, s.cookie))
	}
	h := wire.Header{SPIi: s.cur.spiI, Exchange: wire.ExchangeIKESAInit, Flags: wire.FlagInitiator}
	ps = append(ps, s.initOffer, &wire.KE{Group: s.dhGroup, Data: s.dh.PublicValue()}, &wire.Nonce{Data: s.ni})
	ps = append(ps, s.initNotifies(h)...)
	m := &wire.Message{Header: h, Payloads: ps}
	data, err := m.Encode()
	if err != nil {
		return fmt.Errorf("ike: encoding IKE_SA_INIT: %w", err)
	}
	s.initI = data
	s.startRequest(now, s.cur, &request{id: 0, exchange: wire.ExchangeIKESAInit, data: data})
	return nil
}

// initNotifies returns the notifications and vendor IDs both ends put in
// IKE_SA_INIT: NAT detection (RFC 7296 §2.23) and
// SIGNATURE_HASH_ALGORITHMS (RFC 7427 §4).
func (s *SA) initNotifies(h wire.Header) []wire.Payload {
	ps := []wire.Payload{
		wire.NewNotify(wire.NotifyNATDetectionSourceIP, natHash(h.SPIi, h.SPIr, s.local)),
		wire.NewNotify(wire.NotifyNATDetectionDestinationIP, natHash(h.SPIi, h.SPIr, s.remote)),
		wire.NewHashAlgorithms(hashAlgorithms...),
	}
	for _, v := range s.cfg.VendorIDs {
		ps = append(ps, &wire.VendorID{Data: v})
	}
	return ps
}

// natHash is SHA-1(SPIi | SPIr | IP | Port) (RFC 7296 §2.23).
func natHash(spiI, spiR uint64, ap netip.AddrPort) []byte {
	h := sha1.New()
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], spiI)
	h.Write(b[:])
	binary.BigEndian.PutUint64(b[:], spiR)
	h.Write(b[:])
	h.Write(ap.Addr().Unmap().AsSlice())
	binary.BigEndian.PutUint16(b[:2], ap.Port())
	h.Write(b[:2])
	return h.Sum(nil)
}

// detectNAT compares the peer's NAT detection notifications in ps (sent
// with SPIs spiI/spiR) with our view of the addresses (RFC 7296 §2.23). A
// peer that sends none is assumed not to be behind a NAT.
func (s *SA) detectNAT(ps []wire.Payload, spiI, spiR uint64) error {
	src := natHash(spiI, spiR, s.remote)
	dst := natHash(spiI, spiR, s.local)
	sawSrc, matchSrc := false, false
	for _, p := range ps {
		n, ok := p.(*wire.Notify)
		if !ok {
			continue
		}
		switch n.NotifyType {
		case wire.NotifyNATDetectionSourceIP:
			h, err := n.NATDetectionHash()
			if err != nil {
				return malformed("NAT detection", err)
			}
			sawSrc = true
			matchSrc = matchSrc || bytes.Equal(h, src)
		case wire.NotifyNATDetectionDestinationIP:
			h, err := n.NATDetectionHash()
			if err != nil {
				return malformed("NAT detection", err)
			}
			s.natLocal = !bytes.Equal(h, dst)
		}
	}
	s.natRemote = sawSrc && !matchSrc
	return nil
}

// peerHashAlgorithms records the peer's SIGNATURE_HASH_ALGORITHMS.
func (s *SA) peerHashAlgorithms(ps []wire.Payload) error {
	if n := wire.FindNotify(ps, wire.NotifySignatureHashAlgorithms); n != nil {
		hs, err := n.HashAlgorithms()
		if err != nil {
			return malformed("SIGNATURE_HASH_ALGORITHMS", err)
		}
		s.peerHashes = hs
	}
	return nil
}

// handleInitMessage handles an IKE_SA_INIT message routed to an existing
// SA: the response to our request, or a retransmitted request we answer
// from the cache (RFC 7296 §2.1).
func (s *SA) handleInitMessage(now time.Time, h wire.Header, b []byte) error {
	if !h.IsResponse() {
		if s.initiator || s.cur == nil || h.SPIi != s.cur.spiI {
			return fmt.Errorf("%w: IKE_SA_INIT request to an initiator", ErrUnexpected)
		}
		if s.state == stateInitDone && (bytes.Equal(b, s.initI) || bytes.Equal(b, s.initIRetry)) {
			s.send(s.initR)
			return nil
		}
		if s.state == stateInitDone && sameButCookie(b, s.initI) {
			// The cookie retry of the request this SA was made from
			// (see sameButCookie): answer it the same way and accept
			// either request in the initiator's AUTH.
			s.initIRetry = bytes.Clone(b)
			s.log.Debug("cookie retry of an answered IKE_SA_INIT", zap.Stringer("ike_sa", s))
			s.send(s.initR)
			return nil
		}
		return fmt.Errorf("%w: IKE SA %016x is %v", ErrReplayedInit, h.SPIi, s.state)
	}
	if !s.initiator || s.state != stateInitSent || h.SPIi != s.cur.spiI || h.MessageID != 0 || h.IsInitiator() {
		return fmt.Errorf("%w: IKE_SA_INIT response in state %v", ErrUnexpected, s.state)
	}
	m, err := wire.Decode(b)
	if err != nil {
		return malformed("IKE_SA_INIT response", err)
	}
	if err := wire.CheckUnique(m.Payloads); err != nil {
		return malformed("IKE_SA_INIT response", err)
	}
	return s.handleInitResponse(now, h, m.Payloads, b)
}

// handleInitResponse completes IKE_SA_INIT on the initiator, or restarts it
// with a cookie (§2.6) or another DH group (§1.3).
func (s *SA) handleInitResponse(now time.Time, h wire.Header, ps []wire.Payload, raw []byte) error {
	if n := wire.FindNotify(ps, wire.NotifyCookie); n != nil {
		c, err := n.Cookie()
		if err != nil {
			return malformed("COOKIE", err)
		}
		if s.cookieRounds++; s.cookieRounds > maxCookieRounds {
			s.close(fmt.Errorf("%w: responder keeps asking for cookies", ErrUnexpected))
			return nil
		}
		s.cookie = bytes.Clone(c)
		return s.sendInit(now)
	}
	if n := wire.FindNotify(ps, wire.NotifyInvalidKEPayload); n != nil {
		g, err := n.DHGroup()
		if err != nil {
			return malformed("INVALID_KE_PAYLOAD", err)
		}
		if s.keRounds++; s.keRounds > maxKERounds || g == s.dhGroup || !s.offersGroup(g) {
			s.close(fmt.Errorf("%w: responder wants DH group %v", ErrInvalidKEPayload, g))
			return nil
		}
		s.log.Debug("retrying with the responder's DH group", zap.Stringer("group", g))
		s.dhGroup = g
		return s.sendInit(now)
	}
	if n, ok := notifyOf(ps); ok {
		s.close(fmt.Errorf("IKE_SA_INIT refused: %w", NotifyError(n.NotifyType)))
		return nil
	}
	saP, _ := wire.Find(ps, wire.PayloadSA).(*wire.SA)
	ke, _ := wire.Find(ps, wire.PayloadKE).(*wire.KE)
	nr, _ := wire.Find(ps, wire.PayloadNonce).(*wire.Nonce)
	if saP == nil || ke == nil || nr == nil || h.SPIr == 0 {
		return fmt.Errorf("%w: IKE_SA_INIT response lacks SA, KE, Nr or SPIr", ErrUnexpected)
	}
	prop, err := checkAccepted(s.initOffer, saP, false)
	if err != nil {
		return err
	}
	suite, err := ikeSuiteOf(prop)
	if err != nil {
		return err
	}
	if suite.DH != s.dhGroup || ke.Group != s.dhGroup {
		return fmt.Errorf("%w: responder chose DH %v with a %v KE, we sent %v", ErrUnexpected, suite.DH, ke.Group, s.dhGroup)
	}
	s.nr = bytes.Clone(nr.Data)
	g := s.cur
	g.spiR = h.SPIr
	if err := s.deriveInitKeys(g, suite, ke.Data); err != nil {
		g.spiR = 0
		return err
	}
	if err := s.detectNAT(ps, g.spiI, g.spiR); err != nil {
		return err
	}
	if err := s.peerHashAlgorithms(ps); err != nil {
		return err
	}
	s.initR = bytes.Clone(raw)
	g.req = nil
	g.nextID = 1
	if (s.natLocal || s.natRemote) && !s.cfg.DisableNATT && s.local.Port() != s.cfg.nattPort() {
		// RFC 7296 §2.23: behind a NAT, continue on port 4500 (with the
		// non-ESP marker, added by the driver).
		p := s.cfg.nattPort()
		s.local = netip.AddrPortFrom(s.local.Addr(), p)
		s.remote = netip.AddrPortFrom(s.remote.Addr(), p)
		s.log.Info("NAT detected, moving to the NAT-T port", zap.Stringer("ike_sa", s))
	}
	return s.sendAuthRequest(now)
}

// offersGroup reports whether our IKE proposals include group g.
func (s *SA) offersGroup(g wire.DHGroup) bool {
	for _, p := range s.cfg.IKEProposals {
		if slices.Contains(p.DH, g) {
			return true
		}
	}
	return false
}

// deriveInitKeys computes g^ir, SKEYSEED and the SK_* keys of a new IKE SA
// (RFC 7296 §2.14) and sets g's ciphers.
func (s *SA) deriveInitKeys(g *ikeGen, suite ikeSuite, peerKE []byte) error {
	gir, err := s.sharedSecret(s.dh, peerKE)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidSyntax, err)
	}
	defer gir.Wipe()
	prf, err := crypto.NewPRF(uint16(suite.PRF))
	if err != nil {
		return fmt.Errorf("%w: %w", ErrNoProposalChosen, err)
	}
	seed, err := crypto.SKEYSEED(prf, s.ni, s.nr, gir)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidSyntax, err)
	}
	defer seed.Wipe()
	keys, err := crypto.DeriveIKEKeys(suite.crypto(), seed, s.ni, s.nr, g.spiI, g.spiR)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrNoProposalChosen, err)
	}
	return g.setKeys(suite, keys)
}

// setKeys installs keys in g.
func (g *ikeGen) setKeys(suite ikeSuite, keys *crypto.IKEKeys) error {
	out, in, err := keys.Ciphers(g.initiator, crypto.Config{})
	if err != nil {
		return fmt.Errorf("%w: %w", ErrNoProposalChosen, err)
	}
	g.suite, g.keys, g.out, g.in = suite, keys, out, in
	return nil
}

// respondInit handles an IKE_SA_INIT request on a fresh responder SA made by
// the Dispatcher after its cookie check. On error the SA must be dropped;
// any error notification to send is already among the SA's actions.
func (s *SA) respondInit(now time.Time, h wire.Header, ps []wire.Payload, raw []byte) error {
	reject := func(n *wire.Notify, err error) error {
		m := &wire.Message{Header: wire.Header{SPIi: h.SPIi, Exchange: wire.ExchangeIKESAInit, Flags: wire.FlagResponse}, Payloads: []wire.Payload{n}}
		if b, e := m.Encode(); e == nil {
			s.send(b)
		}
		return err
	}
	saP, _ := wire.Find(ps, wire.PayloadSA).(*wire.SA)
	ke, _ := wire.Find(ps, wire.PayloadKE).(*wire.KE)
	ni, _ := wire.Find(ps, wire.PayloadNonce).(*wire.Nonce)
	if saP == nil || ke == nil || ni == nil {
		return reject(wire.NewNotify(wire.NotifyInvalidSyntax, nil), fmt.Errorf("%w: IKE_SA_INIT request lacks SA, KE or Ni", ErrInvalidSyntax))
	}
	prop, ok := chooseProposal(ourIKEProposals(s.cfg), saP, ke.Group, false)
	if !ok {
		return reject(wire.NewNotify(wire.NotifyNoProposalChosen, nil), fmt.Errorf("IKE_SA_INIT: %w", ErrNoProposalChosen))
	}
	suite, err := ikeSuiteOf(prop)
	if err != nil {
		return reject(wire.NewNotify(wire.NotifyNoProposalChosen, nil), err)
	}
	if suite.DH != ke.Group {
		return reject(wire.NewInvalidKE(suite.DH), fmt.Errorf("IKE_SA_INIT: %w: peer sent %v, we want %v", ErrInvalidKEPayload, ke.Group, suite.DH))
	}
	if len(ke.Data) != crypto.Group(ke.Group).PublicLen() {
		return reject(wire.NewNotify(wire.NotifyInvalidSyntax, nil), fmt.Errorf("%w: %v KE of %d octets", ErrInvalidSyntax, ke.Group, len(ke.Data)))
	}
	spiR, err := s.newSPI64()
	if err != nil {
		return err
	}
	if s.nr, err = s.nonce(); err != nil {
		return err
	}
	s.ni = bytes.Clone(ni.Data)
	s.cur = &ikeGen{spiI: h.SPIi, spiR: spiR}
	s.dhGroup = suite.DH
	if s.dh, err = s.generateDH(suite.DH); err != nil {
		return fmt.Errorf("ike: key exchange %v: %w", suite.DH, err)
	}
	if err := s.deriveInitKeys(s.cur, suite, ke.Data); err != nil {
		if errors.Is(err, ErrInvalidSyntax) {
			return reject(wire.NewNotify(wire.NotifyInvalidSyntax, nil), err)
		}
		return reject(wire.NewNotify(wire.NotifyNoProposalChosen, nil), err)
	}
	if err := s.detectNAT(ps, h.SPIi, 0); err != nil {
		return err
	}
	if err := s.peerHashAlgorithms(ps); err != nil {
		return err
	}
	rh := wire.Header{SPIi: h.SPIi, SPIr: spiR, Exchange: wire.ExchangeIKESAInit, Flags: wire.FlagResponse}
	prop.SPI = nil
	out := []wire.Payload{&wire.SA{Proposals: []wire.Proposal{prop}}, &wire.KE{Group: suite.DH, Data: s.dh.PublicValue()}, &wire.Nonce{Data: s.nr}}
	out = append(out, s.initNotifies(rh)...)
	m := &wire.Message{Header: rh, Payloads: out}
	data, err := m.Encode()
	if err != nil {
		return fmt.Errorf("ike: encoding IKE_SA_INIT response: %w", err)
	}
	s.initI, s.initR = bytes.Clone(raw), data
	s.cur.peerID = 1
	s.state = stateInitDone
	s.halfOpenExpiry = now.Add(s.cfg.halfOpenTimeout())
	s.send(data)
	return nil
}
