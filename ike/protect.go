package ike

import (
	"fmt"

	"github.com/oe-agent/oe-agent/ike/wire"
)

// seal builds a protected message of generation g (RFC 7296 §3.14): h's
// SPIs and I flag are filled in from g, ps become the SK payload's inner
// chain, encrypted with our outbound key.
func (s *SA) seal(g *ikeGen, h wire.Header, ps []wire.Payload) ([]byte, error) {
	h.SPIi, h.SPIr = g.spiI, g.spiR
	if g.initiator {
		h.Flags |= wire.FlagInitiator
	}
	first, plain, err := wire.EncodePayloads(ps)
	if err != nil {
		return nil, fmt.Errorf("ike: encoding %v payloads: %w", h.Exchange, err)
	}
	n := g.out.SealedLen(len(plain))
	msg, l, err := wire.EncodeSK(h, nil, first, 0, n, 0)
	if err != nil {
		return nil, fmt.Errorf("ike: encoding %v message: %w", h.Exchange, err)
	}
	out, err := g.out.Seal(msg[:l.IV], msg[:l.IV], plain, s.rand)
	if err != nil {
		return nil, fmt.Errorf("ike: sealing %v message: %w", h.Exchange, err)
	}
	if len(out) != len(msg) {
		return nil, fmt.Errorf("ike: sealed %d octets, announced %d", len(out), len(msg))
	}
	return out, nil
}

// innerError marks errors found after the message authenticated: only
// those may be answered with an error notification (RFC 7296 §2.21.1).
type innerError struct{ error }

func (e innerError) Unwrap() error { return e.error }

// open decodes a protected message of generation g, checks and decrypts
// its SK payload and returns the inner payloads, which must not repeat
// (wire.CheckUnique). Fragments (SKF) are refused: fragmentation is not
// negotiated.
func (s *SA) open(g *ikeGen, b []byte) ([]wire.Payload, error) {
	m, err := wire.Decode(b)
	if err != nil {
		return nil, malformed("protected message", err)
	}
	if len(m.Payloads) == 0 {
		return nil, fmt.Errorf("%w: %v message without an SK payload", ErrUnexpected, m.Exchange)
	}
	sk, ok := m.Payloads[len(m.Payloads)-1].(*wire.Encrypted)
	if !ok {
		return nil, fmt.Errorf("%w: %v message without an SK payload (last is %v)", ErrUnexpected, m.Exchange, m.Payloads[len(m.Payloads)-1].Type())
	}
	aadLen := len(b) - len(sk.Data)
	plain, err := g.in.Open(b[:aadLen], b[aadLen:])
	if err != nil {
		return nil, fmt.Errorf("%w: %v message %d: %w", ErrIntegrity, m.Exchange, m.MessageID, err)
	}
	ps, err := wire.DecodePayloads(sk.NextPayload, plain)
	if err != nil {
		return nil, innerError{malformed("encrypted payloads", err)}
	}
	if err := wire.CheckUnique(ps); err != nil {
		return nil, innerError{malformed("encrypted payloads", err)}
	}
	return ps, nil
}
