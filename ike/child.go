package ike

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/big"
	"slices"
	"time"

	"github.com/oe-agent/oe-agent/ike/crypto"
	"github.com/oe-agent/oe-agent/ike/wire"
	"go.uber.org/zap"
)

// childState is where a Child SA is in its life.
type childState uint8

const (
	childActive   childState = iota
	childRekeying            // our rekey request is outstanding
	childReplaced            // rekeyed; the old SA waits for its Delete
	childDeleting            // our Delete is outstanding
)

// child is one installed Child SA pair.
type child struct {
	sa       ChildSA
	state    childState
	created  time.Time
	rekeyAt  time.Time
	expireAt time.Time
	// peerRekey records a rekey of this Child SA that the peer initiated
	// while ours was outstanding (RFC 7296 §2.8.1).
	peerRekey *rekeyRecord
}

// rekeyRecord is one completed rekey exchange: its nonces and the Child
// SA it created.
type rekeyRecord struct {
	ni, nr []byte
	newSPI uint32 // inbound SPI of the new Child SA
}

// lowest returns the smaller of r's nonces.
func (r *rekeyRecord) lowest() []byte {
	if bytes.Compare(r.ni, r.nr) <= 0 {
		return r.ni
	}
	return r.nr
}

// pendingChild is a Child SA we proposed and wait to hear about.
type pendingChild struct {
	inSPI     uint32
	offer     *wire.SA
	tsi, tsr  []TrafficSelector
	transport bool
	dh        *crypto.DHKey // PFS, CREATE_CHILD_SA only
	ni        []byte        // CREATE_CHILD_SA nonce
	rekey     *child        // the Child SA being rekeyed, if any
	// keys are those of the IKE SA the request goes out on: KEYMAT comes
	// from its SK_d even if an IKE rekey completes meanwhile.
	keys *crypto.IKEKeys
}

// offeredChildProposals are cfg's proposals without ENCR_NULL unless
// allowed.
func (s *SA) offeredChildProposals() []ChildProposal {
	var out []ChildProposal
	for _, p := range s.cfg.ChildProposals {
		if p.Encr == wire.EncrNull && !s.cfg.AllowNullEncryption {
			continue
		}
		out = append(out, p)
	}
	return out
}

// offerChild prepares a Child SA proposal: SA, TSi, TSr and
// USE_TRANSPORT_MODE; for CREATE_CHILD_SA (create) also Ni and, with PFS,
// KEi. rekey, when set, supplies the selectors and mode.
//
// group, if non-zero, replaces the first proposal's first DH group for the
// KE payload (after the peer answered INVALID_KE_PAYLOAD).
func (s *SA) offerChild(create bool, rekey *child, group wire.DHGroup) (*pendingChild, []wire.Payload, error) {
	props := s.offeredChildProposals()
	if len(props) == 0 {
		return nil, nil, fmt.Errorf("%w: no usable Child SA proposals", ErrConfig)
	}
	spi, err := s.newChildSPI()
	if err != nil {
		return nil, nil, err
	}
	pc := &pendingChild{inSPI: spi, rekey: rekey, transport: s.cfg.Mode == Transport, keys: s.cur.keys}
	pc.offer = &wire.SA{}
	for i, p := range props {
		pc.offer.Proposals = append(pc.offer.Proposals, p.wireProposal(i+1, spi, create))
	}
	if rekey != nil {
		pc.tsi, pc.tsr, pc.transport = rekey.sa.LocalTS, rekey.sa.RemoteTS, rekey.sa.Mode == Transport
	} else {
		pc.tsi, pc.tsr = s.localTS(), s.remoteTS()
	}
	var ps []wire.Payload
	if pc.transport {
		ps = append(ps, wire.NewNotify(wire.NotifyUseTransportMode, nil))
	}
	ps = append(ps, pc.offer)
	if create {
		if pc.ni, err = s.nonce(); err != nil {
			return nil, nil, err
		}
		ps = append(ps, &wire.Nonce{Data: pc.ni})
		if group == 0 && len(props[0].DH) > 0 {
			group = props[0].DH[0]
		}
		if group != 0 {
			if pc.dh, err = s.generateDH(group); err != nil {
				return nil, nil, err
			}
			ps = append(ps, &wire.KE{Group: group, Data: pc.dh.PublicValue()})
		}
	}
	ps = append(ps, &wire.TrafficSelectors{Selectors: pc.tsi}, &wire.TrafficSelectors{Responder: true, Selectors: pc.tsr})
	return pc, ps, nil
}

