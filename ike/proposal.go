package ike

import (
	"encoding/binary"
	"fmt"

	"github.com/oe-agent/oe-agent/ike/crypto"
	"github.com/oe-agent/oe-agent/ike/wire"
)

// ikeSuite is a negotiated IKE SA proposal.
type ikeSuite struct {
	Encr    wire.EncrID
	KeyBits uint16
	Integ   wire.IntegID
	PRF     wire.PRFID
	DH      wire.DHGroup
}

func (s ikeSuite) crypto() crypto.Suite {
	return crypto.Suite{Encr: uint16(s.Encr), EncrKeyBits: int(s.KeyBits), Integ: uint16(s.Integ), PRF: uint16(s.PRF)}
}

// childSuite is a negotiated Child SA proposal.
type childSuite struct {
	Protocol wire.ProtocolID
	Encr     wire.EncrID
	KeyBits  uint16
	Integ    wire.IntegID
	DH       wire.DHGroup
	ESN      bool
	PeerSPI  uint32
}

// wireProposal converts p to a wire proposal numbered n with the given SPI.
func (p IKEProposal) wireProposal(n int, spi []byte) wire.Proposal {
	ts := []wire.Transform{p.Encr.Transform(p.KeyBits), p.PRF.Transform()}
	if p.Integ != wire.IntegNone {
		ts = append(ts, p.Integ.Transform())
	}
	for _, g := range p.DH {
		ts = append(ts, g.Transform())
	}
	return wire.Proposal{Number: uint8(n), Protocol: wire.ProtocolIKE, SPI: spi, Transforms: ts}
}

// wireProposal converts p to a wire proposal numbered n with inbound SPI
// spi; pfs includes the DH groups (CREATE_CHILD_SA only).
func (p ChildProposal) wireProposal(n int, spi uint32, pfs bool) wire.Proposal {
	var ts []wire.Transform
	if p.protocol() == wire.ProtocolESP {
		ts = append(ts, p.Encr.Transform(p.KeyBits))
	}
	if p.Integ != wire.IntegNone || p.protocol() == wire.ProtocolAH {
		ts = append(ts, p.Integ.Transform())
	}
	if pfs {
		for _, g := range p.DH {
			ts = append(ts, g.Transform())
		}
	}
	esn := wire.ESNNo
	if p.ESN {
		esn = wire.ESNYes
	}
	ts = append(ts, esn.Transform())
	return wire.Proposal{Number: uint8(n), Protocol: p.protocol(), SPI: binary.BigEndian.AppendUint32(nil, spi), Transforms: ts}
}

// wireProposalSA is an SA payload holding p alone, with inbound SPI spi
// (tests).
func (p ChildProposal) wireProposalSA(spi uint32) *wire.SA {
	return &wire.SA{Proposals: []wire.Proposal{p.wireProposal(1, spi, true)}}
}

func ikeSA(ps []IKEProposal, spi []byte) *wire.SA {
	sa := &wire.SA{}
	for i, p := range ps {
		sa.Proposals = append(sa.Proposals, p.wireProposal(i+1, spi))
	}
	return sa
}

func sameTransform(a, b wire.Transform) bool {
	return a.Type == b.Type && a.ID == b.ID && a.KeyLength == b.KeyLength && len(a.Attributes) == 0 && len(b.Attributes) == 0
}

// intersect picks, for each transform type in ours, the first transform of
// peer (in the peer's order of preference) that ours also has, preferring
// preferDH for the DH type. Types the peer offers that ours lacks are
// acceptable only if the peer also offers ID 0 (NONE / NO_ESN) for them;
// ignoreDH drops the peer's DH transforms entirely (IKE_AUTH, RFC 7296
// §1.2). It reports false if some type has no common transform.
func intersect(ours, peer wire.Proposal, preferDH wire.DHGroup, ignoreDH bool) ([]wire.Transform, bool) {
	var chosen []wire.Transform
	seen := map[wire.TransformType]bool{}
	for _, o := range ours.Transforms {
		if seen[o.Type] {
			continue
		}
		seen[o.Type] = true
		if ignoreDH && o.Type == wire.TransformDH {
			continue
		}
		var pick *wire.Transform
		for i := range peer.Transforms {
			pt := peer.Transforms[i]
			if pt.Type != o.Type || !hasTransform(ours, pt) {
				continue
			}
			if pick == nil || (pt.Type == wire.TransformDH && wire.DHGroup(pt.ID) == preferDH) {
				pick = &peer.Transforms[i]
			}
		}
		if pick == nil {
			return nil, false
		}
		chosen = append(chosen, *pick)
	}
	for _, pt := range peer.Transforms {
		if seen[pt.Type] || (ignoreDH && pt.Type == wire.TransformDH) {
			continue
		}
		if !hasID(peer, pt.Type, 0) {
			return nil, false
		}
	}
	return chosen, true
}

func hasTransform(p wire.Proposal, t wire.Transform) bool {
	for _, x := range p.Transforms {
		if sameTransform(x, t) {
			return true
		}
	}
	return false
}

func hasID(p wire.Proposal, t wire.TransformType, id uint16) bool {
	for _, x := range p.Transforms {
		if x.Type == t && x.ID == id {
			return true
		}
	}
	return false
}

