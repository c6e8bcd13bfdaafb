// Package ike is oe-agent's IKEv2 engine (RFC 7296): a pure state machine per
// IKE SA that takes messages, timer events and the current time and returns
// messages to send and actions to take, plus a thin UDP driver.
//
// The wire codec is in ike/wire and the cryptography in ike/crypto. IKEv1 is
// out of scope (RFC 9395).
package ike
