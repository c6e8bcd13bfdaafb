package wire

import (
	"fmt"
	"strings"
)

// SA is a Security Association payload (RFC 7296 §3.3): one or more
// proposals in order of preference. A response carries exactly one.
type SA struct {
	Proposals []Proposal
}

// Proposal is a Proposal substructure (RFC 7296 §3.3.1).
type Proposal struct {
	// Number is the Proposal Num: 1 for the first proposal and one more
	// for each following one in a request; in a response, the number of
	// the accepted proposal.
	Number uint8
	// Protocol is IKE, AH or ESP.
	Protocol ProtocolID
	// SPI is the sending entity's SPI: empty for IKE in IKE_SA_INIT, 8
	// octets for IKE rekeys, 4 octets for AH and ESP.
	SPI []byte
	// Transforms lists the transforms; a proposal offers every combination
	// of one transform of each type present.
	Transforms []Transform
}

// Transform is a Transform substructure (RFC 7296 §3.3.2). The zero KeyLength
// means the Key Length attribute is absent.
type Transform struct {
	Type TransformType
	// ID is the Transform ID; its meaning depends on Type (EncrID, PRFID,
	// IntegID, DHGroup or ESNID).
	ID uint16
	// KeyLength is the Key Length attribute in bits (RFC 7296 §3.3.5), or 0
	// when the transform has none.
	KeyLength uint16
	// Attributes holds any other attributes, in order. IKEv2 defines none,
	// and RFC 7296 §3.3.6 tells the responder to reject a proposal with an
	// attribute it does not recognise, so they are kept for the caller to
	// see rather than dropped.
	Attributes []Attribute
}

// Attribute is a transform attribute other than Key Length.
type Attribute struct {
	Type AttributeType // without the AF bit
	TV   bool          // Type/Value format (AF=1): Value is exactly 2 octets
	// Value is the attribute value.
	Value []byte
}

// Type returns PayloadSA.
func (*SA) Type() PayloadType { return PayloadSA }

// String returns the transform in the form "ENCR_AES_CBC_256" (key length
// appended) or "PRF_HMAC_SHA2_256".
func (t Transform) String() string {
	s := idName(t.Type, t.ID)
	if t.KeyLength != 0 {
		s = fmt.Sprintf("%s_%d", s, t.KeyLength)
	}
	if len(t.Attributes) > 0 {
		s += fmt.Sprintf("+%d attributes", len(t.Attributes))
	}
	return s
}

// String returns the proposal as "#1 IKE: ENCR_AES_GCM_16_256/PRF_HMAC_SHA2_256/ECP_256".
func (p Proposal) String() string {
	var ts []string
	for _, t := range p.Transforms {
		ts = append(ts, t.String())
	}
	return fmt.Sprintf("#%d %s: %s", p.Number, p.Protocol, strings.Join(ts, "/"))
}

// Substructure markers (RFC 7296 §3.3.1, §3.3.2).
const (
	lastSubstruc      = 0
	moreProposals     = 2
	moreTransforms    = 3
	afTV              = 0x8000
	proposalHeaderLen = 8
	transformHdrLen   = 8
)

func decodeSA(pt PayloadType, body []byte, base int) (Payload, error) {
	r := newReader(pt, body, base)
	sa := &SA{}
	if r.empty() {
		return nil, r.errf(r.pos(), "proposals", "none in SA payload")
	}
	for last := false; !last; {
		start := r.pos()
		if r.empty() {
			return nil, decodeErr(ErrTruncated, pt, start, "proposal", "expected after a proposal marked not last")
		}
		marker, _ := r.u8("last substruc")
		switch marker {
		case lastSubstruc:
			last = true
		case moreProposals:
		default:
			return nil, r.errf(start, "proposal last substruc", "%d, want 0 or 2", marker)
		}
		if err := r.skip(1, "proposal reserved"); err != nil {
			return nil, err
		}
		plen, err := r.u16("proposal length")
		if err != nil {
			return nil, err
		}
		if int(plen) < proposalHeaderLen {
			return nil, r.errf(start+2, "proposal length", "%d shorter than %d", plen, proposalHeaderLen)
		}
		pbody, err := r.bytes(int(plen)-4, "proposal")
		if err != nil {
			return nil, err
		}
		p, err := decodeProposal(pt, pbody, start+4)
		if err != nil {
			return nil, err
		}
		sa.Proposals = append(sa.Proposals, p)
	}
	if err := r.done("last proposal"); err != nil {
		return nil, err
	}
	return sa, nil
}

// decodeProposal decodes a proposal after its 4-octet marker/length prefix.
func decodeProposal(pt PayloadType, b []byte, base int) (Proposal, error) {
	r := newReader(pt, b, base)
	var p Proposal
	num, err := r.u8("proposal num")
	if err != nil {
		return p, err
	}
	proto, err := r.u8("protocol id")
	if err != nil {
		return p, err
	}
	spiSize, err := r.u8("spi size")
	if err != nil {
		return p, err
	}
	ntrans, err := r.u8("num transforms")
	if err != nil {
		return p, err
	}
	p.Number, p.Protocol = num, ProtocolID(proto)
	if !spiSizeOK(p.Protocol, int(spiSize)) {
		return p, r.errf(base+2, "spi size", "%d invalid for protocol %s", spiSize, p.Protocol)
	}
	if p.SPI, err = r.bytes(int(spiSize), "spi"); err != nil {
		return p, err
	}
	if ntrans == 0 {
		return p, r.errf(base+3, "num transforms", "is zero")
	}
	p.Transforms = make([]Transform, 0, ntrans)
	for last := false; !last; {
		start := r.pos()
		if r.empty() {
			return p, decodeErr(ErrTruncated, pt, start, "transform", "expected after a transform marked not last")
		}
		marker, _ := r.u8("last substruc")
		switch marker {
		case lastSubstruc:
			last = true
		case moreTransforms:
		default:
			return p, r.errf(start, "transform last substruc", "%d, want 0 or 3", marker)
		}
		if err := r.skip(1, "transform reserved"); err != nil {
			return p, err
		}
		tlen, err := r.u16("transform length")
		if err != nil {
			return p, err
		}
		if int(tlen) < transformHdrLen {
			return p, r.errf(start+2, "transform length", "%d shorter than %d", tlen, transformHdrLen)
		}
		tbody, err := r.bytes(int(tlen)-4, "transform")
		if err != nil {
			return p, err
		}
		t, err := decodeTransform(pt, tbody, start+4)
		if err != nil {
			return p, err
		}
		p.Transforms = append(p.Transforms, t)
	}
	if len(p.Transforms) != int(ntrans) {
		return p, r.errf(base+3, "num transforms", "%d, but the proposal holds %d", ntrans, len(p.Transforms))
	}
	if err := r.done("last transform"); err != nil {
		return p, err
	}
	return p, nil
}