// completeChild finishes a Child SA we proposed, from the response
// payloads ps; nr is the responder's CREATE_CHILD_SA nonce (nil in
// IKE_AUTH, where the IKE SA nonces are used). It returns the new child or
// nil after emitting ChildFailed.
func (s *SA) completeChild(now time.Time, pc *pendingChild, ps []wire.Payload, nr []byte) *child {
	c, err := s.completeChildErr(pc, ps, nr)
	if err == nil && slices.Contains(s.peerDeleted, c.sa.OutboundSPI) {
		err = fmt.Errorf("%w: the peer deleted Child SA %#08x before its creation completed here", ErrNoChild, c.sa.OutboundSPI)
	}
	if err != nil {
		s.log.Info("Child SA not created", zap.Stringer("ike_sa", s), zap.Error(err))
		s.emit(ChildFailed{Err: err})
		return nil
	}
	replaces := uint32(0)
	if pc.rekey != nil {
		replaces = pc.rekey.sa.InboundSPI
	}
	s.installChild(now, c, replaces)
	return c
}

func (s *SA) completeChildErr(pc *pendingChild, ps []wire.Payload, nr []byte) (*child, error) {
	if n, ok := notifyOf(ps); ok {
		return nil, NotifyError(n.NotifyType)
	}
	saP, _ := wire.Find(ps, wire.PayloadSA).(*wire.SA)
	tsi, _ := wire.Find(ps, wire.PayloadTSi).(*wire.TrafficSelectors)
	tsr, _ := wire.Find(ps, wire.PayloadTSr).(*wire.TrafficSelectors)
	if saP == nil || tsi == nil || tsr == nil {
		return nil, fmt.Errorf("%w: Child SA response lacks SA, TSi or TSr", ErrUnexpected)
	}
	ikeAuth := pc.ni == nil
	prop, err := checkAccepted(pc.offer, saP, ikeAuth)
	if err != nil {
		return nil, err
	}
	cs, err := childSuiteOf(prop)
	if err != nil {
		return nil, err
	}
	if !coveredBy(tsi.Selectors, pc.tsi) || !coveredBy(tsr.Selectors, pc.tsr) {
		return nil, fmt.Errorf("%w: responder widened the traffic selectors", ErrTSUnacceptable)
	}
	var gir crypto.Key
	ni, rn := s.ni, s.nr
	if !ikeAuth {
		ni, rn = pc.ni, nr
		if cs.DH != 0 {
			ke, _ := wire.Find(ps, wire.PayloadKE).(*wire.KE)
			if pc.dh == nil || ke == nil || ke.Group != cs.DH || wire.DHGroup(pc.dh.Group()) != cs.DH {
				return nil, fmt.Errorf("%w: responder chose PFS group %v without a matching KE", ErrUnexpected, cs.DH)
			}
			if gir, err = s.sharedSecret(pc.dh, ke.Data); err != nil {
				return nil, fmt.Errorf("%w: %w", ErrInvalidSyntax, err)
			}
			defer gir.Wipe()
		}
	}
	transport := pc.transport && wire.FindNotify(ps, wire.NotifyUseTransportMode) != nil
	return s.makeChild(pc.keys, cs, pc.inSPI, gir, ni, rn, true, tsi.Selectors, tsr.Selectors, transport)
}

