package dnskeys

import (
	"context"
	"net/netip"
	"testing"

	"github.com/miekg/dns"
)

// BenchmarkLookupCached measures a lookup answered from the result cache:
// the agent's hot path when it meets a known peer again.
func BenchmarkLookupCached(b *testing.B) {
	ev, a, now := fixture(b, "secure_v4.bin")
	r := newReplayResolver(b, &replayFetcher{ev: ev}, a, &clock{now: now})
	ctx := context.Background()
	if res, err := r.Lookup(ctx, ev.QName, dns.TypeIPSECKEY); err != nil || res.State != Secure {
		b.Fatalf("warm-up: %v %v", res, err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := r.Lookup(ctx, ev.QName, dns.TypeIPSECKEY); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLookupAddrCached is the same through LookupAddr, which builds
// the KeyResult (decoded keys, sorted) on every call.
func BenchmarkLookupAddrCached(b *testing.B) {
	ev, a, now := fixture(b, "secure_v4.bin")
	r := newReplayResolver(b, &replayFetcher{ev: ev}, a, &clock{now: now})
	ctx := context.Background()
	addr := netip.MustParseAddr("192.0.2.1")
	if kr, err := r.LookupAddr(ctx, addr); err != nil || !kr.Usable() {
		b.Fatalf("warm-up: %v %v", kr, err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := r.LookupAddr(ctx, addr); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkValidate measures the pure validator over a recorded three-zone
// chain (no I/O, no cache).
func BenchmarkValidate(b *testing.B) {
	ev, a, now := fixture(b, "secure_v4.bin")
	b.ReportAllocs()
	for b.Loop() {
		if res := Validate(ev, a, now, Options{}); res.State != Secure {
			b.Fatal(res)
		}
	}
}

// BenchmarkValidateSigCache is BenchmarkValidate with a warm SigCache, as
// in a Resolver that validated the same chain before: compare the two for
// what the cache saves per lookup in one zone.
func BenchmarkValidateSigCache(b *testing.B) {
	ev, a, now := fixture(b, "secure_v4.bin")
	opt := Options{SigCache: NewSigCache(DefaultSigCacheEntries)}
	if res := Validate(ev, a, now, opt); res.State != Secure {
		b.Fatal(res)
	}
	b.ReportAllocs()
	for b.Loop() {
		if res := Validate(ev, a, now, opt); res.State != Secure {
			b.Fatal(res)
		}
	}
}
