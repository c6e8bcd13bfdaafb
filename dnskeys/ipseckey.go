package dnskeys

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"net/netip"
	"strings"

	"github.com/miekg/dns"
)

// Algorithm is an IPSECKEY public-key algorithm number (RFC 4025 §2.4 and
// the IANA "IPSECKEY Resource Record Parameters" registry).
type Algorithm uint8

// IPSECKEY algorithms.
const (
	AlgNone  Algorithm = 0 // no key present
	AlgDSA   Algorithm = 1 // RFC 2536 format; refused
	AlgRSA   Algorithm = 2 // RFC 3110 format
	AlgECDSA Algorithm = 3 // RFC 8005 / RFC 6605 format (P-256, P-384)
	AlgEdDSA Algorithm = 4 // RFC 9373 / RFC 8080 format (Ed25519)
)

func (a Algorithm) String() string {
	switch a {
	case AlgNone:
		return "none"
	case AlgDSA:
		return "DSA"
	case AlgRSA:
		return "RSA"
	case AlgECDSA:
		return "ECDSA"
	case AlgEdDSA:
		return "EdDSA"
	}
	return fmt.Sprintf("algorithm-%d", uint8(a))
}

// GatewayType says what the IPSECKEY gateway field holds (RFC 4025 §2.3).
type GatewayType uint8

// Gateway types.
const (
	GatewayNone GatewayType = 0 // the key's owner is its own gateway
	GatewayIPv4 GatewayType = 1
	GatewayIPv6 GatewayType = 2
	GatewayName GatewayType = 3 // an uncompressed wire-format domain name
)

// MinRSABits is the smallest RSA modulus accepted for OE keys.
const MinRSABits = 2048

// A Key is one public key found in DNS, usable or not. Keys that are refused
// stay in results so that diagnostics can show why.
type Key struct {
	// Source is dns.TypeIPSECKEY or dns.TypeKEY (the legacy RFC 2535 KEY
	// record with protocol 4, as FreeS/WAN published it).
	Source uint16
	// Owner is the name the record was found at.
	Owner string
	// Precedence orders IPSECKEYs at one name: lower is preferred
	// (RFC 4025 §2.2). Legacy KEY records have none and sort after.
	Precedence uint8
	// GatewayType and Gateway/GatewayName say where to run IKE
	// (RFC 4025 §2.3, §2.5).
	GatewayType GatewayType
	Gateway     netip.Addr
	GatewayName string
	// Algorithm is the key's algorithm in IPSECKEY numbering; KEY
	// algorithms (DNSSEC numbering) are mapped onto it. RawAlgorithm is the
	// number as it appeared on the wire.
	Algorithm    Algorithm
	RawAlgorithm uint8
	// PublicKey is *rsa.PublicKey, *ecdsa.PublicKey or ed25519.PublicKey;
	// nil when the key is refused. JSON output carries Raw instead.
	PublicKey crypto.PublicKey `json:"-"`
	// Raw is the public-key field as published.
	Raw []byte
	// Refused explains why the key cannot be used; empty if it can.
	Refused string
}

// Usable reports whether the key itself is acceptable. Whether it may be used
// also depends on the DNSSEC state of the result that carried it.
func (k *Key) Usable() bool { return k.Refused == "" && k.PublicKey != nil }

// Describe names the key type: "RSA-3072", "ECDSA-P256", "Ed25519".
func (k *Key) Describe() string {
	switch pk := k.PublicKey.(type) {
	case *rsa.PublicKey:
		return fmt.Sprintf("RSA-%d", pk.N.BitLen())
	case *ecdsa.PublicKey:
		return "ECDSA-" + strings.ReplaceAll(pk.Curve.Params().Name, "-", "")
	case ed25519.PublicKey:
		return "Ed25519"
	}
	return k.Algorithm.String()
}

// Fingerprint is the first 16 hex digits of SHA-256 over the published key,
// for logs and status output.
func (k *Key) Fingerprint() string {
	sum := sha256.Sum256(k.Raw)
	return hex.EncodeToString(sum[:8])
}

