package oetest

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/oe-agent/oe-agent/dnskeys/dnskeystest"
)

// The zones of the test tree: the test's own root (the trust anchor) and
// the reverse zones of the test link's prefixes.
const (
	ZoneRoot   = "."
	ZoneInArpa = "in-addr.arpa."
	ZoneRev4   = "2.0.192.in-addr.arpa."
	ZoneIP6    = "ip6.arpa."
	ZoneRev6   = "8.b.d.0.1.0.0.2.ip6.arpa."
)

// Fixed addresses of the standard world.
var (
	WestAddr4  = netip.MustParseAddr("192.0.2.1")
	WestAddr6  = netip.MustParseAddr("2001:db8::1")
	EastAddr4  = netip.MustParseAddr("192.0.2.2")
	EastAddr6  = netip.MustParseAddr("2001:db8::2")
	NoKeyAddr4 = netip.MustParseAddr("192.0.2.3")
	NoKeyAddr6 = netip.MustParseAddr("2001:db8::3")
	BogusAddr4 = netip.MustParseAddr("192.0.2.4")
	BogusAddr6 = netip.MustParseAddr("2001:db8::4")
	DNSAddr4   = netip.MustParseAddr("192.0.2.53")
	DNSAddr6   = netip.MustParseAddr("2001:db8::53")
)

// Options shape a World. The zero value is the standard five hosts.
type Options struct {
	// Crowd adds a host "crowd" with this many extra peer addresses
	// (192.0.2.10 upwards, skipping the fixed ones; at most 240), each with
	// its own IPSECKEY record, for many-peer tests.
	Crowd int
	// CrowdIPv6 gives each crowd peer an IPv6 address too (2001:db8::1:N).
	CrowdIPv6 bool
	// CrowdDistinctKeys gives each crowd address its own key pair (in
	// World.Keys). By default they all publish the crowd host's key, so
	// that one agent in the crowd namespace can answer for all of them.
	CrowdDistinctKeys bool
	// KeyTTL is the TTL of the IPSECKEY records (default 300 s).
	KeyTTL int
	// Records adds zone-file lines (fully qualified owners) to a zone of
	// the tree, keyed by zone name (ZoneRev4, ZoneRev6, ...).
	Records map[string][]string
	// Mutate, if set, may edit a zone's signed text before it is served
	// (after the rig made bogus's records Bogus).
	Mutate func(t testing.TB, zone, signed string) string
	// FreshKeys makes this world's own keys and tree instead of sharing
	// those of the process's other worlds with the same options (see
	// material.go); Records and Mutate imply it.
	FreshKeys bool
}

// World is the standard OE test network, every piece real:
//
//	west  192.0.2.1  2001:db8::1   IPSECKEY published (Secure)
//	east  192.0.2.2  2001:db8::2   IPSECKEY published (Secure)
//	nokey 192.0.2.3  2001:db8::3   PTR only: a Secure denial of IPSECKEY
//	bogus 192.0.2.4  2001:db8::4   IPSECKEY with a broken RRSIG: Bogus
//	dns   192.0.2.53 2001:db8::53  unbound (recursive) on :53, NSD behind it
//	crowd 192.0.2.10... (Options.Crowd)
//
// all on one switched link (Net), with a DNSSEC tree signed at test time
// whose root key is the trust anchor (Anchor). No agent runs until the
// test starts one (StartAgent).
type World struct {
	Net                           *Net
	West, East, NoKey, Bogus, DNS *Host
	Crowd                         *Host // nil unless Options.Crowd > 0
	// Keys maps every published address to the key its IPSECKEY holds.
	Keys   map[netip.Addr]*HostKey
	Tree   *dnskeystest.Tree
	Server *DNSServer
	// Anchor is the trust anchor file (the root's KSK as a DNSKEY line),
	// for dnssec-anchors=.
	Anchor string
	Bin    Binaries
	Opts   Options
}

// NewWorld builds the standard world for one test. It needs root and the
// tools of internal/testenv/apt-packages.txt; it works on the host kernel
// (netns tier) and in the guest (vm tier).
func NewWorld(t testing.TB, opts Options) *World {
	t.Helper()
	RequireTools(t, "nsd", "unbound", "dnssec-keygen", "dnssec-signzone")
	if opts.KeyTTL == 0 {
		opts.KeyTTL = 300
	}
	if opts.Crowd > 240 {
		t.Fatalf("oetest: Crowd %d: at most 240 peers fit in 192.0.2.0/24 with the fixed hosts", opts.Crowd)
	}
	t0 := time.Now()
	w := &World{Net: NewNet(t), Bin: RequireBinaries(t), Opts: opts}
	w.West = w.Net.AddHost(t, "west", WestAddr4, WestAddr6)
	w.East = w.Net.AddHost(t, "east", EastAddr4, EastAddr6)
	w.NoKey = w.Net.AddHost(t, "nokey", NoKeyAddr4, NoKeyAddr6)
	w.Bogus = w.Net.AddHost(t, "bogus", BogusAddr4, BogusAddr6)
	w.DNS = w.Net.AddHost(t, "dns", DNSAddr4, DNSAddr6)
	if opts.Crowd > 0 {
		w.Crowd = w.Net.AddHost(t, "crowd")
		w.Crowd.AddAddrs(t, CrowdAddrs(opts.Crowd, opts.CrowdIPv6)...)
	}
	t1 := time.Now()
	m := w.material(t)
	for _, h := range w.Hosts() {
		h.Key, h.KeyFile = m.hostKeys[h.Name], m.keyFiles[h.Name]
	}
	w.Keys = map[netip.Addr]*HostKey{}
	for a, k := range m.addrKeys {
		w.Keys[a] = k
	}
	w.Tree = m.tree
	w.Anchor = w.Tree.Anchor
	t2 := time.Now()
	w.Server = ServeDNS(t, w.DNS, w.Tree)
	t.Logf("oetest: world up in %s (network %s, signed tree %s, nsd+unbound %s)",
		time.Since(t0).Round(time.Millisecond), t1.Sub(t0).Round(time.Millisecond), t2.Sub(t1).Round(time.Millisecond), time.Since(t2).Round(time.Millisecond))
	return w
}

