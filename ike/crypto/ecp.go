package crypto

import (
	"crypto/ecdh"
	"fmt"
)

// ecdhCurve maps the elliptic curve groups onto crypto/ecdh.
func ecdhCurve(g Group) ecdh.Curve {
	switch g {
	case GroupECP256:
		return ecdh.P256()
	case GroupECP384:
		return ecdh.P384()
	case GroupCurve25519:
		return ecdh.X25519()
	}
	return nil
}

// isNIST reports whether g sends x | y points (RFC 5903 §7).
func isNIST(g Group) bool { return g == GroupECP256 || g == GroupECP384 }

func newECDHKey(g Group, priv *ecdh.PrivateKey) *DHKey {
	pub := priv.PublicKey().Bytes()
	if isNIST(g) {
		// crypto/ecdh encodes 0x04 | x | y (SEC 1); IKEv2 drops the
		// prefix (RFC 5903 §7).
		pub = pub[1:]
	}
	return &DHKey{group: g, ec: priv, pub: pub}
}

// newDHKeyFromPrivate builds a key from a fixed private scalar, for the RFC
// known-answer tests only.
func newDHKeyFromPrivate(g Group, priv []byte) (*DHKey, error) {
	c := ecdhCurve(g)
	if c == nil {
		return nil, fmt.Errorf("%w %d", ErrUnsupportedGroup, uint16(g))
	}
	k, err := c.NewPrivateKey(priv)
	if err != nil {
		return nil, err
	}
	return newECDHKey(g, k), nil
}

// ecdhShared validates the peer point and runs ECDH. crypto/ecdh checks
// that a P-256/P-384 point is on the curve and not the point at infinity
// (RFC 5903 §7 requires the check, RFC 6989 §2.3), and refuses an all-zero
// X25519 result from a low-order point (RFC 8031 §2.3).
func ecdhShared(k *DHKey, peer []byte) (Key, error) {
	enc := peer
	if isNIST(k.group) {
		enc = make([]byte, 1+len(peer))
		enc[0] = 4
		copy(enc[1:], peer)
	}
	pub, err := k.ec.Curve().NewPublicKey(enc)
	if err != nil {
		return nil, fmt.Errorf("%w: %v: %v", ErrInvalidKE, k.group, err)
	}
	z, err := k.ec.ECDH(pub)
	if err != nil {
		return nil, fmt.Errorf("%w: %v: %v", ErrInvalidKE, k.group, err)
	}
	return Key(z), nil
}
