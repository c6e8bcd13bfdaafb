package dnskeys

import (
	"context"
	"fmt"
	"sync"

	"github.com/miekg/dns"
)

// A Fetcher answers one DNSSEC query: it returns the response to (name,
// qtype) asked with the DO bit set, without validating it. Implementations
// decide where to ask: RecursiveFetcher asks recursive resolvers, StubFetcher
// asks the authoritative servers configured per zone.
type Fetcher interface {
	Fetch(ctx context.Context, name string, qtype uint16) (*dns.Msg, error)
}

// maxFetches bounds the questions one lookup may ask.
const maxFetches = 64

// Collect asks f every question needed to validate the answer to (name,
// qtype): the question itself and any CNAME targets, then, guided by the
// (not yet trusted) signer names it sees, DNSKEY and DS for each zone up to
// the closest trust anchor, and SOA/DS probes to locate unsigned
// delegations. It never decides anything: Validate does, over the Evidence
// returned. Fetch errors are recorded in Evidence.Failures.
func Collect(ctx context.Context, f Fetcher, anchors *Anchors, name string, qtype uint16, opt Options) *Evidence {
	opt = opt.withDefaults()
	c := &collector{ctx: ctx, f: f, anchors: anchors, queued: map[string]bool{}, asked: map[question]bool{}}
	c.ev = &Evidence{QName: canonical(name), QType: qtype}
	name = c.ev.QName
	msg := c.fetch(name, qtype)
	for hop := 0; msg != nil && hop <= opt.MaxCNAMEs; hop++ {
		c.hints(msg)
		if set, _ := rrsetOf(msg.Answer, name, qtype); len(set) > 0 {
			break
		}
		cn, _ := rrsetOf(msg.Answer, name, dns.TypeCNAME)
		if len(cn) != 1 || qtype == dns.TypeCNAME {
			break
		}
		name = canonical(cn[0].(*dns.CNAME).Target)
		if len(rrsOwnedBy(msg.Answer, name)) == 0 && !hasSOA(msg.Ns) {
			msg = c.fetch(name, qtype)
		}
	}
	c.walk()
	return c.ev
}

type collector struct {
	ctx     context.Context
	f       Fetcher
	anchors *Anchors
	mu      sync.Mutex // guards ev and asked, written by parallel fetches
	ev      *Evidence
	asked   map[question]bool
	fetches int
	queue   []string
	queued  map[string]bool
}

// fetch asks one question once; it returns nil if it failed.
func (c *collector) fetch(name string, qtype uint16) *dns.Msg {
	q := question{name, qtype}
	c.mu.Lock()
	if c.asked[q] {
		m := c.ev.Response(name, qtype)
		c.mu.Unlock()
		return m
	}
	c.asked[q] = true
	c.fetches++
	over := c.fetches > maxFetches
	c.mu.Unlock()
	if over {
		c.fail(name, qtype, fmt.Errorf("dnskeys: more than %d questions for one lookup", maxFetches))
		return nil
	}
	if err := c.ctx.Err(); err != nil {
		c.fail(name, qtype, err)
		return nil
	}
	m, err := c.f.Fetch(c.ctx, name, qtype)
	if err == nil && (len(m.Question) != 1 || m.Question[0].Qtype != qtype || canonical(m.Question[0].Name) != name) {
		err = fmt.Errorf("dnskeys: response to %s %s carries another question", name, typeName(qtype))
	}
	if err != nil {
		c.fail(name, qtype, err)
		return nil
	}
	c.mu.Lock()
	c.ev.Add(m)
	c.mu.Unlock()
	return m
}

func (c *collector) fail(name string, qtype uint16, err error) {
	c.mu.Lock()
	c.ev.Failures = append(c.ev.Failures, Failure{Name: name, Type: qtype, Err: err.Error()})
	c.mu.Unlock()
}

// fetchBoth asks two questions in parallel.
func (c *collector) fetchBoth(name string, t1, t2 uint16) {
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		c.fetch(name, t2)
	}()
	c.fetch(name, t1)
	wg.Wait()
}

func (c *collector) enqueue(zone string) {
	if _, ok := c.anchors.Closest(zone); !ok || c.queued[zone] {
		return
	}
	c.queued[zone] = true
	c.queue = append(c.queue, zone)
}

// hints queues the zones whose signatures appear in msg, and probes for
// unsigned delegations above RRsets that carry no signature.
func (c *collector) hints(msg *dns.Msg) {
	for _, sec := range [][]dns.RR{msg.Answer, msg.Ns} {
		for _, z := range signersIn(sec) {
			c.enqueue(z)
		}
	}
	signed := map[question]bool{}
	for _, rr := range append(append([]dns.RR{}, msg.Answer...), msg.Ns...) {
		if s, ok := rr.(*dns.RRSIG); ok {
			signed[question{canonical(s.Hdr.Name), s.TypeCovered}] = true
		}
	}
	probed := false
	for _, rr := range msg.Answer {
		h := rr.Header()
		if h.Rrtype != dns.TypeRRSIG && !signed[question{canonical(h.Name), h.Rrtype}] {
			c.probe(canonical(h.Name))
			probed = true
		}
	}
	if !probed && len(signed) == 0 && len(msg.Question) == 1 {
		c.probe(canonical(msg.Question[0].Name))
	}
}

// probe locates the zone holding name (from the SOA a query for it
// returns) and asks its parent for DS, walking up until a signed statement
// names a parent zone to validate from.
func (c *collector) probe(name string) {
	anchor, ok := c.anchors.Closest(name)
	if !ok {
		return
	}
	cur := name
	for steps := 0; cur != anchor && isProperSubdomain(anchor, cur) && steps < 32; steps++ {
		zone := ""
		m := c.fetch(cur, dns.TypeSOA)
		if m == nil {
			// The servers do not answer: walking up would only ask them
			// again. The validator reports the failure.
			return
		}
		for _, rr := range append(append([]dns.RR{}, m.Answer...), m.Ns...) {
			if rr.Header().Rrtype == dns.TypeSOA {
				if owner := canonical(rr.Header().Name); isSubdomain(owner, cur) {
					zone = owner
				}
			}
		}
		if zone == "" || !isProperSubdomain(anchor, zone) {
			if zone == anchor {
				break
			}
			cur = parentName(cur)
			continue
		}
		d := c.fetch(zone, dns.TypeDS)
		found := false
		if d != nil {
			for _, s := range append(signersIn(d.Answer), signersIn(d.Ns)...) {
				if isProperSubdomain(s, zone) && isSubdomain(anchor, s) {
					c.enqueue(s)
					found = true
				}
			}
		}
		if found {
			return
		}
		cur = parentName(zone)
	}
	c.enqueue(anchor)
}

// walk fetches DNSKEY and DS for each queued zone and queues the zones that
// sign its DS statement, until the trust anchors are reached.
func (c *collector) walk() {
	for len(c.queue) > 0 {
		zone := c.queue[0]
		c.queue = c.queue[1:]
		anchor, _ := c.anchors.Closest(zone)
		if zone == anchor {
			c.fetch(zone, dns.TypeDNSKEY)
			continue
		}
		c.fetchBoth(zone, dns.TypeDNSKEY, dns.TypeDS)
		c.mu.Lock()
		d := c.ev.Response(zone, dns.TypeDS)
		c.mu.Unlock()
		found := false
		if d != nil {
			for _, s := range append(signersIn(d.Answer), signersIn(d.Ns)...) {
				if isProperSubdomain(s, zone) && isSubdomain(anchor, s) {
					c.enqueue(s)
					found = true
				}
			}
		}
		if !found {
			c.probe(zone)
		}
	}
}
