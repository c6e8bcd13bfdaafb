package crypto

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rsa"
	"errors"
	"fmt"
	"io"
	"math/big"
)

// An AuthMethod is the Auth Method of an AUTH payload (RFC 7296 §3.8,
// IANA "IKEv2 Authentication Method").
type AuthMethod uint8

// The methods this package implements.
const (
	AuthRSASig           AuthMethod = 1  // RFC 7296: RSASSA-PKCS1-v1_5 with SHA-1
	AuthSharedKey        AuthMethod = 2  // RFC 7296 §2.15
	AuthECDSASHA256P256  AuthMethod = 9  // RFC 4754
	AuthECDSASHA384P384  AuthMethod = 10 // RFC 4754
	AuthNull             AuthMethod = 13 // RFC 7619
	AuthDigitalSignature AuthMethod = 14 // RFC 7427
)

// String names the method as IANA does.
func (m AuthMethod) String() string {
	switch m {
	case AuthRSASig:
		return "RSA Digital Signature"
	case AuthSharedKey:
		return "Shared Key Message Integrity Code"
	case AuthECDSASHA256P256:
		return "ECDSA with SHA-256 on the P-256 curve"
	case AuthECDSASHA384P384:
		return "ECDSA with SHA-384 on the P-384 curve"
	case AuthNull:
		return "NULL Authentication"
	case AuthDigitalSignature:
		return "Digital Signature"
	}
	return fmt.Sprintf("AuthMethod(%d)", uint8(m))
}

// ErrAuthentication means the AUTH payload does not prove the claimed
// identity: answer AUTHENTICATION_FAILED (RFC 7296 §2.21.2). Unsupported
// methods and algorithms wrap ErrUnsupported, and unparsable
// Authentication Data ErrMalformed; both also end in AUTHENTICATION_FAILED.
var ErrAuthentication = errors.New("crypto: authentication failed")

// MinRSABits is the smallest RSA modulus Sign and Verify accept. RFC 8247
// §3 requires 2048 bits.
const MinRSABits = 2048

// keyPad is the constant of RFC 7296 §2.15 for shared key MICs.
const keyPad = "Key Pad for IKEv2"

// SignedOctets returns the octets an AUTH payload signs or MACs (RFC 7296
// §2.15):
//
//	InitiatorSignedOctets = RealMessage1 | NonceRData | MACedIDForI
//	MACedIDForI = prf(SK_pi, RestOfInitIDPayload)
//
// and symmetrically for the responder (RealMessage2, NonceIData, SK_pr).
// realMessage is the sender's own IKE_SA_INIT message as sent, peerNonce
// the other end's Nonce Data, skp the sender's SK_pi or SK_pr, and idBody
// the sender's ID payload after its generic header (ID Type, three
// RESERVED octets, Identification Data).
func SignedOctets(p PRF, skp Key, realMessage, peerNonce, idBody []byte) []byte {
	mac := p.Compute(skp, idBody)
	out := make([]byte, 0, len(realMessage)+len(peerNonce)+len(mac))
	return append(append(append(out, realMessage...), peerNonce...), mac...)
}

// SharedKeyAuth returns the AUTH data of method 2 (RFC 7296 §2.15):
//
//	AUTH = prf( prf(Shared Secret, "Key Pad for IKEv2"), <SignedOctets>)
func SharedKeyAuth(p PRF, secret Key, signedOctets []byte) []byte {
	return p.Compute(p.Compute(secret, []byte(keyPad)), signedOctets)
}

// VerifySharedKeyAuth checks method 2 Authentication Data in constant time.
func VerifySharedKeyAuth(p PRF, secret Key, signedOctets, authData []byte) error {
	if !hmac.Equal(SharedKeyAuth(p, secret, signedOctets), authData) {
		return fmt.Errorf("%w: shared key MIC mismatch", ErrAuthentication)
	}
	return nil
}

// NullAuth returns the AUTH data of method 13 (RFC 7619 §2.1): the shared
// key computation with the sender's SK_pi (initiator) or SK_pr (responder)
// as the shared secret. It proves only that the sender holds the IKE SA
// keys; the peer stays anonymous.
func NullAuth(p PRF, skp Key, signedOctets []byte) []byte {
	return SharedKeyAuth(p, skp, signedOctets)
}

