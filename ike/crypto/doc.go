// Package crypto holds the IKEv2 cryptographic transforms: PRFs and prf+,
// the SKEYSEED and SK_* derivation (RFC 7296 §2.14, §2.18), Child SA KEYMAT
// (§2.17), the Encrypted (SK) payload ciphers (RFC 5282, RFC 7634, RFC 7296
// §3.14 with RFC 4868 integrity), Diffie-Hellman groups (RFC 3526, RFC 5903,
// RFC 8031) and authentication (RFC 7296 §2.15, RFC 4754, RFC 7427, RFC
// 7619, RFC 8420), plus the public key formats met in DNS and
// configuration (RFC 3110, RFC 8005, libreswan's 0s form, PKIX).
//
// It does no I/O and keeps no global state. Transforms are named by their
// IANA numbers (plain integers), so that ike/wire and this package do not
// depend on each other. Randomness is always passed in as an io.Reader,
// except where the standard library ignores it (ECDH key generation and
// signing since Go 1.26).
//
// A typical IKE SA:
//
//	dh, _ := crypto.GenerateDH(crypto.GroupCurve25519, rand)  // our KE payload: dh.PublicValue()
//	gir, err := dh.SharedSecret(peerKE)                       // ErrInvalidKE: INVALID_SYNTAX
//	prf, _ := crypto.NewPRF(suite.PRF)
//	skeyseed, _ := crypto.SKEYSEED(prf, ni, nr, gir)
//	keys, _ := crypto.DeriveIKEKeys(suite, skeyseed, ni, nr, spiI, spiR)
//	out, in, _ := keys.Ciphers(initiator, crypto.Config{})   // SK payload protection
//	octets := crypto.SignedOctets(prf, keys.PI, ourInitMsg, nr, ourIDBody)
//	auth, _ := crypto.Sign(method, scheme, ourKey, octets, rand)
//	child, _ := crypto.DeriveChildKeys(prf, keys.D, espSuite, nil, ni, nr, crypto.Config{})
//
// Errors map onto IKEv2 Notify types: ErrUnsupportedGroup means
// INVALID_KE_PAYLOAD, ErrInvalidKE and ErrMalformed INVALID_SYNTAX,
// ErrAuthentication AUTHENTICATION_FAILED, other ErrUnsupported cases
// NO_PROPOSAL_CHOSEN (or AUTHENTICATION_FAILED during IKE_AUTH), and
// ErrAuthFailed from Cipher.Open means: drop the message silently.
//
// Secret values are held in [Key], which never prints its bytes; DHKey and
// the ciphers print only their names.
package crypto
