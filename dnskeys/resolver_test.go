package dnskeys

import (
	"context"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

// replayFetcher answers from recorded evidence and counts fetches.
type replayFetcher struct {
	ev      *Evidence
	fetches atomic.Int32
	delay   time.Duration
	// tamper, if set, edits each response copy before it is returned.
	tamper func(*dns.Msg)
}

func (f *replayFetcher) Fetch(ctx context.Context, name string, qtype uint16) (*dns.Msg, error) {
	f.fetches.Add(1)
	if f.delay > 0 {
		select {
		case <-time.After(f.delay):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	m := f.ev.Response(name, qtype)
	if m == nil {
		return nil, errors.New("replay: not recorded")
	}
	m = m.Copy()
	if f.tamper != nil {
		f.tamper(m)
	}
	return m, nil
}

func fixture(t testing.TB, file string) (*Evidence, *Anchors, time.Time) {
	t.Helper()
	dir := filepath.Join("testdata", "evidence")
	b, err := os.ReadFile(filepath.Join(dir, file))
	if err != nil {
		t.Fatal(err)
	}
	ev, err := UnpackEvidence(b)
	if err != nil {
		t.Fatal(err)
	}
	a, err := LoadAnchors(filepath.Join(dir, "anchor.key"))
	if err != nil {
		t.Fatal(err)
	}
	nb, _ := os.ReadFile(filepath.Join(dir, "now"))
	sec, _ := strconv.ParseInt(strings.TrimSpace(string(nb)), 10, 64)
	return ev, a, time.Unix(sec, 0)
}

// clock is a settable test clock.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func newReplayResolver(t testing.TB, f *replayFetcher, a *Anchors, clk *clock) *Resolver {
	t.Helper()
	r, err := New(Config{Anchors: a, Fetcher: f, Now: clk.Now, MinTTL: time.Second, MaxTTL: time.Hour, BogusTTL: 2 * time.Second, DisableLegacyKEY: true})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestResolverCachesResults(t *testing.T) {
	ev, a, now := fixture(t, "secure_v4.bin")
	f := &replayFetcher{ev: ev}
	clk := &clock{now: now}
	r := newReplayResolver(t, f, a, clk)
	ctx := context.Background()
	kr, err := r.LookupAddr(ctx, netip.MustParseAddr("192.0.2.1"))
	if err != nil || kr.State != Secure || kr.Best() == nil {
		t.Fatalf("first lookup: %v %v", kr, err)
	}
	cold := f.fetches.Load()
	if _, err := r.LookupAddr(ctx, netip.MustParseAddr("192.0.2.1")); err != nil {
		t.Fatal(err)
	}
	if f.fetches.Load() != cold {
		t.Errorf("cached lookup fetched %d more", f.fetches.Load()-cold)
	}
	if n, hits, _ := r.CacheStats(); n != 1 || hits != 1 {
		t.Errorf("cache stats: %d entries, %d hits", n, hits)
	}
	// After the TTL (300 s in the fixture) the result is fetched again,
	// but the DNSKEY and DS responses are reused from the response cache
	// only while they live too: all expire together here.
	clk.Add(301 * time.Second)
	if _, err := r.LookupAddr(ctx, netip.MustParseAddr("192.0.2.1")); err != nil {
		t.Fatal(err)
	}
	if f.fetches.Load() == cold {
		t.Error("expired result was not refreshed")
	}
}

func TestResolverCollapsesConcurrentLookups(t *testing.T) {
	ev, a, now := fixture(t, "secure_v4.bin")
	f := &replayFetcher{ev: ev, delay: 20 * time.Millisecond}
	r := newReplayResolver(t, f, a, &clock{now: now})
	var wg sync.WaitGroup
	for i := 0; i < 10; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := r.Lookup(context.Background(), ev.QName, dns.TypeIPSECKEY)
			if err != nil || res.State != Secure {
				t.Errorf("%v %v", res, err)
			}
		}()
	}
	wg.Wait()
	single := &replayFetcher{ev: ev}
	if _, err := newReplayResolver(t, single, a, &clock{now: now}).Lookup(context.Background(), ev.QName, dns.TypeIPSECKEY); err != nil {
		t.Fatal(err)
	}
	if f.fetches.Load() != single.fetches.Load() {
		t.Errorf("10 concurrent lookups made %d fetches, one lookup makes %d", f.fetches.Load(), single.fetches.Load())
	}
}

func TestResolverBogusIsShortLivedAndRefetched(t *testing.T) {
	ev, a, now := fixture(t, "secure_v4.bin")
	var broken atomic.Bool
	broken.Store(true)
	f := &replayFetcher{ev: ev, tamper: func(m *dns.Msg) {
		if broken.Load() && m.Question[0].Qtype == dns.TypeIPSECKEY {
			for _, rr := range m.Answer {
				if k, ok := rr.(*dns.IPSECKEY); ok {
					k.Precedence = 99
				}
			}
		}
	}}
	clk := &clock{now: now}
	r := newReplayResolver(t, f, a, clk)
	ctx := context.Background()
	res, _ := r.Lookup(ctx, ev.QName, dns.TypeIPSECKEY)
	if res.State != Bogus {
		t.Fatalf("tampered answer: %s", res)
	}
	broken.Store(false)
	clk.Add(time.Second)
	if res, _ = r.Lookup(ctx, ev.QName, dns.TypeIPSECKEY); res.State != Bogus {
		t.Fatalf("bogus result should still be cached: %s", res)
	}
	clk.Add(1500 * time.Millisecond) // past BogusTTL (2 s), well within the 300 s TTL
	if res, _ = r.Lookup(ctx, ev.QName, dns.TypeIPSECKEY); res.State != Secure {
		t.Fatalf("after the bogus TTL the answer should be refetched (the response cache forgot it): %s", res)
	}
}

func TestResolverDeadlineGivesIndeterminate(t *testing.T) {
	ev, a, now := fixture(t, "secure_v4.bin")
	f := &replayFetcher{ev: ev, delay: time.Second}
	r := newReplayResolver(t, f, a, &clock{now: now})
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	res, err := r.Lookup(ctx, ev.QName, dns.TypeIPSECKEY)
	if err != nil {
		t.Fatal(err)
	}
	if res.State != Indeterminate || time.Since(start) > 900*time.Millisecond {
		t.Fatalf("got %s after %v", res, time.Since(start))
	}
}

func TestNewConfig(t *testing.T) {
	_, a, _ := fixture(t, "secure_v4.bin")
	if _, err := New(Config{}); err == nil {
		t.Error("no anchors accepted")
	}
	dir := t.TempDir()
	rc := filepath.Join(dir, "resolv.conf")
	os.WriteFile(rc, []byte("nameserver 192.0.2.53\nnameserver 2001:db8::53\noptions attempts:3\n"), 0o644)
	r, err := New(Config{Anchors: a, ResolvConf: rc})
	if err != nil {
		t.Fatal(err)
	}
	rf := r.fetch.inner.(*RecursiveFetcher)
	if strings.Join(rf.Servers, " ") != "192.0.2.53:53 [2001:db8::53]:53" || rf.Attempts != 3 {
		t.Errorf("servers %v attempts %d", rf.Servers, rf.Attempts)
	}
	empty := filepath.Join(dir, "empty.conf")
	os.WriteFile(empty, []byte("search example.\n"), 0o644)
	if _, err := New(Config{Anchors: a, ResolvConf: empty}); err == nil {
		t.Error("resolv.conf without nameservers accepted")
	}
	if _, err := New(Config{Anchors: a, Servers: []string{"bogus host"}}); err == nil {
		t.Error("bad server accepted")
	}
	if _, err := New(Config{Anchors: a, Servers: []string{"192.0.2.53"}, MinTTL: time.Hour, MaxTTL: time.Minute}); err == nil {
		t.Error("MaxTTL below MinTTL accepted")
	}
	r, err = New(Config{Anchors: a, Stub: map[string][]string{"2.0.192.in-addr.arpa.": {"127.0.0.1:5353"}}})
	if err != nil {
		t.Fatal(err)
	}
	if sf, ok := r.fetch.inner.(*StubFetcher); !ok || sf.Fallback != nil {
		t.Errorf("stub-only config: %T", r.fetch.inner)
	}
	if _, err := r.LookupName(context.Background(), "bad..name"); err == nil {
		t.Error("invalid name accepted")
	}
}

func TestResolverCachesDenialBySOAMinimum(t *testing.T) {
	ev, a, now := fixture(t, "nodata_nsec.bin")
	f := &replayFetcher{ev: ev}
	clk := &clock{now: now}
	r := newReplayResolver(t, f, a, clk)
	res, err := r.Lookup(context.Background(), ev.QName, dns.TypeIPSECKEY)
	if err != nil || res.State != Secure || res.Denial != DenialNoData {
		t.Fatalf("%v %v", res, err)
	}
	// The test zones' SOA MINIMUM (and NSEC TTL) is 60 s, the SOA TTL 300 s:
	// RFC 2308 §5 says the denial lives 60 s.
	if res.TTL != 60*time.Second {
		t.Errorf("denial TTL %v, want 60s", res.TTL)
	}
	n := f.fetches.Load()
	clk.Add(59 * time.Second)
	r.Lookup(context.Background(), ev.QName, dns.TypeIPSECKEY)
	if f.fetches.Load() != n {
		t.Error("denial not cached for its lifetime")
	}
	clk.Add(2 * time.Second)
	r.Lookup(context.Background(), ev.QName, dns.TypeIPSECKEY)
	if f.fetches.Load() == n {
		t.Error("denial cached past its lifetime")
	}
}

func TestResolverTraceAndLogging(t *testing.T) {
	ev, a, now := fixture(t, "secure_v4.bin")
	core, logs := observer.New(zap.DebugLevel)
	f := &replayFetcher{ev: ev, tamper: func(m *dns.Msg) {
		if m.Question[0].Qtype == dns.TypeIPSECKEY {
			m.Answer = m.Answer[:len(m.Answer)-1] // drop one record: the RRSIG no longer matches
		}
	}}
	r, err := New(Config{Anchors: a, Fetcher: f, Now: func() time.Time { return now }, Logger: zap.New(core), DisableLegacyKEY: true})
	if err != nil {
		t.Fatal(err)
	}
	res, trace, err := r.Trace(context.Background(), ev.QName, dns.TypeIPSECKEY)
	if err != nil || res.State != Bogus || trace.Response(ev.QName, dns.TypeIPSECKEY) == nil || len(trace.Responses) < 5 {
		t.Fatalf("trace: %v, %d responses, %v", res, len(trace.Responses), err)
	}
	if n, _, _ := r.CacheStats(); n != 0 {
		t.Error("Trace cached its result")
	}
	r.Lookup(context.Background(), ev.QName, dns.TypeIPSECKEY)
	warn := logs.FilterMessage("dnskeys: bogus answer").All()
	if len(warn) != 1 || warn[0].Level != zap.WarnLevel || warn[0].ContextMap()["name"] != ev.QName {
		t.Fatalf("want one bogus warning, got %v", logs.All())
	}
	for _, e := range logs.All() {
		for _, fld := range e.Context {
			if strings.Contains(fld.String, "AwEAA") || strings.Contains(fld.String, "PRIVATE") {
				t.Errorf("key material in log field %s", fld.Key)
			}
		}
	}
}
