package dnskeys

import (
	"strings"

	"github.com/miekg/dns"
)

// keyEntry is a DNSKEY with its precomputed key tag.
type keyEntry struct {
	rr  *dns.DNSKEY
	tag uint16
}

// zoneKeys is the verdict on one zone's DNSKEY RRset: Secure with the keys
// usable for verifying the zone's RRSIGs, or why not.
type zoneKeys struct {
	out  outcome
	keys []keyEntry
}

// dsKind classifies what the parent says about a name's DS RRset.
type dsKind uint8

const (
	dsUnknown       dsKind = iota // no signed statement either way
	dsSecure                      // a validated DS RRset exists
	dsInsecureCut                 // validated proof: delegation without DS
	dsNotCut                      // validated proof: the name is no delegation
	dsInsecureAbove               // the parent itself is insecure
	dsBogus                       // the statement failed validation
)

type dsResult struct {
	kind    dsKind
	out     outcome
	records []*dns.DS
	parent  string
	// fetchFailed is set when the DS question could not be answered.
	fetchFailed bool
}

// zoneKeys returns the validated DNSKEYs of zone, walking the chain of
// trust to the closest anchor (RFC 4035 §5.2). Results are memoized for the
// validator's lifetime; a loop in the chain is Bogus.
func (v *validator) zoneKeys(zone string) *zoneKeys {
	if zk, ok := v.keys[zone]; ok {
		return zk
	}
	v.keys[zone] = &zoneKeys{out: bogusOutcome(zone, "loop in the chain of trust at %s", zone)}
	zk := v.computeZoneKeys(zone)
	v.keys[zone] = zk
	if zk.out.state == Secure {
		v.noteWalked(zone)
	}
	return zk
}

func (v *validator) computeZoneKeys(zone string) *zoneKeys {
	anchor, ok := v.anchors.Closest(zone)
	if !ok {
		return &zoneKeys{out: indeterminateOutcome(zone, "no trust anchor covers zone %s", zone)}
	}
	if anchor == zone {
		return v.anchoredKeys(zone)
	}
	ds := v.dsState(zone)
	switch ds.kind {
	case dsSecure:
		return v.keysFromDS(zone, ds)
	case dsInsecureCut, dsInsecureAbove, dsBogus:
		return &zoneKeys{out: ds.out}
	case dsNotCut:
		return &zoneKeys{out: bogusOutcome(ds.parent, "records are signed by %s, but %s proves it is not a zone cut", zone, ds.parent)}
	}
	if ds.fetchFailed {
		return &zoneKeys{out: ds.out}
	}
	return &zoneKeys{out: v.proveInsecure(zone, "no signed DS for "+zone)}
}

// usableKeys lists the DNSKEYs that may verify RRSIGs: zone keys with
// protocol 3, not revoked (RFC 4034 §2.1.1, RFC 5011 §2.1).
func usableKeys(set []dns.RR) []keyEntry {
	var out []keyEntry
	for _, rr := range set {
		k, ok := rr.(*dns.DNSKEY)
		if !ok || k.Flags&dns.ZONE == 0 || k.Protocol != 3 || k.Flags&dns.REVOKE != 0 {
			continue
		}
		out = append(out, keyEntry{rr: k, tag: k.KeyTag()})
	}
	return out
}

// dsMatches reports whether ds is the digest of key (RFC 4034 §5.1.4).
func dsMatches(ds *dns.DS, k keyEntry, owner string) bool {
	if ds.KeyTag != k.tag || ds.Algorithm != k.rr.Algorithm || canonical(k.rr.Hdr.Name) != owner {
		return false
	}
	got := k.rr.ToDS(ds.DigestType)
	return got != nil && strings.EqualFold(got.Digest, ds.Digest)
}

// selfSigned checks that the DNSKEY RRset is signed by one of the trusted
// entries (RFC 4035 §5.2).
func (v *validator) selfSigned(zone string, msg *dns.Msg, set []dns.RR, sigs []*dns.RRSIG, trusted []keyEntry, all []keyEntry, why string) *zoneKeys {
	tk := &zoneKeys{keys: trusted}
	best := &sigFailure{-1, "DNSKEY RRset of " + zone + " carries no RRSIG by a key " + why}
	for _, sig := range sigs {
		if canonical(sig.SignerName) != zone {
			continue
		}
		f, ttl := v.checkSig(sig, set, tk, zone, zone+" DNSKEY")
		if f == nil {
			return &zoneKeys{out: secureOutcome(zone, ttl, "DNSKEY RRset of %s signed by a key %s", zone, why), keys: all}
		}
		if f.rank > best.rank {
			best = f
		}
	}
	return &zoneKeys{out: bogusOutcome(zone, "%s", best.reason)}
}

