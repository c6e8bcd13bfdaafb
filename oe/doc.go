// Package oe implements opportunistic encryption as in RFC 4322 and
// FreeS/WAN: the policy groups (clear, clear-or-private, private-or-clear,
// private, block) and the per-peer state machine driven by kernel ACQUIRE
// events and by IKE from unknown peers.
//
// It decides and sequences; it does not talk to the kernel or the network
// itself, but through small interfaces with fakes for its tests.
package oe
