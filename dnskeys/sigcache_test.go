package dnskeys_test

import (
	"testing"
	"time"

	"github.com/oe-agent/oe-agent/dnskeys"
)

// TestSigCacheSameVerdicts: a SigCache warmed with every recorded answer
// changes no verdict, for the recorded answers, for each tampered copy and
// at times outside the signatures' validity: only the signature check is
// remembered, and only for exactly the same records.
func TestSigCacheSameVerdicts(t *testing.T) {
	files := []string{"secure_v4.bin", "secure_v6.bin", "nodata_nsec.bin", "nxdomain_nsec.bin",
		"nodata_nsec3.bin", "nxdomain_nsec3.bin", "wildcard.bin", "cname_cross.bin", "insecure.bin"}
	cache := dnskeys.NewSigCache(dnskeys.DefaultSigCacheEntries)
	warm := dnskeys.Options{SigCache: cache}
	same := func(t *testing.T, what string, a, b *dnskeys.Result) {
		t.Helper()
		if a.State != b.State || a.Reason != b.Reason || a.Zone != b.Zone || a.TTL != b.TTL || a.Denial != b.Denial || len(a.Answer) != len(b.Answer) {
			t.Errorf("%s: with the cache %s (%s, TTL %v), without %s (%s, TTL %v)", what, a.State, a.Reason, a.TTL, b.State, b.Reason, b.TTL)
		}
	}
	for _, f := range files {
		ev, anchors, now := loadFixture(t, f)
		same(t, f+" (filling)", dnskeys.Validate(ev, anchors, now, warm), dnskeys.Validate(ev, anchors, now, dnskeys.Options{}))
	}
	filled := cache.Len()
	if filled == 0 {
		t.Fatal("the cache holds nothing after validating the recorded answers")
	}
	for _, f := range files {
		ev, anchors, now := loadFixture(t, f)
		same(t, f, dnskeys.Validate(ev, anchors, now, warm), dnskeys.Validate(ev, anchors, now, dnskeys.Options{}))
		for _, at := range []time.Duration{31 * 24 * time.Hour, -2 * time.Hour} {
			same(t, f+" at another time", dnskeys.Validate(ev, anchors, now.Add(at), warm), dnskeys.Validate(ev, anchors, now.Add(at), dnskeys.Options{}))
		}
	}
	if cache.Len() != filled {
		t.Errorf("validating the same answers again added %d entries", cache.Len()-filled)
	}
	ev, anchors, now := loadFixture(t, "secure_v4.bin")
	for _, tc := range tamperCases() {
		bad := mutate(t, ev, tc.f)
		got := dnskeys.Validate(bad, anchors, now, warm)
		same(t, tc.name, got, dnskeys.Validate(bad, anchors, now, dnskeys.Options{}))
		if got.State != tc.state {
			t.Errorf("%s: %s with a warm cache, want %s", tc.name, got.State, tc.state)
		}
	}
}

// TestSigCacheBounded: the cache never holds more than its size.
func TestSigCacheBounded(t *testing.T) {
	cache := dnskeys.NewSigCache(2)
	for _, f := range []string{"secure_v4.bin", "secure_v6.bin", "cname_cross.bin"} {
		ev, anchors, now := loadFixture(t, f)
		if res := dnskeys.Validate(ev, anchors, now, dnskeys.Options{SigCache: cache}); res.State != dnskeys.Secure {
			t.Fatalf("%s: %s: %s", f, res.State, res.Reason)
		}
		if n := cache.Len(); n > 2 {
			t.Fatalf("cache of 2 holds %d", n)
		}
	}
}
