package wire

// Encrypted is an SK payload (RFC 7296 §3.14). The codec does no
// cryptography: Data is the Initialization Vector, the ciphertext (which
// includes the padding and Pad Length) and the Integrity Checksum Data, back
// to back, and only the caller's transforms know where one ends and the next
// begins (see Split). An SK payload is always the last payload of a message.
//
// To send, encode the inner payloads with EncodePayloads, pad and encrypt
// them, and build the message with EncodeSK. To receive, call Decode, check
// and decrypt using LocateSK on the raw datagram, then DecodePayloads.
type Encrypted struct {
	// NextPayload is the type of the first inner payload (PayloadNone for
	// an empty INFORMATIONAL message).
	NextPayload PayloadType
	Data        []byte
}

// Type returns PayloadSK.
func (*Encrypted) Type() PayloadType { return PayloadSK }

func (e *Encrypted) appendBody(b []byte) ([]byte, error) { return append(b, e.Data...), nil }

// Split cuts Data into the IV, the ciphertext and the ICV, given their
// lengths for the negotiated transforms (for AEAD ciphers icvLen is the tag
// length). The slices alias e.Data.
func (e *Encrypted) Split(ivLen, icvLen int) (iv, ciphertext, icv []byte, err error) {
	return splitSK(PayloadSK, e.Data, ivLen, icvLen)
}

func splitSK(pt PayloadType, d []byte, ivLen, icvLen int) (iv, ciphertext, icv []byte, err error) {
	if ivLen < 0 || icvLen < 0 || len(d) < ivLen+icvLen {
		return nil, nil, nil, &Error{Payload: pt, Offset: -1, Field: "encrypted data",
			Reason: errReason("%d octets, shorter than IV %d + ICV %d", len(d), ivLen, icvLen), Err: ErrTruncated}
	}
	c := len(d) - icvLen
	return d[:ivLen:ivLen], d[ivLen:c:c], d[c:], nil
}

// EncryptedFragment is an SKF payload (RFC 7383 §2.5): one fragment of an
// SK payload. NextPayload is the first inner payload's type in fragment 1 and
// PayloadNone in the others.
type EncryptedFragment struct {
	NextPayload PayloadType
	Number      uint16 // Fragment Number, 1..Total
	Total       uint16 // Total Fragments, at least 1
	Data        []byte // IV || ciphertext || ICV, as in Encrypted
}

// Type returns PayloadSKF.
func (*EncryptedFragment) Type() PayloadType { return PayloadSKF }

// Split cuts Data like Encrypted.Split.
func (f *EncryptedFragment) Split(ivLen, icvLen int) (iv, ciphertext, icv []byte, err error) {
	return splitSK(PayloadSKF, f.Data, ivLen, icvLen)
}

// checkFragment returns what is wrong with the fragment numbering, or "".
func checkFragment(next PayloadType, num, total uint16) (field, reason string) {
	switch {
	case total == 0:
		return "total fragments", "is zero"
	case num == 0 || num > total:
		return "fragment number", errReason("%d outside 1..%d", num, total)
	case num > 1 && next != PayloadNone:
		return "next payload", errReason("%s in fragment %d, must be 0 after the first (RFC 7383 §2.5)", next, num)
	}
	return "", ""
}

func decodeSKF(next PayloadType, body []byte, base int) (Payload, error) {
	r := newReader(PayloadSKF, body, base)
	num, err := r.u16("fragment number")
	if err != nil {
		return nil, err
	}
	total, err := r.u16("total fragments")
	if err != nil {
		return nil, err
	}
	if field, reason := checkFragment(next, num, total); field != "" {
		return nil, r.errf(base, field, "%s", reason)
	}
	return &EncryptedFragment{NextPayload: next, Number: num, Total: total, Data: r.rest()}, nil
}

func (f *EncryptedFragment) appendBody(b []byte) ([]byte, error) {
	if field, reason := checkFragment(f.NextPayload, f.Number, f.Total); field != "" {
		return nil, encodeErr(PayloadSKF, field, "%s", reason)
	}
	b = append16(b, f.Number)
	b = append16(b, f.Total)
	return append(b, f.Data...), nil
}

// SKLayout locates the parts of the SK or SKF payload in an encoded message
// msg, as offsets into msg:
//
//	msg[:IV]             associated data for AEAD ciphers (RFC 5282 §5.1,
//	                     RFC 7383 §2.5): header, any cleartext payloads and
//	                     the SK/SKF payload header with fragment fields
//	msg[IV:Ciphertext]   Initialization Vector
//	msg[Ciphertext:ICV]  encrypted payloads, padding and Pad Length
//	msg[ICV:End]         Integrity Checksum Data (AEAD: the tag)
//	msg[:ICV]            what the integrity algorithm covers (RFC 7296 §3.14)
//
// End is len(msg).
type SKLayout struct {
	IV, Ciphertext, ICV, End int
}

