package interop

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/oe-agent/oe-agent/ike"
	"github.com/oe-agent/oe-agent/ike/crypto"
	"github.com/oe-agent/oe-agent/ike/wire"
	"github.com/oe-agent/oe-agent/xfrm"
)

func hostTS(a netip.Addr) ike.TrafficSelector {
	return wire.TSFromPrefix(netip.PrefixFrom(a, a.BitLen()), 0)
}

func TestKernelChildOf(t *testing.T) {
	gcm := ike.ChildSA{Protocol: wire.ProtocolESP, Mode: ike.Transport, InboundSPI: 0x1111, OutboundSPI: 0x2222,
		Local: oursAddr, Remote: peerAddr, Encr: wire.EncrAESGCM16, EncrKeyBits: 256,
		Inbound: crypto.DirKeys{Encr: make(crypto.Key, 36)}, Outbound: crypto.DirKeys{Encr: make(crypto.Key, 36)},
		LocalTS: []ike.TrafficSelector{hostTS(oursAddr)}, RemoteTS: []ike.TrafficSelector{hostTS(peerAddr)}}
	kc, err := kernelChildOf(gcm, xfrm.ReqidMin+1, xfrm.PriorityMin+1)
	if err != nil {
		t.Fatal(err)
	}
	if kc.In.SPI != 0x1111 || kc.In.Src != peerAddr || kc.In.Dst != oursAddr || kc.Out.SPI != 0x2222 || kc.Out.Dst != peerAddr {
		t.Errorf("SAs: in %v out %v", kc.In, kc.Out)
	}
	if kc.In.Cipher != xfrm.CipherAESGCM256 || kc.In.Integrity != xfrm.IntegrityNone || kc.In.Mode != xfrm.ModeTransport {
		t.Errorf("in SA %v: cipher %v integrity %v mode %v", kc.In, kc.In.Cipher, kc.In.Integrity, kc.In.Mode)
	}
	for _, sa := range []xfrm.SA{kc.In, kc.Out} {
		if err := sa.Validate(); err != nil {
			t.Errorf("%v: %v", sa, err)
		}
	}
	if len(kc.Policies) != 2 {
		t.Fatalf("policies %v, want out and in", kc.Policies)
	}
	out, in := kc.Policies[0], kc.Policies[1]
	if out.Dir != xfrm.DirOut || out.Selector.Src != netip.MustParsePrefix("192.0.2.1/32") || out.Selector.Dst != netip.MustParsePrefix("192.0.2.2/32") ||
		in.Dir != xfrm.DirIn || in.Selector.Src != out.Selector.Dst || out.Templates[0].Reqid != xfrm.ReqidMin+1 || out.Templates[0].Src.IsValid() {
		t.Errorf("policies %v %v", out, in)
	}
	for _, p := range kc.Policies {
		if err := p.Validate(); err != nil {
			t.Errorf("%v: %v", p, err)
		}
	}

	cbc := gcm
	cbc.Encr, cbc.Integ, cbc.Mode = wire.EncrAESCBC, wire.IntegHMACSHA2_256_128, ike.Tunnel
	cbc.Inbound = crypto.DirKeys{Encr: make(crypto.Key, 32), Integ: make(crypto.Key, 32)}
	cbc.Outbound = cbc.Inbound
	if kc, err = kernelChildOf(cbc, xfrm.ReqidMin+1, xfrm.PriorityMin+1); err != nil {
		t.Fatal(err)
	}
	if kc.Out.Cipher != xfrm.CipherAESCBC256 || kc.Out.Integrity != xfrm.IntegrityHMACSHA256_128 || len(kc.Policies) != 3 ||
		kc.Policies[2].Dir != xfrm.DirFwd || kc.Policies[0].Templates[0].Dst != peerAddr {
		t.Errorf("tunnel CBC: %v %v", kc.Out, kc.Policies)
	}

	bad := gcm
	bad.LocalTS = []ike.TrafficSelector{{Type: wire.TSIPv4AddrRange, StartAddr: oursAddr, EndAddr: peerAddr, EndPort: 65535}}
	if _, err := kernelChildOf(bad, xfrm.ReqidMin, xfrm.PriorityMin); err == nil || !strings.Contains(err.Error(), "not a prefix") {
		t.Errorf("range 192.0.2.1-192.0.2.2: %v", err)
	}
	bad = gcm
	bad.LocalTS = []ike.TrafficSelector{{Type: wire.TSIPv4AddrRange, StartAddr: oursAddr, EndAddr: oursAddr, StartPort: 80, EndPort: 81}}
	if _, err := kernelChildOf(bad, xfrm.ReqidMin, xfrm.PriorityMin); err == nil || !strings.Contains(err.Error(), "port range") {
		t.Errorf("port range: %v", err)
	}
}

func TestTSPrefix(t *testing.T) {
	for _, tc := range []struct{ start, end, want string }{
		{"192.0.2.0", "192.0.2.255", "192.0.2.0/24"},
		{"192.0.2.7", "192.0.2.7", "192.0.2.7/32"},
		{"0.0.0.0", "255.255.255.255", "0.0.0.0/0"},
		{"2001:db8::", "2001:db8::ffff:ffff:ffff:ffff", "2001:db8::/64"},
	} {
		ts := ike.TrafficSelector{StartAddr: netip.MustParseAddr(tc.start), EndAddr: netip.MustParseAddr(tc.end), EndPort: 65535}
		p, err := tsPrefix(ts)
		if err != nil || p.String() != tc.want {
			t.Errorf("%s-%s: %v, %v; want %s", tc.start, tc.end, p, err, tc.want)
		}
	}
}
