package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/oe-agent/oe-agent/internal/peers"
	"github.com/oe-agent/oe-agent/internal/testenv"
)

// TestVMStaticInterop runs one static conn of oe-agentd against strongSwan
// and one against libreswan, each side configured from the same kind of
// ipsec.conf lines; TCP passes as ESP only and oectl down removes the SAs.
func TestVMStaticInterop(t *testing.T) {
	testenv.RequireVM(t)
	t.Parallel()
	const secret = "interop secret, long enough"
	conn := func(me, peer, auto string) string {
		return hostConf + `conn interop
	type=transport
	left=192.0.2.` + me + `
	right=192.0.2.` + peer + `
	authby=secret
	ike=aes_gcm256-sha2_256;dh31
	esp=aes_gcm256
	auto=` + auto + `
`
	}
	t.Run("libreswan", func(t *testing.T) {
		t.Parallel()
		west, east := testenv.NewNetns(t), testenv.NewNetns(t)
		testenv.Veth(t, west, "eth0", []string{"192.0.2.1/24"}, east, "eth0", []string{"192.0.2.2/24"})
		ls := peers.NewLibreswan(t, east)
		ls.Start(t, "config setup\n\tplutodebug=none\n"+strings.TrimPrefix(conn("2", "1", "add"), hostConf)+"\tikev2=yes\n",
			`192.0.2.2 192.0.2.1 : PSK "`+secret+`"`+"\n")
		w := newDaemon(t, west, conn("1", "2", "start"), `192.0.2.1 192.0.2.2 : PSK "`+secret+`"`+"\n")
		w.waitConn("interop", "up", 90*time.Second)
		checkESPRoundTrip(t, west, east, "192.0.2.2:7201", "MARKER-libreswan")
		if out := ls.Whack(t, "--trafficstatus"); !strings.Contains(out, "inBytes") {
			t.Errorf("pluto shows no traffic:\n%s", out)
		}
		w.oectl("down", "interop")
		w.waitConn("interop", "down", 30*time.Second)
		waitNoSA(t, east, 30*time.Second)
	})
	t.Run("strongswan", func(t *testing.T) {
		t.Parallel()
		west, east := testenv.NewNetns(t), testenv.NewNetns(t)
		testenv.Veth(t, west, "eth0", []string{"192.0.2.1/24"}, east, "eth0", []string{"192.0.2.2/24"})
		ss := peers.StartStrongSwan(t, east, `connections {
  interop {
    local_addrs = 192.0.2.2
    remote_addrs = 192.0.2.1
    proposals = aes256gcm16-prfsha256-x25519
    mobike = no
    local {
      auth = psk
      id = 192.0.2.2
    }
    remote {
      auth = psk
      id = 192.0.2.1
    }
    children {
      interop {
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
    secret = "`+secret+`"
  }
}
`)
		w := newDaemon(t, west, conn("1", "2", "add"), `192.0.2.1 192.0.2.2 : PSK "`+secret+`"`+"\n")
		// strongSwan initiates here: oe-agentd answers as responder.
		if out := ss.Swanctl(t, "--initiate", "--child", "interop", "--timeout", "60"); !strings.Contains(out, "initiate completed successfully") {
			t.Fatalf("swanctl initiate:\n%s", out)
		}
		w.waitConn("interop", "up", 30*time.Second)
		checkESPRoundTrip(t, west, east, "192.0.2.2:7202", "MARKER-strongswan")
		w.oectl("down", "interop")
		w.waitConn("interop", "down", 30*time.Second)
		waitNoSA(t, east, 30*time.Second)
	})
}

// checkESPRoundTrip makes a TCP round trip and checks both ends sent only
// ESP and IKE.
func checkESPRoundTrip(t *testing.T, client, server *testenv.Netns, addr, marker string) {
	t.Helper()
	capC, capS := startCapture(t, client, "eth0"), startCapture(t, server, "eth0")
	tcpEcho(t, client, server, addr, marker)
	time.Sleep(300 * time.Millisecond)
	capC.stop()
	capS.stop()
	merge(capC, capS).assertOnlyESP(t, marker)
}

// waitNoSA waits until ns has no ESP SA left.
func waitNoSA(t *testing.T, ns *testenv.Netns, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		st := ns.Run(t, "ip", "xfrm", "state")
		if !strings.Contains(st, "proto esp") {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s still has SAs:\n%s", ns.Name, st)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
