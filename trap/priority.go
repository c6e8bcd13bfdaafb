package trap

import (
	"fmt"
	"net/netip"

	"github.com/oe-agent/oe-agent/xfrm"
)

// Layer is where an entry of the desired set comes from. Layers are
// ordered by precedence: an entry of a lower layer beats every entry of a
// higher one wherever their selectors overlap, whatever the prefixes.
type Layer uint8

// Layers, highest precedence first.
const (
	// LayerExempt: the agent's own infrastructure traffic, which must never
	// be trapped: DNS to the configured resolvers, IPv6 neighbour discovery.
	LayerExempt Layer = iota
	// LayerConn: configured connections (the administrator's explicit
	// IPsec, passthrough and drop).
	LayerConn
	// LayerPeer: oe's per-peer entries (SA policies and shunts).
	LayerPeer
	// LayerGroup: the policy groups, and the implicit clear entries for
	// loopback, link-local, multicast and this host's own addresses.
	LayerGroup
)

func (l Layer) String() string {
	switch l {
	case LayerExempt:
		return "exempt"
	case LayerConn:
		return "conn"
	case LayerPeer:
		return "peer"
	case LayerGroup:
		return "group"
	}
	return fmt.Sprintf("layer-%d", uint8(l))
}

// Priorities. The kernel picks, among the policies whose selector matches
// a packet, the one with the lowest priority value. All of oe-agent's
// policies lie in xfrm.PriorityMin-xfrm.PriorityMax (0x0e000000-0x0effffff),
// above every priority libreswan and strongSwan compute, so that an
// administrator's own IPsec daemon wins where it overlaps.
//
// trap divides the band into one sub-band per layer, 0x100000 wide:
//
//	0x0e000000-0x0e0fffff  reserved
//	0x0e100000-0x0e1fffff  LayerExempt  (resolvers' DNS, IPv6 ND)
//	0x0e200000-0x0e2fffff  LayerConn    (configured conns)
//	0x0e300000-0x0e3fffff  LayerPeer    (oe's per-peer entries)
//	0x0e400000-0x0e4fffff  LayerGroup   (policy groups, implicit clear)
//	0x0e500000-0x0effffff  reserved
//
// Within a sub-band the more specific selector gets the lower value:
//
//	priority = LayerBase(layer) + MaxSpecificity - Specificity(sel)
//
// where Specificity orders first by the remote prefix length, then by the
// local prefix length, then by protocol and ports (see Specificity). So a
// clear /32 beats the private-or-clear /24 around it, a conn beats any
// group, and a per-peer /32 or /128 beats every group trap.
const (
	layerWidth     uint32 = 0x100000
	MaxSpecificity uint32 = (128*129+128)*5 + 4
)

// LayerBase returns the lowest priority of layer l's sub-band.
func LayerBase(l Layer) uint32 { return xfrm.PriorityMin + layerWidth*(uint32(l)+1) }

// LayerOf returns the layer whose sub-band holds prio, and false if prio
// is outside every sub-band (not a priority trap assigns).
func LayerOf(prio uint32) (Layer, bool) {
	for l := LayerExempt; l <= LayerGroup; l++ {
		if prio >= LayerBase(l) && prio <= LayerBase(l)+MaxSpecificity {
			return l, true
		}
	}
	return 0, false
}

// Specificity ranks a selector by how narrow it is, from 0 (everything)
// to MaxSpecificity (one protocol and both ports between two hosts):
//
//	(remoteBits*129 + localBits)*5 + ports
//
// ports is 0 for any protocol, 1 for a protocol, 2 for a protocol and the
// local port, 3 for a protocol and the remote port, 4 for a protocol and
// both ports. Two selectors of one specificity that overlap therefore have
// the same prefixes and protocol, and then ports, so they are the same
// selector: the kernel never has to choose between equal priorities. IPv4
// and IPv6 selectors never match the same packet, so their scales need not
// agree.
func Specificity(remote, local netip.Prefix, proto uint8, localPort, remotePort uint16) uint32 {
	ports := uint32(0)
	switch {
	case proto == 0:
	case localPort != 0 && remotePort != 0:
		ports = 4
	case remotePort != 0:
		ports = 3
	case localPort != 0:
		ports = 2
	default:
		ports = 1
	}
	return (uint32(remote.Bits())*129+uint32(local.Bits()))*5 + ports
}

// Priority is the priority of an entry of layer l with the given
// specificity.
func Priority(l Layer, specificity uint32) uint32 {
	if specificity > MaxSpecificity {
		specificity = MaxSpecificity
	}
	return LayerBase(l) + MaxSpecificity - specificity
}

// Reqids. Every template oe-agent installs carries a reqid in
// xfrm.ReqidMin-xfrm.ReqidMax. trap reserves the lowest 256 for the
// group traps, so that an ACQUIRE's template reqid names the group whose
// trap fired (GroupOfReqid); conns and oe's per-peer SAs take reqids from
// ReqidConnMin up.
const (
	ReqidConnMin uint32 = xfrm.ReqidMin + 0x100
)

// GroupReqid is the reqid of group g's trap template, or 0 for a group
// without one.
func GroupReqid(g Group) uint32 {
	if !g.Traps() {
		return 0
	}
	return xfrm.ReqidMin + uint32(g)
}

// GroupOfReqid returns the group whose trap carries reqid, for an ACQUIRE.
func GroupOfReqid(reqid uint32) (Group, bool) {
	for _, g := range Groups {
		if r := GroupReqid(g); r != 0 && r == reqid {
			return g, true
		}
	}
	return 0, false
}
