package agent

import (
	"fmt"
	"math/big"
	"net/netip"

	"github.com/oe-agent/oe-agent/ike"
	"github.com/oe-agent/oe-agent/ike/wire"
	"github.com/oe-agent/oe-agent/xfrm"
)

// kernelChild is what one negotiated Child SA becomes in the kernel: an SA
// per direction and the policies that steer traffic into them.
type kernelChild struct {
	In, Out  xfrm.SA
	Policies []xfrm.Policy // out, in and (tunnel mode) fwd per selector pair
}

// childParams are the per-connection settings the IKE negotiation does not
// carry.
type childParams struct {
	Reqid        uint32
	Priority     uint32
	Mark         xfrm.Mark
	ReplayWindow uint32
	// DelayRekeyOut installs the outbound SA of a Child SA that the peer
	// rekeyed only when the peer deletes the old one (see
	// saRunner.install); the IKE SA must use ike.Config.ExternalRekey so
	// that this end's own rekeys are known.
	DelayRekeyOut bool
	// HoldFirstOut keeps the outbound SA of the first Child SA of an IKE
	// SA the peer initiated out of the kernel while another IKE SA with
	// the same addresses exists (see saRunner.install); the loop installs
	// it once this one is the only IKE SA left (installHeldOut).
	HoldFirstOut bool
}

// kernelChildOf maps a negotiated Child SA to kernel objects. It is pure so
// that the mapping of every suite is unit-tested without a kernel.
func kernelChildOf(ch ike.ChildSA, p childParams) (*kernelChild, error) {
	proto := xfrm.ProtoESP
	if ch.Protocol == wire.ProtocolAH {
		proto = xfrm.ProtoAH
	}
	mode := xfrm.ModeTunnel
	if ch.Mode == ike.Transport {
		mode = xfrm.ModeTransport
	}
	cipher, err := cipherOf(ch)
	if err != nil {
		return nil, err
	}
	integ, err := integrityOf(ch.Integ)
	if err != nil {
		return nil, err
	}
	if !ch.ESN && p.ReplayWindow > 32 {
		// The xfrm layer programs the legacy replay state without ESN,
		// whose bitmap holds 32 packets.
		p.ReplayWindow = 32
	}
	base := xfrm.SA{
		Proto: proto, Mode: mode, Reqid: p.Reqid, Cipher: cipher, Integrity: integ,
		ReplayWindow: p.ReplayWindow, ESN: ch.ESN, Mark: p.Mark,
		Lifetime: xfrm.Lifetime{SoftAdd: ch.SoftLifetime, HardAdd: ch.HardLifetime},
	}
	out, in := base, base
	out.Src, out.Dst, out.SPI = ch.Local, ch.Remote, ch.OutboundSPI
	out.CipherKey, out.IntegrityKey = []byte(ch.Outbound.Encr), []byte(ch.Outbound.Integ)
	in.Src, in.Dst, in.SPI = ch.Remote, ch.Local, ch.InboundSPI
	in.CipherKey, in.IntegrityKey = []byte(ch.Inbound.Encr), []byte(ch.Inbound.Integ)
	if mode == xfrm.ModeTransport {
		// A transport SA must only carry its own endpoints' traffic.
		out.Selector = hostSelector(ch.Local, ch.Remote)
		in.Selector = hostSelector(ch.Remote, ch.Local)
	}
	kc := &kernelChild{In: in, Out: out}
	tmpl := func(src, dst netip.Addr) []xfrm.Template {
		return []xfrm.Template{{Src: src, Dst: dst, Proto: proto, Mode: mode, Reqid: p.Reqid}}
	}
	locals, err := selectorsOf(ch.LocalTS)
	if err != nil {
		return nil, err
	}
	remotes, err := selectorsOf(ch.RemoteTS)
	if err != nil {
		return nil, err
	}
	for _, l := range locals {
		for _, r := range remotes {
			if l.prefix.Addr().Is4() != r.prefix.Addr().Is4() {
				continue
			}
			ipProto := l.proto
			if ipProto == 0 {
				ipProto = r.proto
			}
			sel := xfrm.Selector{Src: l.prefix, Dst: r.prefix, Proto: ipProto, SrcPort: l.port, DstPort: r.port}
			kc.Policies = append(kc.Policies, xfrm.Policy{Selector: sel, Dir: xfrm.DirOut, Priority: p.Priority, Mark: p.Mark, Templates: tmpl(ch.Local, ch.Remote)})
			rev := xfrm.Selector{Src: r.prefix, Dst: l.prefix, Proto: ipProto, SrcPort: r.port, DstPort: l.port}
			kc.Policies = append(kc.Policies, xfrm.Policy{Selector: rev, Dir: xfrm.DirIn, Priority: p.Priority, Mark: p.Mark, Templates: tmpl(ch.Remote, ch.Local)})
			if mode == xfrm.ModeTunnel {
				kc.Policies = append(kc.Policies, xfrm.Policy{Selector: rev, Dir: xfrm.DirFwd, Priority: p.Priority, Mark: p.Mark, Templates: tmpl(ch.Remote, ch.Local)})
			}
		}
	}
	if len(kc.Policies) == 0 {
		return nil, fmt.Errorf("agent: child SA %s: no selector pair of one address family", ch)
	}
	return kc, nil
}

