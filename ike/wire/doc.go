// Package wire encodes and decodes IKEv2 messages and payloads (RFC 7296 §3,
// RFC 7383 fragmentation). It is strict: lengths are checked before use,
// trailing bytes are rejected, and opaque fields stay []byte. It does no
// cryptography and no I/O, and keeps no state: every function is safe for
// concurrent use, and a Message is owned by whoever holds it.
//
// # Entry points
//
// Whole messages:
//
//   - Decode(datagram) (*Message, error): strict decoding of one datagram.
//   - (*Message).Encode() ([]byte, error): computes Next Payload and all
//     length fields (which, unlike cryptobyte prefixes, include the headers).
//   - ParseHeader(b): the fixed 28-octet header alone, for routing by SPI.
//   - (*Message).String(), PayloadSummary(ps): log-safe summaries.
//
// Protected messages (the SK payload of RFC 7296 §3.14; SKF of RFC 7383):
//
//   - EncodePayloads(ps) (first, plaintext, err): the inner chain to pad
//     and encrypt.
//   - EncodeSK / EncodeSKF(h, ..., ivLen, ctLen, icvLen) (msg, SKLayout,
//     err): the outer message with final lengths and zeroed room for IV,
//     ciphertext and ICV; SKLayout says where they are, that msg[:IV] is the
//     AEAD associated data and msg[:ICV] what the integrity checksum covers.
//   - LocateSK(msg, ivLen, icvLen): the same layout for a received message;
//     (*Encrypted).Split cuts the decoded SK data the same way.
//   - DecodePayloads(first, plaintext): the inner chain after decryption
//     (padding removed).
//
// Payloads are the concrete types *SA (with Proposal, Transform, Attribute),
// *KE, *Nonce, *ID, *Auth, *Cert, *CertReq, *Notify, *Delete, *VendorID,
// *TrafficSelectors, *Config, *Encrypted, *EncryptedFragment and *Unknown,
// behind the closed interface Payload. Helpers: Find, FindNotify, CheckUnique
// (at most one SA, KE, Ni/Nr, IDi, IDr, AUTH, TSi, TSr, SK, SKF), NewNotify,
// NewInvalidKE, NewHashAlgorithms, NewUnsupportedCritical, the Notify
// accessors (Cookie, DHGroup, NATDetectionHash, HashAlgorithms), IDFromAddr,
// TSFromPrefix, and the transform constructors EncrAESGCM16.Transform(256),
// PRFHMACSHA2_256.Transform(), DHCurve25519.Transform(), ESNNo.Transform().
//
// Registry values (ExchangeType, PayloadType, ProtocolID, TransformType,
// EncrID, PRFID, IntegID, DHGroup, ESNID, IDType, AuthMethod, CertEncoding,
// NotifyType, HashAlgorithm, TSType, CFGType) print their IANA names.
//
// # Errors
//
// Every error is an *Error naming the payload, the offset, the field and the
// reason ("ike/wire: Nonce payload at offset 32: nonce length 8 outside
// 16..256"), wrapping one of ErrTruncated, ErrTrailingData, ErrInvalid,
// ErrUnsupportedCritical (Payload holds the unknown critical type to return
// in UNSUPPORTED_CRITICAL_PAYLOAD), ErrMajorVersion or ErrDuplicate.
// (*Error).NotifyType gives the matching error notification.
//
// # Memory
//
// Decode and DecodePayloads copy their input once; the []byte fields of the
// result alias that private copy (with capacities capped so appends cannot
// overwrite neighbours) and never the caller's buffer. Encoders copy from the
// payloads and never retain them.
//
// # What is left to callers
//
// Which payloads an exchange requires, payload counts (CheckUnique),
// proposal numbering (RFC 7296 §3.3.1: 1, 2, ... in a request; the chosen
// number in a response) and selection, the KE data length of each group (ike/crypto), and
// reassembly of SKF fragments (each fragment is decrypted on its own, RFC
// 7383 §2.6) belong to the state machine in package ike.
package wire
