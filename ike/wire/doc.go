// Package wire encodes and decodes IKEv2 messages and payloads (RFC 7296 §3,
// RFC 7383 fragmentation). It is strict: lengths are checked before use,
// trailing bytes are rejected, and opaque fields stay []byte. It does no
// cryptography and no I/O.
package wire
