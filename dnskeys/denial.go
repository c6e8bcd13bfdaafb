package dnskeys

import (
	"github.com/miekg/dns"
)

// denialInfo is the validated content of a negative response.
type denialInfo struct {
	out outcome
	// unsigned is set when the response carries no RRSIG at all, so that
	// only a proven unsigned delegation can make it Insecure.
	unsigned bool
	kind     Denial
	// optOut: the proof rests on an NSEC3 opt-out span (RFC 5155 §6).
	optOut bool
	// matched: an NSEC/NSEC3 at the name itself was found; types is its
	// type bitmap.
	matched bool
	types   []uint16
	// zone is the zone that signed the denial; proof is "NSEC" or "NSEC3".
	zone  string
	proof string
}

// denial validates a negative answer for (name, qtype) in msg.
func (v *validator) denial(name string, qtype uint16, msg *dns.Msg) outcome {
	d := v.denialDetail(name, qtype, msg)
	if d.unsigned {
		return v.unsigned(name, "denial of "+name+" "+typeName(qtype))
	}
	return d.out
}

// denialDetail validates the SOA and NSEC/NSEC3 records that a negative
// response carries and checks that they prove NXDOMAIN or NODATA for
// (name, qtype), following RFC 4035 §5.4 and RFC 5155 §8.
func (v *validator) denialDetail(name string, qtype uint16, msg *dns.Msg) denialInfo {
	what := name + " " + typeName(qtype)
	d := denialInfo{kind: DenialNoData}
	if msg.Rcode == dns.RcodeNameError {
		d.kind = DenialNXDomain
	}
	if len(msg.Answer) > 0 && qtype != dns.TypeCNAME && d.kind == DenialNoData {
		// A NOERROR answer whose records do not match the question.
		if len(rrsOwnedBy(msg.Answer, name)) > 0 {
			d.out = bogusOutcome("", "answer for %s holds records of other types only", what)
			return d
		}
	}
	var zone string
	var haveSigs, haveNS bool
	for _, rr := range msg.Ns {
		switch rr.Header().Rrtype {
		case dns.TypeSOA:
			owner := canonical(rr.Header().Name)
			if isSubdomain(owner, name) && labelCount(owner) >= labelCount(zone) {
				zone = owner
			}
		case dns.TypeRRSIG:
			haveSigs = true
		case dns.TypeNS:
			haveNS = true
		}
	}
	if zone == "" && haveNS && len(msg.Answer) == 0 {
		d.out = indeterminateOutcome("", "got a referral instead of an answer for %s; the server is not authoritative for its zone", what)
		return d
	}
	if !haveSigs {
		d.unsigned = true
		d.out = bogusOutcome(zone, "denial of %s is unsigned", what)
		return d
	}
	if zone == "" {
		for _, s := range signersIn(msg.Ns) {
			if isSubdomain(s, name) && labelCount(s) >= labelCount(zone) {
				zone = s
			}
		}
		if zone == "" {
			d.out = bogusOutcome("", "denial of %s names no zone above it", what)
			return d
		}
	}
	d.zone = zone
	zk := v.zoneKeys(zone)
	if zk.out.state != Secure {
		d.out = zk.out
		return d
	}
	ttl := zk.out.ttl
	if soa, sigs := rrsetOf(msg.Ns, zone, dns.TypeSOA); len(soa) > 0 {
		o := v.rrset(soa, sigs, msg)
		if o.state != Secure {
			d.out = o
			return d
		}
		// RFC 2308 §5: a negative answer lives min(SOA TTL, SOA MINIMUM).
		ttl = minTTL(ttl, minTTL(o.ttl, soa[0].(*dns.SOA).Minttl))
	}
	recs := v.denialRecords(zone, msg)
	switch {
	case len(recs.nsec) > 0:
		d.proof = "NSEC"
		v.nsecProof(&d, name, qtype, zone, recs.nsec)
	case recs.n3 != nil:
		d.proof = "NSEC3"
		v.nsec3Proof(&d, name, qtype, zone, recs.n3)
	default:
		if recs.fail != nil {
			d.out = *recs.fail
			return d
		}
		d.out = bogusOutcome(zone, "no NSEC or NSEC3 record proves the denial of %s", what)
		return d
	}
	if d.out.state != Secure && recs.fail != nil {
		d.out = *recs.fail
	}
	if d.out.state == Secure {
		d.out.ttl = minTTL(ttl, minTTL(d.out.ttl, recs.ttl))
	}
	return d
}

