package oetest

import (
	"encoding/binary"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/miekg/dns"
)

// Output of iproute2 6.1 for oe-agent's policies (trap, resolver bypass,
// block, socket policy) and states (a larval one and an SA).
const ipPolicyText = `src ::/0 dst ::/0 
	socket out priority 0 ptype main 
src 0.0.0.0/0 dst 192.0.2.0/24 
	dir out priority 239143052 ptype main 
	tmpl src 0.0.0.0 dst 0.0.0.0
		proto esp reqid 234881027 mode transport
src 192.0.2.0/24 dst 0.0.0.0/0 
	dir in priority 239143052 ptype main 
src ::/0 dst 2001:db8::/64 
	dir out priority 239117252 ptype main 
	tmpl src :: dst ::
		proto esp reqid 234881027 mode transport
		level use 
src 0.0.0.0/0 dst 192.0.2.53/32 proto udp dport 53 
	dir out priority 235992161 ptype main 
src 192.0.2.1/32 dst 192.0.2.2/32 proto udp dport 53 
	dir out action block priority 0 ptype main 
`

const ipStateText = `src 192.0.2.1 dst 192.0.2.2
	proto esp spi 0x00000000 reqid 234881027 mode transport
	replay-window 0 
	anti-replay context: seq 0x0, oseq 0x0, bitmap 0x00000000
	sel src 192.0.2.1/32 dst 192.0.2.2/32 proto udp sport 53789 dport 7777 dev eth0 
src 2001:db8::2 dst 2001:db8::1
	proto esp spi 0x00002a01 reqid 43 mode transport
	replay-window 0 
	aead rfc4106(gcm(aes)) 0x0102030405060708090a0b0c0d0e0f1011121314 128
	anti-replay context: seq 0x0, oseq 0x0, bitmap 0x00000000
	sel src ::/0 dst ::/0 
`

func TestParsePolicies(t *testing.T) {
	ps, err := ParsePolicies(ipPolicyText)
	if err != nil {
		t.Fatal(err)
	}
	pfx := netip.MustParsePrefix
	want := []Policy{
		{Src: pfx("::/0"), Dst: pfx("::/0"), Dir: "out", Socket: true, Action: "allow"},
		{Src: pfx("0.0.0.0/0"), Dst: pfx("192.0.2.0/24"), Dir: "out", Action: "allow", Priority: 239143052,
			Tmpls: []Tmpl{{Src: netip.MustParseAddr("0.0.0.0"), Dst: netip.MustParseAddr("0.0.0.0"), Proto: "esp", Reqid: 234881027, Mode: "transport", Level: "required"}}},
		{Src: pfx("192.0.2.0/24"), Dst: pfx("0.0.0.0/0"), Dir: "in", Action: "allow", Priority: 239143052},
		{Src: pfx("::/0"), Dst: pfx("2001:db8::/64"), Dir: "out", Action: "allow", Priority: 239117252,
			Tmpls: []Tmpl{{Src: netip.MustParseAddr("::"), Dst: netip.MustParseAddr("::"), Proto: "esp", Reqid: 234881027, Mode: "transport", Level: "use"}}},
		{Src: pfx("0.0.0.0/0"), Dst: pfx("192.0.2.53/32"), Proto: "udp", DPort: 53, Dir: "out", Action: "allow", Priority: 235992161},
		{Src: pfx("192.0.2.1/32"), Dst: pfx("192.0.2.2/32"), Proto: "udp", DPort: 53, Dir: "out", Action: "block"},
	}
	if d := cmp.Diff(want, ps, cmp.Comparer(func(a, b netip.Addr) bool { return a == b }), cmp.Comparer(func(a, b netip.Prefix) bool { return a == b })); d != "" {
		t.Errorf("ParsePolicies (-want +got):\n%s", d)
	}
	if _, err := ParsePolicies("src 192.0.2.1/33 dst 0.0.0.0/0\n\tdir out\n"); err == nil {
		t.Error("a bad prefix parsed")
	}
	if _, err := ParsePolicies("garbage\n"); err == nil || !strings.Contains(err.Error(), "cannot read record") {
		t.Errorf("garbage: %v", err)
	}
}

