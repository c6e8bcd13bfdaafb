package crypto

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/sha512"
	"fmt"
	"hash"
	"io"
	"slices"
)

// Integ is an RFC 4868 integrity transform: HMAC-SHA2 truncated to half
// its output. It is a value, safe for concurrent use.
type Integ struct {
	id      uint16
	newHash func() hash.Hash
	icvLen  int
	key     Key
}

// NewInteg returns integrity transform id keyed with key (copied).
func NewInteg(id uint16, key Key) (*Integ, error) {
	want, err := IntegKeyLen(id)
	if err != nil {
		return nil, err
	}
	if id == IntegNone {
		return nil, fmt.Errorf("%w: INTEG NONE has no MAC", ErrUnsupported)
	}
	if len(key) != want {
		return nil, fmt.Errorf("crypto: INTEG %d key is %d octets, want %d", id, len(key), want)
	}
	in := &Integ{id: id, key: key.Clone()}
	switch id {
	case IntegHMACSHA2_256_128:
		in.newHash, in.icvLen = sha256.New, 16
	case IntegHMACSHA2_384_192:
		in.newHash, in.icvLen = sha512.New384, 24
	case IntegHMACSHA2_512_256:
		in.newHash, in.icvLen = sha512.New, 32
	}
	return in, nil
}

// ICVLen is the length of the truncated MAC (RFC 4868 §2.3).
func (in *Integ) ICVLen() int { return in.icvLen }

// String names the transform as IANA does.
func (in *Integ) String() string {
	switch in.id {
	case IntegHMACSHA2_256_128:
		return "AUTH_HMAC_SHA2_256_128"
	case IntegHMACSHA2_384_192:
		return "AUTH_HMAC_SHA2_384_192"
	}
	return "AUTH_HMAC_SHA2_512_256"
}

// Sum appends the ICV of data[0] | data[1] | ... to dst.
func (in *Integ) Sum(dst []byte, data ...[]byte) []byte {
	m := hmac.New(in.newHash, in.key)
	for _, d := range data {
		m.Write(d)
	}
	var full [sha512.Size]byte
	return append(dst, m.Sum(full[:0])[:in.icvLen]...)
}

// Verify reports in constant time whether icv is the ICV of data.
func (in *Integ) Verify(icv []byte, data ...[]byte) bool {
	var buf [sha512.Size]byte
	return hmac.Equal(icv, in.Sum(buf[:0], data...))
}

// cbcCipher is ENCR_AES_CBC (RFC 3602, 16-octet random IV) or, with block
// nil, ENCR_NULL (no IV, one-octet blocks), each with an RFC 4868 MAC.
type cbcCipher struct {
	name  string
	block cipher.Block
	integ *Integ
}

func newCBCCipher(s Suite, encr, integ Key) (*cbcCipher, error) {
	in, err := NewInteg(s.Integ, integ)
	if err != nil {
		return nil, err
	}
	c := &cbcCipher{integ: in}
	switch s.Encr {
	case EncrAESCBC:
		if c.block, err = aes.NewCipher(encr); err != nil {
			return nil, fmt.Errorf("crypto: AES-CBC: %w", err)
		}
		c.name = fmt.Sprintf("ENCR_AES_CBC-%d/%v", 8*len(encr), in)
	case EncrNull:
		c.name = fmt.Sprintf("ENCR_NULL/%v", in)
	default:
		return nil, fmt.Errorf("%w ENCR transform %d", ErrUnsupported, s.Encr)
	}
	return c, nil
}

func (c *cbcCipher) String() string { return c.name }

func (c *cbcCipher) blockSize() int {
	if c.block == nil {
		return 1
	}
	return c.block.BlockSize()
}

func (c *cbcCipher) IVLen() int { return c.ivLen() }

func (c *cbcCipher) ICVLen() int { return c.integ.icvLen }

func (c *cbcCipher) ivLen() int {
	if c.block == nil {
		return 0
	}
	return c.block.BlockSize() // RFC 3602 §3: the IV is one block
}

func (c *cbcCipher) SealedLen(n int) int {
	return c.ivLen() + n + padLen(n, c.blockSize()) + 1 + c.integ.icvLen
}

// Seal appends IV | ciphertext | ICV. The IV must be unpredictable
// (RFC 7296 §3.14), so rand must be a cryptographic source. The Padding is
// zeros, the least that fills the last block.
func (c *cbcCipher) Seal(dst, aad, plaintext []byte, rand io.Reader) ([]byte, error) {
	body := c.SealedLen(len(plaintext))
	ret := slices.Grow(dst, body)
	out := ret[len(ret) : len(ret)+body]
	iv := out[:c.ivLen()]
	if _, err := io.ReadFull(rand, iv); err != nil {
		return nil, fmt.Errorf("crypto: reading IV: %w", err)
	}
	ctLen := len(plaintext) + padLen(len(plaintext), c.blockSize()) + 1
	ct := out[len(iv) : len(iv)+ctLen]
	copy(ct, plaintext)
	clear(ct[len(plaintext):])
	ct[ctLen-1] = byte(ctLen - 1 - len(plaintext))
	if c.block != nil {
		cipher.NewCBCEncrypter(c.block, iv).CryptBlocks(ct, ct)
	}
	c.integ.Sum(out[:len(iv)+ctLen], aad, iv, ct)
	return ret[:len(ret)+body], nil
}

// Open verifies the ICV before it decrypts anything.
func (c *cbcCipher) Open(aad, body []byte) ([]byte, error) {
	ivLen, icvLen, bs := c.ivLen(), c.integ.icvLen, c.blockSize()
	ctLen := len(body) - ivLen - icvLen
	if ctLen < bs || ctLen%bs != 0 {
		return nil, fmt.Errorf("%w: %s body of %d octets", ErrMalformed, c.name, len(body))
	}
	iv, ct, icv := body[:ivLen], body[ivLen:ivLen+ctLen], body[ivLen+ctLen:]
	if !c.integ.Verify(icv, aad, iv, ct) {
		return nil, fmt.Errorf("%w (%s)", ErrAuthFailed, c.name)
	}
	pt := slices.Clone(ct)
	if c.block != nil {
		cipher.NewCBCDecrypter(c.block, iv).CryptBlocks(pt, pt)
	}
	return unpad(pt)
}

// Format prints the transform name for every verb, never the keys.
func (c *cbcCipher) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, c.name) }

// Format prints the transform name for every verb, never the key.
func (in *Integ) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, in.String()) }
