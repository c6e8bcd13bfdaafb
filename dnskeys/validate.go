package dnskeys

import (
	"time"

	"github.com/miekg/dns"
)

// Options tune the validator. The zero value selects the defaults.
type Options struct {
	// ClockSkew widens every RRSIG validity window on both sides
	// (RFC 4035 §5.3.1 leaves the tolerance to the implementation).
	// Default 5 minutes; negative means none.
	ClockSkew time.Duration
	// NSEC3InsecureIterations: a denial that rests on NSEC3 with more
	// iterations than this is Insecure (RFC 9276 §3.2). Default 100.
	NSEC3InsecureIterations uint16
	// NSEC3BogusIterations: more iterations than this make the denial
	// Bogus (RFC 9276 §3.2). Default 500.
	NSEC3BogusIterations uint16
	// MaxCNAMEs bounds the CNAME chain followed. Default 8.
	MaxCNAMEs int
	// SigCache, if set, remembers successful signature verifications
	// across calls (see SigCache). Nil verifies every signature; a
	// Resolver makes one of DefaultSigCacheEntries when it is nil.
	SigCache *SigCache
}

// Defaults for Options.
const (
	DefaultClockSkew               = 5 * time.Minute
	DefaultNSEC3InsecureIterations = 100
	DefaultNSEC3BogusIterations    = 500
	DefaultMaxCNAMEs               = 8
)

func (o Options) withDefaults() Options {
	if o.ClockSkew == 0 {
		o.ClockSkew = DefaultClockSkew
	} else if o.ClockSkew < 0 {
		o.ClockSkew = 0
	}
	if o.NSEC3InsecureIterations == 0 {
		o.NSEC3InsecureIterations = DefaultNSEC3InsecureIterations
	}
	if o.NSEC3BogusIterations == 0 {
		o.NSEC3BogusIterations = DefaultNSEC3BogusIterations
	}
	if o.NSEC3BogusIterations < o.NSEC3InsecureIterations {
		o.NSEC3BogusIterations = o.NSEC3InsecureIterations
	}
	if o.MaxCNAMEs <= 0 {
		o.MaxCNAMEs = DefaultMaxCNAMEs
	}
	return o
}

// Validate decides the DNSSEC state of the answer to ev's question from the
// records in ev alone, the trust anchors and the time now. It performs no
// I/O, never trusts the AD bit, and is safe to call concurrently. It walks
// the chain of trust from the closest anchor through DS and DNSKEY at each
// zone cut (RFC 4035 §5), verifies the answer's RRSIGs (§5.3), proves
// denials with NSEC (§5.4) or NSEC3 (RFC 5155 §8), proves wildcard
// expansions, and validates each link of a CNAME chain.
func Validate(ev *Evidence, anchors *Anchors, now time.Time, opt Options) *Result {
	v := newValidator(ev, anchors, now, opt)
	res := &Result{Name: canonical(ev.QName), Type: ev.QType}
	out := v.answer(res)
	res.State = out.state
	res.Reason = out.reason
	res.Zone = out.zone
	res.Zones = v.walked
	res.TTL = time.Duration(out.ttl) * time.Second
	if res.State == Insecure && out.ttl == 0 {
		// An insecure answer is cached like plain DNS: by its records' TTL.
		if m := ev.Response(res.Name, res.Type); m != nil {
			res.TTL = time.Duration(msgTTL(m)) * time.Second
		}
	}
	if res.State != Secure && res.State != Insecure {
		res.Answer = nil
	}
	return res
}

type validator struct {
	ev      *Evidence
	anchors *Anchors
	now     time.Time
	opt     Options

	keys   map[string]*zoneKeys
	ds     map[string]*dsResult
	walked []string
	depth  int
	work   int
	// denials memoizes validated NSEC/NSEC3 records per zone and message.
	denials map[denialKey]denialSet
	// nsec3Hashes memoizes NSEC3 hashes per (name, params).
	nsec3Hashes map[string][]byte
}

func newValidator(ev *Evidence, anchors *Anchors, now time.Time, opt Options) *validator {
	return &validator{
		ev:          ev,
		anchors:     anchors,
		now:         now,
		opt:         opt.withDefaults(),
		keys:        map[string]*zoneKeys{},
		ds:          map[string]*dsResult{},
		nsec3Hashes: map[string][]byte{},
		denials:     map[denialKey]denialSet{},
	}
}

