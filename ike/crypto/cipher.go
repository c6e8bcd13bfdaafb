package crypto

import (
	"errors"
	"fmt"
	"io"
)

// Errors returned by Cipher.Open. Both mean the message must be dropped
// without a reply (RFC 7296 §2.21.1); ErrMalformed is also wrapped by the
// parsers of this package, where it means INVALID_SYNTAX.
var (
	ErrAuthFailed = errors.New("crypto: integrity check failed")
	ErrMalformed  = errors.New("crypto: malformed input")
)

var errNullRefused = fmt.Errorf("%w: ENCR_NULL is refused unless Config.AllowNull is set", ErrUnsupported)

// Config holds the options of the cipher constructors. The zero value is
// the safe default.
type Config struct {
	// AllowNull permits ENCR_NULL (integrity only, no confidentiality).
	// It exists for debugging and tests; RFC 8247 §2.1 forbids it for IKE.
	AllowNull bool
}

// A Cipher protects the Encrypted (SK) payload of IKE messages in one
// direction of an IKE SA (RFC 7296 §3.14, RFC 5282 §5, RFC 7634 §3).
//
// The associated data aad is the message as it will be sent, from the first
// octet of the IKE header through the 4-octet generic header of the
// Encrypted payload (or Encrypted Fragment payload header and its Fragment
// Number and Total Fragments fields, RFC 7383 §2.5), with every length field
// already final: call SealedLen first to know the Encrypted payload's size.
//
// For AES-CBC the ICV is the truncated HMAC over aad | IV | ciphertext, so
// that it covers the whole message as §3.14 requires; the AEADs
// authenticate aad as their associated data (RFC 5282 §5.1).
//
// With ike/wire: EncodeSK(h, cleartext, first, IVLen(), SealedLen(n) -
// IVLen() - ICVLen(), ICVLen()) returns msg and its layout l; then
// Seal(msg[:l.IV], msg[:l.IV], inner, rand) fills msg[l.IV:] in place,
// since msg already has the room. To receive, Open(msg[:l.IV], msg[l.IV:])
// with l from LocateSK(msg, IVLen(), ICVLen()).
//
// A Cipher holds no mutable state and is safe for concurrent use.
type Cipher interface {
	// Seal pads plaintext (the inner payload chain) as §3.14 says,
	// encrypts it and appends IV | ciphertext | ICV to dst. The IV is
	// read from rand. dst may be aad itself (Seal(aad, aad, ...)) to build
	// the whole message in one buffer; it must not overlap plaintext.
	Seal(dst, aad, plaintext []byte, rand io.Reader) ([]byte, error)
	// Open checks and decrypts body (IV | ciphertext | ICV, the Encrypted
	// payload after its generic header) and returns the inner payload
	// chain without padding. The result does not alias body.
	Open(aad, body []byte) ([]byte, error)
	// SealedLen is the length of the body Seal appends for a plaintext
	// of n octets: IVLen() + ciphertext (with padding and Pad Length) +
	// ICVLen().
	SealedLen(n int) int
	// IVLen and ICVLen are the lengths of the Initialization Vector and
	// of the Integrity Checksum Data (the AEAD tag), as ike/wire's
	// EncodeSK and LocateSK take them.
	IVLen() int
	ICVLen() int
	// String names the transform, never the key.
	String() string
}

// NewCipher returns the Cipher for suite s with encryption key encr (with
// the salt for AEADs, as DeriveIKEKeys returns SK_ei/SK_er) and integrity
// key integ (SK_ai/SK_ar; empty for AEADs). The keys are copied.
func NewCipher(s Suite, encr, integ Key, cfg Config) (Cipher, error) {
	encrLen, integLen, err := s.keyLens()
	if err != nil {
		return nil, err
	}
	if s.Encr == EncrNull && !cfg.AllowNull {
		return nil, errNullRefused
	}
	if len(encr) != encrLen {
		return nil, fmt.Errorf("crypto: ENCR %d key is %d octets, want %d", s.Encr, len(encr), encrLen)
	}
	if len(integ) != integLen {
		return nil, fmt.Errorf("crypto: INTEG %d key is %d octets, want %d", s.Integ, len(integ), integLen)
	}
	switch s.Encr {
	case EncrAESGCM16, EncrChaCha20Poly1305:
		return newAEADCipher(s, encr)
	}
	return newCBCCipher(s, encr, integ)
}

// padLen returns the Padding length §3.14 asks of a sender: the least that
// makes payloads | Padding | Pad Length a multiple of block.
func padLen(n, block int) int {
	return (block - (n+1)%block) % block
}

// unpad removes Padding and Pad Length from decrypted data. Receivers
// accept any Pad Length that fits (§3.14: "the recipient MUST accept any
// length that results in proper alignment").
func unpad(pt []byte) ([]byte, error) {
	if len(pt) == 0 {
		return nil, fmt.Errorf("%w: encrypted payload without Pad Length", ErrMalformed)
	}
	p := int(pt[len(pt)-1])
	if p+1 > len(pt) {
		return nil, fmt.Errorf("%w: Pad Length %d exceeds %d decrypted octets", ErrMalformed, p, len(pt))
	}
	return pt[:len(pt)-1-p], nil
}
