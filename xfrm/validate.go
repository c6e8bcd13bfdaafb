package xfrm

import (
	"net/netip"
	"time"
)

// Maximum anti-replay windows: the kernel's legacy bitmap is 32 bits; with
// ESN the bitmap is at most XFRMA_REPLAY_ESN_MAX (4096) octets.
const (
	maxReplayWindow    = 32
	maxReplayWindowESN = 4096 * 8
)

// Validate checks that sa is something oe-agent may install: ESP or AH with
// one of the supported transforms and correct key lengths, a usable SPI, and
// a reqid in oe-agent's range. The kernel would reject some of these
// mistakes with a bare EINVAL, and accept others (a wrong key length for
// HMAC) silently.
func (sa SA) Validate() error {
	if !sa.Src.IsValid() || !sa.Dst.IsValid() {
		return invalidf("SA needs both addresses")
	}
	if sa.Src.Is4() != sa.Dst.Is4() {
		return invalidf("SA addresses %s and %s are of different families", sa.Src, sa.Dst)
	}
	if sa.Src.Zone() != "" || sa.Dst.Zone() != "" {
		return invalidf("SA addresses must not have a zone")
	}
	if sa.SPI < 256 {
		// RFC 4303 §2.1: SPIs 1-255 are reserved, 0 is local use only.
		return invalidf("SPI 0x%x is reserved (RFC 4303 §2.1)", sa.SPI)
	}
	if sa.Mode != ModeTransport && sa.Mode != ModeTunnel {
		return invalidf("unsupported mode %s", sa.Mode)
	}
	if !OwnedReqid(sa.Reqid) {
		return invalidf("reqid 0x%x outside oe-agent's range 0x%08x-0x%08x", sa.Reqid, ReqidMin, ReqidMax)
	}
	switch sa.Proto {
	case ProtoESP:
		if err := sa.validateESP(); err != nil {
			return err
		}
	case ProtoAH:
		if sa.Cipher != CipherNone {
			return invalidf("AH takes no cipher")
		}
		if err := validateIntegrity(sa.Integrity, sa.IntegrityKey); err != nil {
			return err
		}
		if sa.Encap != nil {
			return invalidf("AH cannot be UDP-encapsulated")
		}
	default:
		return invalidf("unsupported protocol %s", sa.Proto)
	}
	if sa.ESN {
		if sa.ReplayWindow == 0 || sa.ReplayWindow > maxReplayWindowESN {
			return invalidf("replay window %d: with ESN it must be 1-%d", sa.ReplayWindow, maxReplayWindowESN)
		}
	} else if sa.ReplayWindow > maxReplayWindow {
		return invalidf("replay window %d: without ESN the kernel supports at most %d", sa.ReplayWindow, maxReplayWindow)
	}
	if err := sa.Lifetime.validate(); err != nil {
		return err
	}
	if e := sa.Encap; e != nil {
		if e.SrcPort == 0 || e.DstPort == 0 {
			return invalidf("UDP encapsulation needs both ports")
		}
		if e.OrigAddr.IsValid() && e.OrigAddr.Is4() != sa.Dst.Is4() {
			return invalidf("NAT-OA %s is not of the SA's family", e.OrigAddr)
		}
	}
	if !sa.Selector.IsZero() {
		if err := sa.Selector.validate(); err != nil {
			return err
		}
	}
	return nil
}

func (sa SA) validateESP() error {
	ci, ok := ciphers[sa.Cipher]
	if !ok {
		return invalidf("ESP needs a cipher (got %s)", sa.Cipher)
	}
	if len(sa.CipherKey) != ci.keyLen {
		return invalidf("%s key is %d octets, want %d", sa.Cipher, len(sa.CipherKey), ci.keyLen)
	}
	if ci.aead {
		if sa.Integrity != IntegrityNone {
			return invalidf("%s is an AEAD cipher and takes no integrity transform", sa.Cipher)
		}
		return nil
	}
	return validateIntegrity(sa.Integrity, sa.IntegrityKey)
}