func TestParseStates(t *testing.T) {
	ss, err := ParseStates(ipStateText)
	if err != nil {
		t.Fatal(err)
	}
	a, p := netip.MustParseAddr, netip.MustParsePrefix
	want := []State{
		{Src: a("192.0.2.1"), Dst: a("192.0.2.2"), Proto: "esp", SPI: 0, Reqid: 234881027, Mode: "transport", SelSrc: p("192.0.2.1/32"), SelDst: p("192.0.2.2/32")},
		{Src: a("2001:db8::2"), Dst: a("2001:db8::1"), Proto: "esp", SPI: 0x2a01, Reqid: 43, Mode: "transport", SelSrc: p("::/0"), SelDst: p("::/0")},
	}
	if d := cmp.Diff(want, ss, cmp.Comparer(func(a, b netip.Addr) bool { return a == b }), cmp.Comparer(func(a, b netip.Prefix) bool { return a == b })); d != "" {
		t.Errorf("ParseStates (-want +got):\n%s", d)
	}
}

// frame builds an Ethernet frame around an IP packet.
func frame(ethertype uint16, ip []byte) []byte {
	f := make([]byte, 14, 14+len(ip))
	binary.BigEndian.PutUint16(f[12:], ethertype)
	return append(f, ip...)
}

func ipv4(proto byte, src, dst string, payload []byte) []byte {
	h := make([]byte, 20)
	h[0] = 0x45
	binary.BigEndian.PutUint16(h[2:], uint16(20+len(payload)))
	h[8], h[9] = 64, proto
	s, d := netip.MustParseAddr(src).As4(), netip.MustParseAddr(dst).As4()
	copy(h[12:], s[:])
	copy(h[16:], d[:])
	return append(h, payload...)
}

func ipv6(next byte, src, dst string, payload []byte) []byte {
	h := make([]byte, 40)
	h[0] = 0x60
	binary.BigEndian.PutUint16(h[4:], uint16(len(payload)))
	h[6], h[7] = next, 64
	s, d := netip.MustParseAddr(src).As16(), netip.MustParseAddr(dst).As16()
	copy(h[8:], s[:])
	copy(h[24:], d[:])
	return append(h, payload...)
}

func udp(sport, dport uint16, payload []byte) []byte {
	h := make([]byte, 8)
	binary.BigEndian.PutUint16(h, sport)
	binary.BigEndian.PutUint16(h[2:], dport)
	binary.BigEndian.PutUint16(h[4:], uint16(8+len(payload)))
	return append(h, payload...)
}

func TestDecodeFrame(t *testing.T) {
	esp := []byte{0, 0, 0x12, 0x34, 0, 0, 0, 1, 0xde, 0xad}
	hopByHop := append([]byte{50, 0, 1, 4, 0, 0, 0, 0}, esp...) // next header ESP, 8 bytes
	for _, tc := range []struct {
		name  string
		frame []byte
		kind  Kind
		spi   uint32
		dport uint16
	}{
		{"arp", frame(0x0806, make([]byte, 28)), KindARP, 0, 0},
		{"esp4", frame(0x0800, ipv4(50, "192.0.2.1", "192.0.2.2", esp)), KindESP, 0x1234, 0},
		{"esp6 after hop-by-hop", frame(0x86dd, ipv6(0, "2001:db8::1", "2001:db8::2", hopByHop)), KindESP, 0x1234, 0},
		{"ike 500", frame(0x0800, ipv4(17, "192.0.2.1", "192.0.2.2", udp(500, 500, make([]byte, 28)))), KindIKE, 0, 500},
		{"ike 4500 non-esp marker", frame(0x0800, ipv4(17, "192.0.2.1", "192.0.2.2", udp(4500, 4500, make([]byte, 32)))), KindIKE, 0, 4500},
		{"udp-encapsulated esp", frame(0x0800, ipv4(17, "192.0.2.1", "192.0.2.2", udp(4500, 4500, esp))), KindESP, 0x1234, 4500},
		{"nat keepalive", frame(0x0800, ipv4(17, "192.0.2.1", "192.0.2.2", udp(4500, 4500, []byte{0xff}))), KindIKE, 0, 4500},
		{"dns", frame(0x86dd, ipv6(17, "2001:db8::1", "2001:db8::53", udp(40000, 53, []byte("q")))), KindDNS, 0, 53},
		{"udp", frame(0x0800, ipv4(17, "192.0.2.1", "192.0.2.2", udp(40000, 7000, []byte("OETEST-x")))), KindUDP, 0, 7000},
		{"nd", frame(0x86dd, ipv6(58, "fe80::1", "ff02::1:ff00:2", []byte{135, 0, 0, 0})), KindND, 0, 0},
		{"mld", frame(0x86dd, ipv6(58, "fe80::1", "ff02::16", []byte{143, 0, 0, 0})), KindMLD, 0, 0},
		{"truncated ipv4", frame(0x0800, []byte{0x45, 0}), KindOther, 0, 0},
		{"truncated udp", frame(0x0800, ipv4(17, "192.0.2.1", "192.0.2.2", []byte{1, 2})), KindUDP, 0, 0},
		{"short", []byte{1, 2, 3}, KindOther, 0, 0},
	} {
		p := DecodeFrame(tc.frame)
		if p.Kind != tc.kind || p.SPI != tc.spi || p.DstPort != tc.dport {
			t.Errorf("%s: kind %s spi %#x dport %d, want %s %#x %d (%s)", tc.name, p.Kind, p.SPI, p.DstPort, tc.kind, tc.spi, tc.dport, p)
		}
	}
	p := DecodeFrame(frame(0x0800, ipv4(17, "192.0.2.1", "192.0.2.2", udp(40000, 7000, []byte("OETEST-x")))))
	if !p.Contains([]byte("OETEST-x")) || string(p.Payload) != "OETEST-x" || p.Src != netip.MustParseAddr("192.0.2.1") {
		t.Errorf("udp payload: %+v", p)
	}
}

