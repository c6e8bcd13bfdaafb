package wire

import (
	"fmt"
	"net/netip"
	"strings"
)

// TSType is the TS Type of a traffic selector (RFC 7296 §3.13.1).
type TSType uint8

// Traffic selector types.
const (
	TSIPv4AddrRange TSType = 7
	TSIPv6AddrRange TSType = 8
	TSFCAddrRange   TSType = 9  // RFC 4595 (kept opaque)
	TSSecLabel      TSType = 10 // RFC 9478 (kept opaque)
)

var tsTypeNames = map[TSType]string{
	TSIPv4AddrRange: "TS_IPV4_ADDR_RANGE",
	TSIPv6AddrRange: "TS_IPV6_ADDR_RANGE",
	TSFCAddrRange:   "TS_FC_ADDR_RANGE",
	TSSecLabel:      "TS_SECLABEL",
}

// String returns the IANA name, e.g. "TS_IPV4_ADDR_RANGE".
func (t TSType) String() string { return name(tsTypeNames, t, "TSType") }

// TrafficSelectors is a TSi or TSr payload (RFC 7296 §3.13).
type TrafficSelectors struct {
	// Responder selects TSr (true) or TSi (false).
	Responder bool
	// Selectors holds 1 to 255 traffic selectors.
	Selectors []TrafficSelector
}

// TrafficSelector is one traffic selector (RFC 7296 §3.13.1). For the IPv4
// and IPv6 range types the address and port fields are used and Data is nil;
// both addresses must be of the type's family. For other types (which this
// package keeps opaque so that a responder can answer TS_UNACCEPTABLE rather
// than INVALID_SYNTAX) IPProtocol holds the second octet and Data the octets
// after the 4-octet selector header; addresses and ports are zero.
type TrafficSelector struct {
	Type       TSType
	IPProtocol uint8 // 0 means any protocol
	StartPort  uint16
	EndPort    uint16 // StartPort 65535 with EndPort 0 means OPAQUE ports
	StartAddr  netip.Addr
	EndAddr    netip.Addr
	Data       []byte
}

// Type returns PayloadTSr or PayloadTSi.
func (ts *TrafficSelectors) Type() PayloadType {
	if ts.Responder {
		return PayloadTSr
	}
	return PayloadTSi
}

// TSFromPrefix returns the selector covering every address of p, with the
// given IP protocol (0 for any) and the full port range.
func TSFromPrefix(p netip.Prefix, ipProto uint8) TrafficSelector {
	p = p.Masked()
	t := TSIPv6AddrRange
	if p.Addr().Is4() {
		t = TSIPv4AddrRange
	}
	return TrafficSelector{Type: t, IPProtocol: ipProto, EndPort: 65535, StartAddr: p.Addr(), EndAddr: lastAddr(p)}
}

// lastAddr returns the highest address in the masked prefix p.
func lastAddr(p netip.Prefix) netip.Addr {
	a := p.Addr()
	if a.Is4() {
		b := a.As4()
		for i := p.Bits(); i < 32; i++ {
			b[i/8] |= 0x80 >> (i % 8)
		}
		return netip.AddrFrom4(b)
	}
	b := a.As16()
	for i := p.Bits(); i < 128; i++ {
		b[i/8] |= 0x80 >> (i % 8)
	}
	return netip.AddrFrom16(b)
}

// String returns e.g. "192.0.2.0-192.0.2.255[proto=6,ports=80-80]".
func (t TrafficSelector) String() string {
	if t.Data != nil || (t.Type != TSIPv4AddrRange && t.Type != TSIPv6AddrRange) {
		return fmt.Sprintf("%s(%d octets)", t.Type, len(t.Data))
	}
	return fmt.Sprintf("%s-%s[proto=%d,ports=%d-%d]", t.StartAddr, t.EndAddr, t.IPProtocol, t.StartPort, t.EndPort)
}

// String lists the selectors, e.g. "TSi(192.0.2.1-192.0.2.1[...])".
func (ts *TrafficSelectors) String() string {
	var s []string
	for _, t := range ts.Selectors {
		s = append(s, t.String())
	}
	return ts.Type().String() + "(" + strings.Join(s, " ") + ")"
}

// Selector lengths (RFC 7296 §3.13.1).
const (
	tsHeaderLen = 4
	tsIPv4Len   = 16
	tsIPv6Len   = 40
)

