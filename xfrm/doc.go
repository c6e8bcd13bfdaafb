// Package xfrm is oe-agent's boundary to the Linux kernel's IPsec tables
// (XFRM): SAs (the SAD, RFC 4301 §4.4.2), policies (the SPD, §4.4.1), SPI
// allocation, and the ACQUIRE and EXPIRE events the kernel sends.
//
// Higher layers (trap, oe, agent) use the small Kernel interface. *Netlink
// implements it on one network namespace over NETLINK_XFRM, built on
// github.com/vishvananda/netlink with a *netlink.Handle per namespace;
// xfrmtest.Kernel is an in-memory fake that renders its state as
// `ip xfrm state` / `ip xfrm policy` text for golden tests. BypassSocket
// exempts the IKE sockets from every policy.
//
// The package has its own types (SA, Policy, Template, Selector with
// net/netip addresses, Cipher and Integrity enums) and converts them to
// netlink's for writes. It decodes what it reads itself, with bounds-checked
// encoding/binary codecs of the linux/xfrm.h structs (wire.go, decode.go):
// netlink v1.3.1 does not decode ACQUIRE at all, drops an error in
// XfrmMonitor, offers ALLOCSPI only on its package-level handle, and
// misreads IPv6 addresses whose last 12 octets are zero as IPv4.
//
// It is not a general XFRM library: it installs ESP (AES-GCM,
// ChaCha20-Poly1305, AES-CBC with HMAC-SHA-2) and AH, transport and tunnel
// mode, and only objects that carry oe-agent's ownership tags.
//
// # Ownership
//
// Another IPsec daemon (libreswan, strongSwan, a hand-written `ip xfrm`
// setup) may share the namespace. Everything oe-agent installs is tagged,
// and listing, Update, Delete and Cleanup touch only tagged objects:
//
//   - SAs carry a reqid in ReqidMin-ReqidMax (0x0e000000-0x0effffff).
//   - Policies have a priority in PriorityMin-PriorityMax (the same
//     numbers), and every template of a policy carries a reqid in the reqid
//     range. A policy is oe-agent's when both hold.
//
// Why two tags: reqid is the natural owner tag for SAs and for policies with
// templates (traps and IPsec policies), since the kernel uses it only to
// pair templates with SAs, and ACQUIRE carries it back (strongSwan and
// libreswan look their connection up by it). But bypass and block policies
// have no template and so no reqid; the only free field they keep is the
// priority, so oe-agent's policies live in a priority band. The band is far
// above the priorities libreswan and strongSwan use (see PriorityMin), so
// another daemon's policy is not mistaken for ours, and where
// an administrator's static IPsec overlaps oe-agent's opportunistic
// policies, the administrator's wins, as libreswan also arranges for OE.
// Within the band oe-agent orders its own policies freely (a clear /32 at a
// lower value than a private /24 trap). Requiring the reqid on templated
// policies too means a foreign policy that happens to use a priority in the
// band is still not ours.
//
// Marks and interface ids were rejected as tags: they change what a policy
// or SA matches (a marked policy sees only packets carrying the mark), so a
// mark would require marking traffic with nftables first, and netlink v1.3.1
// turns a zero mask into 0xffffffff.
//
// Limits: larval states (SPI 0, created by ACQUIRE) cannot be deleted by id
// and expire on their own after net.core.xfrm_acq_expires seconds.
// Per-socket policies (BypassSocket) live with their socket.
//
// # Errors
//
// Every operation returns an *OpError naming the operation and the object
// ("xfrm: add state esp spi 0x00001234 192.0.2.1->192.0.2.2: ..."). It
// unwraps to the kernel's errno: errors.Is(err, os.ErrNotExist) holds for a
// missing SA or policy, os.ErrExist for a duplicate. A kernel without ESP
// or AH, or without a crypto algorithm, is reported in plain words. Dumps
// the kernel interrupts (NLM_F_DUMP_INTR) are retried a few times.
package xfrm