// String is a one-line diagnostic form.
func (k *Key) String() string {
	var gw string
	switch k.GatewayType {
	case GatewayNone:
		gw = "."
	case GatewayIPv4, GatewayIPv6:
		gw = k.Gateway.String()
	case GatewayName:
		gw = k.GatewayName
	}
	src := "IPSECKEY"
	if k.Source == dns.TypeKEY {
		src = "KEY"
	}
	s := fmt.Sprintf("%s %s %d %d %d %s %s sha256:%s", k.Owner, src, k.Precedence, k.GatewayType, k.RawAlgorithm, gw, k.Describe(), k.Fingerprint())
	if k.Refused != "" {
		s += " refused: " + k.Refused
	}
	return s
}

// ParseIPSECKEY decodes IPSECKEY RDATA (RFC 4025 §2.1). A structural error
// (truncated fields, unknown gateway type, compressed gateway name, trailing
// bytes) is returned as an error. A well-formed record whose key cannot be
// used (DSA, unknown algorithm, weak or malformed key) is returned with
// Refused set and a nil error.
func ParseIPSECKEY(rdata []byte) (Key, error) {
	var k Key
	k.Source = dns.TypeIPSECKEY
	if len(rdata) < 3 {
		return k, fmt.Errorf("dnskeys: IPSECKEY RDATA of %d octets is shorter than its 3-octet header", len(rdata))
	}
	k.Precedence = rdata[0]
	k.GatewayType = GatewayType(rdata[1])
	k.RawAlgorithm = rdata[2]
	k.Algorithm = Algorithm(rdata[2])
	rest := rdata[3:]
	switch k.GatewayType {
	case GatewayNone:
	case GatewayIPv4:
		if len(rest) < 4 {
			return k, errors.New("dnskeys: IPSECKEY IPv4 gateway truncated")
		}
		k.Gateway = netip.AddrFrom4([4]byte(rest[:4]))
		rest = rest[4:]
	case GatewayIPv6:
		if len(rest) < 16 {
			return k, errors.New("dnskeys: IPSECKEY IPv6 gateway truncated")
		}
		k.Gateway = netip.AddrFrom16([16]byte(rest[:16]))
		rest = rest[16:]
	case GatewayName:
		name, n, err := parseWireName(rest)
		if err != nil {
			return k, fmt.Errorf("dnskeys: IPSECKEY gateway name: %w", err)
		}
		k.GatewayName = name
		rest = rest[n:]
	default:
		return k, fmt.Errorf("dnskeys: IPSECKEY gateway type %d is unknown (RFC 4025 §2.3 defines 0-3)", k.GatewayType)
	}
	k.Raw = append([]byte(nil), rest...)
	k.PublicKey, k.Refused = decodePublicKey(k.Algorithm, k.Raw)
	return k, nil
}

// ParseKEY decodes the RDATA of a legacy KEY record (RFC 2535 §3.1, as used
// for IPsec by RFC 4322 §5.1). Only protocol 4 (IPsec) and 255 (any) keys
// are accepted; the algorithm is in DNSSEC numbering and mapped.
func ParseKEY(rdata []byte) (Key, error) {
	var k Key
	k.Source = dns.TypeKEY
	if len(rdata) < 4 {
		return k, fmt.Errorf("dnskeys: KEY RDATA of %d octets is shorter than its 4-octet header", len(rdata))
	}
	flags := uint16(rdata[0])<<8 | uint16(rdata[1])
	proto := rdata[2]
	k.RawAlgorithm = rdata[3]
	k.Raw = append([]byte(nil), rdata[4:]...)
	switch k.RawAlgorithm {
	case dns.RSAMD5, dns.RSASHA1, dns.RSASHA1NSEC3SHA1, dns.RSASHA256, dns.RSASHA512:
		k.Algorithm = AlgRSA
	case dns.DSA, dns.DSANSEC3SHA1:
		k.Algorithm = AlgDSA
	case dns.ECDSAP256SHA256, dns.ECDSAP384SHA384:
		k.Algorithm = AlgECDSA
	case dns.ED25519:
		k.Algorithm = AlgEdDSA
	default:
		k.Algorithm = Algorithm(255)
	}
	switch {
	case flags&0xC000 == 0xC000:
		k.Refused = "KEY flags say no key is present (A/C bits 11, RFC 2535 §3.1.2)"
		return k, nil
	case proto != 4 && proto != 255:
		k.Refused = fmt.Sprintf("KEY protocol %d is not IPsec (4)", proto)
		return k, nil
	case k.Algorithm == Algorithm(255):
		k.Refused = fmt.Sprintf("KEY algorithm %d is not supported", k.RawAlgorithm)
		return k, nil
	}
	if k.RawAlgorithm == dns.ECDSAP256SHA256 && len(k.Raw) != 64 || k.RawAlgorithm == dns.ECDSAP384SHA384 && len(k.Raw) != 96 {
		k.Refused = fmt.Sprintf("ECDSA key of %d octets does not match KEY algorithm %d", len(k.Raw), k.RawAlgorithm)
		return k, nil
	}
	k.PublicKey, k.Refused = decodePublicKey(k.Algorithm, k.Raw)
	return k, nil
}