// VerifyNullAuth checks method 13 Authentication Data with the peer's
// SK_pi or SK_pr.
func VerifyNullAuth(p PRF, skp Key, signedOctets, authData []byte) error {
	if err := VerifySharedKeyAuth(p, skp, signedOctets, authData); err != nil {
		return fmt.Errorf("%w: NULL authentication MIC mismatch", ErrAuthentication)
	}
	return nil
}

// Sign returns the Authentication Data of a signature AUTH payload.
// method is AuthDigitalSignature (RFC 7427: scheme picks the algorithm and
// the result is length | AlgorithmIdentifier | signature), AuthRSASig
// (RFC 7296: PKCS#1 v1.5 over SHA-1, for interoperability) or
// AuthECDSASHA256P256/AuthECDSASHA384P384 (RFC 4754: r | s); scheme is
// ignored for the legacy methods. key may be any crypto.Signer over an
// RSA, ECDSA or Ed25519 key. rand is passed to the signer (the standard
// library's own keys ignore it since Go 1.26).
func Sign(method AuthMethod, scheme SignatureScheme, key crypto.Signer, signedOctets []byte, rand io.Reader) ([]byte, error) {
	pub := key.Public()
	switch method {
	case AuthDigitalSignature:
		si := schemes[scheme]
		if si == nil {
			return nil, fmt.Errorf("%w signature scheme %d", ErrUnsupported, scheme)
		}
		if err := checkKeyFits(pub, si.kind); err != nil {
			return nil, err
		}
		var opts crypto.SignerOpts = si.hash
		if si.pss {
			opts = &rsa.PSSOptions{SaltLength: si.hash.Size(), Hash: si.hash}
		}
		sig, err := key.Sign(rand, digest(si.hash, signedOctets), opts)
		if err != nil {
			return nil, fmt.Errorf("crypto: signing with %v: %w", scheme, err)
		}
		return appendSignatureAuthData(nil, si.algID, sig), nil
	case AuthRSASig:
		if err := checkKeyFits(pub, kindRSA); err != nil {
			return nil, err
		}
		sig, err := key.Sign(rand, digest(crypto.SHA1, signedOctets), crypto.SHA1)
		if err != nil {
			return nil, fmt.Errorf("crypto: signing with RSA/SHA-1: %w", err)
		}
		return sig, nil
	case AuthECDSASHA256P256, AuthECDSASHA384P384:
		curve, h := ecdsaMethod(method)
		ec, ok := pub.(*ecdsa.PublicKey)
		if !ok || ec.Curve != curve {
			return nil, fmt.Errorf("%w: %v needs a %s key, have %T", ErrUnsupported, method, curve.Params().Name, pub)
		}
		asn, err := key.Sign(rand, digest(h, signedOctets), h)
		if err != nil {
			return nil, fmt.Errorf("crypto: signing with %v: %w", method, err)
		}
		return ecdsaASN1ToRaw(asn, (curve.Params().BitSize+7)/8)
	}
	return nil, fmt.Errorf("%w signature method %v", ErrUnsupported, method)
}

