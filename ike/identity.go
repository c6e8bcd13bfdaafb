package ike

import (
	"bytes"
	"fmt"
	"net/netip"

	"github.com/oe-agent/oe-agent/ike/wire"
)

// AuthMethod is an IKEv2 authentication method (RFC 7296 §3.8).
type AuthMethod = wire.AuthMethod

// The authentication methods this package implements.
const (
	AuthRSA       = wire.AuthRSASig           // 1: legacy RSA, PKCS#1 v1.5 with SHA-1
	AuthPSK       = wire.AuthSharedKeyMIC     // 2: pre-shared key
	AuthNull      = wire.AuthNull             // 13: RFC 7619
	AuthSignature = wire.AuthDigitalSignature // 14: RFC 7427
)

// Identity is an IKE identity (RFC 7296 §3.5): ID_IPV4_ADDR, ID_IPV6_ADDR,
// ID_FQDN, ID_RFC822_ADDR, ID_KEY_ID or ID_NULL (RFC 7619). The zero value
// is treated as ID_NULL when sent and as "any" in PeerAuth.ID.
type Identity struct {
	Type wire.IDType
	Data []byte
}

// AddrID returns the ID_IPV4_ADDR or ID_IPV6_ADDR identity of a.
func AddrID(a netip.Addr) Identity {
	id := wire.IDFromAddr(a.Unmap(), false)
	return Identity{Type: id.IDType, Data: id.Data}
}

// FQDNID returns the ID_FQDN identity name (without a trailing dot).
func FQDNID(name string) Identity { return Identity{Type: wire.IDFQDN, Data: []byte(name)} }

// EmailID returns the ID_RFC822_ADDR identity addr.
func EmailID(addr string) Identity { return Identity{Type: wire.IDRFC822Addr, Data: []byte(addr)} }

// KeyID returns the ID_KEY_ID identity with opaque data b.
func KeyID(b []byte) Identity { return Identity{Type: wire.IDKeyID, Data: bytes.Clone(b)} }

// NullID returns ID_NULL (RFC 7619 §3).
func NullID() Identity { return Identity{Type: wire.IDNull} }

// IsZero reports whether id is the zero Identity.
func (id Identity) IsZero() bool { return id.Type == 0 && len(id.Data) == 0 }

// Equal reports whether id and o are the same identity.
func (id Identity) Equal(o Identity) bool { return id.Type == o.Type && bytes.Equal(id.Data, o.Data) }

// String returns e.g. "ID_FQDN:\"host.example\"".
func (id Identity) String() string {
	if id.IsZero() {
		return "ID_NULL:"
	}
	return (&wire.ID{IDType: id.Type, Data: id.Data}).String()
}

// payload returns the IDi (responder false) or IDr payload for id.
func (id Identity) payload(responder bool) *wire.ID {
	if id.IsZero() {
		return &wire.ID{Responder: responder, IDType: wire.IDNull}
	}
	return &wire.ID{Responder: responder, IDType: id.Type, Data: id.Data}
}

// restOfIDPayload is the ID payload body hashed into AUTH (RFC 7296 §2.15):
// the ID Type, three reserved octets and the identification data.
func restOfIDPayload(p *wire.ID) []byte {
	b := make([]byte, 0, 4+len(p.Data))
	b = append(b, byte(p.IDType), 0, 0, 0)
	return append(b, p.Data...)
}

// validateIdentity checks id for use as a local identity.
func validateIdentity(id Identity) error {
	switch id.Type {
	case 0, wire.IDNull, wire.IDFQDN, wire.IDRFC822Addr, wire.IDKeyID, wire.IDIPv4Addr, wire.IDIPv6Addr:
	default:
		return fmt.Errorf("%w: identity type %s", ErrConfig, id.Type)
	}
	return nil
}
