// Package crypto holds the IKEv2 cryptographic transforms: PRFs and prf+,
// the SKEYSEED and SK_* derivation (RFC 7296 §2.14, §2.18), Child SA KEYMAT
// (§2.17), the Encrypted (SK) payload ciphers (RFC 5282, RFC 7634, RFC 7296
// §3.14 with RFC 4868 integrity), Diffie-Hellman groups (RFC 3526, RFC 5903,
// RFC 8031) and authentication (RFC 7296 §2.15, RFC 7427, RFC 7619, RFC
// 8420), plus the public key formats met in DNS (RFC 3110, RFC 8005).
//
// It does no I/O and keeps no global state. Transforms are named by their
// IANA numbers (plain integers), so that ike/wire and this package do not
// depend on each other. Randomness is always passed in as an io.Reader,
// except where the standard library ignores it (ECDH key generation since
// Go 1.26).
//
// Secret values are held in [Key], which never prints its bytes.
package crypto