func (v *validator) noteWalked(zone string) {
	for _, z := range v.walked {
		if z == zone {
			return
		}
	}
	v.walked = append(v.walked, zone)
}

// fetched returns the response to (name, qtype), or an Indeterminate
// outcome naming why it is missing.
func (v *validator) fetched(name string, qtype uint16, zone string) (*dns.Msg, *outcome) {
	m := v.ev.Response(name, qtype)
	if m != nil {
		switch m.Rcode {
		case dns.RcodeSuccess, dns.RcodeNameError:
			return m, nil
		}
		o := indeterminateOutcome(zone, "server answered %s to %s %s", dns.RcodeToString[m.Rcode], name, typeName(qtype))
		return nil, &o
	}
	if why, ok := v.ev.failure(name, qtype); ok {
		o := indeterminateOutcome(zone, "no answer to %s %s: %s", name, typeName(qtype), why)
		return nil, &o
	}
	o := indeterminateOutcome(zone, "no response to %s %s was fetched", name, typeName(qtype))
	return nil, &o
}

// answer validates the response to the question, following CNAMEs.
func (v *validator) answer(res *Result) outcome {
	name := res.Name
	if _, ok := v.anchors.Closest(name); !ok {
		return indeterminateOutcome("", "no trust anchor covers %s", name)
	}
	msg, miss := v.fetched(name, res.Type, "")
	if miss != nil {
		return *miss
	}
	// worst accumulates the chain's verdict: the worst link decides, and
	// among equals the last (the final answer) supplies the reason.
	worst := outcome{state: Secure, ttl: ^uint32(0)}
	combine := func(o outcome) {
		ttl := minTTL(worst.ttl, o.ttl)
		if !worse(worst.state, o.state) {
			worst = o
		}
		worst.ttl = ttl
	}
	for hop := 0; ; hop++ {
		if hop > v.opt.MaxCNAMEs {
			return bogusOutcome("", "CNAME chain from %s longer than %d links", res.Name, v.opt.MaxCNAMEs)
		}
		if dn := dnameAbove(msg, name); dn != "" {
			return indeterminateOutcome("", "DNAME redirection at %s is not supported", dn)
		}
		set, sigs := rrsetOf(msg.Answer, name, res.Type)
		if len(set) > 0 {
			o := v.rrset(set, sigs, msg)
			combine(o)
			if o.state == Secure || o.state == Insecure {
				res.Answer = set
			}
			return worst
		}
		cn, cnSigs := rrsetOf(msg.Answer, name, dns.TypeCNAME)
		if len(cn) == 0 || res.Type == dns.TypeCNAME {
			o := v.denial(name, res.Type, msg)
			if o.state == Secure {
				if msg.Rcode == dns.RcodeNameError {
					res.Denial = DenialNXDomain
				} else {
					res.Denial = DenialNoData
				}
			}
			combine(o)
			return worst
		}
		if len(cn) != 1 {
			return bogusOutcome("", "%d CNAME records at %s", len(cn), name)
		}
		o := v.rrset(cn, cnSigs, msg)
		combine(o)
		target := canonical(cn[0].(*dns.CNAME).Target)
		res.CNAMEs = append(res.CNAMEs, name)
		name = target
		if len(rrsOwnedBy(msg.Answer, name)) == 0 && !hasSOA(msg.Ns) {
			// The chain leaves this response: the target was asked separately.
			next, miss := v.fetched(name, res.Type, "")
			if miss != nil {
				combine(*miss)
				return worst
			}
			msg = next
		}
	}
}

func rrsOwnedBy(rrs []dns.RR, name string) []dns.RR {
	var out []dns.RR
	for _, rr := range rrs {
		if canonical(rr.Header().Name) == name {
			out = append(out, rr)
		}
	}
	return out
}

func hasSOA(rrs []dns.RR) bool {
	for _, rr := range rrs {
		if rr.Header().Rrtype == dns.TypeSOA {
			return true
		}
	}
	return false
}

// dnameAbove returns the owner of a DNAME in the answer that redirects name.
func dnameAbove(m *dns.Msg, name string) string {
	for _, rr := range m.Answer {
		if d, ok := rr.(*dns.DNAME); ok {
			owner := canonical(d.Hdr.Name)
			if isProperSubdomain(owner, name) {
				return owner
			}
		}
	}
	return ""
}
