package agent

import (
	"crypto/ed25519"
	"net/netip"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

func TestHostKeyRecordForAddresses(t *testing.T) {
	pub := ed25519.PublicKey(make([]byte, 32))
	for _, tc := range []struct{ addr, owner string }{
		{"192.0.2.1", "1.2.0.192.in-addr.arpa."},
		{"2001:db8::1", "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa."},
	} {
		hk, err := hostKeyOf(pub, netip.MustParseAddr(tc.addr))
		if err != nil {
			t.Fatal(err)
		}
		rr, err := dns.NewRR(hk.IPSECKEY)
		if err != nil {
			t.Fatalf("%s: record %q does not parse: %v", tc.addr, hk.IPSECKEY, err)
		}
		k, ok := rr.(*dns.IPSECKEY)
		if !ok || rr.Header().Name != tc.owner || k.Precedence != 10 || k.GatewayType != 0 || k.Algorithm != 4 {
			t.Fatalf("%s: %s", tc.addr, hk.IPSECKEY)
		}
		if !strings.HasPrefix(hk.Algorithm, "ed") {
			t.Fatalf("algorithm %q", hk.Algorithm)
		}
	}
	hk, err := hostKeyOf(pub, netip.Addr{})
	if err != nil || hk.IPSECKEY != "" || hk.PublicKey == "" {
		t.Fatalf("without address: %+v %v", hk, err)
	}
}

func TestReverseZoneOf(t *testing.T) {
	for p, want := range map[string]string{
		"192.0.2.0/24":  "2.0.192.in-addr.arpa.",
		"192.0.2.7/32":  "7.2.0.192.in-addr.arpa.",
		"198.51.0.0/16": "51.198.in-addr.arpa.",
		"0.0.0.0/0":     "",
		"2001:db8::/32": "8.b.d.0.1.0.0.2.ip6.arpa.",
		"2001:db8::/64": "0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa.",
	} {
		if got := reverseZoneOf(netip.MustParsePrefix(p)); got != want {
			t.Errorf("reverseZoneOf(%s) = %q, want %q", p, got, want)
		}
	}
}
