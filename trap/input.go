package trap

import (
	"fmt"
	"net/netip"
	"time"
)

// Group is an opportunistic encryption policy group (RFC 4322 §3.2, with
// the FreeS/WAN and libreswan names). The zero Group is invalid.
type Group uint8

// The five policy groups.
const (
	// GroupClear never encrypts: bypass out and in.
	GroupClear Group = iota + 1
	// GroupClearOrPrivate does not initiate OE but accepts it when a peer
	// initiates (RFC 4322 §3.2 "OE-permissive" as responder): bypass out
	// and in; oe adds per-peer IPsec policies when a peer's SA comes up.
	GroupClearOrPrivate
	// GroupPrivateOrClear tries OE and falls back to clear when the peer
	// has no key or negotiation fails: a trap out, bypass in.
	GroupPrivateOrClear
	// GroupPrivate is OE or nothing: a trap out, and in only what an SA
	// decrypted.
	GroupPrivate
	// GroupBlock never talks: block out and in.
	GroupBlock
)

// Groups lists the groups in a fixed order.
var Groups = []Group{GroupClear, GroupClearOrPrivate, GroupPrivateOrClear, GroupPrivate, GroupBlock}

func (g Group) String() string {
	switch g {
	case GroupClear:
		return "clear"
	case GroupClearOrPrivate:
		return "clear-or-private"
	case GroupPrivateOrClear:
		return "private-or-clear"
	case GroupPrivate:
		return "private"
	case GroupBlock:
		return "block"
	}
	return fmt.Sprintf("group-%d", uint8(g))
}

// Traps reports whether the group installs an outbound trap (the kernel
// sends an ACQUIRE on the first packet).
func (g Group) Traps() bool { return g == GroupPrivateOrClear || g == GroupPrivate }

// Dest is one line of a policy group file: a remote prefix and,
// optionally, libreswan's "CIDR proto sport dport" restriction. Ports are
// seen from this host: LocalPort is the source port of outgoing packets,
// RemotePort their destination port. For ICMP and ICMPv6 the kernel matches
// the type as the source port and the code as the destination port, so
// LocalPort is the type and RemotePort the code, in both directions.
type Dest struct {
	Prefix     netip.Prefix
	Proto      uint8 // 0: any protocol
	LocalPort  uint16
	RemotePort uint16
}

func (d Dest) String() string {
	if d.Proto == 0 {
		return d.Prefix.String()
	}
	return fmt.Sprintf("%s %s %d %d", d.Prefix, protoName(d.Proto), d.LocalPort, d.RemotePort)
}

// ConnType is what a configured connection does with its traffic.
type ConnType uint8

// Connection types (ipsec.conf type=).
const (
	ConnTunnel      ConnType = iota + 1 // ESP tunnel mode
	ConnTransport                       // ESP transport mode
	ConnPassthrough                     // no IPsec: bypass
	ConnDrop                            // no IPsec: block
)

func (t ConnType) String() string {
	switch t {
	case ConnTunnel:
		return "tunnel"
	case ConnTransport:
		return "transport"
	case ConnPassthrough:
		return "passthrough"
	case ConnDrop:
		return "drop"
	}
	return fmt.Sprintf("type-%d", uint8(t))
}

// Conn is a configured connection as trap needs it; the agent converts its
// configuration to this. Its traffic is Local x Remote (every pair of one
// address family), narrowed by Proto and ports.
type Conn struct {
	Name string
	Type ConnType
	// LocalAddr and RemoteAddr are the IKE/ESP endpoints. Tunnel mode
	// needs both (they are the template's outer addresses). RemoteAddr may
	// be unset for a responder-only conn (right=%any) that is not routed.
	LocalAddr, RemoteAddr netip.Addr
	// Local and Remote are the protected prefixes (leftsubnet=,
	// rightsubnet=); empty means the endpoint's own address (a host prefix).
	Local, Remote []netip.Prefix
	// Proto, LocalPort and RemotePort narrow the selectors
	// (leftprotoport=, rightprotoport=); zero means any.
	Proto                 uint8
	LocalPort, RemotePort uint16
	// Route is auto=route: the conn's policies are installed at once and
	// trap (ACQUIRE) until its SA is up. Passthrough and drop conns are
	// installed only with Route, as in libreswan.
	Route bool
	// Up says that the conn's Child SA is established. An IPsec conn that
	// is not routed (auto=add, auto=start) has policies only while Up.
	Up bool
	// Reqid ties the conn's templates to its SAs; it must be in
	// ReqidConnMin-ReqidMax and unique among conns. Passthrough and drop
	// conns take none.
	Reqid uint32
}