func (v *validator) dnskeySet(zone string) ([]dns.RR, []*dns.RRSIG, *dns.Msg, *outcome) {
	msg, miss := v.fetched(zone, dns.TypeDNSKEY, zone)
	if miss != nil {
		return nil, nil, nil, miss
	}
	set, sigs := rrsetOf(msg.Answer, zone, dns.TypeDNSKEY)
	if len(set) == 0 {
		o := bogusOutcome(zone, "no DNSKEY RRset for %s", zone)
		return nil, nil, nil, &o
	}
	return set, sigs, msg, nil
}

// anchoredKeys validates an anchored zone's DNSKEY RRset against its trust
// anchor.
func (v *validator) anchoredKeys(zone string) *zoneKeys {
	a := v.anchors.zones[zone]
	supported := 0
	for _, d := range a.ds {
		if supportedDigest(d.DigestType) && supportedAlgorithm(d.Algorithm) {
			supported++
		}
	}
	for _, k := range a.dnskey {
		if supportedAlgorithm(k.Algorithm) {
			supported++
		}
	}
	if supported == 0 {
		return &zoneKeys{out: insecureOutcome(zone, "the trust anchor for %s uses only unsupported algorithms or digests", zone)}
	}
	set, sigs, msg, miss := v.dnskeySet(zone)
	if miss != nil {
		return &zoneKeys{out: *miss}
	}
	all := usableKeys(set)
	var trusted []keyEntry
	for _, k := range all {
		if !supportedAlgorithm(k.rr.Algorithm) {
			continue
		}
		ok := false
		for _, d := range a.ds {
			ok = ok || (supportedDigest(d.DigestType) && dsMatches(d, k, zone))
		}
		for _, ak := range a.dnskey {
			ok = ok || (ak.Flags == k.rr.Flags && ak.Protocol == k.rr.Protocol && ak.Algorithm == k.rr.Algorithm &&
				strings.EqualFold(stripSpace(ak.PublicKey), stripSpace(k.rr.PublicKey)))
		}
		if ok {
			trusted = append(trusted, k)
		}
	}
	if len(trusted) == 0 {
		return &zoneKeys{out: bogusOutcome(zone, "no DNSKEY of %s matches its trust anchor", zone)}
	}
	return v.selfSigned(zone, msg, set, sigs, trusted, all, "its trust anchor names")
}

func stripSpace(s string) string { return strings.Join(strings.Fields(s), "") }

// keysFromDS validates a zone's DNSKEY RRset against the validated DS RRset
// from its parent.
func (v *validator) keysFromDS(zone string, ds *dsResult) *zoneKeys {
	var supported []*dns.DS
	for _, d := range ds.records {
		if supportedDigest(d.DigestType) && supportedAlgorithm(d.Algorithm) {
			supported = append(supported, d)
		}
	}
	if len(supported) == 0 {
		// RFC 4035 §5.2: a DS RRset with only unknown algorithms or
		// digests makes the zone insecure.
		return &zoneKeys{out: insecureOutcome(zone, "DS records for %s in %s use only unsupported algorithms or digests", zone, ds.parent)}
	}
	set, sigs, msg, miss := v.dnskeySet(zone)
	if miss != nil {
		return &zoneKeys{out: *miss}
	}
	all := usableKeys(set)
	var trusted []keyEntry
	for _, k := range all {
		for _, d := range supported {
			if dsMatches(d, k, zone) {
				trusted = append(trusted, k)
				break
			}
		}
	}
	if len(trusted) == 0 {
		return &zoneKeys{out: bogusOutcome(zone, "DS for %s in %s matches no DNSKEY", zone, ds.parent)}
	}
	zk := v.selfSigned(zone, msg, set, sigs, trusted, all, "its DS names")
	if zk.out.state == Secure {
		zk.out.ttl = minTTL(zk.out.ttl, ds.out.ttl)
	}
	return zk
}

// dsState fetches the parent's statement about a DS RRset at name and
// validates it (RFC 4035 §5.2).
func (v *validator) dsState(name string) *dsResult {
	if r, ok := v.ds[name]; ok {
		return r
	}
	v.ds[name] = &dsResult{kind: dsBogus, out: bogusOutcome(name, "loop in the chain of trust at %s", name)}
	r := v.computeDS(name)
	v.ds[name] = r
	return r
}

