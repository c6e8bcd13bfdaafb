// Package interop measures oe-agent's IKEv2 engine (package ike) against
// real IKEv2 implementations, strongSwan 5.9.8 and libreswan 4.10, in the
// vm test tier: a small test driver owns UDP sockets on ports 500 and 4500
// in a test network namespace (exempt from XFRM policies with
// xfrm.BypassSocket), runs an ike.Dispatcher and its SAs on one goroutine,
// and installs the negotiated Child SAs in the kernel through package xfrm,
// so that real ESP traffic (a TCP stream) flows between the namespaces.
//
// The package holds tests only:
//
//   - TestVMInterop (vm tier, make test-vm PKG=./ike/interop): twelve
//     cases, {strongSwan, libreswan} x {we initiate, we respond} x {PSK in
//     AES-GCM-16-256/Curve25519 and in AES-CBC-256/HMAC-SHA2-256/MODP-2048,
//     RSA signatures (RFC 7427) in the first suite}. Each establishes a
//     transport-mode Child SA, runs a TCP stream through it across a Child
//     SA rekey, an IKE SA rekey and a second Child SA rekey (keyed from the
//     new IKE SA), checks SPIs, algorithms and packet counters in both
//     kernels, and deletes from the IKE responder's side. strongSwan keeps
//     its MOBIKE default, so when it initiates it moves IKE to port 4500
//     after IKE_SA_INIT; libreswan, told to keep a connection it initiated
//     up, may negotiate again right after our delete, which is accepted.
//   - TestNetnsDriverAgainstItself (netns tier): the same scenario between
//     two drivers with in-memory kernels, since the host has no ESP.
//   - Unit tests of the Child SA to kernel mapping and of the captured
//     peer messages, which also seed ike/wire's FuzzDecodeMessage
//     (strongswan-5.9.8-* and libreswan-4.10-* in its testdata). To capture
//     again, run the test binary in the guest with OE_INTEROP_SEEDS set to
//     a directory; OE_INTEROP_PEERLOG=1 shows the peers' logs of passing
//     cases too.
//
// Across rekeys the TCP stream never breaks or resets, and our end never
// drops an outbound packet for want of an SA (the kernel sends on the
// newest SA of a reqid, and the new SA is installed before the old one is
// deleted); it may drop an inbound packet the peer sent on the old SA just
// before the Delete exchange ended (one XfrmInNoStates seen in twelve
// cases). The peers' namespaces do count a few XfrmAcquireError drops
// per run, strongSwan's more than libreswan's: their outbound policy finds
// no SA for a moment while they switch, which TCP retransmits over.
//
// The driver's mapping of an ike.ChildSA to xfrm SAs and policies
// duplicates, in a reduced form, the agent's kernelChildOf
// (agent/childsa.go), which is unexported; tests here may not import the
// agent for it.
package interop
