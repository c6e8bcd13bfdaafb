package oetest

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/oe-agent/oe-agent/dnskeys/dnskeystest"
)

// AuthPort is where NSD serves the test tree inside the dns namespace, on
// its loopback: the authoritative servers never appear on the test link.
const AuthPort = 5300

// DNSServer is the test tree served in one namespace: NSD, authoritative
// for every zone of the tree, on that namespace's loopback, and unbound, a
// recursive resolver (iterator only: the agents validate DNSSEC
// themselves) that forwards everything to NSD and listens on the host's
// addresses, port 53. This is what a site resolver looks like to the agents.
//
// It duplicates part of dnskeystest.ServeZone on purpose: that one serves
// one zone per NSD on the host's 127.0.0.1, which a namespace cannot reach.
type DNSServer struct {
	Host *Host
	Tree *dnskeystest.Tree
	// Auth is NSD's address inside Host's namespace.
	Auth netip.AddrPort
	// Resolvers are unbound's addresses: Host.Addr4:53 and [Host.Addr6]:53.
	Resolvers []netip.AddrPort
	NSD       *Proc
	Unbound   *Proc

	dir string
}

// ServeDNS starts NSD and unbound for tree in h's namespace and waits until
// the resolver answers for the tree's top zone.
func ServeDNS(t testing.TB, h *Host, tree *dnskeystest.Tree) *DNSServer {
	t.Helper()
	RequireTools(t, "nsd", "unbound")
	d := &DNSServer{Host: h, Tree: tree, Auth: netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), AuthPort), dir: shortTempDir(t, "oedns")}
	for _, a := range []netip.Addr{h.Addr4, h.Addr6} {
		if a.IsValid() {
			d.Resolvers = append(d.Resolvers, netip.AddrPortFrom(a, 53))
		}
	}
	d.start(t)
	return d
}

