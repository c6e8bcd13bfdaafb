package crypto

import (
	"bytes"
	"crypto"
	encasn1 "encoding/asn1"
	"fmt"

	"golang.org/x/crypto/cryptobyte"
	"golang.org/x/crypto/cryptobyte/asn1"
)

// A SignatureScheme is one signature algorithm of RFC 7427 (Digital
// Signature authentication, method 14): a key type, a hash and, for RSA, a
// padding. ECDSA schemes are named by hash only, as the ecdsa-with-SHA*
// OIDs are: the curve comes from the key.
type SignatureScheme uint8

// The schemes this package signs and verifies with.
const (
	SchemeRSAPKCS1SHA256 SignatureScheme = iota + 1 // sha256WithRSAEncryption, RFC 7427 A.1.2
	SchemeRSAPKCS1SHA384                            // sha384WithRSAEncryption, RFC 7427 A.1.3
	SchemeRSAPKCS1SHA512                            // sha512WithRSAEncryption, RFC 7427 A.1.4
	SchemeRSAPSSSHA256                              // RSASSA-PSS, SHA-256, MGF1-SHA-256, salt 32 (RFC 7427 A.4.3, RFC 8247 §3.2)
	SchemeRSAPSSSHA384                              // RSASSA-PSS, SHA-384, MGF1-SHA-384, salt 48
	SchemeRSAPSSSHA512                              // RSASSA-PSS, SHA-512, MGF1-SHA-512, salt 64
	SchemeECDSASHA256                               // ecdsa-with-SHA256, RFC 7427 A.3.1
	SchemeECDSASHA384                               // ecdsa-with-SHA384, RFC 7427 A.3.2
	SchemeECDSASHA512                               // ecdsa-with-SHA512, RFC 7427 A.3.3
	SchemeEd25519                                   // id-Ed25519, RFC 8420 §2 ("Identity" hash)
)

type keyKind uint8

const (
	kindRSA keyKind = iota + 1
	kindECDSA
	kindEd25519
)

type schemeInfo struct {
	name  string
	kind  keyKind
	hash  crypto.Hash // 0 for Ed25519: the message is signed as is
	pss   bool
	algID []byte // DER AlgorithmIdentifier as sent in the AUTH payload
}

// DER building blocks of the AlgorithmIdentifiers (X.690).
var (
	oidSHA256WithRSA = encasn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 11}
	oidSHA384WithRSA = encasn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 12}
	oidSHA512WithRSA = encasn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 13}
	oidRSASSAPSS     = encasn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 10}
	oidMGF1          = encasn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 8}
	oidECDSASHA256   = encasn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 2}
	oidECDSASHA384   = encasn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 3}
	oidECDSASHA512   = encasn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 4}
	oidEd25519       = encasn1.ObjectIdentifier{1, 3, 101, 112}
	oidSHA256        = encasn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 1}
	oidSHA384        = encasn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 2}
	oidSHA512        = encasn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 3}
)

