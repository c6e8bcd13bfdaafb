// Package ike is oe-agent's IKEv2 engine (RFC 7296): a pure state machine per
// IKE SA that takes messages, timer events and the current time and returns
// messages to send and actions to take, plus a thin UDP driver.
//
// The wire codec is in ike/wire and the cryptography in ike/crypto. IKEv1 is
// out of scope (RFC 9395). It does not program the kernel: Child SAs are
// described by ChildSA (IANA transform IDs, keys per direction, SPIs,
// selectors, mode) for the agent to map onto XFRM.
//
// # Pieces
//
//   - Config: local identity and authentication (PSK, RFC 7427 signatures
//     with RSA PKCS#1 v1.5 or PSS, ECDSA P-256/P-384 or Ed25519, legacy RSA
//     method 1, NULL of RFC 7619), peer policy (identity, PSK, raw public
//     key, accepted methods), proposals in IANA numbers, selectors, mode,
//     lifetimes, retransmission policy, liveness interval, Rand.
//   - SA: one IKE SA and its Child SAs. Handle(now, local, remote, datagram),
//     Tick(now) and the commands Initiate, CreateChild, RekeyChild,
//     RekeyIKE, DeleteChild, Delete and SupplyPeerKey return []Action;
//     Deadline says when to call Tick next. An SA is owned by one goroutine.
//   - Actions: Send, Established, InstallChild, DeleteChild, ChildFailed,
//     NeedPeerKey, IKERekeyed, RekeyDue, Closed.
//   - Dispatcher: the SPI table. Route maps a datagram to its SA, or answers
//     an IKE_SA_INIT statelessly (COOKIE under load, RFC 7296 §2.6;
//     INVALID_KE_PAYLOAD; NO_PROPOSAL_CHOSEN) and creates responder SAs only
//     for valid requests that passed the cookie check. Stats counts
//     half-open SAs, cookies and Diffie-Hellman computations.
//   - Driver: UDP sockets (IPv4, IPv6, ports 500 and 4500 with the non-ESP
//     marker), a per-socket IPsec bypass hook, one goroutine per SA.
//   - ike/iketest: a harness joining Dispatchers through an in-memory link
//     with a fake clock.
//
// # Protocol coverage
//
// IKE_SA_INIT with cookies and INVALID_KE_PAYLOAD retry, NAT detection
// (§2.23, reported in Established; behind a NAT IKE moves to port 4500,
// follows the peer's mapping, and Child SAs are marked for RFC 3948 UDP
// encapsulation), SIGNATURE_HASH_ALGORITHMS (RFC 7427 §4);
// IKE_AUTH with the first Child SA (ESP or AH, tunnel or transport mode,
// selectors narrowed per §2.9); CREATE_CHILD_SA for new Child SAs, Child SA
// rekeys with or without PFS, and IKE SA rekeys; INFORMATIONAL deletes,
// liveness checks and error notifications; retransmission with exponential
// back-off (§2.1); message ID windows of one with cached responses (§2.3);
// simultaneous Child SA and IKE SA rekeys resolved by the lowest nonce
// (§2.8.1, §2.8.2) and simultaneous deletes (§1.4.1).
//
// Not implemented: fragmentation (RFC 7383), certificates and CERTREQ,
// EAP, configuration payloads, MOBIKE, NAT keepalives, and the transport
// mode address fix-ups of RFC 7296 §2.23.1. ESP-in-UDP itself is the
// kernel's (the agent programs XFRM encapsulation from ChildSA.UDPEncap).
package ike
