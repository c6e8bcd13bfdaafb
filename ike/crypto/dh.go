package crypto

import (
	"crypto/ecdh"
	"errors"
	"fmt"
	"io"
	"math/big"
)

// A Group is an IKEv2 Diffie-Hellman group (IANA Transform Type 4).
type Group uint16

// The groups this package implements.
const (
	GroupMODP2048   Group = 14 // RFC 3526 §3
	GroupMODP3072   Group = 15 // RFC 3526 §4
	GroupECP256     Group = 19 // RFC 5903 §3.1
	GroupECP384     Group = 20 // RFC 5903 §3.2
	GroupCurve25519 Group = 31 // RFC 8031
)

// Key exchange errors. ErrUnsupportedGroup (which wraps ErrUnsupported)
// means the peer chose a group we do not do: answer INVALID_KE_PAYLOAD
// with our preferred group (RFC 7296 §1.3). ErrInvalidKE means the Key
// Exchange Data itself is bad (wrong length, not on the curve, out of
// range, low order): answer INVALID_SYNTAX (RFC 7296 §2.21).
var (
	ErrUnsupportedGroup = fmt.Errorf("%w DH group", ErrUnsupported)
	ErrInvalidKE        = errors.New("crypto: invalid key exchange data")
)

// String names the group as IANA does.
func (g Group) String() string {
	switch g {
	case GroupMODP2048:
		return "MODP_2048"
	case GroupMODP3072:
		return "MODP_3072"
	case GroupECP256:
		return "ECP_256"
	case GroupECP384:
		return "ECP_384"
	case GroupCurve25519:
		return "Curve25519"
	}
	return fmt.Sprintf("DH(%d)", uint16(g))
}

// Supported reports whether this package implements g.
func (g Group) Supported() bool { return g.PublicLen() != 0 }

// PublicLen is the exact length of the Key Exchange Data for g (RFC 7296
// §3.4: the modulus length for MODP; RFC 5903 §7: x | y; RFC 8031 §3: 32),
// and 0 for groups this package does not implement.
func (g Group) PublicLen() int {
	switch g {
	case GroupMODP2048:
		return 256
	case GroupMODP3072:
		return 384
	case GroupECP256:
		return 64
	case GroupECP384:
		return 96
	case GroupCurve25519:
		return 32
	}
	return 0
}

// A DHKey is our ephemeral private value for one key exchange. Use it for
// one SharedSecret and drop it. It never prints its secret.
type DHKey struct {
	group Group
	ec    *ecdh.PrivateKey // groups 19, 20, 31
	x     *big.Int         // MODP exponent
	pub   []byte
}

// GenerateDH makes a fresh key pair in group g. rand supplies the MODP
// exponent. For the elliptic curve groups crypto/ecdh ignores rand since
// Go 1.26 and draws from the operating system (golang/go#70942); tests
// that need fixed keys use testing/cryptotest.SetGlobalRandom.
func GenerateDH(g Group, rand io.Reader) (*DHKey, error) {
	switch g {
	case GroupMODP2048, GroupMODP3072:
		return generateMODP(g, rand)
	case GroupECP256, GroupECP384, GroupCurve25519:
		priv, err := ecdhCurve(g).GenerateKey(rand)
		if err != nil {
			return nil, fmt.Errorf("crypto: %v key generation: %w", g, err)
		}
		return newECDHKey(g, priv), nil
	}
	return nil, fmt.Errorf("%w %d", ErrUnsupportedGroup, uint16(g))
}

// Group returns the group of k.
func (k *DHKey) Group() Group { return k.group }

// PublicValue returns the Key Exchange Data of our KE payload. The caller
// must not modify it.
func (k *DHKey) PublicValue() []byte { return k.pub }

// SharedSecret checks the peer's Key Exchange Data and returns g^ir in the
// form RFC 7296 §2.14 feeds to the PRF: for MODP the value padded with
// leading zeros to the modulus length, for ECP the x coordinate only
// (RFC 5903 §7), for Curve25519 the 32-octet X25519 output (RFC 8031 §2).
// Bad peer values give an error wrapping ErrInvalidKE.
func (k *DHKey) SharedSecret(peer []byte) (Key, error) {
	if len(peer) != k.group.PublicLen() {
		return nil, fmt.Errorf("%w: %v public value of %d octets, want %d", ErrInvalidKE, k.group, len(peer), k.group.PublicLen())
	}
	if k.x != nil {
		return modpShared(k, peer)
	}
	return ecdhShared(k, peer)
}

// String implements fmt.Stringer without the private value.
func (k *DHKey) String() string { return "crypto.DHKey{" + k.group.String() + ", [redacted]}" }

// GoString implements fmt.GoStringer without the private value.
func (k *DHKey) GoString() string { return k.String() }

// Format prints the redacted form for every verb.
func (k *DHKey) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(k.String())) }
