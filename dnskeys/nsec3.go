package dnskeys

import (
	"bytes"
	"crypto/sha1"
	"encoding/base32"
	"encoding/hex"
	"strconv"
	"strings"

	"github.com/miekg/dns"
)

var b32hex = base32.HexEncoding.WithPadding(base32.NoPadding)

// nsec3Rec is a validated NSEC3 record with its hashes decoded.
type nsec3Rec struct {
	hash, next []byte
	types      []uint16
	optOut     bool
}

func (r *nsec3Rec) has(t uint16) bool { return hasType(r.types, t) }

// nsec3Set holds the validated NSEC3 records of one zone that share one set
// of hash parameters (RFC 5155 §8.2: records with other parameters or an
// unknown hash algorithm are ignored).
type nsec3Set struct {
	zone       string
	iterations uint16
	salt       []byte
	saltHex    string
	recs       []nsec3Rec
}

func (s *nsec3Set) add(r *dns.NSEC3) {
	if r.Hash != dns.SHA1 {
		return
	}
	salt, err := hex.DecodeString(r.Salt)
	if r.Salt == "-" || r.Salt == "" {
		salt, err = nil, nil
	}
	if err != nil {
		return
	}
	if len(s.recs) == 0 {
		s.iterations, s.salt, s.saltHex = r.Iterations, salt, strings.ToLower(r.Salt)
	} else if r.Iterations != s.iterations || !bytes.Equal(salt, s.salt) {
		return
	}
	label := r.Hdr.Name[:strings.IndexByte(r.Hdr.Name, '.')]
	h, err := b32hex.DecodeString(strings.ToUpper(label))
	if err != nil || len(h) != sha1.Size {
		return
	}
	next, err := b32hex.DecodeString(strings.ToUpper(r.NextDomain))
	if err != nil || len(next) != sha1.Size {
		return
	}
	s.recs = append(s.recs, nsec3Rec{hash: h, next: next, types: r.TypeBitMap, optOut: r.Flags&1 == 1})
}

// hash computes the NSEC3 hash of name (RFC 5155 §5), memoized per
// validation.
func (s *nsec3Set) hash(v *validator, name string) []byte {
	key := name + "|" + s.saltHex + "|" + strconv.Itoa(int(s.iterations))
	if h, ok := v.nsec3Hashes[key]; ok {
		return h
	}
	wire := make([]byte, 256)
	n, err := dns.PackDomainName(name, wire, 0, nil, false)
	if err != nil {
		return nil
	}
	h := sha1.New()
	h.Write(wire[:n])
	h.Write(s.salt)
	sum := h.Sum(nil)
	for i := uint16(0); i < s.iterations; i++ {
		h.Reset()
		h.Write(sum)
		h.Write(s.salt)
		sum = h.Sum(sum[:0])
	}
	v.nsec3Hashes[key] = sum
	return sum
}

// match returns the record whose owner hash is name's hash.
func (s *nsec3Set) match(v *validator, name string) *nsec3Rec {
	h := s.hash(v, name)
	if h == nil {
		return nil
	}
	for i := range s.recs {
		if bytes.Equal(s.recs[i].hash, h) {
			return &s.recs[i]
		}
	}
	return nil
}

// cover returns the record whose hash interval strictly contains name's
// hash, wrapping at the end of the chain.
func (s *nsec3Set) cover(v *validator, name string) *nsec3Rec {
	h := s.hash(v, name)
	if h == nil {
		return nil
	}
	for i := range s.recs {
		r := &s.recs[i]
		after := bytes.Compare(r.hash, h) < 0
		if bytes.Compare(r.next, r.hash) <= 0 {
			if after || bytes.Compare(h, r.next) < 0 {
				return r
			}
			continue
		}
		if after && bytes.Compare(h, r.next) < 0 {
			return r
		}
	}
	return nil
}

// closestEncloserProof finds the closest provable encloser of name (RFC 5155
// §8.3): the deepest ancestor whose hash matches, with the next closer name
// covered. It returns the encloser, the record covering the next closer,
// or a Bogus outcome.
func (s *nsec3Set) closestEncloserProof(v *validator, name string) (string, *nsec3Rec, *outcome) {
	for ce := parentName(name); ; ce = parentName(ce) {
		if !isSubdomain(s.zone, ce) {
			break
		}
		if m := s.match(v, ce); m != nil {
			if m.has(dns.TypeDNAME) || (m.has(dns.TypeNS) && !m.has(dns.TypeSOA)) {
				o := bogusOutcome(s.zone, "NSEC3 closest encloser %s of %s is a delegation or DNAME", ce, name)
				return "", nil, &o
			}
			nc := nextCloser(name, ce)
			cov := s.cover(v, nc)
			if cov == nil {
				o := bogusOutcome(s.zone, "no NSEC3 covers the next closer name %s of %s", nc, name)
				return "", nil, &o
			}
			return ce, cov, nil
		}
		if ce == s.zone {
			break
		}
	}
	o := bogusOutcome(s.zone, "no NSEC3 proves a closest encloser of %s", name)
	return "", nil, &o
}

