package ike

import (
	"net/netip"

	"github.com/oe-agent/oe-agent/ike/wire"
)

// hostTS returns the selector for the single address a, any protocol and
// port.
func hostTS(a netip.Addr) TrafficSelector {
	a = a.Unmap()
	return wire.TSFromPrefix(netip.PrefixFrom(a, a.BitLen()), 0)
}

// localTS and remoteTS are the selectors this end wants, from its own
// point of view.
func (s *SA) localTS() []TrafficSelector {
	if len(s.cfg.LocalTS) > 0 {
		return s.cfg.LocalTS
	}
	return []TrafficSelector{hostTS(s.local.Addr())}
}

func (s *SA) remoteTS() []TrafficSelector {
	if len(s.cfg.RemoteTS) > 0 {
		return s.cfg.RemoteTS
	}
	return []TrafficSelector{hostTS(s.remote.Addr())}
}

// narrow returns the parts of the peer's proposed selectors that our
// policy allows (RFC 7296 §2.9): every non-empty intersection of one of
// the peer's selectors with one of ours, in the peer's order. An empty
// result means TS_UNACCEPTABLE.
func narrow(peer, ours []TrafficSelector) []TrafficSelector {
	var out []TrafficSelector
	for _, p := range peer {
		for _, o := range ours {
			if t, ok := intersectTS(p, o); ok && !containsTS(out, t) {
				out = append(out, t)
			}
		}
	}
	return out
}

func containsTS(ts []TrafficSelector, t TrafficSelector) bool {
	for _, x := range ts {
		if x.Type == t.Type && x.IPProtocol == t.IPProtocol && x.StartPort == t.StartPort && x.EndPort == t.EndPort && x.StartAddr == t.StartAddr && x.EndAddr == t.EndAddr {
			return true
		}
	}
	return false
}

// ipRange reports whether t is an address-range selector we understand.
func ipRange(t TrafficSelector) bool {
	return (t.Type == wire.TSIPv4AddrRange || t.Type == wire.TSIPv6AddrRange) && t.Data == nil &&
		t.StartAddr.IsValid() && t.EndAddr.IsValid() && t.StartAddr.Compare(t.EndAddr) <= 0
}

// intersectTS returns the selector matching what both a and b match.
// OPAQUE ports (start 65535, end 0) only intersect with OPAQUE or "any".
func intersectTS(a, b TrafficSelector) (TrafficSelector, bool) {
	if a.Type != b.Type || !ipRange(a) || !ipRange(b) {
		return TrafficSelector{}, false
	}
	t := TrafficSelector{Type: a.Type}
	switch {
	case a.IPProtocol == b.IPProtocol, b.IPProtocol == 0:
		t.IPProtocol = a.IPProtocol
	case a.IPProtocol == 0:
		t.IPProtocol = b.IPProtocol
	default:
		return t, false
	}
	t.StartAddr, t.EndAddr = maxAddr(a.StartAddr, b.StartAddr), minAddr(a.EndAddr, b.EndAddr)
	if t.StartAddr.Compare(t.EndAddr) > 0 {
		return t, false
	}
	switch {
	case isOpaque(a) && (isOpaque(b) || isAnyPort(b)), isOpaque(b) && isAnyPort(a):
		t.StartPort, t.EndPort = 65535, 0
		return t, true
	case isOpaque(a) || isOpaque(b):
		return t, false
	}
	t.StartPort, t.EndPort = max(a.StartPort, b.StartPort), min(a.EndPort, b.EndPort)
	return t, t.StartPort <= t.EndPort
}

func isOpaque(t TrafficSelector) bool  { return t.StartPort == 65535 && t.EndPort == 0 }
func isAnyPort(t TrafficSelector) bool { return t.StartPort == 0 && t.EndPort == 65535 }

func maxAddr(a, b netip.Addr) netip.Addr {
	if a.Compare(b) >= 0 {
		return a
	}
	return b
}

func minAddr(a, b netip.Addr) netip.Addr {
	if a.Compare(b) <= 0 {
		return a
	}
	return b
}

// coveredBy reports whether every selector in got lies within one of
// offered: the responder may only narrow (RFC 7296 §2.9).
func coveredBy(got, offered []TrafficSelector) bool {
	if len(got) == 0 {
		return false
	}
	for _, g := range got {
		ok := false
		for _, o := range offered {
			if t, in := intersectTS(g, o); in && containsTS([]TrafficSelector{g}, t) {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	return true
}