// denialSet holds the NSEC or NSEC3 records of one zone that validated.
type denialSet struct {
	nsec []nsecRec
	n3   *nsec3Set
	ttl  uint32
	// fail is the first NSEC/NSEC3 RRset that did not validate.
	fail *outcome
}

// denialRecords validates each NSEC and NSEC3 RRset of zone in the
// authority section and keeps those that are Secure.
func (v *validator) denialRecords(zone string, msg *dns.Msg) denialSet {
	key := denialKey{zone, msg}
	if d, ok := v.denials[key]; ok {
		return d
	}
	// A placeholder breaks recursion through wildcard proofs.
	v.denials[key] = denialSet{}
	d := v.computeDenialRecords(zone, msg)
	v.denials[key] = d
	return d
}

type denialKey struct {
	zone string
	msg  *dns.Msg
}

func (v *validator) computeDenialRecords(zone string, msg *dns.Msg) denialSet {
	out := denialSet{ttl: ^uint32(0)}
	done := map[question]bool{}
	for _, rr := range msg.Ns {
		t := rr.Header().Rrtype
		if t != dns.TypeNSEC && t != dns.TypeNSEC3 {
			continue
		}
		owner := canonical(rr.Header().Name)
		if !isSubdomain(zone, owner) || done[question{owner, t}] {
			continue
		}
		done[question{owner, t}] = true
		set, sigs := rrsetOf(msg.Ns, owner, t)
		if len(set) == 0 {
			continue
		}
		var own []*dns.RRSIG
		for _, s := range sigs {
			if canonical(s.SignerName) == zone {
				own = append(own, s)
			}
		}
		if len(own) == 0 {
			if out.fail == nil {
				o := bogusOutcome(zone, "no RRSIG over %s %s", owner, typeName(t))
				out.fail = &o
			}
			continue
		}
		o := v.rrset(set, own, msg)
		if o.state != Secure {
			if out.fail == nil {
				out.fail = &o
			}
			continue
		}
		out.ttl = minTTL(out.ttl, o.ttl)
		switch r := set[0].(type) {
		case *dns.NSEC:
			out.nsec = append(out.nsec, nsecRec{owner: owner, next: canonical(r.NextDomain), types: r.TypeBitMap})
		case *dns.NSEC3:
			if labelCount(owner) != labelCount(zone)+1 {
				continue
			}
			if out.n3 == nil {
				out.n3 = &nsec3Set{zone: zone}
			}
			out.n3.add(r)
		}
	}
	if out.n3 != nil && len(out.n3.recs) == 0 {
		out.n3 = nil
	}
	return out
}

// wildcardProof checks that a positive answer synthesized from a wildcard
// (RRSIG labels < owner labels) comes with proof that no closer match exists
// (RFC 4035 §5.3.4, RFC 5155 §8.8).
func (v *validator) wildcardProof(owner string, labels int, zone string, msg *dns.Msg) outcome {
	ce := lastLabels(owner, labels)
	recs := v.denialRecords(zone, msg)
	for _, n := range recs.nsec {
		if n.covers(owner, zone) {
			return outcome{state: Secure, zone: zone, ttl: recs.ttl}
		}
	}
	if recs.n3 != nil {
		if o := v.nsec3Limits(recs.n3); o != nil {
			return *o
		}
		if recs.n3.cover(v, nextCloser(owner, ce)) != nil {
			return outcome{state: Secure, zone: zone, ttl: recs.ttl}
		}
	}
	return bogusOutcome(zone, "answer for %s expands wildcard *.%s but nothing proves %s does not exist", owner, ce, owner)
}

// lastLabels returns the ancestor of name with n labels.
func lastLabels(name string, n int) string {
	for labelCount(name) > n {
		name = parentName(name)
	}
	return name
}
