package peers

import (
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/oe-agent/oe-agent/internal/testenv"
)

// TestVMStrongSwanMeetsLibreswan proves the harness before our own engine is
// measured against it: charon (west) and pluto (east) negotiate PSK
// transport mode with AES-GCM-256 and X25519, and TCP passes through the SAs.
func TestVMStrongSwanMeetsLibreswan(t *testing.T) {
	testenv.RequireVM(t)
	west, east := testenv.NewNetns(t), testenv.NewNetns(t)
	testenv.Veth(t, west, "eth0", []string{"192.0.2.1/24"}, east, "eth0", []string{"192.0.2.2/24"})

	ls := NewLibreswan(t, east)
	ls.Start(t, `config setup
	plutodebug=none
conn c
	left=192.0.2.2
	right=192.0.2.1
	leftid=192.0.2.2
	rightid=192.0.2.1
	authby=secret
	type=transport
	ikev2=yes
	ike=aes_gcm256-sha2_256;dh31
	esp=aes_gcm256
	auto=add
`, `192.0.2.2 192.0.2.1 : PSK "interop-test-secret"`+"\n")

	ss := StartStrongSwan(t, west, `connections {
  c {
    local_addrs = 192.0.2.1
    remote_addrs = 192.0.2.2
    proposals = aes256gcm16-prfsha256-x25519
    mobike = no
    local {
      auth = psk
      id = 192.0.2.1
    }
    remote {
      auth = psk
      id = 192.0.2.2
    }
    children {
      c {
        mode = transport
        esp_proposals = aes256gcm16
      }
    }
  }
}
secrets {
  ike-1 {
    id-1 = 192.0.2.1
    id-2 = 192.0.2.2
    secret = interop-test-secret
  }
}
`)
	out := ss.Swanctl(t, "--initiate", "--child", "c", "--timeout", "30")
	if !strings.Contains(out, "initiate completed successfully") {
		t.Fatalf("initiate:\n%s", out)
	}
	for _, ns := range []*testenv.Netns{west, east} {
		if st := ns.Run(t, "ip", "xfrm", "state"); strings.Count(st, "proto esp") != 2 || !strings.Contains(st, "rfc4106(gcm(aes))") {
			t.Fatalf("%s: want two AES-GCM ESP SAs, have:\n%s", ns.Name, st)
		}
	}
	tcpEcho(t, west, east, "192.0.2.2:5001")
	// Both SAs carried the round trip, so neither byte counter is zero.
	if st := west.Run(t, "ip", "-s", "xfrm", "state"); strings.Contains(st, " 0(bytes)") {
		t.Fatalf("no ESP packets counted on west:\n%s", st)
	}
	if sas := ls.Whack(t, "--trafficstatus"); !strings.Contains(sas, "inBytes") {
		t.Fatalf("pluto reports no traffic:\n%s", sas)
	}
}

// tcpEcho makes one TCP round trip from client to a listener in server.
func tcpEcho(t *testing.T, client, server *testenv.Netns, addr string) {
	t.Helper()
	var ln net.Listener
	if err := server.Do(func() (err error) { ln, err = net.Listen("tcp", addr); return err }); err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		io.Copy(c, c)
	}()
	var conn net.Conn
	if err := client.Do(func() (err error) { conn, err = net.DialTimeout("tcp", addr, 10*time.Second); return err }); err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	msg := "round trip through ESP"
	if _, err := io.WriteString(conn, msg); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, len(msg))
	if _, err := io.ReadFull(conn, buf); err != nil || string(buf) != msg {
		t.Fatalf("echo: %q, %v", buf, err)
	}
}