func (d *DNSServer) zones() []string {
	var names []string
	for n := range d.Tree.Zones {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func (d *DNSServer) start(t testing.TB) {
	t.Helper()
	var zones strings.Builder
	for _, n := range d.zones() {
		fmt.Fprintf(&zones, "zone:\n\tname: %q\n\tzonefile: %q\n", n, d.Tree.Zones[n].SignedFile)
	}
	nsdConf := filepath.Join(d.dir, "nsd.conf")
	writeFile(t, nsdConf, fmt.Sprintf(`server:
	ip-address: %s@%d
	username: ""
	chroot: ""
	zonesdir: "%[3]s"
	database: ""
	zonelistfile: "%[3]s/zone.list"
	xfrdfile: "%[3]s/xfrd.state"
	xfrdir: "%[3]s"
	pidfile: "%[3]s/nsd.pid"
	logfile: "%[3]s/nsd.log"
	server-count: 1
	tcp-count: 64
	verbosity: 1
	hide-version: yes
	refuse-any: yes
	reuseport: no
remote-control:
	control-enable: no
%[4]s`, d.Auth.Addr(), d.Auth.Port(), d.dir, zones.String()))

	var ifaces, local strings.Builder
	for _, r := range d.Resolvers {
		fmt.Fprintf(&ifaces, "\tinterface: %s\n", r.Addr())
	}
	// unbound answers the documentation ranges' reverse zones itself
	// (RFC 6303 defaults) unless told not to (vm-rig.md).
	for _, z := range []string{"2.0.192.in-addr.arpa.", "100.51.198.in-addr.arpa.", "113.0.203.in-addr.arpa.", "8.b.d.0.1.0.0.2.ip6.arpa."} {
		fmt.Fprintf(&local, "\tlocal-zone: %q nodefault\n", z)
	}
	ubConf := filepath.Join(d.dir, "unbound.conf")
	writeFile(t, ubConf, fmt.Sprintf(`server:
%s	port: 53
	interface-automatic: no
	do-ip4: yes
	do-ip6: yes
	access-control: 0.0.0.0/0 allow
	access-control: ::/0 allow
	username: ""
	chroot: ""
	directory: "%[3]s"
	pidfile: "%[3]s/unbound.pid"
	use-syslog: no
	logfile: ""
	verbosity: 1
	num-threads: 1
	so-reuseport: no
	module-config: "iterator"
	do-not-query-localhost: no
	qname-minimisation: no
	minimal-responses: no
	cache-max-ttl: 300
	cache-max-negative-ttl: 60
%[2]s
forward-zone:
	name: "."
	forward-addr: %[4]s@%[5]d
remote-control:
	control-enable: no
`, ifaces.String(), local.String(), d.dir, d.Auth.Addr(), d.Auth.Port()))
	// Both start at once (each start is seconds in the TCG guest);
	// unbound only needs NSD when it answers.
	d.NSD = StartProc(t, d.Host.NS, "nsd", filepath.Join(d.dir, "nsd.out"), "nsd", "-d", "-c", nsdConf)
	d.Unbound = StartProc(t, d.Host.NS, "unbound", filepath.Join(d.dir, "unbound.out"), "unbound", "-d", "-c", ubConf)
	d.waitAnswer(t, d.NSD, d.Auth, d.zones()[0])
	for _, r := range d.Resolvers {
		d.waitAnswer(t, d.Unbound, r, d.zones()[0])
	}
}

// Restart stops and starts both servers (after a zone file changed):
// unbound's cache goes with it.
func (d *DNSServer) Restart(t testing.TB) {
	t.Helper()
	d.Unbound.Stop(5 * time.Second)
	d.NSD.Stop(5 * time.Second)
	d.start(t)
}

// waitAnswer waits until server (inside the namespace) answers the SOA of
// zone, or p exits.
func (d *DNSServer) waitAnswer(t testing.TB, p *Proc, server netip.AddrPort, zone string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	var lastErr error
	for {
		m, err := d.Host.Query(server, zone, dns.TypeSOA, false)
		if err == nil && m.Rcode == dns.RcodeSuccess && len(m.Answer) > 0 {
			return
		}
		if err == nil {
			err = fmt.Errorf("rcode %s, %d answers", dns.RcodeToString[m.Rcode], len(m.Answer))
		}
		lastErr = err
		if !p.Running() {
			t.Fatalf("oetest: %s exited (%v) before answering on %s:\n%s", p.Name, p.ExitErr(), server, tail(p.Log(), 40))
		}
		if time.Now().After(deadline) {
			t.Fatalf("oetest: %s does not answer %s SOA on %s: %v\n%s", p.Name, zone, server, lastErr, tail(p.Log(), 40))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Query asks server one question from inside h's namespace, over UDP
// (falling back to TCP on truncation), with the DO bit and, if cd, the CD
// bit set, as the agents ask.
func (h *Host) Query(server netip.AddrPort, name string, qtype uint16, cd bool) (*dns.Msg, error) {
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), qtype)
	m.CheckingDisabled = cd
	m.SetEdns0(4096, true)
	var r *dns.Msg
	err := h.NS.Do(func() error {
		c := &dns.Client{Net: "udp", Timeout: 2 * time.Second}
		var err error
		r, _, err = c.Exchange(m, server.String())
		if err == nil && r.Truncated {
			c.Net = "tcp"
			r, _, err = c.Exchange(m, server.String())
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("oetest: query %s %s at %s from %s: %w", name, dns.TypeToString[qtype], server, h.Name, err)
	}
	return r, nil
}

// RequireTools fails the test if a program is missing: `make test`
// installs them from internal/testenv/apt-packages.txt, so a missing one
// is a broken machine, not a reason to skip.
func RequireTools(t testing.TB, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := lookPath(tool); err != nil {
			t.Fatalf("oetest: %s not found (its Debian package is listed in internal/testenv/apt-packages.txt; run make deps): %v", tool, err)
		}
	}
}

// shortTempDir is a fresh directory with a short path (unix socket paths
// are limited to 107 bytes, and t.TempDir() contains the test's name),
// removed when the test ends.
func shortTempDir(t testing.TB, prefix string) string {
	t.Helper()
	dir, err := os.MkdirTemp("", prefix)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

func writeFile(t testing.TB, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}
