package wire

// KE is a Key Exchange payload (RFC 7296 §3.4).
type KE struct {
	Group DHGroup
	// Data is the Key Exchange Data: the public value, whose length
	// depends on the group (checked by ike/crypto, not here).
	Data []byte
}

// Type returns PayloadKE.
func (*KE) Type() PayloadType { return PayloadKE }

func decodeKE(pt PayloadType, body []byte, base int) (Payload, error) {
	r := newReader(pt, body, base)
	g, err := r.u16("dh group")
	if err != nil {
		return nil, err
	}
	if err := r.skip(2, "ke reserved"); err != nil {
		return nil, err
	}
	if r.empty() {
		return nil, r.errf(r.pos(), "key exchange data", "is empty")
	}
	return &KE{Group: DHGroup(g), Data: r.rest()}, nil
}

func (k *KE) appendBody(b []byte) ([]byte, error) {
	if len(k.Data) == 0 {
		return nil, encodeErr(PayloadKE, "key exchange data", "is empty")
	}
	b = append16(b, uint16(k.Group))
	b = append(b, 0, 0)
	return append(b, k.Data...), nil
}

// Nonce lengths allowed by RFC 7296 §3.9.
const (
	MinNonceLen = 16
	MaxNonceLen = 256
)

// Nonce is an Ni or Nr payload (RFC 7296 §3.9): 16 to 256 random octets.
type Nonce struct {
	Data []byte
}

// Type returns PayloadNonce.
func (*Nonce) Type() PayloadType { return PayloadNonce }

func decodeNonce(pt PayloadType, body []byte, base int) (Payload, error) {
	if n := len(body); n < MinNonceLen || n > MaxNonceLen {
		return nil, decodeErr(ErrInvalid, pt, base, "nonce length", "%d outside %d..%d", n, MinNonceLen, MaxNonceLen)
	}
	return &Nonce{Data: body}, nil
}

func (n *Nonce) appendBody(b []byte) ([]byte, error) {
	if l := len(n.Data); l < MinNonceLen || l > MaxNonceLen {
		return nil, encodeErr(PayloadNonce, "nonce length", "%d outside %d..%d", l, MinNonceLen, MaxNonceLen)
	}
	return append(b, n.Data...), nil
}
