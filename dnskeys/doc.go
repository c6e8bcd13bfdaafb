// Package dnskeys finds a peer's public key in DNS (IPSECKEY, RFC 4025, in the
// reverse zone of its address; legacy KEY) and proves it with DNSSEC,
// validated in-process from configured trust anchors (RFC 4033-4035).
//
// Validation is a pure function over fetched records, anchors and a time;
// fetching is a thin shell around it. Only a Secure result may be used for
// opportunistic encryption.
package dnskeys
