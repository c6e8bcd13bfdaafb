package config

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
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"strings"
)

// minRSABits is the smallest RSA modulus accepted (RFC 8247 §3.2, NIST).
const minRSABits = 2048

// parsePubKey parses leftrsasigkey=/leftpubkey=: "%dns", "%dnsondemand",
// "%none", an inline key ("0s" base64 or "0x" hex, as libreswan's
// showhostkey writes it: RFC 3110 RSA, or a DER SubjectPublicKeyInfo, or a
// raw Ed25519 (RFC 8080, 32 bytes) or ECDSA point (RFC 6605, 64 or 96
// bytes)), or the path of a PEM file (relative paths are relative to the
// configuration file that names them).
func parsePubKey(fsys fs.FS, v, mentionedIn string) (PubKey, error) {
	switch strings.ToLower(v) {
	case "%dns":
		return PubKey{Kind: PubKeyDNS}, nil
	case "%dnsondemand":
		return PubKey{Kind: PubKeyDNS, OnDemand: true}, nil
	case "%none", "":
		return PubKey{}, nil
	case "%cert":
		return PubKey{}, errors.New("%cert is not supported: oe-agent uses raw public keys")
	}
	if strings.HasPrefix(v, "%") {
		return PubKey{}, fmt.Errorf("invalid public key %q (expected 0s..., 0x..., a PEM file, %%dns or %%dnsondemand)%s",
			v, didYouMean(strings.ToLower(v), []string{"%dns", "%dnsondemand", "%none"}))
	}
	if raw, ok, err := decodeInline(v); ok {
		if err != nil {
			return PubKey{}, err
		}
		k, err := parseRawPubKey(raw)
		if err != nil {
			return PubKey{}, err
		}
		return PubKey{Kind: PubKeyInline, Raw: raw, Key: k}, nil
	}
	p := resolvePath(mentionedIn, v)
	data, err := readFile(fsys, p)
	if err != nil {
		return PubKey{}, fmt.Errorf("cannot read public key file %s: %s", p, errText(err))
	}
	k, err := parsePEMPublicKey(data)
	if err != nil {
		return PubKey{}, fmt.Errorf("public key file %s: %v", p, err)
	}
	return PubKey{Kind: PubKeyFile, Path: p, Key: k}, nil
}

// decodeInline decodes libreswan's "0s" (base64) and "0x" (hex) forms,
// ignoring white space inside (a quoted value may be wrapped). ok is false
// if v has neither prefix.
func decodeInline(v string) (raw []byte, ok bool, err error) {
	v = strings.Join(strings.Fields(v), "")
	switch {
	case strings.HasPrefix(v, "0s"):
		raw, err = base64.StdEncoding.DecodeString(v[2:])
		if err != nil {
			return nil, true, errors.New("invalid base64 after 0s")
		}
	case strings.HasPrefix(v, "0x"), strings.HasPrefix(v, "0X"):
		raw, err = hex.DecodeString(strings.ReplaceAll(v[2:], "_", ""))
		if err != nil {
			return nil, true, errors.New("invalid hex after 0x")
		}
	default:
		return nil, false, nil
	}
	if len(raw) == 0 {
		return nil, true, errors.New("empty key")
	}
	return raw, true, nil
}

// parseRawPubKey recognises the inline key formats.
func parseRawPubKey(raw []byte) (crypto.PublicKey, error) {
	if k, err := x509.ParsePKIXPublicKey(raw); err == nil {
		return checkPubKey(k)
	}
	switch len(raw) {
	case ed25519.PublicKeySize:
		return ed25519.PublicKey(append([]byte(nil), raw...)), nil
	case 64, 96:
		curve := elliptic.P256()
		if len(raw) == 96 {
			curve = elliptic.P384()
		}
		// Validate the point with the uncompressed SEC 1 encoding.
		pt := append([]byte{4}, raw...)
		k, err := ecdsa.ParseUncompressedPublicKey(curve, pt)
		if err != nil {
			return nil, errors.New("inline ECDSA key is not a point on the curve")
		}
		return k, nil
	}
	return parseRFC3110(raw)
}

// parseRFC3110 parses an RSA public key in RFC 3110 §2 format: exponent
// length (1 byte, or 0 and 2 bytes), exponent, modulus.
func parseRFC3110(raw []byte) (*rsa.PublicKey, error) {
	bad := errors.New("inline key is not an RSA key in RFC 3110 format, an Ed25519 or ECDSA key, or a DER public key")
	if len(raw) < 3 {
		return nil, bad
	}
	elen, off := int(raw[0]), 1
	if elen == 0 {
		elen, off = int(raw[1])<<8|int(raw[2]), 3
	}
	if elen == 0 || elen > 8 || off+elen >= len(raw) {
		return nil, bad
	}
	e := new(big.Int).SetBytes(raw[off : off+elen])
	if !e.IsInt64() || e.Int64() < 3 || e.Int64() > 1<<31-1 || e.Bit(0) == 0 {
		return nil, errors.New("RSA key has an unusable public exponent")
	}
	k := &rsa.PublicKey{N: new(big.Int).SetBytes(raw[off+elen:]), E: int(e.Int64())}
	if _, err := checkPubKey(k); err != nil {
		return nil, err
	}
	return k, nil
}