// decodePublicKey decodes a public key field and returns either the key or
// the reason it is refused.
func decodePublicKey(alg Algorithm, raw []byte) (crypto.PublicKey, string) {
	switch alg {
	case AlgNone:
		return nil, "record carries no key (algorithm 0)"
	case AlgDSA:
		return nil, "DSA keys (algorithm 1) are refused: DSA is deprecated and too weak"
	case AlgRSA:
		return decodeRSA(raw)
	case AlgECDSA:
		var curve elliptic.Curve
		switch len(raw) {
		case 64:
			curve = elliptic.P256()
		case 96:
			curve = elliptic.P384()
		default:
			return nil, fmt.Sprintf("ECDSA key of %d octets is neither P-256 (64) nor P-384 (96) (RFC 8005 §3)", len(raw))
		}
		pk, err := ecdsa.ParseUncompressedPublicKey(curve, append([]byte{4}, raw...))
		if err != nil {
			return nil, "ECDSA key is not a point on " + curve.Params().Name
		}
		return pk, ""
	case AlgEdDSA:
		switch len(raw) {
		case ed25519.PublicKeySize:
			return ed25519.PublicKey(append([]byte(nil), raw...)), ""
		case 57:
			return nil, "Ed448 keys are not supported"
		}
		return nil, fmt.Sprintf("EdDSA key of %d octets is neither Ed25519 (32) nor Ed448 (57) (RFC 9373)", len(raw))
	}
	return nil, fmt.Sprintf("unknown public-key algorithm %d", uint8(alg))
}

// decodeRSA decodes an RFC 3110 §2 RSA public key.
func decodeRSA(raw []byte) (crypto.PublicKey, string) {
	if len(raw) < 3 {
		return nil, "RSA key truncated"
	}
	explen, off := int(raw[0]), 1
	if explen == 0 {
		explen, off = int(raw[1])<<8|int(raw[2]), 3
	}
	if explen == 0 || off+explen >= len(raw) {
		return nil, "RSA key truncated: exponent length exceeds key"
	}
	if explen > 4 {
		return nil, fmt.Sprintf("RSA exponent of %d octets is too large", explen)
	}
	exp := raw[off : off+explen]
	mod := raw[off+explen:]
	if exp[0] == 0 || mod[0] == 0 {
		return nil, "RSA key has a leading zero octet (RFC 3110 §2)"
	}
	var e uint64
	for _, b := range exp {
		e = e<<8 | uint64(b)
	}
	if e < 3 || e%2 == 0 || e > 1<<31-1 {
		return nil, fmt.Sprintf("RSA exponent %d is not acceptable", e)
	}
	n := new(big.Int).SetBytes(mod)
	if n.BitLen() < MinRSABits {
		return nil, fmt.Sprintf("RSA key of %d bits is below the %d-bit minimum", n.BitLen(), MinRSABits)
	}
	if n.BitLen() > 8192 {
		return nil, fmt.Sprintf("RSA key of %d bits exceeds the 8192-bit maximum", n.BitLen())
	}
	return &rsa.PublicKey{N: n, E: int(e)}, ""
}

