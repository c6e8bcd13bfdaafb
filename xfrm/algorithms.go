package xfrm

import "fmt"

// Cipher is an ESP encryption transform as the kernel names it.
type Cipher uint8

// The ciphers oe-agent installs. AEAD ciphers carry their own integrity
// check and take no Integrity transform.
const (
	CipherNone Cipher = iota
	// CipherAESGCM128 is AES-GCM with a 16-octet ICV and a 128-bit key
	// (RFC 4106): key 16 octets + 4-octet salt.
	CipherAESGCM128
	// CipherAESGCM256 is AES-GCM with a 16-octet ICV and a 256-bit key
	// (RFC 4106): key 32 octets + 4-octet salt.
	CipherAESGCM256
	// CipherChaCha20Poly1305 is ChaCha20-Poly1305 (RFC 7634): key 32
	// octets + 4-octet salt, 16-octet ICV.
	CipherChaCha20Poly1305
	// CipherAESCBC128, CipherAESCBC192 and CipherAESCBC256 are AES-CBC
	// (RFC 3602) with the given key size; they need an Integrity.
	CipherAESCBC128
	CipherAESCBC192
	CipherAESCBC256
)

type cipherInfo struct {
	name    string // String()
	kernel  string // the kernel's crypto algorithm name
	keyLen  int    // octets, including the salt for AEAD
	aead    bool
	icvBits int // AEAD only
}

var ciphers = map[Cipher]cipherInfo{
	CipherAESGCM128:        {"aes-gcm-128", "rfc4106(gcm(aes))", 20, true, 128},
	CipherAESGCM256:        {"aes-gcm-256", "rfc4106(gcm(aes))", 36, true, 128},
	CipherChaCha20Poly1305: {"chacha20-poly1305", "rfc7539esp(chacha20,poly1305)", 36, true, 128},
	CipherAESCBC128:        {"aes-cbc-128", "cbc(aes)", 16, false, 0},
	CipherAESCBC192:        {"aes-cbc-192", "cbc(aes)", 24, false, 0},
	CipherAESCBC256:        {"aes-cbc-256", "cbc(aes)", 32, false, 0},
}

func (c Cipher) String() string {
	if c == CipherNone {
		return "none"
	}
	if ci, ok := ciphers[c]; ok {
		return ci.name
	}
	return fmt.Sprintf("cipher-%d", uint8(c))
}

// KernelName is the kernel crypto API name (`ip xfrm state ... enc NAME` or
// `aead NAME`), "" for CipherNone or an unknown value.
func (c Cipher) KernelName() string { return ciphers[c].kernel }

// KeyLen is the key length in octets the kernel expects, salt included.
func (c Cipher) KeyLen() int { return ciphers[c].keyLen }

// AEAD reports whether c is an AEAD (combined mode) cipher.
func (c Cipher) AEAD() bool { return ciphers[c].aead }

// ICVBits is an AEAD cipher's integrity check value length.
func (c Cipher) ICVBits() int { return ciphers[c].icvBits }

// cipherFromKernel maps a kernel algorithm name and key length back to a
// Cipher; it returns CipherNone, false for anything oe-agent does not use.
func cipherFromKernel(name string, keyLen int, aead bool) (Cipher, bool) {
	for c, ci := range ciphers {
		if ci.kernel == name && ci.keyLen == keyLen && ci.aead == aead {
			return c, true
		}
	}
	return CipherNone, false
}

// Integrity is an integrity transform (ESP without AEAD, or AH).
type Integrity uint8

// The integrity transforms oe-agent installs: HMAC-SHA-2 with truncation
// to half the hash length (RFC 4868 §2.3); the key is as long as the hash
// output (RFC 4868 §2.1.1).
const (
	IntegrityNone Integrity = iota
	IntegrityHMACSHA256_128
	IntegrityHMACSHA384_192
	IntegrityHMACSHA512_256
)

type integInfo struct {
	name      string
	kernel    string
	keyLen    int
	truncBits int
}

var integrities = map[Integrity]integInfo{
	IntegrityHMACSHA256_128: {"hmac-sha256-128", "hmac(sha256)", 32, 128},
	IntegrityHMACSHA384_192: {"hmac-sha384-192", "hmac(sha384)", 48, 192},
	IntegrityHMACSHA512_256: {"hmac-sha512-256", "hmac(sha512)", 64, 256},
}

func (i Integrity) String() string {
	if i == IntegrityNone {
		return "none"
	}
	if ii, ok := integrities[i]; ok {
		return ii.name
	}
	return fmt.Sprintf("integrity-%d", uint8(i))
}

// KernelName is the kernel crypto API name (`auth-trunc NAME`).
func (i Integrity) KernelName() string { return integrities[i].kernel }

// KeyLen is the key length in octets.
func (i Integrity) KeyLen() int { return integrities[i].keyLen }

// TruncBits is the ICV length the kernel emits and checks.
func (i Integrity) TruncBits() int { return integrities[i].truncBits }

func integrityFromKernel(name string, keyLen, truncBits int) (Integrity, bool) {
	for i, ii := range integrities {
		if ii.kernel == name && ii.keyLen == keyLen && ii.truncBits == truncBits {
			return i, true
		}
	}
	return IntegrityNone, false
}
