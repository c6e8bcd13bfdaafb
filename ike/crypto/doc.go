// Package crypto holds the IKEv2 cryptographic transforms: PRFs and prf+,
// the SKEYSEED and SK_* derivation (RFC 7296 §2.14), Child SA KEYMAT (§2.17),
// encryption and integrity transforms, Diffie-Hellman groups and
// authentication. It does no I/O.
package crypto