// checkPubKey accepts RSA >= 2048 bits, ECDSA P-256/P-384/P-521, Ed25519.
func checkPubKey(k any) (crypto.PublicKey, error) {
	switch k := k.(type) {
	case *rsa.PublicKey:
		if k.N.BitLen() < minRSABits {
			return nil, fmt.Errorf("RSA key of %d bits is too short (at least %d)", k.N.BitLen(), minRSABits)
		}
		return k, nil
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256(), elliptic.P384(), elliptic.P521():
			return k, nil
		}
		return nil, errors.New("unsupported ECDSA curve")
	case ed25519.PublicKey:
		return k, nil
	}
	return nil, fmt.Errorf("unsupported public key type %T", k)
}

// parsePEMPublicKey reads a "PUBLIC KEY" (SubjectPublicKeyInfo) or
// "RSA PUBLIC KEY" (PKCS #1) PEM block.
func parsePEMPublicKey(data []byte) (crypto.PublicKey, error) {
	b, _ := pem.Decode(data)
	if b == nil {
		return nil, errors.New("no PEM block found")
	}
	switch b.Type {
	case "PUBLIC KEY":
		k, err := x509.ParsePKIXPublicKey(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("bad PUBLIC KEY: %v", err)
		}
		return checkPubKey(k)
	case "RSA PUBLIC KEY":
		k, err := x509.ParsePKCS1PublicKey(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("bad RSA PUBLIC KEY: %v", err)
		}
		return checkPubKey(k)
	}
	return nil, fmt.Errorf("PEM block is %q, expected \"PUBLIC KEY\"", b.Type)
}

// parsePEMPrivateKey reads a "PRIVATE KEY" (PKCS #8), "RSA PRIVATE KEY"
// (PKCS #1) or "EC PRIVATE KEY" (SEC 1) PEM block. Encrypted keys are
// refused: the daemon starts unattended.
func parsePEMPrivateKey(data []byte) (crypto.Signer, error) {
	b, _ := pem.Decode(data)
	if b == nil {
		return nil, errors.New("no PEM block found")
	}
	if _, ok := b.Headers["Proc-Type"]; ok || b.Type == "ENCRYPTED PRIVATE KEY" {
		return nil, errors.New("encrypted private keys are not supported")
	}
	var k any
	var err error
	switch b.Type {
	case "PRIVATE KEY":
		k, err = x509.ParsePKCS8PrivateKey(b.Bytes)
	case "RSA PRIVATE KEY":
		k, err = x509.ParsePKCS1PrivateKey(b.Bytes)
	case "EC PRIVATE KEY":
		k, err = x509.ParseECPrivateKey(b.Bytes)
	default:
		return nil, fmt.Errorf("PEM block is %q, expected \"PRIVATE KEY\"", b.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("bad %s: %v", b.Type, err)
	}
	s, ok := k.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("unsupported private key type %T", k)
	}
	if _, err := checkPubKey(s.Public()); err != nil {
		return nil, err
	}
	return s, nil
}

// pubKeyMatches reports whether key k can be used with method m.
func pubKeyMatches(k crypto.PublicKey, m AuthMethod) bool {
	switch k.(type) {
	case *rsa.PublicKey:
		return m == AuthRSASig
	case *ecdsa.PublicKey:
		return m == AuthECDSA
	case ed25519.PublicKey:
		return m == AuthEdDSA
	}
	return false
}

// keyTypeName names a public key's algorithm for messages.
func keyTypeName(k crypto.PublicKey) string {
	switch k := k.(type) {
	case *rsa.PublicKey:
		return fmt.Sprintf("RSA-%d", k.N.BitLen())
	case *ecdsa.PublicKey:
		return "ECDSA-" + k.Curve.Params().Name
	case ed25519.PublicKey:
		return "Ed25519"
	}
	return "unknown"
}

// fmtPubKey writes a PubKey the way parsePubKey reads it.
func fmtPubKey(k PubKey) string {
	switch k.Kind {
	case PubKeyInline:
		return "0s" + base64.StdEncoding.EncodeToString(k.Raw)
	case PubKeyFile:
		return k.Path
	case PubKeyDNS:
		if k.OnDemand {
			return "%dnsondemand"
		}
		return "%dns"
	}
	return ""
}
