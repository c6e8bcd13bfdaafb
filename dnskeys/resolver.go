package dnskeys

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/miekg/dns"
	"go.uber.org/zap"
)

// DefaultResolvConf is where recursive resolvers are read from when none
// are configured.
const DefaultResolvConf = "/etc/resolv.conf"

// Cache defaults.
const (
	DefaultCacheEntries  = 10000
	DefaultMinTTL        = 5 * time.Second
	DefaultMaxTTL        = 24 * time.Hour
	DefaultBogusTTL      = 5 * time.Second
	DefaultLookupTimeout = 10 * time.Second
)

// Config configures a Resolver. Only Anchors is required.
type Config struct {
	// Anchors are the DNSSEC trust anchors (LoadAnchors).
	Anchors *Anchors
	// Servers are recursive resolvers ("ip" or "ip:port"). When empty they
	// are read from ResolvConf.
	Servers []string
	// ResolvConf is the resolv.conf to read; default /etc/resolv.conf.
	ResolvConf string
	// Stub maps zones to authoritative servers, asked directly (RD=0) for
	// names inside them; other names go to the recursive resolvers. With
	// Stub set and no Servers and no ResolvConf, only stub zones resolve.
	Stub map[string][]string
	// Timeout bounds one query to one server; Attempts is the number of
	// rounds over the servers. UDPSize is the EDNS0 buffer size.
	Timeout  time.Duration
	Attempts int
	UDPSize  uint16
	// Exchanger replaces the network transport (tests).
	Exchanger Exchanger
	// Fetcher replaces the whole fetching layer (tests); it is still
	// cached.
	Fetcher Fetcher
	// CacheEntries bounds each cache (responses, results). MinTTL and
	// MaxTTL clamp record TTLs; BogusTTL is the longest a Bogus or
	// Indeterminate result is kept.
	CacheEntries     int
	MinTTL, MaxTTL   time.Duration
	BogusTTL         time.Duration
	LookupTimeout    time.Duration // used when the context has no deadline
	Validation       Options
	DisableLegacyKEY bool // do not ask for KEY records
	Now              func() time.Time
	Logger           *zap.Logger
}

// Resolver finds and validates keys in DNS. It is safe for concurrent use:
// its caches are guarded by their own mutexes and concurrent identical
// lookups are collapsed into one.
type Resolver struct {
	anchors *Anchors
	fetch   *cachingFetcher
	results *cache[question, *Result]
	// keyResults caches KeyResults built from cached results.
	keyResults *cache[string, keyResultEntry]
	flight     flight[question, *Result]
	ttls       ttlPolicy
	opt        Options
	timeout    time.Duration
	noKEY      bool
	now        func() time.Time
	log        *zap.Logger
}

// New builds a Resolver.
func New(cfg Config) (*Resolver, error) {
	if cfg.Anchors == nil || len(cfg.Anchors.zones) == 0 {
		return nil, errors.New("dnskeys: no trust anchors configured")
	}
	r := &Resolver{
		anchors: cfg.Anchors,
		opt:     cfg.Validation.withDefaults(),
		timeout: cfg.LookupTimeout,
		noKEY:   cfg.DisableLegacyKEY,
		now:     cfg.Now,
		log:     cfg.Logger,
	}
	if r.now == nil {
		r.now = time.Now
	}
	if r.opt.SigCache == nil {
		r.opt.SigCache = NewSigCache(DefaultSigCacheEntries)
	}
	if r.log == nil {
		r.log = zap.NewNop()
	}
	if r.timeout <= 0 {
		r.timeout = DefaultLookupTimeout
	}
	r.ttls = ttlPolicy{min: cfg.MinTTL, max: cfg.MaxTTL, bogus: cfg.BogusTTL}
	if r.ttls.min <= 0 {
		r.ttls.min = DefaultMinTTL
	}
	if r.ttls.max <= 0 {
		r.ttls.max = DefaultMaxTTL
	}
	if r.ttls.bogus <= 0 {
		r.ttls.bogus = DefaultBogusTTL
	}
	if r.ttls.max < r.ttls.min {
		return nil, fmt.Errorf("dnskeys: MaxTTL %v is below MinTTL %v", r.ttls.max, r.ttls.min)
	}
	entries := cfg.CacheEntries
	if entries <= 0 {
		entries = DefaultCacheEntries
	}
	f := cfg.Fetcher
	if f == nil {
		var err error
		if f, err = buildFetcher(cfg); err != nil {
			return nil, err
		}
	}
	r.fetch = &cachingFetcher{inner: f, cache: newCache[question, *dns.Msg](entries), ttls: r.ttls, now: r.now}
	r.results = newCache[question, *Result](entries)
	r.keyResults = newCache[string, keyResultEntry](entries)
	return r, nil
}