// chooseProposal returns the first of the peer's proposals (RFC 7296 §2.7:
// in the peer's order) that matches one of ours for protocol proto, as the
// single proposal to answer with (SPI not set).
func chooseProposal(ours []wire.Proposal, peer *wire.SA, preferDH wire.DHGroup, ignoreDH bool) (wire.Proposal, bool) {
	for _, pp := range peer.Proposals {
		for _, op := range ours {
			if pp.Protocol != op.Protocol {
				continue
			}
			if ts, ok := intersect(op, pp, preferDH, ignoreDH); ok {
				return wire.Proposal{Number: pp.Number, Protocol: pp.Protocol, SPI: pp.SPI, Transforms: ts}, true
			}
		}
	}
	return wire.Proposal{}, false
}

// checkAccepted validates the responder's single proposal against what we
// offered (RFC 7296 §3.3.6: one transform of each type, all from the
// proposal it names) and returns it.
func checkAccepted(offered *wire.SA, got *wire.SA, ignoreDH bool) (wire.Proposal, error) {
	if len(got.Proposals) != 1 {
		return wire.Proposal{}, fmt.Errorf("%w: responder returned %d proposals, want 1", ErrUnexpected, len(got.Proposals))
	}
	r := got.Proposals[0]
	var o *wire.Proposal
	for i := range offered.Proposals {
		if offered.Proposals[i].Number == r.Number && offered.Proposals[i].Protocol == r.Protocol {
			o = &offered.Proposals[i]
		}
	}
	if o == nil {
		return r, fmt.Errorf("%w: responder chose proposal #%d %s, which was not offered", ErrUnexpected, r.Number, r.Protocol)
	}
	seen := map[wire.TransformType]bool{}
	for _, t := range r.Transforms {
		if seen[t.Type] {
			return r, fmt.Errorf("%w: responder chose two %s transforms", ErrUnexpected, t.Type)
		}
		seen[t.Type] = true
		if !hasTransform(*o, t) {
			return r, fmt.Errorf("%w: responder chose %v, which was not offered", ErrUnexpected, t)
		}
	}
	for _, t := range o.Transforms {
		if !seen[t.Type] && !(ignoreDH && t.Type == wire.TransformDH) {
			return r, fmt.Errorf("%w: responder's proposal lacks a %s transform", ErrUnexpected, t.Type)
		}
	}
	return r, nil
}

// ikeSuiteOf reads a negotiated IKE proposal.
func ikeSuiteOf(p wire.Proposal) (ikeSuite, error) {
	var s ikeSuite
	for _, t := range p.Transforms {
		switch t.Type {
		case wire.TransformEncr:
			s.Encr, s.KeyBits = wire.EncrID(t.ID), t.KeyLength
		case wire.TransformPRF:
			s.PRF = wire.PRFID(t.ID)
		case wire.TransformInteg:
			s.Integ = wire.IntegID(t.ID)
		case wire.TransformDH:
			s.DH = wire.DHGroup(t.ID)
		}
	}
	if s.Encr == 0 || s.PRF == 0 || s.DH == 0 {
		return s, fmt.Errorf("%w: IKE proposal %v lacks ENCR, PRF or DH", ErrUnexpected, p)
	}
	return s, nil
}

// childSuiteOf reads a negotiated Child SA proposal.
func childSuiteOf(p wire.Proposal) (childSuite, error) {
	s := childSuite{Protocol: p.Protocol}
	if len(p.SPI) != 4 {
		return s, fmt.Errorf("%w: %s proposal with a %d-octet SPI", ErrUnexpected, p.Protocol, len(p.SPI))
	}
	s.PeerSPI = binary.BigEndian.Uint32(p.SPI)
	if s.PeerSPI < 256 {
		// 0 and 1-255 are reserved (RFC 4303 §2.1, RFC 4302 §2.4).
		return s, fmt.Errorf("%w: reserved %s SPI %d", ErrInvalidSyntax, p.Protocol, s.PeerSPI)
	}
	for _, t := range p.Transforms {
		switch t.Type {
		case wire.TransformEncr:
			s.Encr, s.KeyBits = wire.EncrID(t.ID), t.KeyLength
		case wire.TransformInteg:
			s.Integ = wire.IntegID(t.ID)
		case wire.TransformDH:
			s.DH = wire.DHGroup(t.ID)
		case wire.TransformESN:
			s.ESN = t.ID == uint16(wire.ESNYes)
		}
	}
	if s.Protocol == wire.ProtocolESP && s.Encr == 0 {
		return s, fmt.Errorf("%w: ESP proposal without ENCR", ErrUnexpected)
	}
	if s.Protocol == wire.ProtocolAH && s.Integ == wire.IntegNone {
		return s, fmt.Errorf("%w: AH proposal without INTEG", ErrUnexpected)
	}
	return s, nil
}

// ourChildProposals returns cfg's Child SA proposals in wire form, for
// matching; pfs includes DH groups.
func ourChildProposals(cfg *Config, pfs bool) []wire.Proposal {
	out := make([]wire.Proposal, 0, len(cfg.ChildProposals))
	for i, p := range cfg.ChildProposals {
		if p.Encr == wire.EncrNull && !cfg.AllowNullEncryption {
			continue
		}
		out = append(out, p.wireProposal(i+1, 0, pfs))
	}
	return out
}

func ourIKEProposals(cfg *Config) []wire.Proposal {
	out := make([]wire.Proposal, 0, len(cfg.IKEProposals))
	for i, p := range cfg.IKEProposals {
		out = append(out, p.wireProposal(i+1, nil))
	}
	return out
}
