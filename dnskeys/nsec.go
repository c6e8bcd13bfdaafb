package dnskeys

import (
	"strings"

	"github.com/miekg/dns"
)

// nsecRec is a validated NSEC record (RFC 4034 §4).
type nsecRec struct {
	owner, next string
	types       []uint16
}

func (n nsecRec) has(t uint16) bool { return hasType(n.types, t) }

// delegation reports whether the NSEC sits at a delegation point on the
// parent side: NS without SOA (RFC 4035 §5.4, RFC 6840 §4.1).
func (n nsecRec) delegation() bool { return n.has(dns.TypeNS) && !n.has(dns.TypeSOA) }

// covers reports whether name falls strictly between the NSEC's owner and
// next name in canonical order (RFC 4034 §6.1), wrapping at the end of the
// zone. An NSEC at a delegation or DNAME cannot cover names below it.
func (n nsecRec) covers(name, zone string) bool {
	if !isSubdomain(zone, name) || name == n.owner {
		return false
	}
	if (n.delegation() || n.has(dns.TypeDNAME)) && isProperSubdomain(n.owner, name) {
		return false
	}
	after := compareCanonical(n.owner, name) < 0
	if n.next == zone || compareCanonical(n.next, n.owner) <= 0 {
		// The last NSEC of the chain: it covers everything after its owner.
		return after
	}
	return after && compareCanonical(name, n.next) < 0
}

// closestEncloser derives the closest encloser of a name that an NSEC
// covers: the deepest of its ancestors shared with the NSEC's owner or next
// name (RFC 4592 §3.3.1, RFC 7129 §5.4).
func (n nsecRec) closestEncloser(name, zone string) string {
	a := commonAncestor(name, n.owner)
	if b := commonAncestor(name, n.next); labelCount(b) > labelCount(a) {
		a = b
	}
	if !isSubdomain(zone, a) {
		return zone
	}
	return a
}

// commonAncestor returns the longest name both a and b are at or below.
func commonAncestor(a, b string) string {
	la, lb := dns.SplitDomainName(a), dns.SplitDomainName(b)
	i, j := len(la)-1, len(lb)-1
	var common []string
	for i >= 0 && j >= 0 && strings.EqualFold(la[i], lb[j]) {
		common = append([]string{la[i]}, common...)
		i--
		j--
	}
	if len(common) == 0 {
		return "."
	}
	return strings.Join(common, ".") + "."
}

// nsecProof checks that validated NSEC records prove the denial d claims for
// (name, qtype) in zone (RFC 4035 §5.4, RFC 7129 §3-5).
func (v *validator) nsecProof(d *denialInfo, name string, qtype uint16, zone string, recs []nsecRec) {
	what := name + " " + typeName(qtype)
	var match, cover *nsecRec
	for i := range recs {
		r := &recs[i]
		if r.owner == name {
			match = r
		} else if r.covers(name, zone) {
			cover = r
		}
	}
	if d.kind == DenialNXDomain {
		if match != nil {
			d.out = bogusOutcome(zone, "NXDOMAIN for %s, but an NSEC shows it exists", name)
			return
		}
		if cover == nil {
			d.out = bogusOutcome(zone, "no NSEC covers %s to prove it does not exist", name)
			return
		}
		if isProperSubdomain(name, cover.next) {
			d.out = bogusOutcome(zone, "NXDOMAIN for %s, but it is an empty non-terminal above %s", name, cover.next)
			return
		}
		ce := cover.closestEncloser(name, zone)
		wc := "*." + ce
		for _, r := range recs {
			if r.owner == wc {
				d.out = bogusOutcome(zone, "NXDOMAIN for %s, but wildcard %s exists", name, wc)
				return
			}
		}
		for _, r := range recs {
			if r.covers(wc, zone) {
				d.out = secureOutcome(zone, ^uint32(0), "%s does not exist (NSEC from %s)", name, zone)
				return
			}
		}
		d.out = bogusOutcome(zone, "no NSEC proves that wildcard %s does not exist", wc)
		return
	}
	if match != nil {
		switch {
		case match.has(qtype):
			d.out = bogusOutcome(zone, "NODATA for %s, but the NSEC at %s lists %s", what, name, typeName(qtype))
		case match.has(dns.TypeCNAME):
			d.out = bogusOutcome(zone, "NODATA for %s, but the NSEC at %s lists CNAME", what, name)
		case qtype != dns.TypeDS && match.delegation():
			d.out = bogusOutcome(zone, "NSEC at %s is the parent side of a delegation and cannot deny %s", name, typeName(qtype))
		case qtype == dns.TypeDS && match.has(dns.TypeSOA) && name != ".":
			d.out = bogusOutcome(zone, "denial of DS at %s comes from the child zone's apex", name)
		default:
			d.matched = true
			d.types = match.types
			d.out = secureOutcome(zone, ^uint32(0), "%s has no %s (NSEC from %s)", name, typeName(qtype), zone)
		}
		return
	}
	if cover == nil {
		d.out = bogusOutcome(zone, "no NSEC proves that %s has no %s", name, typeName(qtype))
		return
	}
	if isProperSubdomain(name, cover.next) {
		// An empty non-terminal: the name exists, with no records.
		d.out = secureOutcome(zone, ^uint32(0), "%s is an empty non-terminal without %s (NSEC from %s)", name, typeName(qtype), zone)
		return
	}
	// Wildcard NODATA (RFC 4035 §3.1.3.4): the name does not exist and the
	// wildcard that would match it has no record of the type.
	wc := "*." + cover.closestEncloser(name, zone)
	for _, r := range recs {
		if r.owner == wc && !r.has(qtype) && !r.has(dns.TypeCNAME) {
			d.out = secureOutcome(zone, ^uint32(0), "wildcard %s has no %s (NSEC from %s)", wc, typeName(qtype), zone)
			return
		}
	}
	d.out = bogusOutcome(zone, "NODATA for %s, but the NSEC shows the name does not exist and no wildcard NODATA proof is present", what)
}