func buildFetcher(cfg Config) (Fetcher, error) {
	ex := cfg.Exchanger
	if ex == nil {
		ex = &NetExchanger{Timeout: cfg.Timeout, UDPSize: cfg.UDPSize}
	}
	var rec Fetcher
	servers := cfg.Servers
	attempts := cfg.Attempts
	if len(servers) == 0 && (len(cfg.Stub) == 0 || cfg.ResolvConf != "") {
		path := cfg.ResolvConf
		if path == "" {
			path = DefaultResolvConf
		}
		cc, err := dns.ClientConfigFromFile(path)
		if err != nil {
			return nil, fmt.Errorf("dnskeys: read resolvers: %w", err)
		}
		for _, s := range cc.Servers {
			servers = append(servers, net.JoinHostPort(s, cc.Port))
		}
		if attempts == 0 && cc.Attempts > 0 {
			attempts = cc.Attempts
		}
		if len(servers) == 0 {
			return nil, fmt.Errorf("dnskeys: %s lists no nameserver", path)
		}
	}
	if len(servers) > 0 {
		norm := make([]string, 0, len(servers))
		for _, s := range servers {
			ns, err := normalizeServer(s)
			if err != nil {
				return nil, err
			}
			norm = append(norm, ns)
		}
		rec = &RecursiveFetcher{Servers: norm, Exchanger: ex, Attempts: attempts, UDPSize: cfg.UDPSize}
	}
	if len(cfg.Stub) == 0 {
		return rec, nil
	}
	sf, err := NewStubFetcher(cfg.Stub, ex, rec)
	if err != nil {
		return nil, err
	}
	sf.Attempts, sf.UDPSize = attempts, cfg.UDPSize
	return sf, nil
}

// Lookup returns the validated answer to (name, qtype). A cached result is
// returned while it lives; results are shared, so treat them as read-only. DNS failures are not errors: they come back as a
// Result with State Indeterminate. The error is for invalid input only.
func (r *Resolver) Lookup(ctx context.Context, name string, qtype uint16) (*Result, error) {
	cn, err := NormalizeName(name)
	if err != nil {
		return nil, err
	}
	q := question{cn, qtype}
	if res, ok := r.results.get(q, r.now()); ok {
		return res, nil
	}
	if _, has := ctx.Deadline(); !has {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, r.timeout)
		defer cancel()
	}
	res, err := r.flight.do(ctx, q, func(ctx context.Context) (*Result, error) {
		ev := Collect(ctx, r.fetch, r.anchors, cn, qtype, r.opt)
		res := Validate(ev, r.anchors, r.now(), r.opt)
		if res.State == Bogus {
			r.fetch.forget(ev)
		}
		r.results.put(q, res, r.ttls.forResult(res), r.now())
		fields := []zap.Field{zap.String("name", cn), zap.String("type", typeName(qtype)),
			zap.Stringer("state", res.State), zap.String("reason", res.Reason), zap.Strings("zones", res.Zones)}
		if res.State == Bogus {
			// Security relevant: a signed answer failed validation.
			r.log.Warn("dnskeys: bogus answer", fields...)
		} else {
			r.log.Debug("dnskeys: lookup", fields...)
		}
		return res, nil
	})
	if err != nil {
		// Our own context ended while another caller's lookup ran.
		return &Result{Name: cn, Type: qtype, State: Indeterminate,
			Reason: "indeterminate: lookup of " + cn + " " + typeName(qtype) + " did not finish: " + err.Error()}, nil
	}
	return res, nil
}

// Trace performs a lookup afresh, bypassing the result cache (responses
// may still come from the response cache), and returns the result with the
// evidence it was decided on: every response fetched and every fetch that
// failed. It is for diagnostics ("oectl dns-trace"); the result is not
// cached.
func (r *Resolver) Trace(ctx context.Context, name string, qtype uint16) (*Result, *Evidence, error) {
	cn, err := NormalizeName(name)
	if err != nil {
		return nil, nil, err
	}
	if _, has := ctx.Deadline(); !has {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, r.timeout)
		defer cancel()
	}
	ev := Collect(ctx, r.fetch, r.anchors, cn, qtype, r.opt)
	res := Validate(ev, r.anchors, r.now(), r.opt)
	if res.State == Bogus {
		r.fetch.forget(ev)
	}
	return res, ev, nil
}

// CacheStats reports the result cache's size and hit counts.
func (r *Resolver) CacheStats() (entries int, hits, misses uint64) {
	return r.results.len(), r.results.hits.Load(), r.results.misses.Load()
}

// Anchors returns the trust anchors in use.
func (r *Resolver) Anchors() *Anchors { return r.anchors }
