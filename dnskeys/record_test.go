package dnskeys_test

import (
	"flag"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/oe-agent/oe-agent/dnskeys"
	"github.com/oe-agent/oe-agent/internal/testenv"
)

var record = flag.Bool("record", false, "re-record testdata/evidence from the NSD test tree")

// fixture is one recorded question, replayed by the pure validator tests.
type fixture struct {
	file  string
	name  string
	qtype uint16
}

func reverse(addr string) string {
	n, _ := dnskeys.ReverseName(netip.MustParseAddr(addr))
	return n
}

var fixtures = []fixture{
	{"secure_v4.bin", reverse("192.0.2.1"), dns.TypeIPSECKEY},
	{"secure_v6.bin", reverse("2001:db8::1"), dns.TypeIPSECKEY},
	{"nodata_nsec.bin", reverse("192.0.2.4"), dns.TypeIPSECKEY},
	{"nxdomain_nsec.bin", reverse("192.0.2.5"), dns.TypeIPSECKEY},
	{"nodata_nsec3.bin", reverse("2001:db8::3"), dns.TypeIPSECKEY},
	{"nxdomain_nsec3.bin", reverse("2001:db8::4"), dns.TypeIPSECKEY},
	{"wildcard.bin", "host.w." + v4Zone, dns.TypeIPSECKEY},
	{"cname_cross.bin", reverse("192.0.2.7"), dns.TypeIPSECKEY},
	{"insecure.bin", reverse("192.0.2.9"), dns.TypeIPSECKEY},
}

// TestNetnsNSDRecordFixtures re-records the evidence the unit tests replay, when
// run with -record: go test -run TestNetnsNSDRecordFixtures -record ./dnskeys
func TestNetnsNSDRecordFixtures(t *testing.T) {
	testenv.RequireNetns(t)
	if !*record {
		t.Skip("run with -record to re-record testdata/evidence")
	}
	tr, _ := served(t, nil, nil)
	anchors, err := dnskeys.LoadAnchors(tr.Anchor)
	if err != nil {
		t.Fatal(err)
	}
	zones := map[string][]string{}
	for z, a := range tr.Servers {
		zones[z] = []string{a}
	}
	f, err := dnskeys.NewStubFetcher(zones, &dnskeys.NetExchanger{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join("testdata", "evidence")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	for _, fx := range fixtures {
		ev := dnskeys.Collect(t.Context(), f, anchors, fx.name, fx.qtype, dnskeys.Options{})
		if res := dnskeys.Validate(ev, anchors, now, dnskeys.Options{}); res.State != dnskeys.Secure && res.State != dnskeys.Insecure {
			t.Fatalf("%s: %s", fx.file, res)
		}
		b, err := ev.Pack()
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, fx.file), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	key, err := os.ReadFile(tr.Anchor)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "anchor.key"), key, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "now"), []byte(strconv.FormatInt(now.Unix(), 10)+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
}
