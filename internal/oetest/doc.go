// Package oetest is the real-world rig for oe-agent's opportunistic
// encryption end-to-end tests (vm tier, and the netns tier for everything
// that needs no ESP) and for `make demo`. Everything in it is real: network
// namespaces on a bridge, NSD and unbound serving a DNSSEC tree signed at
// test time with BIND's tools, bin/oe-agentd and bin/oectl as built by
// `make build`, and a capture of what crosses the wire.
//
// A scenario reads like this:
//
//	func TestVMFirstPacket(t *testing.T) {
//		testenv.RequireVM(t)
//		w := oetest.NewWorld(t, oetest.Options{})
//		c := w.Net.StartCapture(t)
//		west := w.StartAgent(t, w.West, oetest.AgentConfig{})
//		w.StartAgent(t, w.East, oetest.AgentConfig{})
//		marker := oetest.NewMarker()
//		sink := w.East.ListenUDP(t, netip.AddrPortFrom(w.East.Addr4, 7000), marker)
//		flow := w.West.SendUDP(t, w.West.Addr4, sink.Addr, marker, oetest.Burst{Count: 100, Interval: 10 * time.Millisecond})
//		sink.WaitCount(100, 30*time.Second)
//		t.Log(sink.Report(flow)) // delivered, lost, first delivery
//		west.WaitPeer(t, w.East.Addr4, 30*time.Second, api.StateUp)
//		c.AssertNoCleartext(t, marker)
//		c.AssertOnly(t, w.West, w.East, oetest.OEKinds...)
//	}
//
// The pieces:
//
//   - Net, Host (topology.go): a "switch" namespace with a bridge, hosts
//     plugged into it with veth pairs, addresses in 192.0.2.0/24 and
//     2001:db8::/64 (nodad); Host.AddAddrs adds hundreds of addresses
//     cheaply; Host.Ping, Host.Query (DNS from the host's namespace),
//     SetSysctl/Sysctl (per namespace, through /proc/sys).
//   - World (world.go): west, east, nokey, bogus and dns (+ an optional
//     crowd of up to 240 peer addresses) with Ed25519 host keys, and a tree
//     ".", in-addr.arpa., 2.0.192.in-addr.arpa., ip6.arpa.,
//     8.b.d.0.1.0.0.2.ip6.arpa. in which west, east (and the crowd) publish
//     IPSECKEY records (RFC 4025, algorithm 4 = Ed25519, RFC 9373), nokey has
//     only a PTR (a Secure denial) and bogus's IPSECKEY signatures are
//     broken (Bogus). World.Anchor is the trust anchor file; World.Server
//     the DNS service: unbound on 192.0.2.53 and 2001:db8::53, port 53,
//     iterator only (the agents validate), forwarding to NSD on the dns
//     namespace's loopback. Keys and signed zones are shared by the worlds
//     of one test process that have the same Options (material.go).
//   - Agent (agent.go): World.StartAgent writes the configuration (oe=yes,
//     policy group files, by default private-or-clear for the test link and
//     the DNS host in clear; the world's resolvers and anchor; the host key;
//     a 0600 secrets file), sets net.core.xfrm_larval_drop=0 in the host's
//     namespace, starts bin/oe-agentd there and waits for its socket. Then
//     Status, Peer, WaitPeer, Lookup (`oectl lookup --json`), Oectl, Kill9,
//     Stop, Restart, Reconfigure (SIGHUP), Log; the log is shown when the
//     test fails.
//   - XFRM state (xfrm.go): Host.Policies, States, Traps, TrapFor, read
//     with `ip xfrm` independently of the agent's xfrm package; XfrmDump.
//   - Traffic (traffic.go): UDP bursts carrying a cleartext marker and a
//     sequence number (Host.SendUDP, Host.ListenUDP, UDPSink.Report: lost
//     sequence numbers, first delivered, time to first delivery,
//     reordering); TCP echo with connect time and retransmissions
//     (Host.ServeTCP, Host.TCPEcho).
//   - Capture (capture.go, packet.go): Net.StartCapture records every frame
//     entering the switch (AF_PACKET, pcap file kept when the test fails),
//     classifies it (ESP, IKE, DNS, ND, ...), and asserts
//     AssertNoCleartext(marker) and AssertOnly(a, b, kinds...).
//   - StaticESP (esp.go): a hand-keyed ESP SA pair with ip xfrm, as a
//     baseline (guest only).
//
// The vm tier runs the binaries built on the host: `make test-vm` must
// depend on `make build`; RequireBinaries fails with "run make build" if
// they are missing. Pcaps and logs of failed tests go to ArtifactDir: under
// the guest's share (kept with `vmrun test -keep`) or $OE_TEST_ARTIFACTS.
package oetest