// nsec3Limits applies the iteration limits of RFC 9276 §3.2.
func (v *validator) nsec3Limits(s *nsec3Set) *outcome {
	switch {
	case s.iterations > v.opt.NSEC3BogusIterations:
		o := bogusOutcome(s.zone, "NSEC3 uses %d iterations, more than the limit of %d (RFC 9276)", s.iterations, v.opt.NSEC3BogusIterations)
		return &o
	case s.iterations > v.opt.NSEC3InsecureIterations:
		o := insecureOutcome(s.zone, "NSEC3 uses %d iterations, more than %d, so its denial is not trusted (RFC 9276)", s.iterations, v.opt.NSEC3InsecureIterations)
		return &o
	}
	return nil
}

// nsec3Proof checks that validated NSEC3 records prove the denial d claims
// for (name, qtype) (RFC 5155 §8.4-8.7).
func (v *validator) nsec3Proof(d *denialInfo, name string, qtype uint16, zone string, s *nsec3Set) {
	if o := v.nsec3Limits(s); o != nil {
		d.out = *o
		return
	}
	tn := typeName(qtype)
	if d.kind == DenialNXDomain {
		if s.match(v, name) != nil {
			d.out = bogusOutcome(zone, "NXDOMAIN for %s, but an NSEC3 shows it exists", name)
			return
		}
		ce, cov, bad := s.closestEncloserProof(v, name)
		if bad != nil {
			d.out = *bad
			return
		}
		if s.cover(v, "*."+ce) == nil {
			d.out = bogusOutcome(zone, "no NSEC3 proves that wildcard *.%s does not exist", ce)
			return
		}
		if cov.optOut {
			d.optOut = true
			d.out = insecureOutcome(zone, "NXDOMAIN for %s rests on an NSEC3 opt-out span; an unsigned delegation may exist", name)
			return
		}
		d.out = secureOutcome(zone, ^uint32(0), "%s does not exist (NSEC3 from %s)", name, zone)
		return
	}
	if m := s.match(v, name); m != nil {
		switch {
		case m.has(qtype):
			d.out = bogusOutcome(zone, "NODATA for %s %s, but the NSEC3 at %s lists it", name, tn, name)
		case m.has(dns.TypeCNAME):
			d.out = bogusOutcome(zone, "NODATA for %s %s, but the NSEC3 at %s lists CNAME", name, tn, name)
		case qtype != dns.TypeDS && m.has(dns.TypeNS) && !m.has(dns.TypeSOA):
			d.out = bogusOutcome(zone, "NSEC3 at %s is the parent side of a delegation and cannot deny %s", name, tn)
		case qtype == dns.TypeDS && m.has(dns.TypeSOA) && name != ".":
			d.out = bogusOutcome(zone, "denial of DS at %s comes from the child zone's apex", name)
		default:
			d.matched = true
			d.types = m.types
			d.out = secureOutcome(zone, ^uint32(0), "%s has no %s (NSEC3 from %s)", name, tn, zone)
		}
		return
	}
	ce, cov, bad := s.closestEncloserProof(v, name)
	if bad != nil {
		d.out = *bad
		return
	}
	if qtype == dns.TypeDS {
		// RFC 5155 §8.6: no NSEC3 matches the DS name; only an opt-out span
		// covering the next closer name can prove an unsigned delegation.
		if cov.optOut {
			d.optOut = true
			d.out = secureOutcome(zone, ^uint32(0), "no DS for %s: it lies in an NSEC3 opt-out span of %s", name, zone)
			return
		}
		d.out = bogusOutcome(zone, "no NSEC3 matches %s and its covering NSEC3 has no opt-out", name)
		return
	}
	// RFC 5155 §8.7: wildcard NODATA.
	if w := s.match(v, "*."+ce); w != nil && !w.has(qtype) && !w.has(dns.TypeCNAME) {
		d.out = secureOutcome(zone, ^uint32(0), "wildcard *.%s has no %s (NSEC3 from %s)", ce, tn, zone)
		return
	}
	d.out = bogusOutcome(zone, "no NSEC3 matches %s to prove it has no %s", name, tn)
}
