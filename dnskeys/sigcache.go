package dnskeys

import (
	"bytes"
	"crypto/sha256"
	"slices"
	"sync"

	"github.com/miekg/dns"
)

// SigCache remembers the RRSIG verifications that succeeded, so that the
// signatures nearly every lookup meets again — over the DNSKEY, DS and
// NSEC RRsets of the zones between the trust anchor and the answer — are
// verified once rather than once per lookup. With 200 peers in one reverse
// zone, verifying those again made up most of the agent's CPU time.
//
// A hit stands for exactly the verification it replaces: the key is a
// SHA-256 over the complete wire form of the RRSIG, the DNSKEY and every
// record of the RRset (only the TTLs are left out, which
// RRSIG.Verify replaces by the RRSIG's original TTL anyway). Everything
// else the validator decides — validity windows against now, which keys
// are trusted, denials — is decided afresh on every call. Failures are
// not remembered.
//
// A SigCache is safe for concurrent use. The zero value is not usable; a
// nil *SigCache verifies every signature.
type SigCache struct {
	mu   sync.Mutex
	max  int
	seen map[[sha256.Size]byte]struct{}
}

// DefaultSigCacheEntries is the size of the Resolver's SigCache.
const DefaultSigCacheEntries = 4096

// NewSigCache returns a SigCache that holds up to max verifications.
func NewSigCache(max int) *SigCache {
	return &SigCache{max: max, seen: make(map[[sha256.Size]byte]struct{})}
}

// Len reports how many verifications the cache holds.
func (c *SigCache) Len() int {
	if c == nil {
		return 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.seen)
}

// verify is sig.Verify(key, set), remembered when it succeeds.
func (c *SigCache) verify(sig *dns.RRSIG, key *dns.DNSKEY, set []dns.RR) error {
	if c == nil || c.max <= 0 {
		return sig.Verify(key, set)
	}
	id, ok := sigCacheKey(sig, key, set)
	if ok {
		c.mu.Lock()
		_, hit := c.seen[id]
		c.mu.Unlock()
		if hit {
			return nil
		}
	}
	if err := sig.Verify(key, set); err != nil {
		return err
	}
	if ok {
		c.mu.Lock()
		if len(c.seen) >= c.max {
			for k := range c.seen { // evict one, at random (map order)
				delete(c.seen, k)
				break
			}
		}
		c.seen[id] = struct{}{}
		c.mu.Unlock()
	}
	return nil
}

// sigCacheKey hashes the wire forms of sig, key and the RRset (sorted,
// since the order of an RRset is not significant to its signature, and
// resolvers rotate it). It reports false if a record cannot be packed:
// that verification is then not cached.
func sigCacheKey(sig *dns.RRSIG, key *dns.DNSKEY, set []dns.RR) ([sha256.Size]byte, bool) {
	var buf []byte
	pack := func(rr dns.RR) ([]byte, bool) {
		rr = dns.Copy(rr)
		rr.Header().Ttl = 0
		if need := dns.Len(rr) + 16; cap(buf) < need {
			buf = make([]byte, need)
		}
		n, err := dns.PackRR(rr, buf[:cap(buf)], 0, nil, false)
		if err != nil {
			return nil, false
		}
		return bytes.Clone(buf[:n]), true
	}
	h := sha256.New()
	records := make([][]byte, 0, len(set))
	for _, rr := range set {
		b, ok := pack(rr)
		if !ok {
			return [sha256.Size]byte{}, false
		}
		records = append(records, b)
	}
	slices.SortFunc(records, bytes.Compare)
	for _, rr := range []dns.RR{sig, key} {
		b, ok := pack(rr)
		if !ok {
			return [sha256.Size]byte{}, false
		}
		records = append(records, b)
	}
	// Each record is self-delimiting (its RDLENGTH), so the concatenation
	// is unambiguous; the count closes it.
	for _, b := range records {
		h.Write(b)
	}
	h.Write([]byte{byte(len(set) >> 8), byte(len(set))})
	var id [sha256.Size]byte
	h.Sum(id[:0])
	return id, true
}
