package wire

import (
	"bytes"
	"encoding/binary"
)

// Message is a whole IKEv2 message: the header and the payload chain. When
// the message is protected, its last payload is an *Encrypted (SK) or
// *EncryptedFragment (SKF) whose contents the caller decrypts and decodes
// with DecodePayloads.
type Message struct {
	Header
	Payloads []Payload
}

// Decode parses a whole IKEv2 message from one datagram (without the non-ESP
// marker of RFC 3948). It is strict: the Length field must equal len(b), every
// payload length must fit, nothing may follow the last payload, and an
// unknown payload with the critical bit set fails with ErrUnsupportedCritical.
// Unknown non-critical payloads are kept as *Unknown. Payload counts are not
// checked here; see CheckUnique.
//
// Decode copies b once: the byte slices in the result share that private
// copy (each with its capacity capped), never b, so b may be reused.
func Decode(b []byte) (*Message, error) {
	h, first, length, err := ParseHeader(b)
	if err != nil {
		return nil, err
	}
	if length != len(b) {
		return nil, decodeErr(ErrInvalid, PayloadNone, 24, "message length", "%d does not match datagram length %d", length, len(b))
	}
	buf := bytes.Clone(b)
	ps, err := decodeChain(first, buf[HeaderLen:], HeaderLen, true)
	if err != nil {
		return nil, err
	}
	return &Message{Header: h, Payloads: ps}, nil
}

// Encode returns the wire form of m. Next Payload and Length fields are
// computed; an *Encrypted or *EncryptedFragment payload must be last, and
// its NextPayload field goes into its generic header as RFC 7296 §3.14 says.
// Each payload is validated with the same rules Decode applies.
func (m *Message) Encode() ([]byte, error) {
	return m.appendTo(make([]byte, 0, m.sizeHint()))
}

func (m *Message) appendTo(b []byte) ([]byte, error) {
	if m.SPIi == 0 {
		return nil, encodeErr(PayloadNone, "initiator SPI", "is zero")
	}
	start := len(b)
	b = appendHeader(b, m.Header, firstType(m.Payloads))
	b, err := appendChain(b, m.Payloads, true)
	if err != nil {
		return nil, err
	}
	n := len(b) - start
	if n > MaxMessageLen {
		return nil, encodeErr(PayloadNone, "message length", "%d exceeds %d", n, MaxMessageLen)
	}
	binary.BigEndian.PutUint32(b[start+24:], uint32(n))
	return b, nil
}

// sizeHint guesses the encoded size, to allocate once in the common case.
func (m *Message) sizeHint() int { return HeaderLen + chainSizeHint(m.Payloads) }

// chainSizeHint estimates the encoded size of ps, erring on the large side
// for the payloads that dominate real messages.
func chainSizeHint(ps []Payload) int {
	n := 0
	for _, p := range ps {
		switch p := p.(type) {
		case *SA:
			for _, pr := range p.Proposals {
				n += proposalHeaderLen + len(pr.SPI) + 12*len(pr.Transforms)
			}
		case *Encrypted:
			n += len(p.Data)
		case *EncryptedFragment:
			n += len(p.Data)
		case *KE:
			n += len(p.Data)
		case *Nonce:
			n += len(p.Data)
		case *Auth:
			n += len(p.Data)
		case *Cert:
			n += len(p.Data)
		case *TrafficSelectors:
			n += tsIPv6Len * len(p.Selectors)
		case *Notify:
			n += len(p.SPI) + len(p.Data)
		case *Unknown:
			n += len(p.Data)
		case *VendorID:
			n += len(p.Data)
		}
		n += 16
	}
	return n
}

// DecodePayloads parses the payload chain inside a decrypted SK payload (or a
// reassembled set of SKF fragments): first is the SK payload's Next Payload
// field and b the plaintext with the padding and Pad Length removed (RFC 7296
// §3.14). The rules are those of Decode, and additionally an SK or SKF
// payload inside is an error. Offsets in errors are relative to b. Like
// Decode, it copies b once and the result aliases only that copy.
func DecodePayloads(first PayloadType, b []byte) ([]Payload, error) {
	return decodeChain(first, bytes.Clone(b), 0, false)
}

