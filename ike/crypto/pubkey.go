package crypto

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"math/big"
	"strings"
)

// IPSECKEY public key algorithms (RFC 4025 §2.4, RFC 8005 §3, RFC 9373).
const (
	IPSECKEYAlgRSA     = 2 // RFC 3110 format
	IPSECKEYAlgECDSA   = 3 // RFC 6605 x | y: 64 octets P-256, 96 octets P-384
	IPSECKEYAlgEd25519 = 4 // RFC 8080: the 32 raw octets
)

// RSA limits for keys read from DNS or configuration. The lower bound is
// MinRSABits; 16384 bits bounds the work a hostile key can cause.
const maxRSABits = 16384

// ParseRFC3110 decodes an RSA public key in RFC 3110 §2 format, as in
// IPSECKEY (algorithm 2), KEY RRs and libreswan's 0s... keys: an exponent
// length of one octet, or a zero octet and two octets when the exponent is
// longer than 255 octets, then the exponent, then the modulus, both big
// endian without leading zeros.
func ParseRFC3110(b []byte) (*rsa.PublicKey, error) {
	if len(b) < 1 {
		return nil, fmt.Errorf("%w: empty RFC 3110 key", ErrMalformed)
	}
	elen, rest := int(b[0]), b[1:]
	if elen == 0 {
		if len(rest) < 2 {
			return nil, fmt.Errorf("%w: RFC 3110 key truncated in the exponent length", ErrMalformed)
		}
		elen, rest = int(rest[0])<<8|int(rest[1]), rest[2:]
		if elen < 256 {
			return nil, fmt.Errorf("%w: RFC 3110 three-octet exponent length %d (must exceed 255)", ErrMalformed, elen)
		}
	}
	if elen > len(rest) {
		return nil, fmt.Errorf("%w: RFC 3110 exponent of %d octets with %d left", ErrMalformed, elen, len(rest))
	}
	e, n := rest[:elen], rest[elen:]
	if e[0] == 0 || len(n) == 0 || n[0] == 0 {
		return nil, fmt.Errorf("%w: RFC 3110 key with a leading zero octet or no modulus", ErrMalformed)
	}
	return newRSAPublicKey(new(big.Int).SetBytes(n), new(big.Int).SetBytes(e))
}

func newRSAPublicKey(n, e *big.Int) (*rsa.PublicKey, error) {
	if bits := n.BitLen(); bits < 1024 || bits > maxRSABits {
		return nil, fmt.Errorf("%w: RSA modulus of %d bits", ErrUnsupported, bits)
	}
	if n.Bit(0) == 0 {
		return nil, fmt.Errorf("%w: even RSA modulus", ErrMalformed)
	}
	// crypto/rsa takes exponents that fit an int, and only odd ones >= 3
	// make sense.
	if e.BitLen() > 31 || e.Int64() < 3 || e.Bit(0) == 0 {
		return nil, fmt.Errorf("%w: RSA public exponent %v", ErrUnsupported, e)
	}
	return &rsa.PublicKey{N: n, E: int(e.Int64())}, nil
}

// MarshalRFC3110 encodes pub in RFC 3110 §2 format.
func MarshalRFC3110(pub *rsa.PublicKey) []byte {
	e := big.NewInt(int64(pub.E)).Bytes()
	n := pub.N.Bytes()
	out := make([]byte, 0, 3+len(e)+len(n))
	if len(e) > 255 {
		out = append(out, 0, byte(len(e)>>8), byte(len(e)))
	} else {
		out = append(out, byte(len(e)))
	}
	return append(append(out, e...), n...)
}

// ParseLibreswanRSA decodes the text form libreswan uses for RSA keys in
// leftrsasigkey=, ipsec.secrets and whack --pubkeyrsa: "0s" and base64,
// or "0x" and hex, of an RFC 3110 key. Whitespace is ignored.
func ParseLibreswanRSA(s string) (*rsa.PublicKey, error) {
	b, err := decodeLibreswanData(s)
	if err != nil {
		return nil, err
	}
	return ParseRFC3110(b)
}

// ParseLibreswanKey decodes a libreswan key string ("0s" base64 or "0x"
// hex) whose binary form is that of IPSECKEY algorithm alg: an RFC 3110
// key for leftrsasigkey= (2), or x | y for leftecdsakey= (3, as libreswan
// 4.x writes it, RFC 8005 §3), or a raw Ed25519 key (4).
func ParseLibreswanKey(alg uint8, s string) (crypto.PublicKey, error) {
	b, err := decodeLibreswanData(s)
	if err != nil {
		return nil, err
	}
	return ParseIPSECKEY(alg, b)
}

func decodeLibreswanData(s string) ([]byte, error) {
	s = strings.Join(strings.Fields(s), "")
	var b []byte
	var err error
	switch {
	case strings.HasPrefix(s, "0s"):
		b, err = base64.StdEncoding.DecodeString(s[2:])
	case strings.HasPrefix(s, "0x"), strings.HasPrefix(s, "0X"):
		b, err = hex.DecodeString(s[2:])
	default:
		return nil, fmt.Errorf("%w: libreswan key must start with 0s or 0x", ErrMalformed)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: libreswan key: %v", ErrMalformed, err)
	}
	return b, nil
}

