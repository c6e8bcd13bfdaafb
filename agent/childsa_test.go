package agent

import (
	"net/netip"
	"reflect"
	"strings"
	"testing"

	"github.com/oe-agent/oe-agent/ike"
	ikecrypto "github.com/oe-agent/oe-agent/ike/crypto"
	"github.com/oe-agent/oe-agent/ike/wire"
	"github.com/oe-agent/oe-agent/xfrm"
)

func TestRangePrefixes(t *testing.T) {
	for _, tc := range []struct{ start, end, want string }{
		{"192.0.2.1", "192.0.2.1", "192.0.2.1/32"},
		{"192.0.2.0", "192.0.2.255", "192.0.2.0/24"},
		{"0.0.0.0", "255.255.255.255", "0.0.0.0/0"},
		{"192.0.2.1", "192.0.2.6", "192.0.2.1/32 192.0.2.2/31 192.0.2.4/31 192.0.2.6/32"},
		{"2001:db8::", "2001:db8::ffff:ffff:ffff:ffff", "2001:db8::/64"},
		{"::", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "::/0"},
	} {
		ps, err := rangePrefixes(netip.MustParseAddr(tc.start), netip.MustParseAddr(tc.end))
		if err != nil {
			t.Fatalf("%s-%s: %v", tc.start, tc.end, err)
		}
		var got []string
		for _, p := range ps {
			got = append(got, p.String())
		}
		if strings.Join(got, " ") != tc.want {
			t.Errorf("%s-%s = %v, want %s", tc.start, tc.end, got, tc.want)
		}
	}
	for _, bad := range [][2]string{{"192.0.2.9", "192.0.2.1"}, {"192.0.2.1", "2001:db8::1"}} {
		if _, err := rangePrefixes(netip.MustParseAddr(bad[0]), netip.MustParseAddr(bad[1])); err == nil {
			t.Errorf("range %v accepted", bad)
		}
	}
}

func hostTS(a string) ike.TrafficSelector {
	ip := netip.MustParseAddr(a)
	typ := wire.TSIPv4AddrRange
	if ip.Is6() {
		typ = wire.TSIPv6AddrRange
	}
	return ike.TrafficSelector{Type: typ, StartAddr: ip, EndAddr: ip, StartPort: 0, EndPort: 65535}
}

func TestKernelChildTransportGCM(t *testing.T) {
	ch := ike.ChildSA{
		Protocol: wire.ProtocolESP, Mode: ike.Transport, InboundSPI: 0x1111, OutboundSPI: 0x2222,
		Local: netip.MustParseAddr("192.0.2.1"), Remote: netip.MustParseAddr("192.0.2.2"),
		Encr: wire.EncrAESGCM16, EncrKeyBits: 256,
		Inbound:  ikecrypto.DirKeys{Encr: make(ikecrypto.Key, 36)},
		Outbound: ikecrypto.DirKeys{Encr: append(make(ikecrypto.Key, 35), 1)},
		LocalTS:  []ike.TrafficSelector{hostTS("192.0.2.1")}, RemoteTS: []ike.TrafficSelector{hostTS("192.0.2.2")},
	}
	kc, err := kernelChildOf(ch, childParams{Reqid: xfrm.ReqidMin + 1, Priority: xfrm.PriorityMin + 10, ReplayWindow: 64})
	if err != nil {
		t.Fatal(err)
	}
	if kc.Out.SPI != 0x2222 || kc.Out.Dst != ch.Remote || kc.In.SPI != 0x1111 || kc.In.Dst != ch.Local {
		t.Fatalf("SPIs/directions wrong: out %v in %v", kc.Out, kc.In)
	}
	if kc.Out.Cipher != xfrm.CipherAESGCM256 || kc.Out.Mode != xfrm.ModeTransport || kc.Out.ReplayWindow != 32 { // clamped: no ESN
		t.Fatalf("out SA %+v", kc.Out)
	}
	if kc.Out.CipherKey[35] != 1 || kc.In.CipherKey[35] != 0 {
		t.Fatal("keys not taken from the right direction")
	}
	if len(kc.Policies) != 2 {
		t.Fatalf("transport mode wants out+in policies, got %d", len(kc.Policies))
	}
	want := xfrm.Selector{Src: netip.MustParsePrefix("192.0.2.1/32"), Dst: netip.MustParsePrefix("192.0.2.2/32")}
	if kc.Policies[0].Dir != xfrm.DirOut || !reflect.DeepEqual(kc.Policies[0].Selector, want) {
		t.Fatalf("out policy %+v", kc.Policies[0])
	}
	if tm := kc.Policies[1].Templates[0]; kc.Policies[1].Dir != xfrm.DirIn || tm.Src != ch.Remote || tm.Reqid != xfrm.ReqidMin+1 {
		t.Fatalf("in policy %+v", kc.Policies[1])
	}
}

