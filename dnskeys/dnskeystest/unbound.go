package dnskeystest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// ServeUnbound runs unbound as a recursive resolver on a free loopback port,
// reaching each zone of the map through a stub-zone (zone -> "ip:port"),
// with anchor as its trust anchor, and returns its address once it
// resolves probe (a name and type inside the tree). The RFC 6303 local
// zones of the documentation ranges are switched off so that they resolve.
// It stops when the test ends.
func ServeUnbound(t testing.TB, stubs map[string]string, anchor string, probe string, probeType uint16) string {
	t.Helper()
	if _, err := exec.LookPath("unbound"); err != nil {
		t.Fatalf("dnskeystest: unbound not found (apt-get install unbound): %v", err)
	}
	dir, err := os.MkdirTemp("", "unbound")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	port := freePort(t)
	var b strings.Builder
	fmt.Fprintf(&b, `server:
	interface: 127.0.0.1@%d
	port: %d
	username: ""
	chroot: ""
	directory: "%s"
	pidfile: "%s/unbound.pid"
	use-syslog: no
	logfile: "%s/unbound.log"
	verbosity: 1
	do-ip6: no
	do-not-query-localhost: no
	qname-minimisation: no
	num-threads: 1
	trust-anchor-file: "%s"
	module-config: "validator iterator"
	local-zone: "2.0.192.in-addr.arpa." nodefault
	local-zone: "100.51.198.in-addr.arpa." nodefault
	local-zone: "113.0.203.in-addr.arpa." nodefault
	local-zone: "8.b.d.0.1.0.0.2.ip6.arpa." nodefault
	local-zone: "test." nodefault
remote-control:
	control-enable: no
`, port, port, dir, dir, dir, anchor)
	zones := make([]string, 0, len(stubs))
	for z := range stubs {
		zones = append(zones, z)
	}
	sort.Strings(zones)
	for _, z := range zones {
		addr := strings.Replace(stubs[z], ":", "@", 1)
		fmt.Fprintf(&b, "stub-zone:\n\tname: \"%s\"\n\tstub-addr: %s\n", z, addr)
	}
	cfg := filepath.Join(dir, "unbound.conf")
	writeFile(t, cfg, b.String())
	if out, err := exec.Command("unbound-checkconf", cfg).CombinedOutput(); err != nil {
		t.Fatalf("dnskeystest: unbound-checkconf: %v\n%s", err, out)
	}
	cmd := exec.Command("unbound", "-d", "-c", cfg)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatalf("dnskeystest: start unbound: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
	})
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	c := &dns.Client{Net: "udp", Timeout: 500 * time.Millisecond}
	deadline := time.Now().Add(15 * time.Second)
	for {
		m := new(dns.Msg)
		m.SetQuestion(probe, probeType)
		m.SetEdns0(1232, true)
		if r, _, err := c.Exchange(m, addr); err == nil && r.Rcode == dns.RcodeSuccess {
			return addr
		}
		select {
		case err := <-exited:
			log, _ := os.ReadFile(filepath.Join(dir, "unbound.log"))
			t.Fatalf("dnskeystest: unbound exited: %v\n%s\n%s", err, out.String(), log)
		default:
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(dir, "unbound.log"))
			t.Fatalf("dnskeystest: unbound on %s did not resolve %s\n%s\n%s", addr, probe, out.String(), log)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
