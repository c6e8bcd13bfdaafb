package dnskeys_test

import (
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/oe-agent/oe-agent/dnskeys"
)

// BenchmarkNSDColdLookup measures a cold IPSECKEY lookup of 192.0.2.1
// against the NSD tree: a fresh Resolver (empty caches) walks
// . -> in-addr.arpa. -> 2.0.192.in-addr.arpa. over loopback UDP each time.
// It reports the median as median-ns/op.
func BenchmarkNSDColdLookup(b *testing.B) {
	tr, _ := served(b, nil, nil)
	anchors, err := dnskeys.LoadAnchors(tr.Anchor)
	if err != nil {
		b.Fatal(err)
	}
	stub := map[string][]string{}
	for z, a := range tr.Servers {
		stub[z] = []string{a}
	}
	name, _ := dnskeys.ReverseName(netip.MustParseAddr("192.0.2.1"))
	var times []time.Duration
	b.ReportAllocs()
	for b.Loop() {
		r, err := dnskeys.New(dnskeys.Config{Anchors: anchors, Stub: stub, DisableLegacyKEY: true})
		if err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		res, err := r.Lookup(b.Context(), name, dns.TypeIPSECKEY)
		times = append(times, time.Since(start))
		if err != nil || res.State != dnskeys.Secure || len(res.Zones) != 3 {
			b.Fatalf("%v %v", res, err)
		}
	}
	slices.Sort(times)
	b.ReportMetric(float64(times[len(times)/2].Nanoseconds()), "median-ns/op")
}