// acceptChild answers a Child SA proposal from the peer (ps holds SA, TSi,
// TSr and maybe USE_TRANSPORT_MODE and KEi). ni and nr are the nonces for
// KEYMAT; ikeAuth says the proposal came in IKE_AUTH, where DH transforms
// are ignored. It returns the payloads for the response (SA, [KEr], TSi,
// TSr, [N]); on failure they hold the error notification.
func (s *SA) acceptChild(now time.Time, keys *crypto.IKEKeys, ps []wire.Payload, ni, nr []byte, ikeAuth bool) ([]wire.Payload, *child, error) {
	refuse := func(t wire.NotifyType, err error) ([]wire.Payload, *child, error) {
		return []wire.Payload{wire.NewNotify(t, nil)}, nil, err
	}
	saP, _ := wire.Find(ps, wire.PayloadSA).(*wire.SA)
	tsi, _ := wire.Find(ps, wire.PayloadTSi).(*wire.TrafficSelectors)
	tsr, _ := wire.Find(ps, wire.PayloadTSr).(*wire.TrafficSelectors)
	if saP == nil || tsi == nil || tsr == nil {
		return refuse(wire.NotifyInvalidSyntax, fmt.Errorf("%w: Child SA request lacks SA, TSi or TSr", ErrInvalidSyntax))
	}
	var ke *wire.KE
	if !ikeAuth {
		ke, _ = wire.Find(ps, wire.PayloadKE).(*wire.KE)
	}
	ours := ourChildProposals(s.cfg, !ikeAuth)
	prefer := wire.DHGroup(0)
	if ke != nil {
		prefer = ke.Group
		// Accept PFS the peer asks for even where our policy does not
		// require it, if we implement the group.
		if crypto.Group(ke.Group).Supported() {
			for i := range ours {
				if !hasTypeOf(ours[i], wire.TransformDH) {
					ours[i].Transforms = append(ours[i].Transforms, ke.Group.Transform())
				}
			}
		}
	}
	prop, ok := chooseProposal(ours, saP, prefer, ikeAuth)
	if !ok {
		return refuse(wire.NotifyNoProposalChosen, fmt.Errorf("Child SA: %w", ErrNoProposalChosen))
	}
	cs, err := childSuiteOf(prop)
	if err != nil {
		return refuse(wire.NotifyNoProposalChosen, err)
	}
	switch {
	case cs.DH != 0 && ke == nil:
		return refuse(wire.NotifyInvalidSyntax, fmt.Errorf("%w: PFS group %v chosen but no KE sent", ErrInvalidSyntax, cs.DH))
	case cs.DH != 0 && ke.Group != cs.DH:
		return []wire.Payload{wire.NewInvalidKE(cs.DH)}, nil, fmt.Errorf("Child SA: %w: peer sent %v, we want %v", ErrInvalidKEPayload, ke.Group, cs.DH)
	}
	nTSi, nTSr := narrow(tsi.Selectors, s.remoteTS()), narrow(tsr.Selectors, s.localTS())
	if len(nTSi) == 0 || len(nTSr) == 0 {
		return refuse(wire.NotifyTSUnacceptable, fmt.Errorf("Child SA: %w: %v %v", ErrTSUnacceptable, tsi, tsr))
	}
	spi, err := s.newChildSPI()
	if err != nil {
		return refuse(wire.NotifyTemporaryFailure, err)
	}
	var out []wire.Payload
	var gir crypto.Key
	if cs.DH != 0 {
		dh, err := s.generateDH(cs.DH)
		if err != nil {
			return refuse(wire.NotifyNoProposalChosen, err)
		}
		if gir, err = s.sharedSecret(dh, ke.Data); err != nil {
			return refuse(wire.NotifyInvalidSyntax, fmt.Errorf("%w: %w", ErrInvalidSyntax, err))
		}
		defer gir.Wipe()
		out = append(out, &wire.KE{Group: cs.DH, Data: dh.PublicValue()})
	}
	transport := s.cfg.Mode == Transport && wire.FindNotify(ps, wire.NotifyUseTransportMode) != nil
	c, err := s.makeChild(keys, cs, spi, gir, ni, nr, false, nTSr, nTSi, transport)
	if err != nil {
		return refuse(wire.NotifyNoProposalChosen, err)
	}
	prop.SPI = binary.BigEndian.AppendUint32(nil, spi)
	out = append([]wire.Payload{&wire.SA{Proposals: []wire.Proposal{prop}}}, out...)
	out = append(out, &wire.TrafficSelectors{Selectors: nTSi}, &wire.TrafficSelectors{Responder: true, Selectors: nTSr})
	if transport {
		out = append(out, wire.NewNotify(wire.NotifyUseTransportMode, nil))
	}
	return out, c, nil
}

