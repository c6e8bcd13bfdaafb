package crypto

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/binary"
	"fmt"
	"math/big"
	"slices"

	"golang.org/x/crypto/cryptobyte"
	"golang.org/x/crypto/cryptobyte/asn1"
)

// A HashAlgorithm is an entry of the IANA "IKEv2 Hash Algorithms"
// registry, as carried in the SIGNATURE_HASH_ALGORITHMS notify (RFC 7427
// §4).
type HashAlgorithm uint16

// Registered hash algorithms.
const (
	HashSHA1     HashAlgorithm = 1 // not used for signing here (RFC 8247 §3)
	HashSHA2_256 HashAlgorithm = 2
	HashSHA2_384 HashAlgorithm = 3
	HashSHA2_512 HashAlgorithm = 4
	HashIdentity HashAlgorithm = 5 // RFC 8420: EdDSA signs the data itself
)

// SupportedHashes returns what this package can verify, in our order of
// preference: the natural content of our SIGNATURE_HASH_ALGORITHMS. The
// slice is fresh on every call.
func SupportedHashes() []HashAlgorithm {
	return []HashAlgorithm{HashSHA2_256, HashSHA2_384, HashSHA2_512, HashIdentity}
}

// String names the algorithm as IANA does.
func (h HashAlgorithm) String() string {
	switch h {
	case HashSHA1:
		return "SHA1"
	case HashSHA2_256:
		return "SHA2-256"
	case HashSHA2_384:
		return "SHA2-384"
	case HashSHA2_512:
		return "SHA2-512"
	case HashIdentity:
		return "Identity"
	}
	return fmt.Sprintf("HashAlgorithm(%d)", uint16(h))
}

func hashAlgorithmOf(h crypto.Hash) HashAlgorithm {
	switch h {
	case crypto.SHA256:
		return HashSHA2_256
	case crypto.SHA384:
		return HashSHA2_384
	case crypto.SHA512:
		return HashSHA2_512
	case 0:
		return HashIdentity
	}
	return 0
}

// MaxSignatureHashes bounds the list ParseSignatureHashes accepts; the
// registry has five entries, so a longer list is an attack or a bug.
const MaxSignatureHashes = 64

// AppendSignatureHashes appends the Notification Data of a
// SIGNATURE_HASH_ALGORITHMS notify (RFC 7427 §4): each algorithm as two
// octets, big endian.
func AppendSignatureHashes(dst []byte, hs []HashAlgorithm) []byte {
	for _, h := range hs {
		dst = binary.BigEndian.AppendUint16(dst, uint16(h))
	}
	return dst
}

// ParseSignatureHashes decodes SIGNATURE_HASH_ALGORITHMS Notification
// Data. Unknown values are kept (the caller ignores what it does not
// support, RFC 7427 §4); an empty, odd-length or oversized list is
// malformed.
func ParseSignatureHashes(data []byte) ([]HashAlgorithm, error) {
	if len(data) == 0 || len(data)%2 != 0 || len(data)/2 > MaxSignatureHashes {
		return nil, fmt.Errorf("%w: SIGNATURE_HASH_ALGORITHMS data of %d octets", ErrMalformed, len(data))
	}
	hs := make([]HashAlgorithm, 0, len(data)/2)
	for i := 0; i < len(data); i += 2 {
		hs = append(hs, HashAlgorithm(binary.BigEndian.Uint16(data[i:])))
	}
	return hs, nil
}

// SelectHash returns the first algorithm of ours (in our preference order)
// that the peer listed in theirs.
func SelectHash(ours, theirs []HashAlgorithm) (HashAlgorithm, bool) {
	for _, h := range ours {
		if slices.Contains(theirs, h) {
			return h, true
		}
	}
	return 0, false
}

// ChooseSignature picks how to sign with our key pub, given the hash
// algorithms the peer listed in SIGNATURE_HASH_ALGORITHMS (nil when it sent
// none). With a list it returns AuthDigitalSignature and a scheme whose
// hash the peer supports, preferring the hash that matches the key's
// strength and RSASSA-PSS over PKCS#1 v1.5 (RFC 8247 §3.2). Without one it
// falls back to the RFC 7296 / RFC 4754 methods (RSA/SHA-1, ECDSA P-256 or
// P-384); Ed25519 then has no method (RFC 8420 §2 needs RFC 7427).
func ChooseSignature(pub crypto.PublicKey, peerHashes []HashAlgorithm) (AuthMethod, SignatureScheme, error) {
	var prefer []HashAlgorithm
	var legacy AuthMethod
	var byHash map[HashAlgorithm]SignatureScheme
	switch k := pub.(type) {
	case *rsa.PublicKey:
		legacy = AuthRSASig
		prefer = []HashAlgorithm{HashSHA2_256, HashSHA2_384, HashSHA2_512}
		byHash = map[HashAlgorithm]SignatureScheme{HashSHA2_256: SchemeRSAPSSSHA256, HashSHA2_384: SchemeRSAPSSSHA384, HashSHA2_512: SchemeRSAPSSSHA512}
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256():
			legacy = AuthECDSASHA256P256
			prefer = []HashAlgorithm{HashSHA2_256, HashSHA2_384, HashSHA2_512}
		case elliptic.P384():
			legacy = AuthECDSASHA384P384
			prefer = []HashAlgorithm{HashSHA2_384, HashSHA2_512, HashSHA2_256}
		default:
			return 0, 0, fmt.Errorf("%w ECDSA curve %s", ErrUnsupported, k.Curve.Params().Name)
		}
		byHash = map[HashAlgorithm]SignatureScheme{HashSHA2_256: SchemeECDSASHA256, HashSHA2_384: SchemeECDSASHA384, HashSHA2_512: SchemeECDSASHA512}
	case ed25519.PublicKey:
		prefer = []HashAlgorithm{HashIdentity}
		byHash = map[HashAlgorithm]SignatureScheme{HashIdentity: SchemeEd25519}
	default:
		return 0, 0, fmt.Errorf("%w public key type %T", ErrUnsupported, pub)
	}
	if len(peerHashes) == 0 {
		if legacy == 0 {
			return 0, 0, fmt.Errorf("%w: Ed25519 needs the peer to support RFC 7427 with the Identity hash", ErrUnsupported)
		}
		return legacy, 0, nil
	}
	h, ok := SelectHash(prefer, peerHashes)
	if !ok {
		return 0, 0, fmt.Errorf("%w: no common signature hash with the peer (it offers %v)", ErrUnsupported, peerHashes)
	}
	return AuthDigitalSignature, byHash[h], nil
}

// ecdsaASN1ToRaw converts a DER Ecdsa-Sig-Value into RFC 4754's r | s,
// each padded to n octets.
func ecdsaASN1ToRaw(sig []byte, n int) ([]byte, error) {
	in := cryptobyte.String(sig)
	var seq cryptobyte.String
	r, s := new(big.Int), new(big.Int)
	if !in.ReadASN1(&seq, asn1.SEQUENCE) || !in.Empty() || !seq.ReadASN1Integer(r) || !seq.ReadASN1Integer(s) || !seq.Empty() ||
		r.Sign() <= 0 || s.Sign() <= 0 || r.BitLen() > 8*n || s.BitLen() > 8*n {
		return nil, fmt.Errorf("%w: ECDSA signature from signer", ErrMalformed)
	}
	out := make([]byte, 2*n)
	r.FillBytes(out[:n])
	s.FillBytes(out[n:])
	return out, nil
}
