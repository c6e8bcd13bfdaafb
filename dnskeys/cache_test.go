package dnskeys

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestCacheTTLAndLRU(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	c := newCache[string, int](2)
	c.put("a", 1, 10*time.Second, now)
	c.put("b", 2, 10*time.Second, now)
	if v, ok := c.get("a", now.Add(9*time.Second)); !ok || v != 1 {
		t.Fatalf("a = %v %v", v, ok)
	}
	// b is now least recently used and makes room for c.
	c.put("c", 3, 10*time.Second, now)
	if _, ok := c.get("b", now); ok {
		t.Error("b survived eviction")
	}
	if _, ok := c.get("a", now.Add(10*time.Second)); ok {
		t.Error("a outlived its TTL")
	}
	c.put("zero", 4, 0, now)
	if _, ok := c.get("zero", now); ok {
		t.Error("zero TTL was stored")
	}
	c.remove("c")
	if c.len() != 0 {
		t.Errorf("len = %d after expiry and removal", c.len())
	}
}

func TestTTLPolicy(t *testing.T) {
	p := ttlPolicy{min: 30 * time.Second, max: time.Hour, bogus: 5 * time.Second}
	if got := p.clamp(1); got != 30*time.Second {
		t.Errorf("clamp(1) = %v", got)
	}
	if got := p.clamp(86400); got != time.Hour {
		t.Errorf("clamp(1d) = %v", got)
	}
	if got := p.forResult(&Result{State: Bogus, TTL: time.Hour}); got != 5*time.Second {
		t.Errorf("bogus lifetime %v", got)
	}
	if got := p.forResult(&Result{State: Indeterminate}); got != 5*time.Second {
		t.Errorf("indeterminate lifetime %v", got)
	}
	if got := p.forResult(&Result{State: Secure, TTL: 600 * time.Second}); got != 600*time.Second {
		t.Errorf("secure lifetime %v", got)
	}
}

func TestFlightCollapses(t *testing.T) {
	var g flight[string, int]
	var calls atomic.Int32
	release := make(chan struct{})
	var wg sync.WaitGroup
	results := make([]int, 8)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			v, err := g.do(context.Background(), "k", func(context.Context) (int, error) {
				calls.Add(1)
				<-release
				return 42, nil
			})
			if err != nil {
				t.Error(err)
			}
			results[i] = v
		}()
	}
	time.Sleep(50 * time.Millisecond)
	close(release)
	wg.Wait()
	if calls.Load() != 1 {
		t.Errorf("fn ran %d times", calls.Load())
	}
	for _, v := range results {
		if v != 42 {
			t.Errorf("result %d", v)
		}
	}
}

func TestFlightWaiterLeavesOnItsContext(t *testing.T) {
	var g flight[string, int]
	block := make(chan struct{})
	defer close(block)
	go g.do(context.Background(), "k", func(context.Context) (int, error) { <-block; return 1, nil })
	time.Sleep(20 * time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	if _, err := g.do(ctx, "k", func(context.Context) (int, error) { return 2, nil }); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err = %v", err)
	}
}