// FormatLibreswanRSA returns pub as libreswan writes it: "0s" and base64.
func FormatLibreswanRSA(pub *rsa.PublicKey) string {
	return "0s" + base64.StdEncoding.EncodeToString(MarshalRFC3110(pub))
}

// FormatLibreswanKey returns pub as libreswan writes it ("0s" and the
// base64 of the IPSECKEY form), with the IPSECKEY algorithm that tells
// which option takes it (2: rsasigkey, 3: ecdsakey).
func FormatLibreswanKey(pub crypto.PublicKey) (alg uint8, s string, err error) {
	alg, b, err := MarshalIPSECKEY(pub)
	if err != nil {
		return 0, "", err
	}
	return alg, "0s" + base64.StdEncoding.EncodeToString(b), nil
}

// ParseRawECDSA decodes an ECDSA public key sent as x | y (RFC 8005 §3,
// RFC 6605 §4): 64 octets for P-256, 96 for P-384. The point must be on
// the curve.
func ParseRawECDSA(b []byte) (*ecdsa.PublicKey, error) {
	var c elliptic.Curve
	switch len(b) {
	case 64:
		c = elliptic.P256()
	case 96:
		c = elliptic.P384()
	default:
		return nil, fmt.Errorf("%w: raw ECDSA key of %d octets (want 64 or 96)", ErrMalformed, len(b))
	}
	pub, err := ecdsa.ParseUncompressedPublicKey(c, append([]byte{4}, b...))
	if err != nil {
		return nil, fmt.Errorf("%w: raw ECDSA key: %v", ErrMalformed, err)
	}
	return pub, nil
}

// MarshalRawECDSA encodes a P-256 or P-384 key as x | y.
func MarshalRawECDSA(pub *ecdsa.PublicKey) ([]byte, error) {
	if pub.Curve != elliptic.P256() && pub.Curve != elliptic.P384() {
		return nil, fmt.Errorf("%w ECDSA curve for raw keys", ErrUnsupported)
	}
	b, err := pub.Bytes()
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	return b[1:], nil
}

// ParseRawEd25519 decodes a raw 32-octet Ed25519 key (RFC 8080 §3, RFC
// 9373). crypto/ed25519 checks the point encoding when it verifies.
func ParseRawEd25519(b []byte) (ed25519.PublicKey, error) {
	if len(b) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("%w: Ed25519 key of %d octets", ErrMalformed, len(b))
	}
	return ed25519.PublicKey(append([]byte(nil), b...)), nil
}

// ParseIPSECKEY decodes the public key field of an IPSECKEY RR (RFC 4025
// §2.6) for algorithm alg.
func ParseIPSECKEY(alg uint8, key []byte) (crypto.PublicKey, error) {
	switch alg {
	case IPSECKEYAlgRSA:
		return ParseRFC3110(key)
	case IPSECKEYAlgECDSA:
		return ParseRawECDSA(key)
	case IPSECKEYAlgEd25519:
		return ParseRawEd25519(key)
	}
	return nil, fmt.Errorf("%w IPSECKEY algorithm %d", ErrUnsupported, alg)
}

// MarshalIPSECKEY returns the IPSECKEY algorithm and public key field for
// pub.
func MarshalIPSECKEY(pub crypto.PublicKey) (alg uint8, key []byte, err error) {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		return IPSECKEYAlgRSA, MarshalRFC3110(k), nil
	case *ecdsa.PublicKey:
		b, err := MarshalRawECDSA(k)
		return IPSECKEYAlgECDSA, b, err
	case ed25519.PublicKey:
		return IPSECKEYAlgEd25519, append([]byte(nil), k...), nil
	}
	return 0, nil, fmt.Errorf("%w public key type %T", ErrUnsupported, pub)
}

// ParsePKIXPublicKey decodes a DER SubjectPublicKeyInfo (RFC 5280 §4.1)
// holding an RSA, ECDSA (P-256, P-384, P-521) or Ed25519 key.
func ParsePKIXPublicKey(der []byte) (crypto.PublicKey, error) {
	pub, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		return nil, fmt.Errorf("%w: SubjectPublicKeyInfo: %v", ErrMalformed, err)
	}
	switch k := pub.(type) {
	case *rsa.PublicKey:
		return newRSAPublicKey(k.N, big.NewInt(int64(k.E)))
	case *ecdsa.PublicKey, ed25519.PublicKey:
		return k, nil
	}
	return nil, fmt.Errorf("%w public key type %T", ErrUnsupported, pub)
}

// ParsePublicKeyPEM decodes a single PEM "PUBLIC KEY" block (RFC 7468 §13).
func ParsePublicKeyPEM(data []byte) (crypto.PublicKey, error) {
	block, rest := pem.Decode(data)
	if block == nil || block.Type != "PUBLIC KEY" {
		return nil, fmt.Errorf("%w: no PEM PUBLIC KEY block", ErrMalformed)
	}
	if strings.TrimSpace(string(rest)) != "" {
		return nil, fmt.Errorf("%w: data after the PEM PUBLIC KEY block", ErrMalformed)
	}
	return ParsePKIXPublicKey(block.Bytes)
}

// MarshalPublicKeyPEM encodes pub as a PEM "PUBLIC KEY" block.
func MarshalPublicKeyPEM(pub crypto.PublicKey) ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUnsupported, err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), nil
}