func hasTypeOf(p wire.Proposal, t wire.TransformType) bool {
	for _, x := range p.Transforms {
		if x.Type == t {
			return true
		}
	}
	return false
}

// makeChild derives KEYMAT (RFC 7296 §2.17) from the SK_d of keys (the
// IKE SA the exchange ran on) and describes the Child SA.
// exchInitiator says we initiated the exchange creating it; localTS and
// remoteTS are from our point of view.
func (s *SA) makeChild(ikeKeys *crypto.IKEKeys, cs childSuite, inSPI uint32, gir crypto.Key, ni, nr []byte, exchInitiator bool, localTS, remoteTS []TrafficSelector, transport bool) (*child, error) {
	keys, err := s.childKeys(ikeKeys, cs, gir, ni, nr)
	if err != nil {
		return nil, err
	}
	out, in := keys.Directions(exchInitiator)
	c := &child{sa: ChildSA{
		Protocol: cs.Protocol, InboundSPI: inSPI, OutboundSPI: cs.PeerSPI,
		Local: s.local.Addr().Unmap(), Remote: s.remote.Addr().Unmap(),
		Encr: cs.Encr, EncrKeyBits: cs.KeyBits, Integ: cs.Integ, ESN: cs.ESN,
		Inbound: in, Outbound: out, LocalTS: localTS, RemoteTS: remoteTS, PFS: cs.DH,
	}}
	if transport {
		c.sa.Mode = Transport
	}
	if (s.natLocal || s.natRemote) && !s.cfg.DisableNATT {
		c.sa.UDPEncap, c.sa.EncapLocalPort, c.sa.EncapRemotePort = true, s.local.Port(), s.remote.Port()
	}
	return c, nil
}

// childKeys computes KEYMAT for cs. ESP goes through ike/crypto; AH, which
// that package's Suite cannot express (no ENCR transform), is derived here
// with the same prf+ (local adapter).
func (s *SA) childKeys(k *crypto.IKEKeys, cs childSuite, gir crypto.Key, ni, nr []byte) (*crypto.ChildKeys, error) {
	if cs.Protocol == wire.ProtocolESP {
		suite := crypto.Suite{Encr: uint16(cs.Encr), EncrKeyBits: int(cs.KeyBits), Integ: uint16(cs.Integ)}
		return crypto.DeriveChildKeys(k.PRF, k.D, suite, gir, ni, nr, crypto.Config{AllowNull: s.cfg.AllowNullEncryption})
	}
	n, err := crypto.IntegKeyLen(uint16(cs.Integ))
	if err != nil || n == 0 {
		return nil, fmt.Errorf("%w: AH with INTEG %v: %v", ErrNoProposalChosen, cs.Integ, err)
	}
	seed := make([]byte, 0, len(gir)+len(ni)+len(nr))
	seed = append(append(append(seed, gir...), ni...), nr...)
	km, err := k.PRF.Expand(k.D, seed, 2*n)
	if err != nil {
		return nil, err
	}
	return &crypto.ChildKeys{
		Suite:                crypto.Suite{Integ: uint16(cs.Integ)},
		InitiatorToResponder: crypto.DirKeys{Integ: km[:n:n]},
		ResponderToInitiator: crypto.DirKeys{Integ: km[n:]},
	}, nil
}

