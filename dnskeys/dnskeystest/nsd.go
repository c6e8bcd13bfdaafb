package dnskeystest

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// Serve starts one NSD per zone, each on its own free port of 127.0.0.1,
// and records the addresses in tr.Servers. The servers stop when the test
// ends.
func (tr *Tree) Serve(t testing.TB) {
	t.Helper()
	for name, z := range tr.Zones {
		tr.Servers[name] = ServeZone(t, name, z.SignedFile)
	}
}

// ServeZone runs NSD on a free loopback port for one zone file and returns
// "127.0.0.1:port" once it answers.
func ServeZone(t testing.TB, zone, file string) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "nsd")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	port := freePort(t)
	conf := fmt.Sprintf(`server:
	ip-address: 127.0.0.1@%d
	port: %d
	username: ""
	chroot: ""
	zonesdir: "%s"
	database: ""
	zonelistfile: "%s/zone.list"
	xfrdfile: "%s/xfrd.state"
	xfrdir: "%s"
	pidfile: "%s/nsd.pid"
	logfile: "%s/nsd.log"
	server-count: 1
	tcp-count: 16
	verbosity: 1
	hide-version: yes
	refuse-any: yes
	reuseport: no
remote-control:
	control-enable: no
zone:
	name: "%s"
	zonefile: "%s"
`, port, port, dir, dir, dir, dir, dir, dir, zone, file)
	cfg := filepath.Join(dir, "nsd.conf")
	writeFile(t, cfg, conf)
	cmd := exec.Command("nsd", "-d", "-c", cfg)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatalf("dnskeystest: start nsd: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
	})
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	c := &dns.Client{Net: "udp", Timeout: 200 * time.Millisecond}
	deadline := time.Now().Add(10 * time.Second)
	for {
		m := new(dns.Msg)
		m.SetQuestion(zone, dns.TypeSOA)
		if r, _, err := c.Exchange(m, addr); err == nil && r.Rcode == dns.RcodeSuccess && len(r.Answer) > 0 {
			return addr
		}
		select {
		case err := <-exited:
			log, _ := os.ReadFile(filepath.Join(dir, "nsd.log"))
			t.Fatalf("dnskeystest: nsd for %s exited: %v\n%s\n%s", zone, err, out.String(), log)
		default:
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(dir, "nsd.log"))
			t.Fatalf("dnskeystest: nsd for %s did not answer on %s\n%s\n%s", zone, addr, out.String(), log)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// freePort finds a port free for both UDP and TCP on 127.0.0.1.
func freePort(t testing.TB) int {
	t.Helper()
	for i := 0; i < 50; i++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		u, err := net.ListenPacket("udp", fmt.Sprintf("127.0.0.1:%d", port))
		l.Close()
		if err != nil {
			continue
		}
		u.Close()
		return port
	}
	t.Fatal("dnskeystest: no free port")
	return 0
}
