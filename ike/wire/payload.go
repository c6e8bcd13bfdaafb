package wire

// Payload is one IKEv2 payload. The concrete types are *SA, *KE, *ID, *Cert,
// *CertReq, *Auth, *Nonce, *Notify, *Delete, *VendorID, *TrafficSelectors,
// *Config, *Encrypted, *EncryptedFragment and *Unknown; the set is closed.
//
// The generic payload header (RFC 7296 §3.2) is not represented: Next Payload
// and Payload Length are computed when encoding, and the critical bit is
// ignored on receipt for known types (as §3.2 requires) and sent as zero.
type Payload interface {
	// Type returns the payload type that precedes this payload in the chain.
	Type() PayloadType
	// appendBody appends the payload body (everything after the generic
	// payload header), validating it first.
	appendBody(b []byte) ([]byte, error)
}

// decoderFunc decodes the body of one payload of type pt; base is the
// absolute offset of body[0], for error reports.
type decoderFunc func(pt PayloadType, body []byte, base int) (Payload, error)

// decoders maps the payload types this package understands to their body
// decoders. SK and SKF are handled by the chain walker because their Next
// Payload field has a different meaning.
var decoders = map[PayloadType]decoderFunc{
	PayloadSA:       decodeSA,
	PayloadKE:       decodeKE,
	PayloadIDi:      decodeID,
	PayloadIDr:      decodeID,
	PayloadCert:     decodeCert,
	PayloadCertReq:  decodeCertReq,
	PayloadAuth:     decodeAuth,
	PayloadNonce:    decodeNonce,
	PayloadNotify:   decodeNotify,
	PayloadDelete:   decodeDelete,
	PayloadVendorID: decodeVendorID,
	PayloadTSi:      decodeTS,
	PayloadTSr:      decodeTS,
	PayloadCP:       decodeConfig,
}

// known reports whether payloads of type t decode to a concrete type other
// than *Unknown.
func known(t PayloadType) bool {
	_, ok := decoders[t]
	return ok || t == PayloadSK || t == PayloadSKF
}

// Unknown is a payload whose type this package does not decode (for example
// EAP, or a private-use type), kept as opaque octets. Decoding only ever
// produces it with Critical false: an unknown critical payload is an error
// (ErrUnsupportedCritical). Critical is honoured when encoding.
type Unknown struct {
	PayloadType PayloadType
	Critical    bool
	Data        []byte
}

// Type returns u.PayloadType.
func (u *Unknown) Type() PayloadType { return u.PayloadType }

func (u *Unknown) appendBody(b []byte) ([]byte, error) {
	if known(u.PayloadType) {
		return nil, encodeErr(u.PayloadType, "payload type", "has a concrete type; use it instead of *Unknown")
	}
	if u.PayloadType == PayloadNone {
		return nil, encodeErr(u.PayloadType, "payload type", "0 is not a payload")
	}
	return append(b, u.Data...), nil
}

// VendorID is a V payload (RFC 7296 §3.12): an opaque vendor identifier.
type VendorID struct {
	Data []byte
}

// Type returns PayloadVendorID.
func (*VendorID) Type() PayloadType { return PayloadVendorID }

func (v *VendorID) appendBody(b []byte) ([]byte, error) { return append(b, v.Data...), nil }

func decodeVendorID(pt PayloadType, body []byte, base int) (Payload, error) {
	return &VendorID{Data: body}, nil
}
