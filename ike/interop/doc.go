// Package interop measures oe-agent's IKEv2 engine (package ike) against
// real IKEv2 implementations, strongSwan and libreswan, in the vm test tier:
// a small test driver owns UDP sockets on ports 500 and 4500 in a test
// network namespace, runs an ike.Dispatcher and its SAs on one goroutine,
// and installs the negotiated Child SAs in the kernel through package xfrm,
// so that real ESP traffic (a TCP stream) flows between the namespaces.
//
// The package holds tests only (see interop_test.go and driver_test.go);
// run them with
//
//	make test-vm PKG=./ike/interop
//
// The driver's mapping of an ike.ChildSA to xfrm SAs and policies
// duplicates, in a reduced form, the agent's kernelChildOf (agent/childsa.go),
// which is unexported: the agent package may not be imported for it.
package interop