var schemes = map[SignatureScheme]*schemeInfo{
	SchemeRSAPKCS1SHA256: {name: "rsa-pkcs1-sha256", kind: kindRSA, hash: crypto.SHA256, algID: algIDNullParams(oidSHA256WithRSA)},
	SchemeRSAPKCS1SHA384: {name: "rsa-pkcs1-sha384", kind: kindRSA, hash: crypto.SHA384, algID: algIDNullParams(oidSHA384WithRSA)},
	SchemeRSAPKCS1SHA512: {name: "rsa-pkcs1-sha512", kind: kindRSA, hash: crypto.SHA512, algID: algIDNullParams(oidSHA512WithRSA)},
	SchemeRSAPSSSHA256:   {name: "rsa-pss-sha256", kind: kindRSA, hash: crypto.SHA256, pss: true, algID: algIDPSS(oidSHA256, 32)},
	SchemeRSAPSSSHA384:   {name: "rsa-pss-sha384", kind: kindRSA, hash: crypto.SHA384, pss: true, algID: algIDPSS(oidSHA384, 48)},
	SchemeRSAPSSSHA512:   {name: "rsa-pss-sha512", kind: kindRSA, hash: crypto.SHA512, pss: true, algID: algIDPSS(oidSHA512, 64)},
	SchemeECDSASHA256:    {name: "ecdsa-sha256", kind: kindECDSA, hash: crypto.SHA256, algID: algIDNoParams(oidECDSASHA256)},
	SchemeECDSASHA384:    {name: "ecdsa-sha384", kind: kindECDSA, hash: crypto.SHA384, algID: algIDNoParams(oidECDSASHA384)},
	SchemeECDSASHA512:    {name: "ecdsa-sha512", kind: kindECDSA, hash: crypto.SHA512, algID: algIDNoParams(oidECDSASHA512)},
	SchemeEd25519:        {name: "ed25519", kind: kindEd25519, algID: algIDNoParams(oidEd25519)},
}

func der(f func(*cryptobyte.Builder)) []byte {
	var b cryptobyte.Builder
	f(&b)
	return b.BytesOrPanic()
}

func algIDNoParams(oid encasn1.ObjectIdentifier) []byte {
	return der(func(b *cryptobyte.Builder) {
		b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) { b.AddASN1ObjectIdentifier(oid) })
	})
}

func algIDNullParams(oid encasn1.ObjectIdentifier) []byte {
	return der(func(b *cryptobyte.Builder) { addAlgIDNull(b, oid) })
}

func addAlgIDNull(b *cryptobyte.Builder, oid encasn1.ObjectIdentifier) {
	b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1ObjectIdentifier(oid)
		b.AddASN1NULL()
	})
}

// algIDPSS encodes RSASSA-PSS-params (RFC 4055 §3.1) with hash h, MGF1
// over h and the given salt length; trailerField takes its default.
func algIDPSS(h encasn1.ObjectIdentifier, salt int64) []byte {
	return der(func(b *cryptobyte.Builder) {
		b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1ObjectIdentifier(oidRSASSAPSS)
			b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
				b.AddASN1(asn1.Tag(0).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) { addAlgIDNull(b, h) })
				b.AddASN1(asn1.Tag(1).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
					b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
						b.AddASN1ObjectIdentifier(oidMGF1)
						addAlgIDNull(b, h)
					})
				})
				b.AddASN1(asn1.Tag(2).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) { b.AddASN1Int64(salt) })
			})
		})
	})
}

// String names the scheme.
func (s SignatureScheme) String() string {
	if si := schemes[s]; si != nil {
		return si.name
	}
	return fmt.Sprintf("SignatureScheme(%d)", uint8(s))
}

// AlgorithmIdentifier returns the DER AlgorithmIdentifier that RFC 7427 §3
// puts in front of the signature, or nil for an unknown scheme. The caller
// must not modify it.
func (s SignatureScheme) AlgorithmIdentifier() []byte {
	if si := schemes[s]; si != nil {
		return si.algID
	}
	return nil
}

// Hash returns the IKEv2 hash algorithm of the scheme (HashIdentity for
// Ed25519), as listed in SIGNATURE_HASH_ALGORITHMS.
func (s SignatureScheme) Hash() HashAlgorithm {
	si := schemes[s]
	if si == nil {
		return 0
	}
	return hashAlgorithmOf(si.hash)
}

