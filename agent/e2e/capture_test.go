package e2e

import (
	"bytes"
	"encoding/binary"
	"net"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/oe-agent/oe-agent/internal/testenv"
)

// capture records the IP packets a namespace sends on one interface, with
// an AF_PACKET socket (what tcpdump uses), to prove what crossed the wire.
// Only outgoing frames count: the kernel re-injects decrypted tunnel-mode
// packets on the receiving interface, where a capture would see cleartext
// that never crossed the wire. Capture both ends to see both directions.
type capture struct {
	fd   int
	mu   sync.Mutex
	pkts []packet
	done chan struct{}
}

// packet is one captured IP packet.
type packet struct {
	proto uint8 // IPv4 protocol or IPv6 next header
	frag  bool  // a non-first IPv4 fragment: no transport header
	src   net.IP
	dst   net.IP
	dport uint16 // UDP/TCP destination port, or 0
	data  []byte // the whole IP packet
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// packetOutgoing is PACKET_OUTGOING from linux/if_packet.h.
const packetOutgoing = 4

func startCapture(t testing.TB, ns *testenv.Netns, ifname string) *capture {
	t.Helper()
	c := &capture{done: make(chan struct{})}
	err := ns.Do(func() error {
		ifc, err := net.InterfaceByName(ifname)
		if err != nil {
			return err
		}
		fd, err := syscall.Socket(syscall.AF_PACKET, syscall.SOCK_RAW, int(htons(syscall.ETH_P_ALL)))
		if err != nil {
			return err
		}
		if err := syscall.Bind(fd, &syscall.SockaddrLinklayer{Protocol: htons(syscall.ETH_P_ALL), Ifindex: ifc.Index}); err != nil {
			syscall.Close(fd)
			return err
		}
		tv := syscall.NsecToTimeval(int64(200 * time.Millisecond))
		syscall.SetsockoptTimeval(fd, syscall.SOL_SOCKET, syscall.SO_RCVTIMEO, &tv)
		c.fd = fd
		return nil
	})
	if err != nil {
		t.Fatalf("capture on %s/%s: %v", ns.Name, ifname, err)
	}
	go c.loop()
	t.Cleanup(func() { c.stop() })
	return c
}

func (c *capture) loop() {
	buf := make([]byte, 65536)
	for {
		select {
		case <-c.done:
			return
		default:
		}
		n, from, err := syscall.Recvfrom(c.fd, buf, 0)
		if err != nil || n < 14 {
			continue
		}
		if ll, ok := from.(*syscall.SockaddrLinklayer); !ok || ll.Pkttype != packetOutgoing {
			continue
		}
		if p, ok := parseFrame(buf[:n]); ok {
			c.mu.Lock()
			c.pkts = append(c.pkts, p)
			c.mu.Unlock()
		}
	}
}

func parseFrame(f []byte) (packet, bool) {
	etype := binary.BigEndian.Uint16(f[12:14])
	ipb := append([]byte(nil), f[14:]...)
	var p packet
	var l4 []byte
	switch etype {
	case 0x0800:
		if len(ipb) < 20 {
			return p, false
		}
		ihl := int(ipb[0]&0x0f) * 4
		p.proto, p.src, p.dst = ipb[9], net.IP(ipb[12:16]), net.IP(ipb[16:20])
		p.frag = binary.BigEndian.Uint16(ipb[6:8])&0x1fff != 0
		if len(ipb) >= ihl {
			l4 = ipb[ihl:]
		}
	case 0x86dd:
		if len(ipb) < 40 {
			return p, false
		}
		p.proto, p.src, p.dst = ipb[6], net.IP(ipb[8:24]), net.IP(ipb[24:40])
		l4 = ipb[40:]
	default:
		return p, false
	}
	if (p.proto == 6 || p.proto == 17) && len(l4) >= 4 && !p.frag {
		p.dport = binary.BigEndian.Uint16(l4[2:4])
	}
	p.data = ipb
	return p, true
}

func (c *capture) stop() {
	select {
	case <-c.done:
		return
	default:
	}
	close(c.done)
	time.Sleep(250 * time.Millisecond)
	syscall.Close(c.fd)
}

// packets returns what was captured so far.
func (c *capture) packets() []packet {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]packet(nil), c.pkts...)
}

// merge returns the packets of several captures.
func merge(cs ...*capture) *capture {
	out := &capture{done: make(chan struct{})}
	close(out.done)
	for _, c := range cs {
		out.pkts = append(out.pkts, c.packets()...)
	}
	return out
}

// assertOnlyESP fails if a packet other than ESP (50) or IKE (UDP 500/4500)
// crossed, or if any packet carries the cleartext marker; it returns the
// number of ESP packets.
func (c *capture) assertOnlyESP(t testing.TB, marker string) int {
	t.Helper()
	esp := 0
	for _, p := range c.packets() {
		if bytes.Contains(p.data, []byte(marker)) {
			t.Errorf("cleartext %q on the wire: proto %d %s -> %s", marker, p.proto, p.src, p.dst)
		}
		switch {
		case p.dst.IsMulticast():
			// Link housekeeping (IPv6 MLD reports, ND), never our traffic.
		case p.proto == 50:
			esp++
		case p.proto == 17 && (p.dport == 500 || p.dport == 4500):
		case p.proto == 58: // ICMPv6 neighbour discovery
		default:
			t.Errorf("unexpected packet on the wire: proto %d %s -> %s port %d, %d bytes, fragment %v: % x", p.proto, p.src, p.dst, p.dport, len(p.data), p.frag, p.data[:min(len(p.data), 48)])
		}
	}
	if esp == 0 {
		t.Errorf("no ESP packet captured")
	}
	return esp
}