// LocateSK returns the layout of the SK or SKF payload that ends msg, for
// the given IV and ICV lengths. It checks the header and payload chain
// framing but not the payloads' contents; call Decode for that.
func LocateSK(msg []byte, ivLen, icvLen int) (SKLayout, error) {
	_, first, length, err := ParseHeader(msg)
	if err != nil {
		return SKLayout{}, err
	}
	if length != len(msg) {
		return SKLayout{}, decodeErr(ErrInvalid, PayloadNone, 24, "message length", "%d does not match datagram length %d", length, len(msg))
	}
	off, next := HeaderLen, first
	for next != PayloadSK && next != PayloadSKF {
		if next == PayloadNone {
			return SKLayout{}, decodeErr(ErrInvalid, PayloadNone, off, "payload chain", "has no SK or SKF payload")
		}
		if len(msg)-off < 4 {
			return SKLayout{}, decodeErr(ErrTruncated, next, off, "payload header", "needs 4 octets, %d left", len(msg)-off)
		}
		plen := int(msg[off+2])<<8 | int(msg[off+3])
		if plen < 4 || plen > len(msg)-off {
			return SKLayout{}, decodeErr(ErrTruncated, next, off+2, "payload length", "%d does not fit the %d octets left", plen, len(msg)-off)
		}
		next = PayloadType(msg[off])
		off += plen
	}
	hdr := 4
	if next == PayloadSKF {
		hdr = 8
	}
	if len(msg)-off < hdr {
		return SKLayout{}, decodeErr(ErrTruncated, next, off, "payload header", "needs %d octets, %d left", hdr, len(msg)-off)
	}
	if plen := int(msg[off+2])<<8 | int(msg[off+3]); plen != len(msg)-off {
		return SKLayout{}, decodeErr(ErrInvalid, next, off+2, "payload length", "%d, but the encrypted payload must end the %d-octet message", plen, len(msg))
	}
	l := SKLayout{IV: off + hdr, End: len(msg)}
	l.Ciphertext = l.IV + ivLen
	l.ICV = l.End - icvLen
	if ivLen < 0 || icvLen < 0 || l.Ciphertext > l.ICV {
		return SKLayout{}, decodeErr(ErrTruncated, next, l.IV, "encrypted data", "%d octets, shorter than IV %d + ICV %d", l.End-l.IV, ivLen, icvLen)
	}
	return l, nil
}

// EncodeSK encodes a protected message: h, the cleartext payloads (normally
// none), and a last SK payload announcing first as its first inner payload,
// with zeroed room for an IV of ivLen, ciphertext of ctLen and ICV of icvLen
// octets. The caller then writes the IV at msg[l.IV:], encrypts the padded
// plaintext into msg[l.Ciphertext:l.ICV] (with msg[:l.IV] as associated data
// for AEAD) and writes the ICV, computed over msg[:l.ICV], at msg[l.ICV:].
// All length fields are final when EncodeSK returns.
func EncodeSK(h Header, cleartext []Payload, first PayloadType, ivLen, ctLen, icvLen int) (msg []byte, l SKLayout, err error) {
	return encodeProtected(h, cleartext, &Encrypted{NextPayload: first}, ivLen, ctLen, icvLen)
}

// EncodeSKF is EncodeSK for one fragment (RFC 7383 §2.5): first must be
// PayloadNone unless number is 1.
func EncodeSKF(h Header, first PayloadType, number, total uint16, ivLen, ctLen, icvLen int) (msg []byte, l SKLayout, err error) {
	f := &EncryptedFragment{NextPayload: first, Number: number, Total: total}
	return encodeProtected(h, nil, f, ivLen, ctLen, icvLen)
}

func encodeProtected(h Header, cleartext []Payload, sk Payload, ivLen, ctLen, icvLen int) ([]byte, SKLayout, error) {
	if ivLen < 0 || ctLen < 0 || icvLen < 0 {
		return nil, SKLayout{}, encodeErr(sk.Type(), "encrypted data", "negative length (IV %d, ciphertext %d, ICV %d)", ivLen, ctLen, icvLen)
	}
	n := ivLen + ctLen + icvLen
	m := Message{Header: h, Payloads: append(cleartext[:len(cleartext):len(cleartext)], sk)}
	msg, err := m.appendTo(make([]byte, 0, HeaderLen+64+n))
	if err != nil {
		return nil, SKLayout{}, err
	}
	// The SK payload was encoded with empty Data; grow it in place and fix
	// the two lengths rather than allocating n zero octets up front.
	skStart := len(msg) - 4
	if sk.Type() == PayloadSKF {
		skStart -= 4
	}
	msg = append(msg, make([]byte, n)...)
	if plen := len(msg) - skStart; plen > 0xffff || len(msg) > MaxMessageLen {
		return nil, SKLayout{}, encodeErr(sk.Type(), "payload length", "%d octets of encrypted data do not fit", n)
	}
	put16(msg[skStart+2:], len(msg)-skStart)
	msg[24], msg[25], msg[26], msg[27] = byte(len(msg)>>24), byte(len(msg)>>16), byte(len(msg)>>8), byte(len(msg))
	l := SKLayout{IV: len(msg) - n, End: len(msg)}
	l.Ciphertext = l.IV + ivLen
	l.ICV = l.End - icvLen
	return msg, l, nil
}
