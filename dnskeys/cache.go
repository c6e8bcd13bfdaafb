package dnskeys

import (
	"container/list"
	"sync"
	"sync/atomic"
	"time"
)

// cache is a least-recently-used map bounded in entries whose entries
// expire. Time is passed in, never read, so tests control it. A mutex
// guards all fields below it; no method calls out while holding it.
type cache[K comparable, V any] struct {
	max          int
	hits, misses atomic.Uint64

	mu sync.Mutex
	ll *list.List // of *cacheEntry[K, V], most recently used first
	m  map[K]*list.Element
}

type cacheEntry[K comparable, V any] struct {
	key     K
	val     V
	expires time.Time
}

func newCache[K comparable, V any](max int) *cache[K, V] {
	if max <= 0 {
		max = 1
	}
	return &cache[K, V]{max: max, ll: list.New(), m: map[K]*list.Element{}}
}

// get returns the live entry for k.
func (c *cache[K, V]) get(k K, now time.Time) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var zero V
	el, ok := c.m[k]
	if !ok {
		c.misses.Add(1)
		return zero, false
	}
	e := el.Value.(*cacheEntry[K, V])
	if !now.Before(e.expires) {
		c.ll.Remove(el)
		delete(c.m, k)
		c.misses.Add(1)
		return zero, false
	}
	c.ll.MoveToFront(el)
	c.hits.Add(1)
	return e.val, true
}

// put stores v under k for ttl; a ttl of zero or less stores nothing. The
// least recently used entry makes room when the cache is full.
func (c *cache[K, V]) put(k K, v V, ttl time.Duration, now time.Time) {
	if ttl <= 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.m[k]; ok {
		e := el.Value.(*cacheEntry[K, V])
		e.val, e.expires = v, now.Add(ttl)
		c.ll.MoveToFront(el)
		return
	}
	for c.ll.Len() >= c.max {
		old := c.ll.Back()
		c.ll.Remove(old)
		delete(c.m, old.Value.(*cacheEntry[K, V]).key)
	}
	c.m[k] = c.ll.PushFront(&cacheEntry[K, V]{key: k, val: v, expires: now.Add(ttl)})
}

func (c *cache[K, V]) remove(k K) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.m[k]; ok {
		c.ll.Remove(el)
		delete(c.m, k)
	}
}

func (c *cache[K, V]) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ll.Len()
}

// ttlPolicy bounds cache lifetimes.
type ttlPolicy struct {
	min, max, bogus time.Duration
}

// clamp converts a record TTL in seconds into a cache lifetime within
// [min, max].
func (p ttlPolicy) clamp(ttl uint32) time.Duration {
	d := time.Duration(ttl) * time.Second
	if d < p.min {
		d = p.min
	}
	if p.max > 0 && d > p.max {
		d = p.max
	}
	return d
}

// forResult is the cache lifetime of a validated result: Bogus and
// Indeterminate results live the bogus time, which is meant to be short
// (RFC 9520 §3 caches resolution failures briefly), others their TTL
// clamped.
func (p ttlPolicy) forResult(r *Result) time.Duration {
	switch r.State {
	case Secure, Insecure:
		return p.clamp(uint32(r.TTL / time.Second))
	}
	return p.bogus
}
