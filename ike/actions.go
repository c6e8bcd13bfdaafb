package ike

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/oe-agent/oe-agent/ike/crypto"
	"github.com/oe-agent/oe-agent/ike/wire"
)

// An Action is something the SA asks its driver to do: send a datagram,
// program the kernel, or learn about a state change. Actions are returned in
// the order they must be carried out. The concrete types are Send,
// NATKeepalive, Established, InstallChild, DeleteChild, ChildFailed,
// NeedPeerKey, IKERekeyed, RekeyDue and Closed.
type Action interface{ action() }

// Send asks the driver to send Data from Local to Remote over UDP.
type Send struct {
	Local, Remote netip.AddrPort
	Data          []byte
}

// NATKeepalive asks the driver to send a NAT keepalive from Local to
// Remote: a UDP datagram holding the single octet 0xFF, without the
// non-ESP marker (RFC 3948 §2.3, §4).
type NATKeepalive struct {
	Local, Remote netip.AddrPort
}

// Established reports that IKE_AUTH completed: the peer is authenticated.
type Established struct {
	SPIi, SPIr uint64
	Initiator  bool // this end initiated the IKE SA
	PeerID     Identity
	PeerAuth   AuthMethod
	// NATLocal and NATRemote report NAT detection (RFC 7296 §2.23): a NAT
	// in front of this end or of the peer. UDP encapsulation is the
	// driver's business.
	NATLocal, NATRemote bool
	// InitialContact is set when the peer sent INITIAL_CONTACT (RFC 7296
	// §2.4): the driver should delete other IKE SAs with this peer.
	InitialContact bool
}

// IKERekeyed reports that the IKE SA was replaced by a new one with the
// given SPIs (RFC 7296 §2.18); Child SAs carry over unchanged.
type IKERekeyed struct {
	OldSPIi, OldSPIr uint64
	SPIi, SPIr       uint64
}

// InstallChild asks the driver to install both directions of a Child SA.
// When Replaces is non-zero the new SA rekeys the one with that inbound SPI;
// install before removing the old one (make before break).
type InstallChild struct {
	Child    ChildSA
	Replaces uint32
}

// DeleteChild asks the driver to remove a Child SA (both directions).
type DeleteChild struct {
	Child ChildSA
	// Err is nil for an orderly delete or rekey, the reason otherwise.
	Err error
}

// ChildFailed reports that a Child SA could not be created (the IKE SA
// survives): the peer refused the proposal or the traffic selectors.
type ChildFailed struct {
	Err error
}

// NeedPeerKey asks the driver for the key that verifies the peer's
// signature, for identity ID; answer with SA.SupplyPeerKey. The SA holds the
// message until then (raw public keys from DNS, RFC 7427 with no
// certificate).
type NeedPeerKey struct {
	ID Identity
}

// RekeyDue reports, with Config.ExternalRekey, that a Child SA (ChildSPI,
// its inbound SPI) or the IKE SA (IKE) reached its rekey time. Answer with
// SA.RekeyChild / SA.RekeyIKE, or let it expire or delete it.
type RekeyDue struct {
	ChildSPI uint32
	IKE      bool
}

// Closed reports that the IKE SA and all its Child SAs are gone (DeleteChild
// actions for each precede it). Err is nil after an orderly delete.
type Closed struct {
	Err error
}

func (Send) action()         {}
func (Established) action()  {}
func (IKERekeyed) action()   {}
func (InstallChild) action() {}
func (DeleteChild) action()  {}
func (ChildFailed) action()  {}
func (NeedPeerKey) action()  {}
func (Closed) action()       {}
func (RekeyDue) action()     {}
func (NATKeepalive) action() {}

// TrafficSelector is an IPv4 or IPv6 address range with an IP protocol and
// port range (RFC 7296 §3.13.1).
type TrafficSelector = wire.TrafficSelector

// ChildSA describes a negotiated Child SA in terms the kernel layer maps
// directly: IANA transform IDs, keys per direction, SPIs, selectors, mode.
type ChildSA struct {
	Protocol wire.ProtocolID // ProtocolESP or ProtocolAH
	Mode     Mode
	// InboundSPI is chosen by this end (the peer sends to it);
	// OutboundSPI by the peer.
	InboundSPI, OutboundSPI uint32
	// Local and Remote are the IKE endpoints, which are also the tunnel
	// endpoints (outer addresses).
	Local, Remote netip.Addr
	Encr          wire.EncrID // 0 for AH
	EncrKeyBits   uint16
	Integ         wire.IntegID // IntegNone with AEAD
	ESN           bool
	// Inbound and Outbound hold the keys in the kernel's layout (AEAD keys
	// include the 4-octet salt).
	Inbound, Outbound crypto.DirKeys
	// LocalTS and RemoteTS are the narrowed selectors from this end's
	// point of view.
	LocalTS, RemoteTS []TrafficSelector
	// SoftLifetime is when this end will rekey it and HardLifetime when
	// the kernel must drop it; zero means none.
	SoftLifetime, HardLifetime time.Duration
	// UDPEncap is set when a NAT was detected: ESP travels in UDP
	// (RFC 3948) from EncapLocalPort to EncapRemotePort.
	UDPEncap                        bool
	EncapLocalPort, EncapRemotePort uint16
	// PFS is the DH group used to create it in CREATE_CHILD_SA, or 0.
	PFS wire.DHGroup
}

// String describes the Child SA without keys.
func (c ChildSA) String() string {
	return fmt.Sprintf("%s %s in=%#08x out=%#08x %s %v<->%v", c.Protocol, c.Mode, c.InboundSPI, c.OutboundSPI, c.suiteString(), c.LocalTS, c.RemoteTS)
}

func (c ChildSA) suiteString() string {
	if c.Protocol == wire.ProtocolAH {
		return c.Integ.String()
	}
	s := c.Encr.Transform(c.EncrKeyBits).String()
	if c.Integ != wire.IntegNone {
		s += "/" + c.Integ.String()
	}
	return s
}