// parseWireName reads an uncompressed wire-format domain name (RFC 1035
// §3.1) from the start of b and returns it in presentation form with the
// number of octets it took.
func parseWireName(b []byte) (string, int, error) {
	off := 0
	for {
		if off >= len(b) {
			return "", 0, errors.New("name truncated")
		}
		l := int(b[off])
		if l == 0 {
			off++
			break
		}
		if l&0xC0 != 0 {
			return "", 0, errors.New("compressed or extended label not allowed (RFC 4025 §2.5)")
		}
		off += 1 + l
		if off > 255 {
			return "", 0, errors.New("name longer than 255 octets")
		}
	}
	if off > 255 {
		return "", 0, errors.New("name longer than 255 octets")
	}
	name, _, err := dns.UnpackDomainName(b[:off], 0)
	if err != nil {
		return "", 0, err
	}
	return canonical(name), off, nil
}

// rdataOf returns the wire RDATA of rr, as it would be packed uncompressed.
func rdataOf(rr dns.RR) ([]byte, error) {
	buf := make([]byte, dns.Len(rr)+16)
	off, err := dns.PackRR(rr, buf, 0, nil, false)
	if err != nil {
		return nil, fmt.Errorf("dnskeys: pack %s: %w", dns.TypeToString[rr.Header().Rrtype], err)
	}
	rdlen := int(rr.Header().Rdlength)
	if rdlen > off {
		return nil, errors.New("dnskeys: inconsistent RDATA length")
	}
	return buf[off-rdlen : off], nil
}

// KeyFromRR decodes an IPSECKEY or KEY record (or its RFC 3597 unknown-type
// form). Structural errors come back as a Key with Refused set and the error.
func KeyFromRR(rr dns.RR) (Key, error) {
	h := rr.Header()
	rd, err := rdataOf(rr)
	var k Key
	if err == nil {
		switch h.Rrtype {
		case dns.TypeIPSECKEY:
			k, err = ParseIPSECKEY(rd)
		case dns.TypeKEY:
			k, err = ParseKEY(rd)
		default:
			err = fmt.Errorf("dnskeys: %s is not a key record", dns.TypeToString[h.Rrtype])
		}
	}
	k.Owner = canonical(h.Name)
	if k.Source == 0 {
		k.Source = h.Rrtype
	}
	if err != nil {
		k.Refused = err.Error()
		k.PublicKey = nil
	}
	return k, err
}

// encodeRSA is the inverse of decodeRSA, used by tests and fixtures.
func encodeRSA(pk *rsa.PublicKey) []byte {
	e := big.NewInt(int64(pk.E)).Bytes()
	var out []byte
	if len(e) < 256 {
		out = append(out, byte(len(e)))
	} else {
		out = append(out, 0, byte(len(e)>>8), byte(len(e)))
	}
	out = append(out, e...)
	return append(out, pk.N.Bytes()...)
}

// PublicKeyBase64 renders a public key in the form an IPSECKEY record
// publishes it (RFC 3110, RFC 6605 x|y, RFC 8080), for zone files and tests.
func PublicKeyBase64(pk crypto.PublicKey) (Algorithm, string, error) {
	switch k := pk.(type) {
	case *rsa.PublicKey:
		return AlgRSA, base64.StdEncoding.EncodeToString(encodeRSA(k)), nil
	case *ecdsa.PublicKey:
		b, err := k.Bytes()
		if err != nil {
			return 0, "", fmt.Errorf("dnskeys: %w", err)
		}
		return AlgECDSA, base64.StdEncoding.EncodeToString(b[1:]), nil
	case ed25519.PublicKey:
		return AlgEdDSA, base64.StdEncoding.EncodeToString(k), nil
	}
	return 0, "", fmt.Errorf("dnskeys: unsupported public key type %T", pk)
}
