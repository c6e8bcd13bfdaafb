package ike

import (
	stdcrypto "crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"fmt"

	"github.com/oe-agent/oe-agent/ike/crypto"
	"github.com/oe-agent/oe-agent/ike/wire"
)

// signer is the resolved form of a signature LocalAuth: the wire method
// and, for RFC 7427, the scheme.
type signer struct {
	method crypto.AuthMethod
	scheme crypto.SignatureScheme
	key    stdcrypto.Signer
}

// newSigner maps la onto an ike/crypto method and RFC 7427 scheme: RSA
// with PKCS#1 v1.5 or PSS over la.Hash (SHA-256 by default), ECDSA with
// the curve's hash (P-256/SHA-256, P-384/SHA-384), Ed25519 with the
// Identity hash (RFC 8420), or the legacy RSA method 1.
func newSigner(la LocalAuth) (signer, error) {
	s := signer{key: la.Signer}
	if la.Method == AuthRSA {
		if _, ok := la.Signer.Public().(*rsa.PublicKey); !ok {
			return s, fmt.Errorf("%w: RSA authentication (method 1) with a %T key", ErrConfig, la.Signer.Public())
		}
		s.method = crypto.AuthRSASig
		return s, nil
	}
	s.method = crypto.AuthDigitalSignature
	switch k := la.Signer.Public().(type) {
	case *rsa.PublicKey:
		h := la.Hash
		if h == 0 {
			h = stdcrypto.SHA256
		}
		pkcs := map[stdcrypto.Hash]crypto.SignatureScheme{stdcrypto.SHA256: crypto.SchemeRSAPKCS1SHA256, stdcrypto.SHA384: crypto.SchemeRSAPKCS1SHA384, stdcrypto.SHA512: crypto.SchemeRSAPKCS1SHA512}
		pss := map[stdcrypto.Hash]crypto.SignatureScheme{stdcrypto.SHA256: crypto.SchemeRSAPSSSHA256, stdcrypto.SHA384: crypto.SchemeRSAPSSSHA384, stdcrypto.SHA512: crypto.SchemeRSAPSSSHA512}
		m := pkcs
		if la.RSAPSS {
			m = pss
		}
		var ok bool
		if s.scheme, ok = m[h]; !ok {
			return s, fmt.Errorf("%w: RSA signature hash %v", ErrConfig, h)
		}
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256():
			s.scheme = crypto.SchemeECDSASHA256
		case elliptic.P384():
			s.scheme = crypto.SchemeECDSASHA384
		default:
			return s, fmt.Errorf("%w: ECDSA curve %s", ErrConfig, k.Curve.Params().Name)
		}
	case ed25519.PublicKey:
		s.scheme = crypto.SchemeEd25519
	default:
		return s, fmt.Errorf("%w: signer with a %T key", ErrConfig, la.Signer.Public())
	}
	return s, nil
}

// hashAlgorithms is what we announce in SIGNATURE_HASH_ALGORITHMS (RFC 7427
// §4): everything we verify.
var hashAlgorithms = []wire.HashAlgorithm{wire.HashSHA2_256, wire.HashSHA2_384, wire.HashSHA2_512, wire.HashIdentity}

// makeAuth computes our AUTH payload over signed (RFC 7296 §2.15); skp is
// our SK_pi or SK_pr.
func (s *SA) makeAuth(prf crypto.PRF, skp crypto.Key, signed []byte) (*wire.Auth, error) {
	la := s.cfg.LocalAuth
	switch la.Method {
	case AuthPSK:
		return &wire.Auth{Method: AuthPSK, Data: crypto.SharedKeyAuth(prf, la.PSK, signed)}, nil
	case AuthNull:
		return &wire.Auth{Method: AuthNull, Data: crypto.NullAuth(prf, skp, signed)}, nil
	case AuthSignature, AuthRSA:
		sg, err := newSigner(la)
		if err != nil {
			return nil, err
		}
		data, err := crypto.Sign(sg.method, sg.scheme, sg.key, signed, s.rand)
		if err != nil {
			return nil, fmt.Errorf("ike: signing AUTH: %w", err)
		}
		return &wire.Auth{Method: wire.AuthMethod(sg.method), Data: data}, nil
	}
	return nil, fmt.Errorf("%w: local auth method %v", ErrConfig, la.Method)
}

// verifyAuth checks the peer's AUTH payload over signed. peerSKp is the
// peer's SK_pi or SK_pr (for NULL authentication) and pub the peer's public
// key (nil unless a signature method is used).
func (s *SA) verifyAuth(prf crypto.PRF, a *wire.Auth, peerSKp crypto.Key, signed []byte, pub stdcrypto.PublicKey) error {
	if !s.cfg.Peer.accepts(a.Method) {
		return fmt.Errorf("%w: method %v not accepted", ErrAuth, a.Method)
	}
	var err error
	switch a.Method {
	case AuthPSK:
		err = crypto.VerifySharedKeyAuth(prf, s.cfg.Peer.PSK, signed, a.Data)
	case AuthNull:
		err = crypto.VerifyNullAuth(prf, peerSKp, signed, a.Data)
	case AuthSignature, AuthRSA:
		if pub == nil {
			return fmt.Errorf("%w: no public key for the peer", ErrAuth)
		}
		err = crypto.Verify(crypto.AuthMethod(a.Method), pub, signed, a.Data)
	default:
		return fmt.Errorf("%w: method %v not implemented", ErrAuth, a.Method)
	}
	if err != nil {
		return fmt.Errorf("%w: %w", ErrAuth, err)
	}
	return nil
}

// needsKey reports whether verifying AUTH method m needs a public key.
func needsKey(m wire.AuthMethod) bool { return m == AuthSignature || m == AuthRSA }
