package interop

import (
	"context"
	"fmt"
	"net/netip"

	"github.com/oe-agent/oe-agent/ike"
	"github.com/oe-agent/oe-agent/ike/wire"
	"github.com/oe-agent/oe-agent/xfrm"
)

// kernel is the part of xfrm.Kernel the driver uses; *xfrm.Netlink has it,
// and fakeKernel stands in for it where the host kernel has no ESP.
type kernel interface {
	AddState(ctx context.Context, sa xfrm.SA) error
	DeleteState(ctx context.Context, id xfrm.SAID) error
	UpdatePolicy(ctx context.Context, p xfrm.Policy) error
	DeletePolicy(ctx context.Context, p xfrm.Policy) error
}

// kernelChild is one negotiated Child SA as kernel objects: an SA per
// direction and the policies steering the selected traffic into them.
type kernelChild struct {
	In, Out  xfrm.SA
	Policies []xfrm.Policy
}

// replayWindow is the anti-replay window of every SA the driver installs
// (the kernel's legacy bitmap allows up to 32 without ESN).
const replayWindow = 32

// kernelChildOf maps a negotiated ESP Child SA to kernel objects with the
// connection's reqid and policy priority. It covers what these tests
// negotiate (ESP, the two suites, selectors that are whole prefixes with any
// port) and refuses the rest. It is a reduced duplicate of the agent's
// unexported kernelChildOf (agent/childsa.go).
func kernelChildOf(ch ike.ChildSA, reqid, prio uint32) (kernelChild, error) {
	var kc kernelChild
	if ch.Protocol != wire.ProtocolESP {
		return kc, fmt.Errorf("interop: Child SA protocol %v, want ESP", ch.Protocol)
	}
	var cipher xfrm.Cipher
	switch {
	case ch.Encr == wire.EncrAESGCM16 && ch.EncrKeyBits == 256:
		cipher = xfrm.CipherAESGCM256
	case ch.Encr == wire.EncrAESGCM16 && ch.EncrKeyBits == 128:
		cipher = xfrm.CipherAESGCM128
	case ch.Encr == wire.EncrAESCBC && ch.EncrKeyBits == 256:
		cipher = xfrm.CipherAESCBC256
	case ch.Encr == wire.EncrAESCBC && ch.EncrKeyBits == 128:
		cipher = xfrm.CipherAESCBC128
	case ch.Encr == wire.EncrChaCha20Poly1305:
		cipher = xfrm.CipherChaCha20Poly1305
	default:
		return kc, fmt.Errorf("interop: no kernel cipher for %v/%d", ch.Encr, ch.EncrKeyBits)
	}
	var integ xfrm.Integrity
	switch ch.Integ {
	case wire.IntegNone:
	case wire.IntegHMACSHA2_256_128:
		integ = xfrm.IntegrityHMACSHA256_128
	case wire.IntegHMACSHA2_384_192:
		integ = xfrm.IntegrityHMACSHA384_192
	case wire.IntegHMACSHA2_512_256:
		integ = xfrm.IntegrityHMACSHA512_256
	default:
		return kc, fmt.Errorf("interop: no kernel integrity algorithm for %v", ch.Integ)
	}
	mode := xfrm.ModeTunnel
	if ch.Mode == ike.Transport {
		mode = xfrm.ModeTransport
	}
	base := xfrm.SA{Proto: xfrm.ProtoESP, Mode: mode, Reqid: reqid, Cipher: cipher, Integrity: integ,
		ReplayWindow: replayWindow, ESN: ch.ESN,
		Lifetime: xfrm.Lifetime{SoftAdd: ch.SoftLifetime, HardAdd: ch.HardLifetime}}
	kc.In, kc.Out = base, base
	kc.Out.Src, kc.Out.Dst, kc.Out.SPI = ch.Local, ch.Remote, ch.OutboundSPI
	kc.Out.CipherKey, kc.Out.IntegrityKey = []byte(ch.Outbound.Encr), []byte(ch.Outbound.Integ)
	kc.In.Src, kc.In.Dst, kc.In.SPI = ch.Remote, ch.Local, ch.InboundSPI
	kc.In.CipherKey, kc.In.IntegrityKey = []byte(ch.Inbound.Encr), []byte(ch.Inbound.Integ)
	if mode == xfrm.ModeTransport {
		kc.Out.Selector = xfrm.Selector{Src: hostPrefix(ch.Local), Dst: hostPrefix(ch.Remote)}
		kc.In.Selector = xfrm.Selector{Src: hostPrefix(ch.Remote), Dst: hostPrefix(ch.Local)}
	}
	tmpl := func(src, dst netip.Addr) []xfrm.Template {
		t := xfrm.Template{Proto: xfrm.ProtoESP, Mode: mode, Reqid: reqid}
		if mode == xfrm.ModeTunnel {
			t.Src, t.Dst = src, dst
		}
		return []xfrm.Template{t}
	}
	for _, l := range ch.LocalTS {
		lp, err := tsPrefix(l)
		if err != nil {
			return kc, err
		}
		for _, r := range ch.RemoteTS {
			rp, err := tsPrefix(r)
			if err != nil {
				return kc, err
			}
			if lp.Addr().Is4() != rp.Addr().Is4() {
				continue
			}
			proto := l.IPProtocol
			if proto == 0 {
				proto = r.IPProtocol
			}
			out := xfrm.Selector{Src: lp, Dst: rp, Proto: proto}
			in := xfrm.Selector{Src: rp, Dst: lp, Proto: proto}
			kc.Policies = append(kc.Policies,
				xfrm.Policy{Selector: out, Dir: xfrm.DirOut, Priority: prio, Templates: tmpl(ch.Local, ch.Remote)},
				xfrm.Policy{Selector: in, Dir: xfrm.DirIn, Priority: prio, Templates: tmpl(ch.Remote, ch.Local)})
			if mode == xfrm.ModeTunnel {
				kc.Policies = append(kc.Policies, xfrm.Policy{Selector: in, Dir: xfrm.DirFwd, Priority: prio, Templates: tmpl(ch.Remote, ch.Local)})
			}
		}
	}
	if len(kc.Policies) == 0 {
		return kc, fmt.Errorf("interop: Child SA %v: no selector pair of one address family", ch)
	}
	return kc, nil
}

func hostPrefix(a netip.Addr) netip.Prefix { return netip.PrefixFrom(a, a.BitLen()) }

// tsPrefix converts a traffic selector that covers exactly one prefix and
// every port to that prefix.
func tsPrefix(ts ike.TrafficSelector) (netip.Prefix, error) {
	if ts.StartPort != 0 || ts.EndPort != 65535 {
		return netip.Prefix{}, fmt.Errorf("interop: selector %v has a port range", ts)
	}
	for bits := 0; bits <= ts.StartAddr.BitLen(); bits++ {
		p := netip.PrefixFrom(ts.StartAddr, bits).Masked()
		if p.Addr() != ts.StartAddr {
			continue
		}
		if lastAddr(p) == ts.EndAddr {
			return p, nil
		}
	}
	return netip.Prefix{}, fmt.Errorf("interop: selector %v is not a prefix", ts)
}

// lastAddr returns the highest address in p.
func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Masked().Addr().AsSlice()
	for i := p.Bits(); i < len(b)*8; i++ {
		b[i/8] |= 0x80 >> (i % 8)
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}