// Hosts are the world's hosts (crowd last, if any).
func (w *World) Hosts() []*Host { return w.Net.Hosts() }

// Resolver4 is the resolver's IPv4 address and port, as dns-resolvers=
// takes it.
func (w *World) Resolver4() netip.AddrPort { return netip.AddrPortFrom(w.DNS.Addr4, 53) }

// CrowdAddrs are the addresses of n crowd peers: 192.0.2.10 upwards
// (skipping the DNS host's), and with ipv6 also 2001:db8::1:1 upwards.
func CrowdAddrs(n int, ipv6 bool) []netip.Addr {
	var addrs []netip.Addr
	for i, k := 10, 0; k < n; i++ {
		a := netip.AddrFrom4([4]byte{192, 0, 2, byte(i)})
		if a == DNSAddr4 {
			continue
		}
		addrs = append(addrs, a)
		if ipv6 {
			addrs = append(addrs, netip.MustParseAddr(fmt.Sprintf("2001:db8::1:%x", k+1)))
		}
		k++
	}
	return addrs
}

// buildTree signs the tree: the root delegates in-addr.arpa. and
// ip6.arpa., which delegate the test link's reverse zones. Every host has a
// PTR; published addresses an IPSECKEY; bogus's IPSECKEY RRSIGs are broken.
// The hosts' Key fields and w.Keys must be set.
func (w *World) buildTree(t testing.TB, dir string) *dnskeystest.Tree {
	t.Helper()
	recs := map[string][]string{}
	zoneOf := func(a netip.Addr) string {
		if a.Is4() {
			return ZoneRev4
		}
		return ZoneRev6
	}
	for _, h := range w.Hosts() {
		for _, a := range h.Addrs() {
			recs[zoneOf(a)] = append(recs[zoneOf(a)], fmt.Sprintf("%s 300 IN PTR %s.oe.test.", ReverseName(t, a), h.Name))
		}
	}
	for a, k := range w.Keys {
		recs[zoneOf(a)] = append(recs[zoneOf(a)], k.IPSECKEY(t, a, w.Opts.KeyTTL))
	}
	for z, lines := range w.Opts.Records {
		z = strings.ToLower(dns.Fqdn(z))
		recs[z] = append(recs[z], lines...)
	}
	bogusNames := map[string]bool{}
	for _, a := range w.Bogus.Addrs() {
		bogusNames[ReverseName(t, a)] = true
	}
	mutate := func(t testing.TB, z *dnskeystest.Zone, signed string) string {
		if z.Spec.Name == ZoneRev4 || z.Spec.Name == ZoneRev6 {
			signed = CorruptRRSIGs(t, signed, bogusNames, dns.TypeIPSECKEY)
		}
		if w.Opts.Mutate != nil {
			signed = w.Opts.Mutate(t, z.Spec.Name, signed)
		}
		return signed
	}
	var specs []dnskeystest.ZoneSpec
	for _, z := range []string{ZoneRoot, ZoneInArpa, ZoneRev4, ZoneIP6, ZoneRev6} {
		specs = append(specs, dnskeystest.ZoneSpec{Name: z, Records: recs[z]})
	}
	return signTree(t, dir, specs, mutate)
}

// CorruptRRSIGs flips a bit in the signature of every RRSIG that covers
// rrtype at one of owners (lower-case, fully qualified) in a signed zone's
// text, so that validators find those RRsets Bogus (RFC 4035 §5.3.3). It
// fails the test if there was none to corrupt.
func CorruptRRSIGs(t testing.TB, signed string, owners map[string]bool, rrtype uint16) string {
	t.Helper()
	lines := strings.Split(signed, "\n")
	n := 0
	for i, line := range lines {
		if !strings.Contains(line, "RRSIG") {
			continue
		}
		rr, err := dns.NewRR(line)
		if err != nil || rr == nil {
			continue
		}
		sig, ok := rr.(*dns.RRSIG)
		if !ok || sig.TypeCovered != rrtype || !owners[strings.ToLower(sig.Hdr.Name)] {
			continue
		}
		b := []byte(sig.Signature)
		// Change one base64 digit in the middle: still valid base64,
		// another signature.
		mid := len(b) / 2
		if b[mid] == 'A' {
			b[mid] = 'B'
		} else {
			b[mid] = 'A'
		}
		sig.Signature = string(b)
		lines[i] = sig.String()
		n++
	}
	if n == 0 {
		t.Fatalf("oetest: no RRSIG %s to corrupt for %v", dns.TypeToString[rrtype], owners)
	}
	return strings.Join(lines, "\n")
}
