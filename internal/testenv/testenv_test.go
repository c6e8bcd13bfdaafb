package testenv

import (
	"net"
	"strings"
	"testing"
	"time"
)

// TestNetnsVethUDP proves the namespace helpers: two fresh namespaces joined
// by veth exchange a UDP datagram over IPv4 and IPv6, and a socket opened
// inside Do belongs to the namespace.
func TestNetnsVethUDP(t *testing.T) {
	RequireNetns(t)
	a, b := NewNetns(t), NewNetns(t)
	Veth(t, a, "eth0", []string{"192.0.2.1/24", "2001:db8::1/64"}, b, "eth0", []string{"192.0.2.2/24", "2001:db8::2/64"})
	for _, tc := range []struct{ name, listen, dst string }{
		{"ipv4", "192.0.2.2:7000", "192.0.2.2:7000"},
		{"ipv6", "[2001:db8::2]:7000", "[2001:db8::2]:7000"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var srv *net.UDPConn
			if err := b.Do(func() error {
				addr, err := net.ResolveUDPAddr("udp", tc.listen)
				if err != nil {
					return err
				}
				srv, err = net.ListenUDP("udp", addr)
				return err
			}); err != nil {
				t.Fatalf("listen in %s: %v", b.Name, err)
			}
			defer srv.Close()
			if err := a.Do(func() error {
				c, err := net.Dial("udp", tc.dst)
				if err != nil {
					return err
				}
				defer c.Close()
				_, err = c.Write([]byte("hello across veth"))
				return err
			}); err != nil {
				t.Fatalf("send from %s: %v", a.Name, err)
			}
			srv.SetReadDeadline(time.Now().Add(5 * time.Second))
			buf := make([]byte, 64)
			n, _, err := srv.ReadFromUDP(buf)
			if err != nil {
				t.Fatalf("receive: %v", err)
			}
			if got := string(buf[:n]); got != "hello across veth" {
				t.Fatalf("received %q", got)
			}
		})
	}
	// The host namespace must not see the test's addresses.
	if out := Run(t, "ip", "-br", "addr"); strings.Contains(out, "192.0.2.1") {
		t.Fatalf("test address leaked into the host namespace:\n%s", out)
	}
}

func TestRequireSkipsUnderUnitTier(t *testing.T) {
	t.Setenv(TierEnv, "unit")
	ran := false
	t.Run("inner", func(t *testing.T) {
		RequireNetns(t)
		ran = true
	})
	if ran {
		t.Fatal("RequireNetns did not skip under OE_TEST_TIER=unit")
	}
}
