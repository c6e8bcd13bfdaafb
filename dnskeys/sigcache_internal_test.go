package dnskeys

import (
	"testing"

	"github.com/miekg/dns"
)

// TestSigCacheKey: the key ignores what RRSIG.Verify ignores (TTLs, the
// order of the RRset) and changes with anything it reads.
func TestSigCacheKey(t *testing.T) {
	mk := func(s string) dns.RR {
		rr, err := dns.NewRR(s)
		if err != nil {
			t.Fatal(err)
		}
		return rr
	}
	key := mk("example. 3600 IN DNSKEY 257 3 13 mdsswUyr3DPW132mOi8V9xESWE8jTo0dxCjjnopKl+GqJxpVXckHAeF+KkxLbxILfDLUT0rAK9iUzy1L53eKGQ==").(*dns.DNSKEY)
	sig := mk("a.example. 300 IN RRSIG A 13 2 300 20270101000000 20260101000000 12345 example. AAAA").(*dns.RRSIG)
	set := []dns.RR{mk("a.example. 300 IN A 192.0.2.1"), mk("a.example. 300 IN A 192.0.2.2")}
	base, ok := sigCacheKey(sig, key, set)
	if !ok {
		t.Fatal("no key")
	}
	check := func(what string, want bool, sig *dns.RRSIG, key *dns.DNSKEY, set []dns.RR) {
		t.Helper()
		k, ok := sigCacheKey(sig, key, set)
		if !ok {
			t.Fatalf("%s: no key", what)
		}
		if (k == base) != want {
			t.Errorf("%s: same key %v, want %v", what, k == base, want)
		}
	}
	check("reordered RRset", true, sig, key, []dns.RR{set[1], set[0]})
	check("other TTLs", true, sig, key, []dns.RR{mk("a.example. 17 IN A 192.0.2.1"), mk("a.example. 99 IN A 192.0.2.2")})
	check("a changed record", false, sig, key, []dns.RR{set[0], mk("a.example. 300 IN A 192.0.2.3")})
	check("a record less", false, sig, key, set[:1])
	check("another owner", false, sig, key, []dns.RR{mk("b.example. 300 IN A 192.0.2.1"), mk("b.example. 300 IN A 192.0.2.2")})
	check("another signature", false, mk("a.example. 300 IN RRSIG A 13 2 300 20270101000000 20260101000000 12345 example. AAAB").(*dns.RRSIG), key, set)
	check("another expiration", false, mk("a.example. 300 IN RRSIG A 13 2 300 20280101000000 20260101000000 12345 example. AAAA").(*dns.RRSIG), key, set)
	check("another key", false, sig, mk("example. 3600 IN DNSKEY 256 3 13 mdsswUyr3DPW132mOi8V9xESWE8jTo0dxCjjnopKl+GqJxpVXckHAeF+KkxLbxILfDLUT0rAK9iUzy1L53eKGQ==").(*dns.DNSKEY), set)
}
