// Package demo is `make demo`: two hosts that were never configured for
// each other encrypt their traffic because each publishes its key in
// DNSSEC-signed reverse DNS. It runs in the vm-tier guest (this kernel may
// lack ESP), prints what a person wants to see, and leaves nothing behind:
// every namespace, process and file it makes belongs to the test.
package demo

import (
	"flag"
	"fmt"
	"net/netip"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/oe-agent/oe-agent/agent/api"
	"github.com/oe-agent/oe-agent/internal/oetest"
	"github.com/oe-agent/oe-agent/internal/testenv"
)

var run = flag.Bool("oe.demo", false, "run the demo (make demo); skipped otherwise")

func say(format string, args ...any) { fmt.Fprintf(os.Stdout, format+"\n", args...) }

func section(title string) {
	say("")
	say("== %s %s", title, strings.Repeat("=", max(0, 70-len(title))))
}

// TestVMDemo is the demo. Under `make test` it skips; `make demo` runs it.
func TestVMDemo(t *testing.T) {
	if !*run {
		t.Skip("the demo runs with `make demo`")
	}
	testenv.RequireVM(t)
	start := time.Now()
	section("1. A small internet in network namespaces")
	w := oetest.NewWorld(t, oetest.Options{})
	say("west  %-11s %s   publishes its Ed25519 key as IPSECKEY in 2.0.192.in-addr.arpa", oetest.WestAddr4, oetest.WestAddr6)
	say("east  %-11s %s   publishes its key too", oetest.EastAddr4, oetest.EastAddr6)
	say("dns   %-11s %s  NSD serving a tree signed just now (root -> in-addr.arpa -> 2.0.192.in-addr.arpa),", oetest.DNSAddr4, oetest.DNSAddr6)
	say("      unbound is the hosts' resolver; the test root key is the trust anchor")

	section("2. oe-agentd on west and east, never told about each other")
	west := w.StartAgent(t, w.West, oetest.AgentConfig{})
	east := w.StartAgent(t, w.East, oetest.AgentConfig{})
	say("policy on both: private-or-clear for 192.0.2.0/24 and 2001:db8::/64 (try OE, else clear); the DNS server in clear")
	for _, addr := range []netip.Addr{oetest.EastAddr4, oetest.DNSAddr4} {
		out, _, _ := west.Oectl("trace", addr.String())
		say("$ oectl trace %s   (on west)\n%s", addr, strings.TrimRight(out, "\n"))
	}

	section("3. west sends 100 UDP datagrams to east, one every 10 ms, from a cold start")
	cap := w.Net.StartCapture(t)
	marker := oetest.NewMarker()
	sink := w.East.ListenUDP(t, netip.AddrPortFrom(oetest.EastAddr4, 9000), marker)
	flow := w.West.SendUDP(t, oetest.WestAddr4, netip.AddrPortFrom(oetest.EastAddr4, 9000), marker,
		oetest.Burst{Count: 100, Interval: 10 * time.Millisecond})
	sink.WaitCount(100, 30*time.Second)
	rep := sink.Report(flow)
	say("%s", rep)
	say("the first datagram waited in the kernel while west found east's key and ran IKEv2; none was lost")
	west.WaitPeer(t, oetest.EastAddr4, 30*time.Second, api.StateUp)
	east.WaitPeer(t, oetest.WestAddr4, 30*time.Second, api.StateUp)
	cap.Stop()

	section("4. oectl status on west")
	out, _, _ := west.Oectl("status")
	say("%s", strings.TrimRight(out, "\n"))
	section("5. oectl status on east")
	out, _, _ = east.Oectl("status")
	say("%s", strings.TrimRight(out, "\n"))

	section("6. oectl lookup 192.0.2.2 on west: east's key and its DNSSEC chain")
	out, _, _ = west.Oectl("lookup", oetest.EastAddr4.String())
	say("%s", strings.TrimRight(out, "\n"))

	section("7. What crossed the wire between west and east")
	kinds := map[oetest.Kind]int{}
	clear := 0
	for _, p := range cap.All() {
		if p.Between(w.West, w.East) {
			kinds[p.Kind]++
			if p.Contains(marker) {
				clear++
			}
		}
	}
	var names []string
	for k := range kinds {
		names = append(names, string(k))
	}
	sort.Strings(names)
	for _, k := range names {
		say("  %-4s %4d packets", k, kinds[oetest.Kind(k)])
	}
	say("  packets carrying the datagrams' cleartext: %d", clear)
	if clear > 0 || kinds[oetest.KindESP] == 0 || rep.Delivered != rep.Sent {
		t.Fatalf("demo: expected encrypted traffic only and no loss (cleartext %d, esp %d, %s)", clear, kinds[oetest.KindESP], rep)
	}

	section("What you just saw")
	say("Two hosts that were never configured for each other encrypted their traffic with IPsec ESP,")
	say("because each published its public key (IPSECKEY, RFC 4025) in DNSSEC-signed reverse DNS.")
	say("oe-agentd trapped the first packet (XFRM ACQUIRE), validated the peer's key itself from the")
	say("trust anchor, negotiated IKEv2 and installed the SAs; the kernel held the first datagrams")
	say("meanwhile, so all %d arrived. Everything ran in namespaces that are now gone (%s).", rep.Sent, time.Since(start).Round(time.Second))
}