// ParseAlgorithmIdentifier recognises the DER AlgorithmIdentifier of an
// RFC 7427 AUTH payload. It accepts the encodings of RFC 7427 Appendix A
// and their equivalents (RSA PKCS#1 v1.5 OIDs with NULL or absent
// parameters, RFC 4055 §2.1), and RSASSA-PSS with SHA-2, MGF1 over the
// same hash and any salt length, which it returns (0 for other schemes).
// Anything else wraps ErrUnsupported, and bad DER wraps ErrMalformed.
func ParseAlgorithmIdentifier(b []byte) (s SignatureScheme, saltLen int, err error) {
	in := cryptobyte.String(b)
	var seq cryptobyte.String
	var oid encasn1.ObjectIdentifier
	if !in.ReadASN1(&seq, asn1.SEQUENCE) || !in.Empty() || !seq.ReadASN1ObjectIdentifier(&oid) {
		return 0, 0, fmt.Errorf("%w: AlgorithmIdentifier is not a DER SEQUENCE { OID, ... }", ErrMalformed)
	}
	params := seq
	noParams := params.Empty()
	nullParams := bytes.Equal(params, []byte{0x05, 0x00})
	switch {
	case oid.Equal(oidSHA256WithRSA), oid.Equal(oidSHA384WithRSA), oid.Equal(oidSHA512WithRSA):
		if !noParams && !nullParams {
			return 0, 0, fmt.Errorf("%w: parameters after %v", ErrMalformed, oid)
		}
		switch {
		case oid.Equal(oidSHA256WithRSA):
			return SchemeRSAPKCS1SHA256, 0, nil
		case oid.Equal(oidSHA384WithRSA):
			return SchemeRSAPKCS1SHA384, 0, nil
		}
		return SchemeRSAPKCS1SHA512, 0, nil
	case oid.Equal(oidECDSASHA256), oid.Equal(oidECDSASHA384), oid.Equal(oidECDSASHA512), oid.Equal(oidEd25519):
		if !noParams { // RFC 5758 §3.2, RFC 8410 §3: parameters MUST be absent
			return 0, 0, fmt.Errorf("%w: parameters after %v", ErrMalformed, oid)
		}
		switch {
		case oid.Equal(oidECDSASHA256):
			return SchemeECDSASHA256, 0, nil
		case oid.Equal(oidECDSASHA384):
			return SchemeECDSASHA384, 0, nil
		case oid.Equal(oidECDSASHA512):
			return SchemeECDSASHA512, 0, nil
		}
		return SchemeEd25519, 0, nil
	case oid.Equal(oidRSASSAPSS):
		return parsePSSParams(params)
	}
	return 0, 0, fmt.Errorf("%w signature algorithm %v", ErrUnsupported, oid)
}