// decodeTransform decodes a transform after its marker/length prefix.
func decodeTransform(pt PayloadType, b []byte, base int) (Transform, error) {
	r := newReader(pt, b, base)
	var t Transform
	typ, err := r.u8("transform type")
	if err != nil {
		return t, err
	}
	if err := r.skip(1, "transform reserved"); err != nil {
		return t, err
	}
	id, err := r.u16("transform id")
	if err != nil {
		return t, err
	}
	t.Type, t.ID = TransformType(typ), id
	for !r.empty() {
		start := r.pos()
		at, err := r.u16("attribute type")
		if err != nil {
			return t, err
		}
		a := Attribute{Type: AttributeType(at &^ afTV), TV: at&afTV != 0}
		if a.TV {
			a.Value, err = r.bytes(2, "attribute value")
		} else {
			var n uint16
			if n, err = r.u16("attribute length"); err == nil {
				a.Value, err = r.bytes(int(n), "attribute value")
			}
		}
		if err != nil {
			return t, err
		}
		if a.Type != AttributeKeyLength {
			t.Attributes = append(t.Attributes, a)
			continue
		}
		switch {
		case !a.TV:
			return t, r.errf(start, "key length attribute", "in TLV format, must be TV")
		case t.KeyLength != 0:
			return t, r.errf(start, "key length attribute", "repeated")
		}
		t.KeyLength = uint16(a.Value[0])<<8 | uint16(a.Value[1])
		if t.KeyLength == 0 {
			return t, r.errf(start+2, "key length attribute", "is zero")
		}
	}
	return t, nil
}

func (sa *SA) appendBody(b []byte) ([]byte, error) {
	if len(sa.Proposals) == 0 {
		return nil, encodeErr(PayloadSA, "proposals", "none in SA payload")
	}
	for i, p := range sa.Proposals {
		if !spiSizeOK(p.Protocol, len(p.SPI)) {
			return nil, encodeErr(PayloadSA, "spi size", "%d invalid for protocol %s", len(p.SPI), p.Protocol)
		}
		if len(p.Transforms) == 0 || len(p.Transforms) > 255 {
			return nil, encodeErr(PayloadSA, "num transforms", "%d outside 1..255", len(p.Transforms))
		}
		marker := byte(moreProposals)
		if i == len(sa.Proposals)-1 {
			marker = lastSubstruc
		}
		pstart := len(b)
		b = append(b, marker, 0, 0, 0, p.Number, byte(p.Protocol), byte(len(p.SPI)), byte(len(p.Transforms)))
		b = append(b, p.SPI...)
		for j, t := range p.Transforms {
			var err error
			marker := byte(moreTransforms)
			if j == len(p.Transforms)-1 {
				marker = lastSubstruc
			}
			if b, err = t.append(b, marker); err != nil {
				return nil, err
			}
		}
		n := len(b) - pstart
		if n > 0xffff {
			return nil, encodeErr(PayloadSA, "proposal length", "%d exceeds 65535", n)
		}
		put16(b[pstart+2:], n)
	}
	return b, nil
}

func (t Transform) append(b []byte, marker byte) ([]byte, error) {
	start := len(b)
	b = append(b, marker, 0, 0, 0, byte(t.Type), 0)
	b = append16(b, t.ID)
	if t.KeyLength != 0 {
		b = append16(b, afTV|uint16(AttributeKeyLength))
		b = append16(b, t.KeyLength)
	}
	for _, a := range t.Attributes {
		switch {
		case a.Type == AttributeKeyLength:
			return nil, encodeErr(PayloadSA, "attribute", "key length belongs in Transform.KeyLength")
		case a.Type&afTV != 0:
			return nil, encodeErr(PayloadSA, "attribute type", "%d does not fit in 15 bits", a.Type)
		case a.TV && len(a.Value) != 2:
			return nil, encodeErr(PayloadSA, "attribute value", "TV format needs 2 octets, have %d", len(a.Value))
		case !a.TV && len(a.Value) > 0xffff:
			return nil, encodeErr(PayloadSA, "attribute value", "%d octets exceed 65535", len(a.Value))
		}
		if a.TV {
			b = append16(b, afTV|uint16(a.Type))
		} else {
			b = append16(b, uint16(a.Type))
			b = append16(b, uint16(len(a.Value)))
		}
		b = append(b, a.Value...)
	}
	n := len(b) - start
	if n > 0xffff {
		return nil, encodeErr(PayloadSA, "transform length", "%d exceeds 65535", n)
	}
	put16(b[start+2:], n)
	return b, nil
}