func decodeTS(pt PayloadType, body []byte, base int) (Payload, error) {
	r := newReader(pt, body, base)
	n, err := r.u8("number of tss")
	if err != nil {
		return nil, err
	}
	if n == 0 {
		return nil, r.errf(base, "number of tss", "is zero")
	}
	if err := r.skip(3, "ts reserved"); err != nil {
		return nil, err
	}
	ts := &TrafficSelectors{Responder: pt == PayloadTSr, Selectors: make([]TrafficSelector, 0, n)}
	for i := 0; i < int(n); i++ {
		start := r.pos()
		if r.empty() {
			return nil, decodeErr(ErrTruncated, pt, start, "traffic selector", "%d of %d missing", i+1, n)
		}
		typ, _ := r.u8("ts type")
		proto, err := r.u8("ip protocol id")
		if err != nil {
			return nil, err
		}
		slen, err := r.u16("selector length")
		if err != nil {
			return nil, err
		}
		if slen < tsHeaderLen {
			return nil, r.errf(start+2, "selector length", "%d shorter than %d", slen, tsHeaderLen)
		}
		sb, err := r.bytes(int(slen)-tsHeaderLen, "traffic selector")
		if err != nil {
			return nil, err
		}
		t, err := decodeSelector(pt, TSType(typ), proto, sb, start)
		if err != nil {
			return nil, err
		}
		ts.Selectors = append(ts.Selectors, t)
	}
	if err := r.done("last traffic selector"); err != nil {
		return nil, err
	}
	return ts, nil
}

// decodeSelector decodes the part of a selector after type, protocol and
// length; sb holds exactly Selector Length - 4 octets; start is the absolute
// offset of the selector.
func decodeSelector(pt PayloadType, typ TSType, proto uint8, sb []byte, start int) (TrafficSelector, error) {
	t := TrafficSelector{Type: typ, IPProtocol: proto}
	alen := 0
	switch typ {
	case TSIPv4AddrRange:
		alen = 4
	case TSIPv6AddrRange:
		alen = 16
	default:
		t.Data = sb
		return t, nil
	}
	if want := tsHeaderLen + 4 + 2*alen; len(sb)+tsHeaderLen != want {
		return t, decodeErr(ErrInvalid, pt, start+2, "selector length", "%d, want %d for %s", len(sb)+tsHeaderLen, want, typ)
	}
	t.StartPort = uint16(sb[0])<<8 | uint16(sb[1])
	t.EndPort = uint16(sb[2])<<8 | uint16(sb[3])
	if alen == 4 {
		t.StartAddr = netip.AddrFrom4([4]byte(sb[4:8]))
		t.EndAddr = netip.AddrFrom4([4]byte(sb[8:12]))
	} else {
		t.StartAddr = netip.AddrFrom16([16]byte(sb[4:20]))
		t.EndAddr = netip.AddrFrom16([16]byte(sb[20:36]))
	}
	return t, nil
}

func (ts *TrafficSelectors) appendBody(b []byte) ([]byte, error) {
	pt := ts.Type()
	if n := len(ts.Selectors); n == 0 || n > 255 {
		return nil, encodeErr(pt, "number of tss", "%d outside 1..255", n)
	}
	b = append(b, byte(len(ts.Selectors)), 0, 0, 0)
	for _, t := range ts.Selectors {
		start := len(b)
		b = append(b, byte(t.Type), t.IPProtocol, 0, 0)
		switch t.Type {
		case TSIPv4AddrRange, TSIPv6AddrRange:
			want4 := t.Type == TSIPv4AddrRange
			if t.Data != nil {
				return nil, encodeErr(pt, "traffic selector", "%s with opaque Data", t.Type)
			}
			if !t.StartAddr.IsValid() || !t.EndAddr.IsValid() || t.StartAddr.Is4() != want4 || t.EndAddr.Is4() != want4 {
				return nil, encodeErr(pt, "traffic selector", "addresses %v-%v do not match %s", t.StartAddr, t.EndAddr, t.Type)
			}
			b = append16(b, t.StartPort)
			b = append16(b, t.EndPort)
			b = append(b, t.StartAddr.AsSlice()...)
			b = append(b, t.EndAddr.AsSlice()...)
		default:
			if t.StartPort != 0 || t.EndPort != 0 || t.StartAddr.IsValid() || t.EndAddr.IsValid() {
				return nil, encodeErr(pt, "traffic selector", "%s carries addresses or ports; only Data is encoded", t.Type)
			}
			b = append(b, t.Data...)
		}
		n := len(b) - start
		if n > 0xffff {
			return nil, encodeErr(pt, "selector length", "%d exceeds 65535", n)
		}
		put16(b[start+2:], n)
	}
	return b, nil
}