func hostSelector(src, dst netip.Addr) xfrm.Selector {
	return xfrm.Selector{Src: netip.PrefixFrom(src, src.BitLen()), Dst: netip.PrefixFrom(dst, dst.BitLen())}
}

func cipherOf(ch ike.ChildSA) (xfrm.Cipher, error) {
	if ch.Protocol == wire.ProtocolAH {
		return xfrm.CipherNone, nil
	}
	switch {
	case ch.Encr == wire.EncrAESGCM16 && ch.EncrKeyBits == 128:
		return xfrm.CipherAESGCM128, nil
	case ch.Encr == wire.EncrAESGCM16 && ch.EncrKeyBits == 256:
		return xfrm.CipherAESGCM256, nil
	case ch.Encr == wire.EncrChaCha20Poly1305:
		return xfrm.CipherChaCha20Poly1305, nil
	case ch.Encr == wire.EncrAESCBC && ch.EncrKeyBits == 128:
		return xfrm.CipherAESCBC128, nil
	case ch.Encr == wire.EncrAESCBC && ch.EncrKeyBits == 192:
		return xfrm.CipherAESCBC192, nil
	case ch.Encr == wire.EncrAESCBC && ch.EncrKeyBits == 256:
		return xfrm.CipherAESCBC256, nil
	case ch.Encr == wire.EncrNull:
		return xfrm.CipherNone, nil
	}
	return 0, fmt.Errorf("agent: no kernel cipher for %s with %d-bit key", ch.Encr, ch.EncrKeyBits)
}

func integrityOf(id wire.IntegID) (xfrm.Integrity, error) {
	switch id {
	case wire.IntegNone:
		return xfrm.IntegrityNone, nil
	case wire.IntegHMACSHA2_256_128:
		return xfrm.IntegrityHMACSHA256_128, nil
	case wire.IntegHMACSHA2_384_192:
		return xfrm.IntegrityHMACSHA384_192, nil
	case wire.IntegHMACSHA2_512_256:
		return xfrm.IntegrityHMACSHA512_256, nil
	}
	return 0, fmt.Errorf("agent: no kernel integrity algorithm for %s", id)
}

// tsSelector is one kernel-expressible piece of a traffic selector.
type tsSelector struct {
	prefix netip.Prefix
	proto  uint8
	port   uint16 // 0: any
}

// selectorsOf converts IKE traffic selectors (address and port ranges) to
// kernel selectors (prefixes and single ports). An address range becomes
// the minimal list of prefixes covering it; a port range must be a single
// port or all ports, since an XFRM selector cannot express more.
func selectorsOf(tss []ike.TrafficSelector) ([]tsSelector, error) {
	var out []tsSelector
	for _, ts := range tss {
		var port uint16
		switch {
		case ts.StartPort == 0 && ts.EndPort == 65535:
		case ts.StartPort == ts.EndPort:
			port = ts.StartPort
		default:
			return nil, fmt.Errorf("agent: traffic selector port range %d-%d cannot be expressed in the kernel", ts.StartPort, ts.EndPort)
		}
		prefixes, err := rangePrefixes(ts.StartAddr, ts.EndAddr)
		if err != nil {
			return nil, err
		}
		for _, p := range prefixes {
			out = append(out, tsSelector{prefix: p, proto: ts.IPProtocol, port: port})
		}
	}
	return out, nil
}

// rangePrefixes returns the fewest prefixes whose union is [start, end].
func rangePrefixes(start, end netip.Addr) ([]netip.Prefix, error) {
	if !start.IsValid() || !end.IsValid() || start.Is4() != end.Is4() || end.Less(start) {
		return nil, fmt.Errorf("agent: bad address range %s-%s", start, end)
	}
	bits := start.BitLen()
	lo, hi := new(big.Int).SetBytes(start.AsSlice()), new(big.Int).SetBytes(end.AsSlice())
	one := big.NewInt(1)
	var out []netip.Prefix
	for lo.Cmp(hi) <= 0 {
		// The largest block that starts at lo (aligned) and ends by hi.
		size := 0
		for size < bits {
			blk := new(big.Int).Lsh(one, uint(size+1))
			if new(big.Int).Mod(lo, blk).Sign() != 0 {
				break
			}
			last := new(big.Int).Sub(new(big.Int).Add(lo, blk), one)
			if last.Cmp(hi) > 0 {
				break
			}
			size++
		}
		b := make([]byte, bits/8)
		lo.FillBytes(b)
		addr, _ := netip.AddrFromSlice(b)
		out = append(out, netip.PrefixFrom(addr, bits-size))
		lo.Add(lo, new(big.Int).Lsh(one, uint(size)))
	}
	return out, nil
}