func validateIntegrity(i Integrity, key []byte) error {
	ii, ok := integrities[i]
	if !ok {
		return invalidf("an integrity transform is required (got %s)", i)
	}
	if len(key) != ii.keyLen {
		return invalidf("%s key is %d octets, want %d (RFC 4868 §2.1.1)", i, len(key), ii.keyLen)
	}
	return nil
}

func (l Lifetime) validate() error {
	for _, d := range []time.Duration{l.SoftAdd, l.HardAdd, l.SoftUse, l.HardUse} {
		if d < 0 {
			return invalidf("negative lifetime %s", d)
		}
	}
	pairs := []struct {
		what       string
		soft, hard uint64
	}{
		{"bytes", l.SoftBytes, l.HardBytes},
		{"packets", l.SoftPackets, l.HardPackets},
		{"add time", seconds(l.SoftAdd), seconds(l.HardAdd)},
		{"use time", seconds(l.SoftUse), seconds(l.HardUse)},
	}
	for _, p := range pairs {
		if p.soft != 0 && p.hard != 0 && p.soft > p.hard {
			return invalidf("soft %s limit %d above hard limit %d", p.what, p.soft, p.hard)
		}
	}
	return nil
}

// seconds rounds d up to whole seconds, the kernel's unit.
func seconds(d time.Duration) uint64 {
	if d <= 0 {
		return 0
	}
	return uint64((d + time.Second - 1) / time.Second)
}

func (s Selector) validate() error {
	if !s.Src.IsValid() || !s.Dst.IsValid() {
		return invalidf("selector needs both prefixes (use 0.0.0.0/0 or ::/0 for any)")
	}
	if s.Src.Addr().Is4() != s.Dst.Addr().Is4() {
		return invalidf("selector prefixes %s and %s are of different families", s.Src, s.Dst)
	}
	if s.Src.Addr().Is4In6() || s.Dst.Addr().Is4In6() {
		return invalidf("selector uses IPv4-mapped IPv6 addresses")
	}
	if (s.SrcPort != 0 || s.DstPort != 0) && s.Proto == 0 {
		return invalidf("selector ports need a protocol")
	}
	return nil
}

// Validate checks that p is something oe-agent may install: a well-formed
// selector, a priority in oe-agent's band, and templates with reqids in its
// range. A block policy takes no templates.
func (p Policy) Validate() error {
	if err := p.Selector.validate(); err != nil {
		return err
	}
	if p.Dir > DirFwd {
		return invalidf("unsupported direction %s", p.Dir)
	}
	if p.Action != ActionAllow && p.Action != ActionBlock {
		return invalidf("unsupported action %s", p.Action)
	}
	if !OwnedPriority(p.Priority) {
		return invalidf("priority 0x%x outside oe-agent's band 0x%08x-0x%08x", p.Priority, PriorityMin, PriorityMax)
	}
	if p.Action == ActionBlock && len(p.Templates) > 0 {
		return invalidf("a block policy takes no templates")
	}
	is4 := p.Selector.Dst.Addr().Is4()
	for i, t := range p.Templates {
		if t.Proto != ProtoESP && t.Proto != ProtoAH {
			return invalidf("template %d: unsupported protocol %s", i, t.Proto)
		}
		if !OwnedReqid(t.Reqid) {
			return invalidf("template %d: reqid 0x%x outside oe-agent's range 0x%08x-0x%08x", i, t.Reqid, ReqidMin, ReqidMax)
		}
		if t.Level > LevelUse {
			return invalidf("template %d: unsupported level %d", i, t.Level)
		}
		switch t.Mode {
		case ModeTunnel:
			if !t.Dst.IsValid() {
				return invalidf("template %d: tunnel mode needs the remote endpoint", i)
			}
			if t.Src.IsValid() && t.Src.Is4() != t.Dst.Is4() {
				return invalidf("template %d: endpoints of different families", i)
			}
		case ModeTransport:
			for _, a := range []netip.Addr{t.Src, t.Dst} {
				if a.IsValid() && a.Is4() != is4 {
					return invalidf("template %d: transport mode cannot change the address family", i)
				}
			}
		default:
			return invalidf("template %d: unsupported mode %s", i, t.Mode)
		}
	}
	return nil
}
