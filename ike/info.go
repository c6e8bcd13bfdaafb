package ike

import (
	"net/netip"
	"strings"
	"time"
)

// Info is a snapshot of an IKE SA for status displays. Keys in Children
// print redacted.
type Info struct {
	SPIi, SPIr    uint64
	Initiator     bool // this end initiated the IKE SA
	State         string
	Local, Remote netip.AddrPort
	PeerID        Identity
	PeerAuth      AuthMethod
	// Proposal names the IKE SA transforms, e.g.
	// "ENCR_AES_GCM_16_256/PRF_HMAC_SHA2_256/CURVE25519".
	Proposal            string
	Established         time.Time
	NextRekey           time.Time // zero if not scheduled
	NATLocal, NATRemote bool
	Children            []ChildInfo
}

// ChildInfo is a Child SA in Info.
type ChildInfo struct {
	ChildSA
	// Proposal names the transforms, e.g. "ENCR_AES_GCM_16_256".
	Proposal    string
	Established time.Time
	NextRekey   time.Time // zero if not scheduled or handed to RekeyDue
}

// Info returns a snapshot of the SA. Like every SA method it must be
// called on the goroutine that owns the SA (Driver.Do).
func (s *SA) Info() Info {
	in := Info{Initiator: s.initiator, State: s.state.String(), Local: s.local, Remote: s.remote,
		PeerID: s.peerID, PeerAuth: s.peerMethod, Established: s.establishedAt, NextRekey: s.rekeyAt,
		NATLocal: s.natLocal, NATRemote: s.natRemote}
	in.SPIi, in.SPIr = s.SPIs()
	if g := s.cur; g != nil && g.keys != nil {
		parts := []string{g.suite.Encr.Transform(g.suite.KeyBits).String()}
		if g.suite.Integ != 0 {
			parts = append(parts, g.suite.Integ.String())
		}
		parts = append(parts, g.suite.PRF.String(), g.suite.DH.String())
		in.Proposal = strings.Join(parts, "/")
	}
	for _, c := range s.children {
		in.Children = append(in.Children, ChildInfo{ChildSA: c.sa, Proposal: c.sa.suiteString(), Established: c.created, NextRekey: c.rekeyAt})
	}
	return in
}
