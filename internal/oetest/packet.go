package oetest

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net/netip"
	"time"
)

// Kind classifies a packet seen on the test link for assertions such as
// "only ESP, IKE and DNS between west and east".
type Kind string

const (
	KindARP   Kind = "arp"
	KindND    Kind = "nd"  // ICMPv6 neighbour discovery (RS, RA, NS, NA, redirect)
	KindMLD   Kind = "mld" // ICMPv6 multicast listener reports
	KindESP   Kind = "esp" // IP protocol 50, or UDP 4500 with a non-zero SPI (RFC 3948)
	KindAH    Kind = "ah"
	KindIKE   Kind = "ike" // UDP 500, or UDP 4500 with the non-ESP marker
	KindDNS   Kind = "dns" // UDP or TCP port 53
	KindICMP  Kind = "icmp"
	KindUDP   Kind = "udp"
	KindTCP   Kind = "tcp"
	KindOther Kind = "other"
)

// OEKinds are what may pass between two OE hosts once the agents run:
// ESP, IKE, and the link's neighbour discovery.
var OEKinds = []Kind{KindESP, KindIKE, KindND}

// Packet is one frame seen on the switch, decoded down to the transport
// header.
type Packet struct {
	Time time.Time
	// From is the host whose switch port the frame came in on.
	From  *Host
	Frame []byte // the whole Ethernet frame

	EtherType uint16
	Src, Dst  netip.Addr // invalid for non-IP frames
	Proto     uint8      // IP protocol after IPv6 extension headers
	// SrcPort and DstPort are set for UDP and TCP; ICMPType for ICMP and
	// ICMPv6; SPI for ESP (also UDP-encapsulated).
	SrcPort, DstPort uint16
	ICMPType         uint8
	SPI              uint32
	// Payload is what follows the transport header (UDP, TCP) or the IP
	// header (other protocols).
	Payload []byte
	Kind    Kind
}

func (p *Packet) String() string {
	from := "?"
	if p.From != nil {
		from = p.From.Name
	}
	if !p.Src.IsValid() {
		return fmt.Sprintf("%s [%s] ethertype %#04x %d bytes", p.Time.Format("15:04:05.000000"), from, p.EtherType, len(p.Frame))
	}
	s := fmt.Sprintf("%s [%s] %s", p.Time.Format("15:04:05.000000"), from, p.Kind)
	switch {
	case p.Proto == 6 || p.Proto == 17:
		s += fmt.Sprintf(" %s -> %s", netip.AddrPortFrom(p.Src, p.SrcPort), netip.AddrPortFrom(p.Dst, p.DstPort))
	default:
		s += fmt.Sprintf(" %s -> %s proto %d", p.Src, p.Dst, p.Proto)
	}
	if p.Kind == KindESP {
		s += fmt.Sprintf(" spi %#08x", p.SPI)
	}
	return s + fmt.Sprintf(" len %d", len(p.Frame))
}

// Contains reports whether the frame carries b anywhere (a cleartext
// marker survives in no ESP packet).
func (p *Packet) Contains(b []byte) bool { return bytes.Contains(p.Frame, b) }

// Between reports whether the packet goes from one of a's addresses to
// one of b's, or back.
func (p *Packet) Between(a, b *Host) bool {
	return (owns(a, p.Src) && owns(b, p.Dst)) || (owns(b, p.Src) && owns(a, p.Dst))
}

func owns(h *Host, addr netip.Addr) bool {
	for _, a := range h.Addrs() {
		if a == addr {
			return true
		}
	}
	return false
}

