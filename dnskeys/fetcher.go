package dnskeys

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/miekg/dns"
)

// RecursiveFetcher asks recursive resolvers (RD=1) with DO and CD set, so
// that the resolver returns signatures and does not hide data it would call
// bogus: validation happens here, and the AD bit is ignored.
type RecursiveFetcher struct {
	Servers   []string // "ip:port"
	Exchanger Exchanger
	Attempts  int
	UDPSize   uint16
}

// Fetch implements Fetcher.
func (f *RecursiveFetcher) Fetch(ctx context.Context, name string, qtype uint16) (*dns.Msg, error) {
	return exchangeAny(ctx, f.Exchanger, newQuery(name, qtype, true, true, f.UDPSize), f.Servers, f.Attempts)
}

// StubFetcher asks authoritative servers directly (RD=0), choosing them by
// a forward map from zone to server addresses, like unbound's stub-zone:
// a question goes to the servers of the deepest configured zone that
// contains its name, except that DS questions go to the parent side of a
// zone cut (RFC 4035 §3.1.4.1). Names outside every configured zone go to
// Fallback, if set. Build it with NewStubFetcher. It serves private setups and the tests, where there is
// no recursive resolver.
type StubFetcher struct {
	// Zones maps a zone name to its authoritative servers ("ip:port").
	Zones     map[string][]string
	Fallback  Fetcher
	Exchanger Exchanger
	Attempts  int
	UDPSize   uint16

	zones []string // canonical, deepest first; built by NewStubFetcher
}

// NewStubFetcher validates and normalizes a forward map.
func NewStubFetcher(zones map[string][]string, ex Exchanger, fallback Fetcher) (*StubFetcher, error) {
	f := &StubFetcher{Zones: map[string][]string{}, Exchanger: ex, Fallback: fallback}
	for z, servers := range zones {
		cz, err := NormalizeName(z)
		if err != nil {
			return nil, err
		}
		if len(servers) == 0 {
			return nil, fmt.Errorf("dnskeys: stub zone %s has no servers", cz)
		}
		for _, s := range servers {
			ns, err := normalizeServer(s)
			if err != nil {
				return nil, err
			}
			f.Zones[cz] = append(f.Zones[cz], ns)
		}
		f.zones = append(f.zones, cz)
	}
	sort.Slice(f.zones, func(i, j int) bool { return labelCount(f.zones[i]) > labelCount(f.zones[j]) })
	return f, nil
}

// route returns the servers for a question.
func (f *StubFetcher) route(name string, qtype uint16) []string {
	for _, z := range f.zones {
		if !isSubdomain(z, name) {
			continue
		}
		if qtype == dns.TypeDS && z == name && name != "." {
			continue
		}
		return f.Zones[z]
	}
	return nil
}

// Fetch implements Fetcher.
func (f *StubFetcher) Fetch(ctx context.Context, name string, qtype uint16) (*dns.Msg, error) {
	servers := f.route(canonical(name), qtype)
	if servers == nil {
		if f.Fallback != nil {
			return f.Fallback.Fetch(ctx, name, qtype)
		}
		return nil, fmt.Errorf("dnskeys: no stub zone holds %s", name)
	}
	return exchangeAny(ctx, f.Exchanger, newQuery(name, qtype, false, false, f.UDPSize), servers, f.Attempts)
}

// cachingFetcher puts a response cache and request collapsing in front of a
// Fetcher. Responses are shared read-only between lookups.
type cachingFetcher struct {
	inner  Fetcher
	cache  *cache[question, *dns.Msg]
	flight flight[question, *dns.Msg]
	ttls   ttlPolicy
	now    func() time.Time
}

func (f *cachingFetcher) Fetch(ctx context.Context, name string, qtype uint16) (*dns.Msg, error) {
	q := question{canonical(name), qtype}
	if m, ok := f.cache.get(q, f.now()); ok {
		return m, nil
	}
	m, err := f.flight.do(ctx, q, func(ctx context.Context) (*dns.Msg, error) {
		m, err := f.inner.Fetch(ctx, name, qtype)
		if err != nil {
			return nil, err
		}
		if m.Rcode == dns.RcodeSuccess || m.Rcode == dns.RcodeNameError {
			f.cache.put(q, m, f.ttls.clamp(msgTTL(m)), f.now())
		}
		return m, nil
	})
	return m, err
}

// forget drops the cached responses that a bogus result rested on, so that
// the next lookup fetches them afresh.
func (f *cachingFetcher) forget(ev *Evidence) {
	for _, m := range ev.Responses {
		if len(m.Question) == 1 {
			f.cache.remove(question{canonical(m.Question[0].Name), m.Question[0].Qtype})
		}
	}
}

// msgTTL is how long a response may be cached: the smallest TTL among its
// records, and for a negative answer min(SOA TTL, SOA MINIMUM) (RFC 2308 §5).
func msgTTL(m *dns.Msg) uint32 {
	ttl := ^uint32(0)
	for _, sec := range [][]dns.RR{m.Answer, m.Ns} {
		for _, rr := range sec {
			ttl = minTTL(ttl, rr.Header().Ttl)
			if soa, ok := rr.(*dns.SOA); ok {
				ttl = minTTL(ttl, soa.Minttl)
			}
		}
	}
	if ttl == ^uint32(0) {
		return 0
	}
	return ttl
}