// IPsec reports whether the conn protects its traffic with ESP.
func (c Conn) IPsec() bool { return c.Type == ConnTunnel || c.Type == ConnTransport }

// installed reports whether the conn contributes policies now.
func (c Conn) installed() bool { return c.Route || (c.IPsec() && c.Up) }

// PeerAction is what a per-peer entry does with the peer's traffic.
type PeerAction uint8

// Per-peer actions, placed by oe above the group traps.
const (
	// PeerIPsec: an SA with the peer is up. Out and in policies with a
	// transport-mode ESP template carrying the SA's reqid, level required:
	// traffic to the peer is encrypted, and cleartext from it refused (RFC
	// 4301 §5.2: inbound traffic must match the SPD entry that protects it).
	PeerIPsec PeerAction = iota + 1
	// PeerHold is a negotiation shunt that keeps trapping: an out policy
	// with a template (Reqid). With net.core.xfrm_larval_drop=0 the kernel
	// queues packets on the template policy and sends them once the SA is
	// installed (the "hold" of RFC 4322 §3.1). A block policy would defeat the
	// queue. Leaving the group trap alone (no per-peer entry at all) has the
	// same effect; PeerHold lets oe choose the reqid and narrow the flow.
	PeerHold
	// PeerPass is a pass shunt (negotiation or failure): bypass out and in,
	// so the peer's cleartext is accepted even under a private group.
	PeerPass
	// PeerDrop is a drop shunt: block out. Inbound stays as the group says,
	// so the peer can still initiate OE to us (the IKE socket is exempt and
	// oe replaces the shunt when the SA comes up).
	PeerDrop
)

func (a PeerAction) String() string {
	switch a {
	case PeerIPsec:
		return "ipsec"
	case PeerHold:
		return "hold"
	case PeerPass:
		return "pass"
	case PeerDrop:
		return "drop"
	}
	return fmt.Sprintf("action-%d", uint8(a))
}

// Peer is a per-peer entry owned by oe: host to host, above the group
// traps. oe manages its lifetime (Expires is shown, not enforced here).
type Peer struct {
	// Local is this host's address; unset means any address of Remote's
	// family.
	Local  netip.Addr
	Remote netip.Addr
	// Proto and ports narrow the entry to one flow (e.g. the ACQUIRE's
	// selector); zero means all traffic between the hosts.
	Proto                 uint8
	LocalPort, RemotePort uint16
	Action                PeerAction
	// Reqid is the SA's (PeerIPsec) or the template's (PeerHold); it must
	// be in ReqidConnMin-ReqidMax. Pass and drop take none.
	Reqid uint32
	// Reason says why the entry exists ("negotiating", "no IPSECKEY
	// for 198.51.100.7", "SA up"); Expires when oe will remove it.
	Reason  string
	Expires time.Time
}

// Input is everything the desired policy set is computed from. The agent
// fills it from its configuration (groups, conns, resolvers, addresses)
// and from oe (peers).
type Input struct {
	// Local are this host's addresses that opportunistic encryption
	// applies to: group policies are installed for traffic from (out) and
	// to (in) each of them, so forwarded traffic is never trapped (OE is
	// host to host). Empty means any source address, which
	// also matches traffic this host forwards. A family without a local
	// address gets no group policies (the host cannot send such traffic
	// from a global address); recompute when addresses change. Include
	// every address the host may send from, IPv6 temporary (privacy)
	// addresses too: traffic from an address not listed meets no group
	// policy and leaves in clear.
	Local []netip.Addr
	// Groups maps each group to its destinations. A destination (prefix
	// with protocol and ports) may appear in one group only.
	Groups map[Group][]Dest
	// Conns are the configured connections.
	Conns []Conn
	// Peers are oe's per-peer entries.
	Peers []Peer
	// Resolvers are the DNS servers used for key lookups. Their DNS
	// traffic (UDP and TCP to the port) bypasses every other policy, so a
	// key lookup can never wait behind the trap it is meant to resolve.
	Resolvers []netip.AddrPort
}

func protoName(p uint8) string {
	switch p {
	case 1:
		return "icmp"
	case 6:
		return "tcp"
	case 17:
		return "udp"
	case 58:
		return "ipv6-icmp"
	case 132:
		return "sctp"
	}
	return fmt.Sprintf("%d", p)
}
