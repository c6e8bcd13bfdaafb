package dnskeys

import (
	"fmt"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// supportedAlgorithm reports whether DNSKEY/RRSIG algorithm a is validated:
// RSASHA256 (8), RSASHA512 (10), ECDSAP256SHA256 (13), ECDSAP384SHA384 (14)
// and ED25519 (15), the set RFC 8624 §3.1 says validators MUST implement
// (plus 14, RECOMMENDED). Others are treated as unknown (RFC 4035 §5.2).
func supportedAlgorithm(a uint8) bool {
	switch a {
	case dns.RSASHA256, dns.RSASHA512, dns.ECDSAP256SHA256, dns.ECDSAP384SHA384, dns.ED25519:
		return true
	}
	return false
}

// supportedDigest reports whether DS digest type d is checked: SHA-256 (2)
// and SHA-384 (4) (RFC 8624 §3.3; SHA-1 is no longer accepted).
func supportedDigest(d uint8) bool { return d == dns.SHA256 || d == dns.SHA384 }

// sigFailure describes why one RRSIG did not validate; rank orders how
// specific the reason is so that the most useful one is reported.
type sigFailure struct {
	rank   int
	reason string
}

// rrset validates a positive RRset taken from msg (RFC 4035 §5.3).
func (v *validator) rrset(set []dns.RR, sigs []*dns.RRSIG, msg *dns.Msg) outcome {
	if len(set) == 0 {
		return bogusOutcome("", "empty RRset")
	}
	h := set[0].Header()
	owner := canonical(h.Name)
	what := owner + " " + typeName(h.Rrtype)
	if len(sigs) == 0 {
		return v.unsigned(owner, what)
	}
	v.depth++
	v.work++
	defer func() { v.depth-- }()
	if v.depth > maxDepth || v.work > maxWork {
		return bogusOutcome("", "validating %s needs more than %d nested proofs or %d steps", what, maxDepth, maxWork)
	}
	anchor, _ := v.anchors.Closest(owner)
	var fail, insecure *outcome
	failRank := -1
	note := func(o outcome, r int) {
		if r > failRank {
			fail, failRank = &o, r
		}
	}
	for _, sig := range sigs {
		signer := canonical(sig.SignerName)
		if !isSubdomain(signer, owner) {
			note(bogusOutcome("", "RRSIG over %s names signer %s, which is not above it", what, signer), 0)
			continue
		}
		if !isSubdomain(anchor, signer) {
			note(bogusOutcome("", "RRSIG over %s names signer %s, above the trust anchor %s", what, signer, anchor), 0)
			continue
		}
		zk := v.zoneKeys(signer)
		switch zk.out.state {
		case Insecure:
			// Keep looking: another RRSIG may be Secure, and an added
			// RRSIG naming an insecure ancestor must not downgrade it.
			if insecure == nil {
				o := zk.out
				insecure = &o
			}
			continue
		case Secure:
		default:
			note(zk.out, 1)
			continue
		}
		f, ttl := v.checkSig(sig, set, zk, owner, what)
		if f != nil {
			note(bogusOutcome(signer, "%s", f.reason), 2+f.rank)
			continue
		}
		if expanded(owner, sig) {
			if h.Rrtype == dns.TypeNSEC || h.Rrtype == dns.TypeNSEC3 {
				note(bogusOutcome(signer, "RRSIG over %s claims a wildcard expansion, which NSEC and NSEC3 never are", what), 2)
				continue
			}
			w := v.wildcardProof(owner, int(sig.Labels), signer, msg)
			if w.state != Secure {
				note(w, 10)
				continue
			}
			ttl = minTTL(ttl, w.ttl)
		}
		ttl = minTTL(ttl, zk.out.ttl)
		return secureOutcome(signer, ttl, "%s signed by %s", what, signer)
	}
	// A signature that failed against validated keys is Bogus whatever
	// else is attached; otherwise an insecure signer makes it Insecure.
	if insecure != nil && failRank < 2 {
		return *insecure
	}
	if fail == nil {
		return bogusOutcome("", "no usable RRSIG over %s", what)
	}
	return *fail
}

// maxDepth bounds nested RRset validations (chain, denial, wildcard);
// maxWork bounds all RRset validations of one Validate call, so that
// hostile evidence cannot make the work grow beyond a few hundred
// signature checks.
const (
	maxDepth = 64
	maxWork  = 512
)

// expanded reports whether an RRSIG shows that its RRset was synthesized
// from a wildcard (RFC 4035 §5.3.4): fewer labels than the owner, unless
// the owner is the wildcard name itself.
func expanded(owner string, sig *dns.RRSIG) bool {
	n := labelCount(owner)
	if strings.HasPrefix(owner, "*.") {
		n--
	}
	return int(sig.Labels) < n
}

// unsigned handles an RRset or denial without signatures: it is Insecure
// only if a validated chain proves an unsigned delegation above name.
func (v *validator) unsigned(name, what string) outcome {
	return v.proveInsecure(name, "no RRSIG over "+what)
}

// checkSig checks one RRSIG over set with the zone's validated keys: the
// RRSIG's fields against the RRset (RFC 4035 §5.3.1), its validity window
// with clock skew, and the signature. It returns the TTL the RRset may be
// trusted for (RFC 4035 §5.3.3), or why it failed.
func (v *validator) checkSig(sig *dns.RRSIG, set []dns.RR, zk *zoneKeys, owner, what string) (*sigFailure, uint32) {
	if !supportedAlgorithm(sig.Algorithm) {
		return &sigFailure{0, fmt.Sprintf("RRSIG over %s uses unsupported algorithm %d", what, sig.Algorithm)}, 0
	}
	if int(sig.Labels) > labelCount(owner) {
		return &sigFailure{1, fmt.Sprintf("RRSIG over %s has labels %d, more than its owner's %d", what, sig.Labels, labelCount(owner))}, 0
	}
	incep, exp := sigTimes(sig, v.now)
	skew := v.opt.ClockSkew
	if v.now.Add(skew).Before(incep) {
		return &sigFailure{5, fmt.Sprintf("RRSIG over %s not valid before %s", what, incep.UTC().Format(time.RFC3339))}, 0
	}
	if v.now.Add(-skew).After(exp) {
		return &sigFailure{5, fmt.Sprintf("RRSIG over %s expired %s", what, exp.UTC().Format(time.RFC3339))}, 0
	}
	var tried bool
	for i := range zk.keys {
		k := &zk.keys[i]
		if k.tag != sig.KeyTag || k.rr.Algorithm != sig.Algorithm {
			continue
		}
		tried = true
		if err := v.opt.SigCache.verify(sig, k.rr, set); err == nil {
			ttl := sig.OrigTtl
			for _, rr := range set {
				ttl = minTTL(ttl, rr.Header().Ttl)
			}
			if left := exp.Add(skew).Sub(v.now); left < time.Duration(ttl)*time.Second {
				ttl = uint32(max(left/time.Second, 0))
			}
			return nil, ttl
		}
	}
	if !tried {
		return &sigFailure{3, fmt.Sprintf("RRSIG over %s names key %d algorithm %d, which is not among the zone's validated DNSKEYs", what, sig.KeyTag, sig.Algorithm)}, 0
	}
	return &sigFailure{4, fmt.Sprintf("RRSIG over %s by key %d does not verify", what, sig.KeyTag)}, 0
}

// sigTimes converts an RRSIG's 32-bit inception and expiration to times
// near now using serial number arithmetic (RFC 4034 §3.1.5, RFC 1982).
func sigTimes(sig *dns.RRSIG, now time.Time) (time.Time, time.Time) {
	return serialTime(sig.Inception, now), serialTime(sig.Expiration, now)
}

func serialTime(v uint32, now time.Time) time.Time {
	n := uint32(now.Unix())
	d := int32(v - n)
	return time.Unix(now.Unix()+int64(d), 0)
}