func TestFlowReport(t *testing.T) {
	t0 := time.Unix(1000, 0)
	sent := make([]time.Time, 6)
	for i := range sent {
		sent[i] = t0.Add(time.Duration(i) * 10 * time.Millisecond)
	}
	// 0 and 3 lost; 2 arrives before 1; 99 is not of this flow.
	arrived := map[uint32]time.Time{
		2:  t0.Add(300 * time.Millisecond),
		1:  t0.Add(301 * time.Millisecond),
		4:  t0.Add(302 * time.Millisecond),
		5:  t0.Add(303 * time.Millisecond),
		99: t0,
	}
	r := flowReport(sent, arrived, []uint32{2, 1, 99, 4, 5}, 1)
	want := FlowReport{Sent: 6, Delivered: 4, Duplicates: 1, Lost: []uint32{0, 3}, FirstSeq: 1, FirstDelivery: 300 * time.Millisecond, Reordered: 1}
	if d := cmp.Diff(want, r); d != "" {
		t.Errorf("flowReport (-want +got):\n%s", d)
	}
	if r := flowReport(sent, map[uint32]time.Time{}, nil, 0); r.Delivered != 0 || len(r.Lost) != 6 || r.FirstDelivery != 0 {
		t.Errorf("nothing delivered: %s", r)
	}
}

func TestCorruptRRSIGs(t *testing.T) {
	owner := "4.2.0.192.in-addr.arpa."
	sig := &dns.RRSIG{Hdr: dns.RR_Header{Name: owner, Rrtype: dns.TypeRRSIG, Class: dns.ClassINET, Ttl: 300},
		TypeCovered: dns.TypeIPSECKEY, Algorithm: 13, Labels: 6, OrigTtl: 300, Expiration: 2000000000, Inception: 1000000000,
		KeyTag: 1234, SignerName: "2.0.192.in-addr.arpa.", Signature: "AAAABBBBCCCCDDDD"}
	other := *sig
	other.TypeCovered = dns.TypePTR
	text := sig.String() + "\n" + other.String() + "\n"
	out := CorruptRRSIGs(t, text, map[string]bool{owner: true}, dns.TypeIPSECKEY)
	lines := strings.Split(out, "\n")
	got, err := dns.NewRR(lines[0])
	if err != nil {
		t.Fatal(err)
	}
	if got.(*dns.RRSIG).Signature == sig.Signature {
		t.Error("the IPSECKEY signature is unchanged")
	}
	if lines[1] != other.String() {
		t.Errorf("the PTR signature changed: %s", lines[1])
	}
}

func FuzzDecodeFrame(f *testing.F) {
	f.Add(frame(0x0800, ipv4(17, "192.0.2.1", "192.0.2.2", udp(4500, 4500, []byte{0, 0, 0, 1}))))
	f.Add(frame(0x86dd, ipv6(44, "2001:db8::1", "2001:db8::2", []byte{50, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4})))
	f.Add(frame(0x86dd, ipv6(0, "2001:db8::1", "2001:db8::2", []byte{60, 255})))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		p := DecodeFrame(b)
		_ = p.String()
		if p.Kind == "" {
			t.Fatal("no kind")
		}
	})
}

func FuzzParsePolicies(f *testing.F) {
	f.Add(ipPolicyText)
	f.Add(ipStateText)
	f.Fuzz(func(t *testing.T, s string) {
		ParsePolicies(s)
		ParseStates(s)
	})
}