// installChild records c and asks the driver to install it.
func (s *SA) installChild(now time.Time, c *child, replaces uint32) {
	c.created = now
	if s.cfg.ChildLifetime > 0 {
		soft := s.cfg.ChildLifetime - s.jitter(s.cfg.ChildLifetime)
		c.sa.SoftLifetime = soft
		c.sa.HardLifetime = s.cfg.ChildLifetime + s.cfg.RekeyMargin
		c.rekeyAt = now.Add(soft)
		c.expireAt = now.Add(c.sa.HardLifetime)
	}
	s.children[c.sa.InboundSPI] = c
	s.log.Info("Child SA installed", zap.Stringer("ike_sa", s), zap.Stringer("child", c.sa))
	s.emit(InstallChild{Child: c.sa, Replaces: replaces})
}

// jitter returns a random duration in [0, j), where j is RekeyJitter, or
// a tenth of lifetime when RekeyJitter is zero (negative disables it), so
// that both ends do not rekey at the same instant (RFC 7296 §2.8.1).
func (s *SA) jitter(lifetime time.Duration) time.Duration {
	j := s.cfg.RekeyJitter
	if j == 0 {
		j = lifetime / 10
	}
	if j <= 0 {
		return 0
	}
	b, err := s.randBytes(8)
	if err != nil {
		return 0
	}
	v := new(big.Int).SetBytes(b)
	return time.Duration(v.Mod(v, big.NewInt(int64(j))).Int64())
}

// pfsRetryGroup returns the group an INVALID_KE_PAYLOAD in rps asks for,
// if we offer it for Child SAs and have not tried it yet (RFC 7296 §1.3).
func (s *SA) pfsRetryGroup(rps []wire.Payload, tried wire.DHGroup) (wire.DHGroup, bool) {
	n := wire.FindNotify(rps, wire.NotifyInvalidKEPayload)
	if n == nil {
		return 0, false
	}
	g, err := n.DHGroup()
	if err != nil || g == tried {
		return 0, false
	}
	for _, p := range s.offeredChildProposals() {
		if slices.Contains(p.DH, g) {
			return g, true
		}
	}
	return 0, false
}

// childByOutbound finds a Child SA by the peer's SPI (the one the peer
// names in REKEY_SA and Delete payloads).
func (s *SA) childByOutbound(proto wire.ProtocolID, spi uint32) *child {
	for _, c := range s.children {
		if c.sa.OutboundSPI == spi && c.sa.Protocol == proto {
			return c
		}
	}
	return nil
}

// removeChild forgets c and asks the driver to remove it.
func (s *SA) removeChild(c *child, err error) {
	if _, ok := s.children[c.sa.InboundSPI]; !ok {
		return
	}
	delete(s.children, c.sa.InboundSPI)
	s.log.Info("Child SA deleted", zap.Stringer("ike_sa", s), zap.Stringer("child", c.sa))
	s.emit(DeleteChild{Child: c.sa, Err: err})
}

// tickChildren rekeys Child SAs at their soft lifetime and deletes those
// that reach the hard one without being replaced.
func (s *SA) tickChildren(now time.Time) {
	for _, c := range s.sortedChildren() {
		if !c.expireAt.IsZero() && !now.Before(c.expireAt) {
			c.expireAt = time.Time{}
			c.rekeyAt = time.Time{}
			spi := c.sa.InboundSPI
			s.enqueue(now, func(now time.Time) bool { return s.deleteChildCmd(now, spi) })
			continue
		}
		if !c.rekeyAt.IsZero() && !now.Before(c.rekeyAt) {
			c.rekeyAt = time.Time{}
			spi := c.sa.InboundSPI
			if s.cfg.ExternalRekey {
				s.emit(RekeyDue{ChildSPI: spi})
				continue
			}
			s.enqueue(now, func(now time.Time) bool { return s.rekeyChildCmd(now, spi) })
		}
	}
}
