// Package dnskeys finds a peer's public key in DNS and proves it with
// DNSSEC, validated in-process from configured trust anchors (RFC 4033-4035).
//
// # Keys
//
// Keys are IPSECKEY records (RFC 4025) at the reverse name of the peer's
// address (ReverseName: in-addr.arpa, nibble ip6.arpa) or, for configured
// tunnels, at a name. Every gateway type (none, IPv4, IPv6, domain name)
// and the algorithms RSA (2, RFC 3110), ECDSA (3, RFC 8005: P-256, P-384)
// and EdDSA (4, RFC 9373: Ed25519) are decoded; DSA (1), Ed448 and unknown
// algorithms are recognised and refused with a reason. Legacy KEY records
// (RFC 2535, protocol 4 = IPsec, as FreeS/WAN published them, RFC 4322
// §5.1) are read too, but used only when the IPSECKEY question is answered
// Secure, so that breaking the IPSECKEY answer cannot downgrade a peer to
// its legacy key. Several records at one name are sorted by precedence
// (lower first, RFC 4025 §2.2), then EdDSA > ECDSA > RSA; KeyResult.Best is
// the first usable one and the others stay in KeyResult.Keys with the
// reason each was refused.
//
// # Security states
//
// Every Result carries a state (RFC 4035 §4.3), a reason a person can read
// naming the zone that decided it, and the zones walked from the trust
// anchor:
//
//   - Secure: signatures chain from an anchor to the answer; an
//     authenticated "no such record" (NSEC/NSEC3 NODATA or NXDOMAIN) is a
//     Secure result with Denial set, and carries no key.
//   - Insecure: a validated proof shows an unsigned delegation above the
//     name (NSEC/NSEC3 without DS, or an NSEC3 opt-out span), or the zone
//     uses only algorithms, digests or NSEC3 iteration counts we do not
//     accept (RFC 8624, RFC 9276).
//   - Bogus: something that must verify does not: a bad or expired
//     signature, stripped RRSIGs in a signed zone, a DS matching no DNSKEY,
//     a broken denial.
//   - Indeterminate: no anchor covers the name, or the records needed could
//     not be fetched (timeout, SERVFAIL, lookup deadline).
//
// Only keys from a Secure answer are usable for opportunistic encryption.
//
// # Design: pure validation, thin fetching
//
// Validation is the pure function Validate(evidence, anchors, now, options):
// it does no I/O, never trusts the AD bit, and decides from the records
// alone. Evidence is produced by Collect, which asks a Fetcher every
// question needed (the answer and each CNAME target; DNSKEY and DS at each
// zone cut; SOA and DS probes to locate unsigned delegations), steered by the
// signer names it sees but deciding nothing. Validate then walks the chain
// of trust from the closest anchor through DS and DNSKEY at each zone cut
// (RFC 4035 §5), checks each RRSIG's fields and validity window with a
// configurable clock skew (§5.3), validates DNSKEY algorithms 8, 10, 13, 14
// and 15 and DS digests 2 and 4, proves denials with NSEC (§5.4) and NSEC3
// (RFC 5155 §8, opt-out, RFC 9276 iteration limits), proves wildcard
// expansions, and validates each CNAME link. DNAME is not followed (such
// answers are Indeterminate).
//
// The Fetcher is the seam between the two. RecursiveFetcher asks the
// configured recursive resolvers (default /etc/resolv.conf) with RD, DO and
// CD set, so that the resolver passes on what it would call bogus and our
// own validator decides. StubFetcher asks authoritative servers directly
// from a forward map (zone -> servers, like unbound's stub-zone), sending DS
// questions to the parent side of a cut; it serves private setups and the
// tests, where there is no recursive resolver. Both use an Exchanger: UDP
// with EDNS0 (1232 octets) and the DO bit, TCP when the answer is
// truncated, a per-query timeout, and retries across servers.
//
// # Resolver
//
// Resolver puts the pieces together for the agent and oectl:
// LookupAddr(ctx, addr) and LookupName(ctx, name) return a KeyResult with
// the evidence (the IPSECKEY and KEY Results); Lookup(ctx, name, type) is
// the generic validated lookup. The context's deadline bounds the lookup
// (LookupTimeout when it has none); running out of time gives an
// Indeterminate result, not an error. Two caches, each bounded in entries
// and guarded by its own mutex, sit in the Resolver: fetched responses
// (TTL-bound, negative answers by min(SOA TTL, SOA MINIMUM) as RFC 2308 §5
// says, clamped to [MinTTL, MaxTTL]) and validated results (Bogus and
// Indeterminate kept for BogusTTL only, and the responses a Bogus result
// rested on are dropped so the next try fetches afresh). Concurrent
// identical lookups and fetches are collapsed into one. A third small cache
// keeps the KeyResult built from two cached answers.
//
// Package dnskeystest has a fake KeyFinder for higher layers, and helpers
// that sign a zone tree with BIND's tools and serve it with NSD on loopback.
package dnskeys
