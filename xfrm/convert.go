package xfrm

import (
	"net"
	"net/netip"

	"github.com/vishvananda/netlink"
)

// This file converts oe-agent's SA and Policy into vishvananda/netlink's
// types for the write paths (add, update, delete). Reads go through this
// package's own decoders (decode.go), because netlink v1.3.1 loses
// information on the way back: its XfrmAddress.ToIP takes any IPv6 address
// whose last 12 octets are zero for IPv4, so a 2001:db8::/48 selector lists
// as 32.1.13.184 with no prefix length, and it does not read the ESN flag.

func ipOf(a netip.Addr) net.IP {
	if !a.IsValid() {
		return nil
	}
	return net.IP(a.AsSlice())
}

func ipNetOf(p netip.Prefix) *net.IPNet {
	p = p.Masked()
	return &net.IPNet{IP: ipOf(p.Addr()), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
}

// unspecified returns 0.0.0.0 or ::.
func unspecified(is4 bool) netip.Addr {
	if is4 {
		return netip.IPv4Unspecified()
	}
	return netip.IPv6Unspecified()
}

func toNetlinkSelector(s Selector) *netlink.XfrmPolicy {
	return &netlink.XfrmPolicy{
		Src:     ipNetOf(s.Src),
		Dst:     ipNetOf(s.Dst),
		Proto:   netlink.Proto(s.Proto),
		SrcPort: int(s.SrcPort),
		DstPort: int(s.DstPort),
	}
}

func toNetlinkMark(m Mark) *netlink.XfrmMark {
	if m.IsZero() {
		return nil
	}
	return &netlink.XfrmMark{Value: m.Value, Mask: m.Mask}
}

// toNetlinkState converts a validated SA.
func toNetlinkState(sa SA) *netlink.XfrmState {
	st := &netlink.XfrmState{
		Src:          ipOf(sa.Src),
		Dst:          ipOf(sa.Dst),
		Proto:        netlink.Proto(sa.Proto),
		Mode:         netlink.Mode(sa.Mode),
		Spi:          int(sa.SPI),
		Reqid:        int(sa.Reqid),
		ReplayWindow: int(sa.ReplayWindow),
		ESN:          sa.ESN,
		Mark:         toNetlinkMark(sa.Mark),
		Limits: netlink.XfrmStateLimits{
			ByteSoft:    sa.Lifetime.SoftBytes,
			ByteHard:    sa.Lifetime.HardBytes,
			PacketSoft:  sa.Lifetime.SoftPackets,
			PacketHard:  sa.Lifetime.HardPackets,
			TimeSoft:    seconds(sa.Lifetime.SoftAdd),
			TimeHard:    seconds(sa.Lifetime.HardAdd),
			TimeUseSoft: seconds(sa.Lifetime.SoftUse),
			TimeUseHard: seconds(sa.Lifetime.HardUse),
		},
	}
	if c, ok := ciphers[sa.Cipher]; ok {
		algo := &netlink.XfrmStateAlgo{Name: c.kernel, Key: sa.CipherKey}
		if c.aead {
			algo.ICVLen = c.icvBits
			st.Aead = algo
		} else {
			st.Crypt = algo
		}
	}
	if i, ok := integrities[sa.Integrity]; ok {
		st.Auth = &netlink.XfrmStateAlgo{Name: i.kernel, Key: sa.IntegrityKey, TruncateLen: i.truncBits}
	}
	if e := sa.Encap; e != nil {
		st.Encap = &netlink.XfrmStateEncap{
			Type:            netlink.XFRM_ENCAP_ESPINUDP,
			SrcPort:         int(e.SrcPort),
			DstPort:         int(e.DstPort),
			OriginalAddress: ipOf(e.OrigAddr),
		}
		if st.Encap.OriginalAddress == nil {
			st.Encap.OriginalAddress = ipOf(unspecified(sa.Dst.Is4()))
		}
	}
	if !sa.Selector.IsZero() {
		st.Selector = toNetlinkSelector(sa.Selector)
	}
	return st
}

// toNetlinkStateID converts an SAID for get and delete.
func toNetlinkStateID(id SAID) *netlink.XfrmState {
	return &netlink.XfrmState{
		Dst:   ipOf(id.Dst),
		Proto: netlink.Proto(id.Proto),
		Spi:   int(id.SPI),
		Mark:  toNetlinkMark(id.Mark),
	}
}

// toNetlinkPolicy converts a validated Policy. Template addresses left
// zero are sent as the unspecified address of the right family: netlink
// derives a template's family from its destination, and the kernel rejects
// a transport-mode template whose family differs from the selector's.
func toNetlinkPolicy(p Policy) *netlink.XfrmPolicy {
	np := toNetlinkSelector(p.Selector)
	np.Dir = netlink.Dir(p.Dir)
	np.Action = netlink.PolicyAction(p.Action)
	np.Priority = int(p.Priority)
	np.Index = int(p.Index)
	np.Mark = toNetlinkMark(p.Mark)
	selIs4 := p.Selector.Dst.Addr().Is4()
	for _, t := range p.Templates {
		is4 := selIs4
		if t.Mode == ModeTunnel && t.Dst.IsValid() {
			is4 = t.Dst.Is4()
		}
		src, dst := t.Src, t.Dst
		if !src.IsValid() {
			src = unspecified(is4)
		}
		if !dst.IsValid() {
			dst = unspecified(is4)
		}
		np.Tmpls = append(np.Tmpls, netlink.XfrmPolicyTmpl{
			Src:      ipOf(src),
			Dst:      ipOf(dst),
			Proto:    netlink.Proto(t.Proto),
			Mode:     netlink.Mode(t.Mode),
			Spi:      int(t.SPI),
			Reqid:    int(t.Reqid),
			Optional: int(t.Level),
		})
	}
	return np
}

// policyKey copies what the kernel identifies a policy by.
func policyKey(p Policy) Policy {
	return Policy{Selector: p.Selector, Dir: p.Dir, Mark: p.Mark}
}

// fromNetlinkPolicyOwnership extracts what ownership checks need from a
// policy read with netlink's XfrmPolicyGet (priority and reqids parse
// correctly there; addresses are not used).
func fromNetlinkPolicyOwnership(np *netlink.XfrmPolicy) Policy {
	p := Policy{Priority: uint32(np.Priority), Index: uint32(np.Index)}
	for _, t := range np.Tmpls {
		p.Templates = append(p.Templates, Template{Reqid: uint32(t.Reqid)})
	}
	return p
}