// parsePSSParams reads RSASSA-PSS-params (RFC 4055 §3.1). The defaults
// (SHA-1) are not supported, so hashAlgorithm must be present.
func parsePSSParams(params cryptobyte.String) (SignatureScheme, int, error) {
	var p cryptobyte.String
	if !params.ReadASN1(&p, asn1.SEQUENCE) || !params.Empty() {
		return 0, 0, fmt.Errorf("%w: RSASSA-PSS without a parameter SEQUENCE", ErrMalformed)
	}
	var hashSeq, mgfSeq cryptobyte.String
	var hasHash, hasMGF bool
	if !p.ReadOptionalASN1(&hashSeq, &hasHash, asn1.Tag(0).Constructed().ContextSpecific()) ||
		!p.ReadOptionalASN1(&mgfSeq, &hasMGF, asn1.Tag(1).Constructed().ContextSpecific()) {
		return 0, 0, fmt.Errorf("%w: RSASSA-PSS parameters", ErrMalformed)
	}
	salt, trailer := int64(20), int64(1)
	if !p.ReadOptionalASN1Integer(&salt, asn1.Tag(2).Constructed().ContextSpecific(), int64(20)) ||
		!p.ReadOptionalASN1Integer(&trailer, asn1.Tag(3).Constructed().ContextSpecific(), int64(1)) || !p.Empty() {
		return 0, 0, fmt.Errorf("%w: RSASSA-PSS saltLength or trailerField", ErrMalformed)
	}
	if !hasHash || !hasMGF {
		return 0, 0, fmt.Errorf("%w RSASSA-PSS with the default SHA-1 hash or MGF", ErrUnsupported)
	}
	h, err := parseHashAlgID(hashSeq)
	if err != nil {
		return 0, 0, err
	}
	var mgf cryptobyte.String
	var mgfOID encasn1.ObjectIdentifier
	if !mgfSeq.ReadASN1(&mgf, asn1.SEQUENCE) || !mgfSeq.Empty() || !mgf.ReadASN1ObjectIdentifier(&mgfOID) {
		return 0, 0, fmt.Errorf("%w: RSASSA-PSS maskGenAlgorithm", ErrMalformed)
	}
	if !mgfOID.Equal(oidMGF1) {
		return 0, 0, fmt.Errorf("%w RSASSA-PSS mask generation function %v", ErrUnsupported, mgfOID)
	}
	mh, err := parseHashAlgID(mgf)
	if err != nil {
		return 0, 0, err
	}
	if mh != h {
		return 0, 0, fmt.Errorf("%w RSASSA-PSS with MGF1 hash %v and message hash %v", ErrUnsupported, mh, h)
	}
	if trailer != 1 {
		return 0, 0, fmt.Errorf("%w RSASSA-PSS trailerField %d", ErrUnsupported, trailer)
	}
	if salt < 0 || salt > 1024 {
		return 0, 0, fmt.Errorf("%w: RSASSA-PSS saltLength %d", ErrMalformed, salt)
	}
	s := map[crypto.Hash]SignatureScheme{crypto.SHA256: SchemeRSAPSSSHA256, crypto.SHA384: SchemeRSAPSSSHA384, crypto.SHA512: SchemeRSAPSSSHA512}[h]
	return s, int(salt), nil
}

// parseHashAlgID reads one hash AlgorithmIdentifier (a SEQUENCE with an
// OID and NULL or absent parameters, RFC 4055 §2.1) that fills in.
func parseHashAlgID(in cryptobyte.String) (crypto.Hash, error) {
	var seq cryptobyte.String
	var oid encasn1.ObjectIdentifier
	if !in.ReadASN1(&seq, asn1.SEQUENCE) || !in.Empty() || !seq.ReadASN1ObjectIdentifier(&oid) {
		return 0, fmt.Errorf("%w: hash AlgorithmIdentifier", ErrMalformed)
	}
	if !seq.Empty() && !bytes.Equal(seq, []byte{0x05, 0x00}) {
		return 0, fmt.Errorf("%w: hash parameters", ErrMalformed)
	}
	switch {
	case oid.Equal(oidSHA256):
		return crypto.SHA256, nil
	case oid.Equal(oidSHA384):
		return crypto.SHA384, nil
	case oid.Equal(oidSHA512):
		return crypto.SHA512, nil
	}
	return 0, fmt.Errorf("%w hash %v", ErrUnsupported, oid)
}

// ParseSignatureAuthData splits the Authentication Data of an AUTH payload
// with method 14 (RFC 7427 §3): one octet of ASN.1 length, the
// AlgorithmIdentifier, then the signature.
func ParseSignatureAuthData(data []byte) (algID, sig []byte, err error) {
	if len(data) < 1 {
		return nil, nil, fmt.Errorf("%w: empty signature Authentication Data", ErrMalformed)
	}
	n := int(data[0])
	if n == 0 || 1+n > len(data) {
		return nil, nil, fmt.Errorf("%w: ASN.1 length %d with %d octets of Authentication Data", ErrMalformed, n, len(data))
	}
	if 1+n == len(data) {
		return nil, nil, fmt.Errorf("%w: no signature after the AlgorithmIdentifier", ErrMalformed)
	}
	return data[1 : 1+n], data[1+n:], nil
}

// appendSignatureAuthData builds RFC 7427 §3 Authentication Data.
func appendSignatureAuthData(dst, algID, sig []byte) []byte {
	dst = append(dst, byte(len(algID)))
	return append(append(dst, algID...), sig...)
}
