package trap

import (
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/oe-agent/oe-agent/internal/testenv"
	"github.com/oe-agent/oe-agent/xfrm"
)

// echoServer answers every datagram on addr in ns with "re: " + payload.
func echoServer(t *testing.T, ns *testenv.Netns, addr netip.AddrPort) {
	t.Helper()
	var c *net.UDPConn
	if err := ns.Do(func() error {
		var err error
		c, err = net.ListenUDP("udp", net.UDPAddrFromAddrPort(addr))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 2048)
		for {
			n, from, err := c.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			c.WriteToUDPAddrPort(append([]byte("re: "), buf[:n]...), from)
		}
	}()
	t.Cleanup(func() { c.Close(); <-done })
}

// exchange sends payload from c to dst and waits up to d for the answer.
func exchange(t *testing.T, c *net.UDPConn, dst netip.AddrPort, payload string, d time.Duration) (string, error) {
	t.Helper()
	if _, err := c.WriteToUDPAddrPort([]byte(payload), dst); err != nil {
		return "", err
	}
	c.SetReadDeadline(time.Now().Add(d))
	buf := make([]byte, 2048)
	n, _, err := c.ReadFromUDPAddrPort(buf)
	if err != nil {
		return "", err
	}
	return string(buf[:n]), nil
}

func socketIn(t *testing.T, ns *testenv.Netns, addr netip.AddrPort) *net.UDPConn {
	t.Helper()
	var c *net.UDPConn
	if err := ns.Do(func() error {
		var err error
		c, err = net.ListenUDP("udp", net.UDPAddrFromAddrPort(addr))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// TestNetnsPrivateExemptions: under a private group (trap out, only
// ESP-protected traffic in), the agent's own traffic still flows both
// ways: DNS with the configured resolver through its bypass policies, and
// IKE from a socket with the per-socket bypass; other cleartext from the
// private prefix is refused inbound.
func TestNetnsPrivateExemptions(t *testing.T) {
	testenv.RequireNetns(t)
	west, east := testenv.NewNetns(t), testenv.NewNetns(t)
	testenv.Veth(t, west, "veth0", []string{"192.0.2.1/24", "2001:db8::1/64"},
		east, "veth0", []string{"192.0.2.2/24", "2001:db8::2/64"})
	in := Input{Groups: map[Group][]Dest{}}
	for _, f := range families {
		for _, a := range []netip.Addr{f.trapped, f.resv} {
			east.Run(t, "ip", "addr", "add", hostPrefix(a).String(), "dev", "lo")
		}
		west.Run(t, "ip", "route", "add", f.prefix.String(), "via", f.next.String())
		in.Local = append(in.Local, f.src)
		in.Groups[GroupPrivate] = append(in.Groups[GroupPrivate], Dest{Prefix: f.prefix})
		in.Resolvers = append(in.Resolvers, netip.AddrPortFrom(f.resv, 53))
	}
	k, err := xfrm.OpenAt(west.Handle, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { k.Close() })
	if _, err := NewReconciler(k, nil).Apply(bg, mustCompute(t, in)); err != nil {
		t.Fatal(err)
	}
	acq := collectAcquires(t, k)

	for _, f := range families {
		t.Run(f.name, func(t *testing.T) {
			dns := netip.AddrPortFrom(f.resv, 53)
			ike := netip.AddrPortFrom(f.trapped, 500)
			echoServer(t, east, dns)
			echoServer(t, east, ike)

			// DNS from an ordinary socket: out and back through the
			// resolver's bypass policies.
			c := socketIn(t, west, netip.AddrPortFrom(f.src, 0))
			if got, err := exchange(t, c, dns, "query", 2*time.Second); err != nil || got != "re: query" {
				t.Errorf("DNS with the resolver: %q, %v", got, err)
			}

			// IKE from a socket with the per-socket bypass.
			s := socketIn(t, west, netip.AddrPortFrom(f.src, 500))
			rc, err := s.SyscallConn()
			if err != nil {
				t.Fatal(err)
			}
			if err := xfrm.BypassSocket(rc); err != nil {
				t.Fatal(err)
			}
			if got, err := exchange(t, s, ike, "IKE_SA_INIT", 2*time.Second); err != nil || got != "re: IKE_SA_INIT" {
				t.Errorf("IKE through the private group: %q, %v", got, err)
			}
			if acq.any(f.trapped) {
				t.Errorf("ACQUIRE for the bypass socket's traffic")
			}

			// An ordinary socket to the same host is trapped.
			plain := socketIn(t, west, netip.AddrPortFrom(f.src, 0))
			plain.WriteToUDPAddrPort([]byte("data"), netip.AddrPortFrom(f.trapped, dataPort))
			checkAcquireGroup(t, acq, f.trapped, GroupPrivate)

			// Cleartext from the private prefix to an ordinary socket
			// is refused inbound.
			from := socketIn(t, east, netip.AddrPortFrom(f.trapped, 0))
			to := netip.AddrPortFrom(f.src, plain.LocalAddr().(*net.UDPAddr).AddrPort().Port())
			if _, err := from.WriteToUDPAddrPort([]byte("cleartext"), to); err != nil {
				t.Fatal(err)
			}
			plain.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
			if n, _, err := plain.ReadFromUDPAddrPort(make([]byte, 100)); err == nil {
				t.Errorf("west accepted %d octets of cleartext from the private prefix", n)
			}
		})
	}
}

// checkAcquireGroup waits for an ACQUIRE to dst from group g's trap.
func checkAcquireGroup(t *testing.T, acq *acquires, dst netip.Addr, g Group) {
	t.Helper()
	a := acq.wait(dst, 2*time.Second)
	if a == nil {
		t.Errorf("no ACQUIRE for %s", dst)
		return
	}
	if len(a.Templates) != 1 || a.Templates[0].Reqid != GroupReqid(g) {
		t.Errorf("ACQUIRE for %s with templates %v, want group %s's reqid 0x%08x", dst, a.Templates, g, GroupReqid(g))
	}
}