// Verify checks the Authentication Data of a signature AUTH payload
// against the peer's public key (*rsa.PublicKey, *ecdsa.PublicKey or
// ed25519.PublicKey, from a certificate or raw from DNS). For
// AuthDigitalSignature the algorithm comes from the AlgorithmIdentifier
// and must suit the key. A wrong signature wraps ErrAuthentication.
func Verify(method AuthMethod, pub crypto.PublicKey, signedOctets, authData []byte) error {
	switch method {
	case AuthDigitalSignature:
		algID, sig, err := ParseSignatureAuthData(authData)
		if err != nil {
			return err
		}
		scheme, salt, err := ParseAlgorithmIdentifier(algID)
		if err != nil {
			return err
		}
		si := schemes[scheme]
		if err := checkKeyFits(pub, si.kind); err != nil {
			return err
		}
		return verifyScheme(si, salt, pub, signedOctets, sig)
	case AuthRSASig:
		if err := checkKeyFits(pub, kindRSA); err != nil {
			return err
		}
		if err := rsa.VerifyPKCS1v15(pub.(*rsa.PublicKey), crypto.SHA1, digest(crypto.SHA1, signedOctets), authData); err != nil {
			return fmt.Errorf("%w: RSA/SHA-1 signature: %v", ErrAuthentication, err)
		}
		return nil
	case AuthECDSASHA256P256, AuthECDSASHA384P384:
		curve, h := ecdsaMethod(method)
		ec, ok := pub.(*ecdsa.PublicKey)
		if !ok || ec.Curve != curve {
			return fmt.Errorf("%w: %v with a %T key", ErrAuthentication, method, pub)
		}
		n := (curve.Params().BitSize + 7) / 8
		if len(authData) != 2*n {
			return fmt.Errorf("%w: %v signature of %d octets, want %d", ErrMalformed, method, len(authData), 2*n)
		}
		r, s := new(big.Int).SetBytes(authData[:n]), new(big.Int).SetBytes(authData[n:])
		if !ecdsa.Verify(ec, digest(h, signedOctets), r, s) {
			return fmt.Errorf("%w: %v signature", ErrAuthentication, method)
		}
		return nil
	}
	return fmt.Errorf("%w signature method %v", ErrUnsupported, method)
}

func verifyScheme(si *schemeInfo, salt int, pub crypto.PublicKey, msg, sig []byte) error {
	var ok bool
	switch si.kind {
	case kindRSA:
		var err error
		if si.pss {
			err = rsa.VerifyPSS(pub.(*rsa.PublicKey), si.hash, digest(si.hash, msg), sig, &rsa.PSSOptions{SaltLength: salt, Hash: si.hash})
		} else {
			err = rsa.VerifyPKCS1v15(pub.(*rsa.PublicKey), si.hash, digest(si.hash, msg), sig)
		}
		ok = err == nil
	case kindECDSA:
		// RFC 7427 §3: the signature is the DER Ecdsa-Sig-Value.
		ok = ecdsa.VerifyASN1(pub.(*ecdsa.PublicKey), digest(si.hash, msg), sig)
	case kindEd25519:
		ok = ed25519.Verify(pub.(ed25519.PublicKey), msg, sig)
	}
	if !ok {
		return fmt.Errorf("%w: %s signature", ErrAuthentication, si.name)
	}
	return nil
}

// checkKeyFits refuses key types that do not match the algorithm, and RSA
// keys below MinRSABits.
func checkKeyFits(pub crypto.PublicKey, kind keyKind) error {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		if kind == kindRSA {
			if k.N == nil || k.N.BitLen() < MinRSABits {
				return fmt.Errorf("%w: RSA key below %d bits", ErrUnsupported, MinRSABits)
			}
			return nil
		}
	case *ecdsa.PublicKey:
		if kind == kindECDSA {
			if k.Curve != elliptic.P256() && k.Curve != elliptic.P384() && k.Curve != elliptic.P521() {
				return fmt.Errorf("%w ECDSA curve", ErrUnsupported)
			}
			return nil
		}
	case ed25519.PublicKey:
		if kind == kindEd25519 {
			if len(k) != ed25519.PublicKeySize {
				return fmt.Errorf("%w: Ed25519 key of %d octets", ErrMalformed, len(k))
			}
			return nil
		}
	default:
		return fmt.Errorf("%w public key type %T", ErrUnsupported, pub)
	}
	return fmt.Errorf("%w: signature algorithm does not match the %T key", ErrAuthentication, pub)
}

func ecdsaMethod(m AuthMethod) (elliptic.Curve, crypto.Hash) {
	if m == AuthECDSASHA256P256 {
		return elliptic.P256(), crypto.SHA256
	}
	return elliptic.P384(), crypto.SHA384
}

// digest hashes msg with h, or returns msg itself for h == 0 (EdDSA's
// "Identity", RFC 8420).
func digest(h crypto.Hash, msg []byte) []byte {
	if h == 0 {
		return msg
	}
	d := h.New()
	d.Write(msg)
	return d.Sum(nil)
}
