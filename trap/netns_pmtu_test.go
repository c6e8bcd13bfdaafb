package trap

import (
	"encoding/binary"
	"net/netip"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/oe-agent/oe-agent/internal/testenv"
	"github.com/oe-agent/oe-agent/xfrm"
)

// icmpSocket opens a raw ICMP (or ICMPv6) socket in ns, bound to addr.
func icmpSocket(t *testing.T, ns *testenv.Netns, addr netip.Addr) int {
	t.Helper()
	var fd int
	err := ns.Do(func() error {
		var err error
		family, proto := unix.AF_INET, unix.IPPROTO_ICMP
		sa := sockaddr(addr)
		if addr.Is6() {
			family, proto = unix.AF_INET6, unix.IPPROTO_ICMPV6
		}
		fd, err = unix.Socket(family, unix.SOCK_RAW|unix.SOCK_CLOEXEC, proto)
		if err != nil {
			return err
		}
		tv := unix.NsecToTimeval((200 * time.Millisecond).Nanoseconds())
		if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
			return err
		}
		return unix.Bind(fd, sa)
	})
	if err != nil {
		t.Fatalf("raw ICMP socket in %s: %v", ns.Name, err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	return fd
}

func sockaddr(a netip.Addr) unix.Sockaddr {
	if a.Is4() {
		return &unix.SockaddrInet4{Addr: a.As4()}
	}
	return &unix.SockaddrInet6{Addr: a.As16()}
}

// icmpMessage builds an ICMP(v6) message of the given type and code whose
// body quotes a UDP packet from west to east, as a router would. The
// kernel fills in the ICMPv6 checksum; the ICMP one is computed here.
func icmpMessage(typ, code byte, src, dst netip.Addr) []byte {
	m := []byte{typ, code, 0, 0, 0, 0, 0x05, 0x00} // MTU 1280 in the last two octets
	if src.Is4() {
		ip := make([]byte, 28)
		ip[0], ip[8], ip[9] = 0x45, 64, 17
		binary.BigEndian.PutUint16(ip[2:], 1500)
		s, d := src.As4(), dst.As4()
		copy(ip[12:], s[:])
		copy(ip[16:], d[:])
		m = append(m, ip...)
		var sum uint32
		for i := 0; i < len(m); i += 2 {
			sum += uint32(m[i])<<8 | uint32(m[i+1])
		}
		for sum > 0xffff {
			sum = sum&0xffff + sum>>16
		}
		binary.BigEndian.PutUint16(m[2:], ^uint16(sum))
		return m
	}
	ip := make([]byte, 48)
	ip[0], ip[6], ip[7] = 0x60, 17, 64
	binary.BigEndian.PutUint16(ip[4:], 1452)
	s, d := src.As16(), dst.As16()
	copy(ip[8:], s[:])
	copy(ip[24:], d[:])
	return append(m, ip...)
}

// received reports whether fd receives an ICMP message of type typ within
// a second.
func received(fd int, typ byte, is4 bool) bool {
	deadline := time.Now().Add(time.Second)
	buf := make([]byte, 2048)
	for time.Now().Before(deadline) {
		n, _, err := unix.Recvfrom(fd, buf, 0)
		if err != nil {
			continue
		}
		b := buf[:n]
		if is4 { // IPv4 raw sockets deliver the IP header too
			if n < 20 || n < int(b[0]&0x0f)*4+1 {
				continue
			}
			b = b[int(b[0]&0x0f)*4:]
		}
		if len(b) > 0 && b[0] == typ {
			return true
		}
	}
	return false
}

// TestNetnsPathMTU: under a private group, which refuses inbound
// cleartext, a router's "fragmentation needed" (ICMP 3/4) or "packet too
// big" (ICMPv6 2) from inside the private prefix still reaches this host,
// while other cleartext ICMP (an echo request) does not.
func TestNetnsPathMTU(t *testing.T) {
	testenv.RequireNetns(t)
	west, east := testenv.NewNetns(t), testenv.NewNetns(t)
	testenv.Veth(t, west, "veth0", []string{"192.0.2.1/24", "2001:db8::1/64"},
		east, "veth0", []string{"192.0.2.2/24", "2001:db8::2/64"})
	in := Input{Groups: map[Group][]Dest{}}
	for _, f := range families {
		east.Run(t, "ip", "addr", "add", hostPrefix(f.trapped).String(), "dev", "lo")
		west.Run(t, "ip", "route", "add", f.prefix.String(), "via", f.next.String())
		in.Local = append(in.Local, f.src)
		in.Groups[GroupPrivate] = append(in.Groups[GroupPrivate], Dest{Prefix: f.prefix})
	}
	k, err := xfrm.OpenAt(west.Handle, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { k.Close() })
	if _, err := NewReconciler(k, nil).Apply(bg, mustCompute(t, in)); err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		t.Run(f.name, func(t *testing.T) {
			tooBig, echo := byte(3), byte(8)
			code := byte(4)
			if f.src.Is6() {
				tooBig, echo, code = 2, 128, 0
			}
			rx := icmpSocket(t, west, f.src)
			tx := icmpSocket(t, east, f.trapped)
			to := sockaddr(f.src)
			if err := unix.Sendto(tx, icmpMessage(echo, 0, f.src, f.trapped), 0, to); err != nil {
				t.Fatal(err)
			}
			if received(rx, echo, f.src.Is4()) {
				t.Errorf("cleartext echo request from the private prefix accepted")
			}
			if err := unix.Sendto(tx, icmpMessage(tooBig, code, f.src, f.trapped), 0, to); err != nil {
				t.Fatal(err)
			}
			if !received(rx, tooBig, f.src.Is4()) {
				t.Errorf("path MTU error (type %d code %d) from the private prefix refused", tooBig, code)
			}
		})
	}
}
