// Package trap turns policy groups, configured connections and oe's
// per-peer entries into the desired set of kernel XFRM policies, and
// reconciles the kernel to it, adding before deleting. It sees the kernel
// only through the xfrm.Kernel interface, and takes plain values (Input),
// not the agent's configuration, so that it stays a leaf below the agent.
//
// Compute is pure: Input in, *Set out, or an *InputError listing every
// problem. Diff is pure too: the kernel's policies and a Set in, a Plan of
// ordered changes out. Reconciler.Apply is the thin shell that reads the
// kernel's oe-agent policies, diffs and writes the Plan. Set.Explain tells
// which entry covers an address, for `oectl trace`.
//
// # Policy groups
//
// The groups are those of FreeS/WAN and RFC 4322 §3.2, as libreswan names
// them: clear, clear-or-private, private-or-clear, private and block, one
// file each under /etc/oe-agent/policies (parsed by agent/config). The most
// specific prefix wins across groups; configured conns win over groups.
//
// # Layers and priorities
//
// Every entry belongs to a Layer, and layers are strictly ordered:
//
//  1. LayerExempt: DNS to the configured resolvers (UDP and TCP to the
//     resolver's port, both directions), IPv6 neighbour discovery (ICMPv6
//     133-137, both directions) and, inbound, the ICMP errors of path MTU
//     discovery. They beat everything, so that a key lookup never waits
//     behind the trap it is meant to resolve, a trap on ::/0 or a peer's
//     /128 never swallows the neighbour solicitation for the peer, and a
//     policy refusing a private destination's cleartext does not blackhole
//     its ESP-enlarged packets (RFC 4301 §6.1.1).
//  2. LayerConn: configured connections. An administrator's explicit conn
//     beats any group and any per-peer entry.
//  3. LayerPeer: oe's per-peer entries (an SA's policies, pass, drop and
//     hold shunts): they beat the group traps they refine.
//  4. LayerGroup: the groups, plus implicit clear entries for loopback,
//     link-local, multicast, broadcast and this host's own addresses
//     wherever a trap or block group covers them (an explicit group entry
//     for the same prefix overrides the implicit one).
//
// The kernel picks the matching policy with the lowest priority value. All
// priorities lie in xfrm's owned band (xfrm.PriorityMin-PriorityMax), so an
// administrator's libreswan or strongSwan policies, far below the band,
// still win over everything oe-agent installs where they overlap. Each
// layer has a sub-band of 0x100000 values (see LayerBase); within it the
// more specific selector gets the lower value (see Specificity and
// Priority): the remote prefix length counts first, then the local prefix
// length, then protocol and ports.
//
// The kernel keeps one policy per selector, direction and mark. Entries
// with the same key collapse to the one of highest precedence; the others
// are kept in Set.Shadowed, so Explain can say what was overridden.
//
// # Reqids
//
// Templates carry reqids from xfrm's owned range. The lowest 256 are the
// group traps' (GroupReqid): an ACQUIRE's template reqid tells oe at once
// which group trapped the packet (GroupOfReqid), with no search. Conns and
// per-peer SAs use reqids from ReqidConnMin up.
//
// # Directions
//
// Opportunistic encryption is host to host, ESP in transport mode. What is
// installed, and why:
//
//   - out: a trap (an allow policy with an ESP transport template and no SA
//     yet) for private-or-clear and private; the kernel sends an ACQUIRE on
//     the first packet. Bypass for clear and clear-or-private (which does
//     not initiate), block for block. A trap only makes sense outbound: the
//     kernel sends ACQUIREs only for outgoing packets.
//   - in: bypass for clear, clear-or-private and private-or-clear (cleartext
//     is accepted; an allow policy without templates also accepts what a
//     transport-mode SA decrypted, so a peer's OE is accepted too). For
//     private, the same ESP template as the trap, level required: the
//     kernel then accepts only what an SA with the group's reqid decrypted
//     (an SA with oe's own reqid needs its PeerIPsec entry), and drops
//     cleartext from a private destination (RFC 4301 §5.2). Block for block. oe's
//     per-peer IPsec entries require their own SA's reqid inbound, so once
//     an SA is up with a peer, its cleartext is refused (also under
//     private-or-clear).
//   - fwd: none for groups: OE protects this host's own traffic, and group
//     selectors name this host's addresses (Input.Local), so forwarded
//     traffic never matches them. Tunnel conns get a fwd policy (the
//     kernel checks decapsulated tunnel-mode packets it forwards against
//     it, and drops them without one), passthrough and drop conns one when
//     their local side is a subnet, so they override a tunnel's fwd.
//
// # The agent's own traffic
//
// IKE (UDP 500 and 4500) must never meet the policies it negotiates: the
// agent exempts its IKE sockets with xfrm.BypassSocket (a per-socket policy,
// in and out, which the kernel consults before the SPD), and should do the
// same for its DNS sockets. The resolver bypass policies make DNS safe even
// from sockets without it (a local stub resolver's upstream queries are not
// covered: list the upstream resolvers in dns-resolvers=).
//
// # Negotiation: hold, not block
//
// While IKE negotiates, the trap stays in place. With
// net.core.xfrm_larval_drop=0 (the agent sets it; the kernel default is 1)
// the kernel queues packets that hit a template policy (at most 100, retried
// from 0.1 s up to 60 s) and sends them once a lookup resolves: when the SA
// arrives, or when oe places a pass shunt above the trap, as the netns tests
// show. A block policy as negotiation shunt, as libreswan installs, would
// lose them. The vm tier (TestVMHeldUntilSA) shows the held first packet
// leaving ESP-protected once the SA is installed, whether oe gives the SA
// the group's reqid (no per-peer policy needed) or its own reqid plus a
// PeerIPsec entry. In the latter case the ACQUIRE's larval state (SPI 0,
// the group's reqid) lingers until net.core.xfrm_acq_expires, and the
// kernel sends no new ACQUIRE for that flow from the group trap meanwhile.
// oe may also place a PeerHold entry (a /32 template with its own reqid)
// to narrow the trap to a flow.
//
// # Reconcile
//
// Apply lists the kernel's oe-agent policies (xfrm retries interrupted
// dumps), then adds and updates, highest precedence first, then deletes,
// lowest precedence first, so no packet falls through to a wider policy
// during a reload. A policy whose action changes for the same selector (a
// trap becoming a block) is replaced atomically with UpdatePolicy. Errors
// are collected, not fatal. Another daemon's policies are invisible to it
// and never touched. Applying the same set twice reads the kernel once and
// writes nothing.
//
// Not handled: marks and interface ids (conns with mark= or an XFRM
// interface need them in the policy key), libreswan's CAT and
// address-pool OE, and forwarding OE on behalf of other hosts.
package trap
