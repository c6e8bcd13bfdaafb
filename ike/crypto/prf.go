package crypto

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/sha512"
	"errors"
	"fmt"
	"hash"
)

// PRF transform IDs (IANA IKEv2 Transform Type 2), RFC 4868 §2.1.
const (
	PRFHMACSHA2_256 = 5
	PRFHMACSHA2_384 = 6
	PRFHMACSHA2_512 = 7
)

// ErrUnsupported is wrapped by every error about a transform, group,
// method or key type this package does not implement. During negotiation
// it means "do not choose this"; at run time it is NO_PROPOSAL_CHOSEN
// material.
var ErrUnsupported = errors.New("crypto: unsupported")

// A PRF is a negotiated IKEv2 pseudorandom function. The zero value is not
// usable; get one from NewPRF. PRFs are values and safe for concurrent use.
type PRF struct {
	id      uint16
	newHash func() hash.Hash
	size    int
}

// NewPRF returns the PRF with IANA transform ID id. Only the HMAC-SHA2
// PRFs of RFC 4868 are implemented; PRF_HMAC_SHA1 and the others are
// refused (RFC 8247 §2.3 lists SHA2 as the MUST).
func NewPRF(id uint16) (PRF, error) {
	switch id {
	case PRFHMACSHA2_256:
		return PRF{id, sha256.New, sha256.Size}, nil
	case PRFHMACSHA2_384:
		return PRF{id, sha512.New384, sha512.Size384}, nil
	case PRFHMACSHA2_512:
		return PRF{id, sha512.New, sha512.Size}, nil
	}
	return PRF{}, fmt.Errorf("%w PRF transform %d", ErrUnsupported, id)
}

// ID returns the IANA transform ID.
func (p PRF) ID() uint16 { return p.id }

// Size is the PRF output length in octets, which is also its preferred key
// length (RFC 4868 §2.1.2): the length of SK_d, SK_pi and SK_pr.
func (p PRF) Size() int { return p.size }

// String names the PRF as IANA does.
func (p PRF) String() string {
	switch p.id {
	case PRFHMACSHA2_256:
		return "PRF_HMAC_SHA2_256"
	case PRFHMACSHA2_384:
		return "PRF_HMAC_SHA2_384"
	case PRFHMACSHA2_512:
		return "PRF_HMAC_SHA2_512"
	}
	return fmt.Sprintf("PRF(%d)", p.id)
}

// Compute returns prf(key, data[0] | data[1] | ...). HMAC accepts keys of
// any length, as RFC 7296 §2.14 needs for prf(Ni | Nr, g^ir).
func (p PRF) Compute(key []byte, data ...[]byte) []byte {
	if p.newHash == nil {
		panic("crypto: use of zero PRF")
	}
	m := hmac.New(p.newHash, key)
	for _, d := range data {
		m.Write(d)
	}
	return m.Sum(make([]byte, 0, p.size))
}

// maxPlusIterations is the limit of RFC 7296 §2.13: the counter octet of
// prf+ runs from 0x01 to 0xff.
const maxPlusIterations = 255

// Expand returns the first n octets of prf+(key, seed) (RFC 7296 §2.13):
//
//	prf+ (K,S) = T1 | T2 | T3 | T4 | ...
//	T1 = prf (K, S | 0x01)
//	T2 = prf (K, T2 | S | 0x02) ...
//
// It fails when n exceeds 255 PRF outputs, which §2.13 forbids.
func (p PRF) Expand(key, seed []byte, n int) (Key, error) {
	if p.newHash == nil {
		return nil, errors.New("crypto: prf+ with zero PRF")
	}
	if n < 0 || n > maxPlusIterations*p.size {
		return nil, fmt.Errorf("crypto: prf+ cannot produce %d octets with %v (at most %d)", n, p, maxPlusIterations*p.size)
	}
	out := make(Key, 0, n+p.size)
	m := hmac.New(p.newHash, key)
	var t []byte
	for i := 1; len(out) < n; i++ {
		m.Reset()
		m.Write(t)
		m.Write(seed)
		m.Write([]byte{byte(i)})
		out = m.Sum(out)
		t = out[len(out)-p.size:]
	}
	clear(out[n:cap(out)])
	return out[:n:n], nil
}
