package oetest

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"time"
)

// Ping sends one ICMP echo request from h to dst and waits up to timeout
// for the reply; it returns the round trip time.
func (h *Host) Ping(dst netip.Addr, timeout time.Duration) (time.Duration, error) {
	var rtt time.Duration
	err := h.NS.Do(func() error {
		network, laddr, reqType, repType := "ip4:icmp", "0.0.0.0", byte(8), byte(0)
		if dst.Is6() {
			network, laddr, reqType, repType = "ip6:ipv6-icmp", "::", 128, 129
		}
		c, err := net.ListenPacket(network, laddr)
		if err != nil {
			return err
		}
		defer c.Close()
		var idb [2]byte
		rand.Read(idb[:])
		id := binary.BigEndian.Uint16(idb[:])
		msg := make([]byte, 8+16)
		msg[0] = reqType
		binary.BigEndian.PutUint16(msg[4:], id)
		binary.BigEndian.PutUint16(msg[6:], 1)
		copy(msg[8:], "oetest-ping-data")
		if dst.Is4() {
			binary.BigEndian.PutUint16(msg[2:], inetChecksum(msg))
		} // ICMPv6: the kernel fills the checksum of raw sockets
		start := time.Now()
		if _, err := c.WriteTo(msg, &net.IPAddr{IP: dst.AsSlice()}); err != nil {
			return err
		}
		c.SetReadDeadline(start.Add(timeout))
		buf := make([]byte, 1500)
		for {
			n, from, err := c.ReadFrom(buf)
			if err != nil {
				return err
			}
			b := buf[:n]
			if dst.Is4() && n >= 20 && b[0]>>4 == 4 { // raw IPv4 sockets hand over the IP header
				b = b[int(b[0]&0x0f)*4:]
			}
			fa, _ := netip.AddrFromSlice(from.(*net.IPAddr).IP)
			if len(b) >= 8 && b[0] == repType && binary.BigEndian.Uint16(b[4:]) == id && fa.Unmap() == dst {
				rtt = time.Since(start)
				return nil
			}
		}
	})
	if err != nil {
		return 0, fmt.Errorf("oetest: ping %s from %s: %w", dst, h.Name, err)
	}
	return rtt, nil
}

// inetChecksum is the RFC 1071 Internet checksum.
func inetChecksum(b []byte) uint16 {
	var s uint32
	for i := 0; i+1 < len(b); i += 2 {
		s += uint32(b[i])<<8 | uint32(b[i+1])
	}
	if len(b)%2 == 1 {
		s += uint32(b[len(b)-1]) << 8
	}
	for s>>16 != 0 {
		s = s&0xffff + s>>16
	}
	return ^uint16(s)
}
