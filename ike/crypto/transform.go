package crypto

import "fmt"

// Encryption transform IDs (IANA IKEv2 Transform Type 1). The same numbers
// name the ESP transforms.
const (
	EncrNull             = 11 // RFC 2410; refused unless Config.AllowNull
	EncrAESCBC           = 12 // RFC 3602
	EncrAESGCM16         = 20 // RFC 4106 (ESP), RFC 5282 (IKE)
	EncrChaCha20Poly1305 = 28 // RFC 7634
)

// Integrity transform IDs (IANA IKEv2 Transform Type 3), RFC 4868.
const (
	IntegNone             = 0
	IntegHMACSHA2_256_128 = 12
	IntegHMACSHA2_384_192 = 13
	IntegHMACSHA2_512_256 = 14
)

// Salt lengths at the end of AEAD key material: RFC 4106 §8.1, RFC 5282 §7.1
// and RFC 7634 §2 all take 4 octets.
const aeadSaltLen = 4

// A Suite names the negotiated transforms of an IKE SA or of a Child SA
// (ESP). Values are IANA transform IDs, so a decoded proposal maps onto it
// without this package knowing ike/wire.
type Suite struct {
	Encr        uint16 // ENCR transform ID
	EncrKeyBits int    // Key Length attribute in bits (RFC 7296 §3.3.5); 0 when absent
	Integ       uint16 // INTEG transform ID; IntegNone with an AEAD
	PRF         uint16 // PRF transform ID; IKE SAs only, ignored for Child SAs
}

// IsAEAD reports whether encr is a combined-mode cipher, which takes no
// separate integrity transform (RFC 5282 §8).
func IsAEAD(encr uint16) bool {
	return encr == EncrAESGCM16 || encr == EncrChaCha20Poly1305
}

// EncrKeyLen returns the octets of keying material that encryption
// transform encr with Key Length attribute keyBits (0 if absent) takes from
// prf+ or KEYMAT. For the AEADs this includes the 4-octet salt, which is
// also how the Linux kernel wants the key for rfc4106(gcm(aes)) and
// rfc7539esp(chacha20,poly1305).
func EncrKeyLen(encr uint16, keyBits int) (int, error) {
	switch encr {
	case EncrAESCBC, EncrAESGCM16:
		switch keyBits {
		case 128, 192, 256:
		default:
			return 0, fmt.Errorf("%w key length %d bits for ENCR %d (want 128, 192 or 256)", ErrUnsupported, keyBits, encr)
		}
		if encr == EncrAESGCM16 {
			return keyBits/8 + aeadSaltLen, nil
		}
		return keyBits / 8, nil
	case EncrChaCha20Poly1305:
		// RFC 7634 §4: the key is always 256 bits and the Key Length
		// attribute MUST NOT be sent.
		if keyBits != 0 {
			return 0, fmt.Errorf("%w: ENCR_CHACHA20_POLY1305 with a Key Length attribute (%d)", ErrUnsupported, keyBits)
		}
		return 32 + aeadSaltLen, nil
	case EncrNull:
		if keyBits != 0 {
			return 0, fmt.Errorf("%w: ENCR_NULL with a Key Length attribute (%d)", ErrUnsupported, keyBits)
		}
		return 0, nil
	}
	return 0, fmt.Errorf("%w ENCR transform %d", ErrUnsupported, encr)
}

// IntegKeyLen returns the key length in octets of integrity transform
// integ (RFC 4868 §2.1.1: the key is as long as the hash output).
func IntegKeyLen(integ uint16) (int, error) {
	switch integ {
	case IntegNone:
		return 0, nil
	case IntegHMACSHA2_256_128:
		return 32, nil
	case IntegHMACSHA2_384_192:
		return 48, nil
	case IntegHMACSHA2_512_256:
		return 64, nil
	}
	return 0, fmt.Errorf("%w INTEG transform %d", ErrUnsupported, integ)
}

// keyLens validates the ENCR/INTEG combination and returns both key
// lengths. An AEAD takes no integrity transform; anything else needs one
// (an IKE SA always, and this package refuses ESP without integrity too,
// RFC 8221 §5).
func (s Suite) keyLens() (encr, integ int, err error) {
	if encr, err = EncrKeyLen(s.Encr, s.EncrKeyBits); err != nil {
		return 0, 0, err
	}
	if integ, err = IntegKeyLen(s.Integ); err != nil {
		return 0, 0, err
	}
	switch {
	case IsAEAD(s.Encr) && s.Integ != IntegNone:
		return 0, 0, fmt.Errorf("%w: AEAD ENCR %d combined with INTEG %d (RFC 5282 §8)", ErrUnsupported, s.Encr, s.Integ)
	case !IsAEAD(s.Encr) && s.Integ == IntegNone:
		return 0, 0, fmt.Errorf("%w: ENCR %d without an integrity transform", ErrUnsupported, s.Encr)
	}
	return encr, integ, nil
}

// KernelAlgs names the ESP transforms of a Child SA suite as the Linux
// XFRM API does (struct xfrm_algo names, as in `ip xfrm state ... aead
// 'rfc4106(gcm(aes))' KEY 128`), with the ICV or truncation length in
// bits. For an AEAD, integ is "" and the key is DirKeys.Encr (key and
// salt); otherwise encr goes with DirKeys.Encr and integ with
// DirKeys.Integ.
func (s Suite) KernelAlgs() (encr, integ string, icvBits int, err error) {
	if _, _, err := s.keyLens(); err != nil {
		return "", "", 0, err
	}
	switch s.Encr {
	case EncrAESGCM16:
		return "rfc4106(gcm(aes))", "", 128, nil
	case EncrChaCha20Poly1305:
		return "rfc7539esp(chacha20,poly1305)", "", 128, nil
	case EncrAESCBC:
		encr = "cbc(aes)"
	case EncrNull:
		encr = "ecb(cipher_null)"
	}
	switch s.Integ {
	case IntegHMACSHA2_256_128:
		return encr, "hmac(sha256)", 128, nil
	case IntegHMACSHA2_384_192:
		return encr, "hmac(sha384)", 192, nil
	}
	return encr, "hmac(sha512)", 256, nil
}