// EncodePayloads encodes the inner payload chain of an SK payload, returning
// the type of the first payload (the SK payload's Next Payload, PayloadNone
// for an empty chain) and the octets to pad and encrypt. SK and SKF payloads
// may not appear in ps.
func EncodePayloads(ps []Payload) (first PayloadType, b []byte, err error) {
	b, err = appendChain(make([]byte, 0, chainSizeHint(ps)), ps, false)
	if err != nil {
		return 0, nil, err
	}
	return firstType(ps), b, nil
}

func firstType(ps []Payload) PayloadType {
	if len(ps) == 0 || ps[0] == nil {
		return PayloadNone
	}
	return ps[0].Type()
}

// decodeChain walks a payload chain starting with type first over b, whose
// first octet is at absolute offset base. outer allows a final SK or SKF
// payload.
func decodeChain(first PayloadType, b []byte, base int, outer bool) ([]Payload, error) {
	ps := make([]Payload, 0, 8)
	next, off := first, 0
	for next != PayloadNone {
		pos := base + off
		if len(b)-off < 4 {
			return nil, decodeErr(ErrTruncated, next, pos, "payload header", "needs 4 octets, %d left", len(b)-off)
		}
		np := PayloadType(b[off])
		critical := b[off+1]&0x80 != 0
		plen := int(binary.BigEndian.Uint16(b[off+2:]))
		if plen < 4 {
			return nil, decodeErr(ErrInvalid, next, pos+2, "payload length", "%d shorter than the 4-octet payload header", plen)
		}
		if plen > len(b)-off {
			return nil, decodeErr(ErrTruncated, next, pos+2, "payload length", "%d exceeds the %d octets left", plen, len(b)-off)
		}
		body := b[off+4 : off+plen : off+plen]
		var (
			p   Payload
			err error
		)
		switch dec := decoders[next]; {
		case next == PayloadSK || next == PayloadSKF:
			if !outer {
				return nil, decodeErr(ErrInvalid, next, pos, "payload type", "encrypted payload inside an encrypted payload")
			}
			if off+plen != len(b) {
				return nil, decodeErr(ErrTrailingData, next, pos+plen, "encrypted payload", "must be last, but %d octets follow", len(b)-off-plen)
			}
			if next == PayloadSK {
				p = &Encrypted{NextPayload: np, Data: body}
			} else {
				p, err = decodeSKF(np, body, pos+4)
			}
			np = PayloadNone // np named the first inner payload, not a successor
		case dec != nil:
			p, err = dec(next, body, pos+4)
		case critical:
			return nil, decodeErr(ErrUnsupportedCritical, next, pos, "payload type", "%d unknown and marked critical", next)
		default:
			p = &Unknown{PayloadType: next, Data: body}
		}
		if err != nil {
			return nil, err
		}
		ps = append(ps, p)
		off += plen
		next = np
	}
	if off != len(b) {
		return nil, decodeErr(ErrTrailingData, PayloadNone, base+off, "last payload", "followed by %d octets", len(b)-off)
	}
	return ps, nil
}

// appendChain encodes ps as a chain, back-patching each Payload Length
// (which, unlike a cryptobyte prefix, counts the 4-octet header too).
func appendChain(b []byte, ps []Payload, outer bool) ([]byte, error) {
	for i, p := range ps {
		if p == nil {
			return nil, encodeErr(PayloadNone, "payload", "%d is nil", i)
		}
		next := PayloadNone
		if i+1 < len(ps) && ps[i+1] != nil {
			next = ps[i+1].Type()
		}
		var flags byte
		switch p := p.(type) {
		case *Encrypted, *EncryptedFragment:
			if !outer {
				return nil, encodeErr(p.Type(), "payload", "encrypted payload inside an encrypted payload")
			}
			if i != len(ps)-1 {
				return nil, encodeErr(p.Type(), "payload", "encrypted payload must be last (RFC 7296 §3.14)")
			}
			if e, ok := p.(*Encrypted); ok {
				next = e.NextPayload
			} else {
				next = p.(*EncryptedFragment).NextPayload
			}
		case *Unknown:
			if p.Critical {
				flags = 0x80
			}
		}
		start := len(b)
		b = append(b, byte(next), flags, 0, 0)
		var err error
		if b, err = p.appendBody(b); err != nil {
			return nil, err
		}
		n := len(b) - start
		if n > 0xffff {
			return nil, encodeErr(p.Type(), "payload length", "%d exceeds 65535", n)
		}
		put16(b[start+2:], n)
	}
	return b, nil
}
