package crypto

import (
	"crypto/aes"
	"crypto/cipher"
	"fmt"
	"io"
	"slices"

	"golang.org/x/crypto/chacha20poly1305"
)

// AEAD parameters for the SK payload: an 8-octet explicit IV and a 16-octet
// ICV (RFC 5282 §3 for ENCR_AES_GCM_16, RFC 7634 §3), with the implicit
// 4-octet salt from the key material in front of the IV to make the
// 12-octet nonce (RFC 4106 §4, RFC 7634 §2).
const (
	aeadIVLen  = 8
	aeadICVLen = 16
)

type aeadCipher struct {
	name string
	aead cipher.AEAD
	salt [aeadSaltLen]byte
}

func newAEADCipher(s Suite, key Key) (*aeadCipher, error) {
	k, salt := key[:len(key)-aeadSaltLen], key[len(key)-aeadSaltLen:]
	c := &aeadCipher{}
	copy(c.salt[:], salt)
	var err error
	switch s.Encr {
	case EncrAESGCM16:
		var b cipher.Block
		if b, err = aes.NewCipher(k); err == nil {
			c.aead, err = cipher.NewGCM(b)
		}
		c.name = fmt.Sprintf("ENCR_AES_GCM_16-%d", 8*len(k))
	case EncrChaCha20Poly1305:
		c.aead, err = chacha20poly1305.New(k)
		c.name = "ENCR_CHACHA20_POLY1305"
	default:
		return nil, fmt.Errorf("%w: ENCR %d is not an AEAD", ErrUnsupported, s.Encr)
	}
	if err != nil {
		return nil, fmt.Errorf("crypto: %s: %w", c.name, err)
	}
	return c, nil
}

func (c *aeadCipher) String() string { return c.name }

func (c *aeadCipher) SealedLen(n int) int { return aeadIVLen + n + 1 + aeadICVLen }

func (c *aeadCipher) IVLen() int { return aeadIVLen }

func (c *aeadCipher) ICVLen() int { return aeadICVLen }

func (c *aeadCipher) nonce(iv []byte) []byte {
	n := make([]byte, 0, 12)
	return append(append(n, c.salt[:]...), iv...)
}

// Seal appends IV | ciphertext | ICV. The plaintext is payloads | Pad
// Length with no Padding: the AEADs need no block alignment, and RFC 7634
// §3 says "The sender SHOULD include no padding and set the Pad Length
// field to zero". AES-GCM is sent the same way.
func (c *aeadCipher) Seal(dst, aad, plaintext []byte, rand io.Reader) ([]byte, error) {
	body := c.SealedLen(len(plaintext))
	ret := slices.Grow(dst, body)
	out := ret[len(ret) : len(ret)+body]
	iv := out[:aeadIVLen]
	if _, err := io.ReadFull(rand, iv); err != nil {
		return nil, fmt.Errorf("crypto: reading IV: %w", err)
	}
	// Lay out payloads | Pad Length in place, then encrypt in place.
	pt := out[aeadIVLen : aeadIVLen+len(plaintext)+1]
	copy(pt, plaintext)
	pt[len(plaintext)] = 0
	c.aead.Seal(pt[:0], c.nonce(iv), pt, aad)
	return ret[:len(ret)+body], nil
}

func (c *aeadCipher) Open(aad, body []byte) ([]byte, error) {
	if len(body) < aeadIVLen+aeadICVLen+1 {
		return nil, fmt.Errorf("%w: %s body of %d octets is too short", ErrMalformed, c.name, len(body))
	}
	iv, ct := body[:aeadIVLen], body[aeadIVLen:]
	pt, err := c.aead.Open(nil, c.nonce(iv), ct, aad)
	if err != nil {
		return nil, fmt.Errorf("%w (%s)", ErrAuthFailed, c.name)
	}
	return unpad(pt)
}

// Format prints the transform name for every verb, never the key or salt.
func (c *aeadCipher) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, c.name) }