func (v *validator) computeDS(name string) *dsResult {
	anchor, _ := v.anchors.Closest(name)
	msg, miss := v.fetched(name, dns.TypeDS, "")
	if miss != nil {
		return &dsResult{kind: dsUnknown, out: *miss, fetchFailed: true}
	}
	set, sigs := rrsetOf(msg.Answer, name, dns.TypeDS)
	if len(set) > 0 {
		var above []*dns.RRSIG
		for _, s := range sigs {
			signer := canonical(s.SignerName)
			if isProperSubdomain(signer, name) && isSubdomain(anchor, signer) {
				above = append(above, s)
			}
		}
		if len(above) == 0 {
			return &dsResult{kind: dsUnknown, out: indeterminateOutcome("", "DS for %s is unsigned", name)}
		}
		o := v.rrset(set, above, msg)
		switch o.state {
		case Secure:
			recs := make([]*dns.DS, 0, len(set))
			for _, rr := range set {
				recs = append(recs, rr.(*dns.DS))
			}
			return &dsResult{kind: dsSecure, out: o, records: recs, parent: o.zone}
		case Insecure:
			return &dsResult{kind: dsInsecureAbove, out: o}
		}
		return &dsResult{kind: dsBogus, out: o}
	}
	d := v.denialDetail(name, dns.TypeDS, msg)
	if d.unsigned {
		return &dsResult{kind: dsUnknown, out: indeterminateOutcome("", "denial of DS for %s is unsigned", name)}
	}
	switch d.out.state {
	case Secure:
	case Insecure:
		return &dsResult{kind: dsInsecureAbove, out: d.out}
	default:
		return &dsResult{kind: dsBogus, out: d.out}
	}
	if !isProperSubdomain(d.zone, name) {
		return &dsResult{kind: dsUnknown, out: indeterminateOutcome("", "DS for %s was denied by %s itself, not by its parent", name, d.zone)}
	}
	switch {
	case d.kind == DenialNXDomain:
		return &dsResult{kind: dsNotCut, out: d.out, parent: d.zone}
	case d.optOut:
		return &dsResult{kind: dsInsecureCut, parent: d.zone,
			out: insecureOutcome(name, "delegation to %s from %s is in an NSEC3 opt-out span (no DS)", name, d.zone)}
	case d.matched && hasType(d.types, dns.TypeNS) && !hasType(d.types, dns.TypeSOA):
		return &dsResult{kind: dsInsecureCut, parent: d.zone,
			out: insecureOutcome(name, "delegation to %s from %s has no DS (%s proof)", name, d.zone, d.proof)}
	}
	return &dsResult{kind: dsNotCut, out: d.out, parent: d.zone}
}

// proveInsecure looks for a validated unsigned delegation at or above name,
// below its closest trust anchor (RFC 4035 §5.2). It returns Insecure with
// the delegation named, or Bogus (or Indeterminate when records could not be
// fetched) with what stands in the way, prefixed by problem.
func (v *validator) proveInsecure(name, problem string) outcome {
	anchor, ok := v.anchors.Closest(name)
	if !ok {
		return indeterminateOutcome("", "%s and no trust anchor covers %s", problem, name)
	}
	var lastMiss *outcome
	for _, c := range ancestors(name, anchor) {
		if c == anchor {
			break
		}
		if v.ev.Response(c, dns.TypeDS) == nil {
			if _, failed := v.ev.failure(c, dns.TypeDS); !failed {
				continue
			}
		}
		ds := v.dsState(c)
		switch ds.kind {
		case dsInsecureCut, dsInsecureAbove:
			return ds.out
		case dsSecure:
			return bogusOutcome(c, "%s in signed zone %s", problem, c)
		case dsBogus:
			return ds.out
		case dsUnknown:
			if ds.fetchFailed {
				o := ds.out
				lastMiss = &o
			}
		}
	}
	if lastMiss != nil {
		return indeterminateOutcome(lastMiss.zone, "%s; could not prove an unsigned delegation: %s", problem, strings.TrimPrefix(lastMiss.reason, "indeterminate: "))
	}
	zk := v.zoneKeys(anchor)
	if zk.out.state != Secure {
		return zk.out
	}
	return bogusOutcome(anchor, "%s and no unsigned delegation below %s is proven", problem, anchor)
}

func hasType(types []uint16, t uint16) bool {
	for _, x := range types {
		if x == t {
			return true
		}
	}
	return false
}