func TestKernelChildTunnelCBCHasFwd(t *testing.T) {
	ch := ike.ChildSA{
		Protocol: wire.ProtocolESP, Mode: ike.Tunnel, InboundSPI: 1, OutboundSPI: 2,
		Local: netip.MustParseAddr("192.0.2.1"), Remote: netip.MustParseAddr("192.0.2.2"),
		Encr: wire.EncrAESCBC, EncrKeyBits: 256, Integ: wire.IntegHMACSHA2_256_128,
		LocalTS:  []ike.TrafficSelector{{Type: wire.TSIPv4AddrRange, StartAddr: netip.MustParseAddr("198.51.100.0"), EndAddr: netip.MustParseAddr("198.51.100.255"), EndPort: 65535}},
		RemoteTS: []ike.TrafficSelector{{Type: wire.TSIPv4AddrRange, StartAddr: netip.MustParseAddr("203.0.113.0"), EndAddr: netip.MustParseAddr("203.0.113.255"), EndPort: 65535}},
	}
	kc, err := kernelChildOf(ch, childParams{Reqid: xfrm.ReqidMin + 2, Priority: xfrm.PriorityMin})
	if err != nil {
		t.Fatal(err)
	}
	if kc.Out.Cipher != xfrm.CipherAESCBC256 || kc.Out.Integrity != xfrm.IntegrityHMACSHA256_128 || kc.Out.Mode != xfrm.ModeTunnel {
		t.Fatalf("out SA %+v", kc.Out)
	}
	dirs := ""
	for _, p := range kc.Policies {
		dirs += p.Dir.String() + " "
	}
	if dirs != "out in fwd " {
		t.Fatalf("policies %q", dirs)
	}
	if !kc.Out.Selector.IsZero() {
		t.Fatal("a tunnel SA must not be bound to a host selector")
	}
}

func TestKernelChildRefusesWhatTheKernelCannotExpress(t *testing.T) {
	base := ike.ChildSA{Protocol: wire.ProtocolESP, Encr: wire.EncrAESGCM16, EncrKeyBits: 256,
		Local: netip.MustParseAddr("192.0.2.1"), Remote: netip.MustParseAddr("192.0.2.2"),
		LocalTS: []ike.TrafficSelector{hostTS("192.0.2.1")}, RemoteTS: []ike.TrafficSelector{hostTS("192.0.2.2")}}
	ports := base
	ports.RemoteTS = []ike.TrafficSelector{{Type: wire.TSIPv4AddrRange, StartAddr: base.Remote, EndAddr: base.Remote, StartPort: 1000, EndPort: 2000}}
	ccm := base
	ccm.Encr = wire.EncrAESCCM16
	mixed := base
	mixed.RemoteTS = []ike.TrafficSelector{hostTS("2001:db8::2")}
	for name, ch := range map[string]ike.ChildSA{"port range": ports, "ccm": ccm, "family mismatch": mixed} {
		if _, err := kernelChildOf(ch, childParams{Reqid: xfrm.ReqidMin}); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