// DecodeFrame decodes an Ethernet frame. It never fails: what it cannot
// read stays zero, and Kind is KindOther.
func DecodeFrame(frame []byte) *Packet {
	p := &Packet{Frame: frame, Kind: KindOther}
	if len(frame) < 14 {
		return p
	}
	p.EtherType = binary.BigEndian.Uint16(frame[12:])
	b := frame[14:]
	switch p.EtherType {
	case 0x0806:
		p.Kind = KindARP
		return p
	case 0x0800:
		if len(b) < 20 || b[0]>>4 != 4 {
			return p
		}
		ihl := int(b[0]&0x0f) * 4
		if ihl < 20 || len(b) < ihl {
			return p
		}
		p.Src = netip.AddrFrom4([4]byte(b[12:16]))
		p.Dst = netip.AddrFrom4([4]byte(b[16:20]))
		p.Proto = b[9]
		if tot := int(binary.BigEndian.Uint16(b[2:])); tot >= ihl && tot <= len(b) {
			b = b[:tot]
		}
		b = b[ihl:]
	case 0x86dd:
		if len(b) < 40 || b[0]>>4 != 6 {
			return p
		}
		p.Src = netip.AddrFrom16([16]byte(b[8:24]))
		p.Dst = netip.AddrFrom16([16]byte(b[24:40]))
		if pl := int(binary.BigEndian.Uint16(b[4:])); 40+pl <= len(b) {
			b = b[:40+pl]
		}
		next := b[6]
		b = b[40:]
		// Hop-by-hop, routing, fragment (first fragment only) and
		// destination options headers.
		for (next == 0 || next == 43 || next == 44 || next == 60) && len(b) >= 8 {
			hl := 8
			if next != 44 {
				hl = (int(b[1]) + 1) * 8
			}
			if len(b) < hl {
				return p
			}
			next, b = b[0], b[hl:]
		}
		p.Proto = next
	default:
		return p
	}
	p.decodeTransport(b)
	return p
}

func (p *Packet) decodeTransport(b []byte) {
	p.Payload = b
	switch p.Proto {
	case 50:
		p.Kind = KindESP
		if len(b) >= 4 {
			p.SPI = binary.BigEndian.Uint32(b)
		}
	case 51:
		p.Kind = KindAH
		if len(b) >= 8 {
			p.SPI = binary.BigEndian.Uint32(b[4:])
		}
	case 1, 58:
		p.Kind = KindICMP
		if len(b) >= 1 {
			p.ICMPType = b[0]
		}
		if p.Proto == 58 {
			switch {
			case p.ICMPType >= 133 && p.ICMPType <= 137:
				p.Kind = KindND
			case p.ICMPType >= 130 && p.ICMPType <= 132, p.ICMPType == 143:
				p.Kind = KindMLD
			}
		}
	case 17:
		p.Kind = KindUDP
		if len(b) < 8 {
			return
		}
		p.SrcPort, p.DstPort = binary.BigEndian.Uint16(b), binary.BigEndian.Uint16(b[2:])
		p.Payload = b[8:]
		switch {
		case p.SrcPort == 4500 || p.DstPort == 4500:
			// RFC 3948 §2.2: four zero bytes mark IKE; anything else is
			// an ESP SPI. A one-byte 0xff is a NAT-keepalive.
			if len(p.Payload) >= 4 && binary.BigEndian.Uint32(p.Payload) != 0 {
				p.Kind, p.SPI = KindESP, binary.BigEndian.Uint32(p.Payload)
			} else {
				p.Kind = KindIKE
			}
		case p.SrcPort == 500 || p.DstPort == 500:
			p.Kind = KindIKE
		case p.SrcPort == 53 || p.DstPort == 53:
			p.Kind = KindDNS
		}
	case 6:
		p.Kind = KindTCP
		if len(b) < 20 {
			return
		}
		p.SrcPort, p.DstPort = binary.BigEndian.Uint16(b), binary.BigEndian.Uint16(b[2:])
		if off := int(b[12]>>4) * 4; off >= 20 && off <= len(b) {
			p.Payload = b[off:]
		}
		if p.SrcPort == 53 || p.DstPort == 53 {
			p.Kind = KindDNS
		}
	}
}
