package dnskeys

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/miekg/dns"
)

// DefaultAnchorFile is the root trust anchor Debian's dns-root-data package
// installs.
const DefaultAnchorFile = "/usr/share/dns/root.key"

// Anchors is a set of DNSSEC trust anchors (RFC 4033 §2): for each anchored
// zone, DS and/or DNSKEY records that are trusted without proof. Several
// zones may be anchored at once (the root and private zones). An Anchors is
// immutable once built and safe for concurrent use.
type Anchors struct {
	zones map[string]*anchorSet
}

type anchorSet struct {
	ds     []*dns.DS
	dnskey []*dns.DNSKEY
}

// ParseAnchors reads trust anchors in zone-file syntax: the formats of
// Debian's dns-root-data (/usr/share/dns/root.key, root.ds) and of unbound's
// trust-anchor-file and auto-trust-anchor-file (DS or DNSKEY lines, comments,
// $ORIGIN/$TTL, parentheses). source names the input in errors. DNSKEYs
// without the zone-key flag are an error; revoked DNSKEYs (RFC 5011 §2.1) are
// skipped. Any other record type is an error.
func ParseAnchors(r io.Reader, source string) (*Anchors, error) {
	a := &Anchors{zones: map[string]*anchorSet{}}
	zp := dns.NewZoneParser(r, ".", source)
	zp.SetDefaultTTL(3600)
	for rr, ok := zp.Next(); ok; rr, ok = zp.Next() {
		if err := a.add(rr); err != nil {
			return nil, fmt.Errorf("dnskeys: trust anchors %s: %w", source, err)
		}
	}
	if err := zp.Err(); err != nil {
		return nil, fmt.Errorf("dnskeys: trust anchors %s: %w", source, err)
	}
	if len(a.zones) == 0 {
		return nil, fmt.Errorf("dnskeys: trust anchors %s: no DS or DNSKEY records", source)
	}
	return a, nil
}

// LoadAnchors reads and merges trust-anchor files.
func LoadAnchors(paths ...string) (*Anchors, error) {
	if len(paths) == 0 {
		return nil, errors.New("dnskeys: no trust-anchor files given")
	}
	all := &Anchors{zones: map[string]*anchorSet{}}
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			return nil, fmt.Errorf("dnskeys: trust anchors: %w", err)
		}
		a, err := ParseAnchors(f, p)
		f.Close()
		if err != nil {
			return nil, err
		}
		all = all.Merge(a)
	}
	return all, nil
}

// Merge returns the union of a and b.
func (a *Anchors) Merge(b *Anchors) *Anchors {
	out := &Anchors{zones: map[string]*anchorSet{}}
	for _, src := range []*Anchors{a, b} {
		if src == nil {
			continue
		}
		for z, s := range src.zones {
			d := out.zones[z]
			if d == nil {
				d = &anchorSet{}
				out.zones[z] = d
			}
			d.ds = append(d.ds, s.ds...)
			d.dnskey = append(d.dnskey, s.dnskey...)
		}
	}
	return out
}

func (a *Anchors) add(rr dns.RR) error {
	h := rr.Header()
	if h.Class != dns.ClassINET {
		return fmt.Errorf("%s: class %s is not IN", h.Name, dns.ClassToString[h.Class])
	}
	zone := canonical(h.Name)
	switch v := rr.(type) {
	case *dns.DS:
		a.set(zone).ds = append(a.set(zone).ds, v)
	case *dns.DNSKEY:
		if v.Flags&dns.ZONE == 0 {
			return fmt.Errorf("%s: DNSKEY %d is not a zone key", zone, v.KeyTag())
		}
		if v.Flags&dns.REVOKE != 0 {
			return nil
		}
		a.set(zone).dnskey = append(a.set(zone).dnskey, v)
	default:
		return fmt.Errorf("%s: %s records are not trust anchors (want DS or DNSKEY)", zone, dns.TypeToString[h.Rrtype])
	}
	return nil
}

func (a *Anchors) set(zone string) *anchorSet {
	s := a.zones[zone]
	if s == nil {
		s = &anchorSet{}
		a.zones[zone] = s
	}
	return s
}

// Zones lists the anchored zones in canonical order.
func (a *Anchors) Zones() []string {
	if a == nil {
		return nil
	}
	out := make([]string, 0, len(a.zones))
	for z := range a.zones {
		out = append(out, z)
	}
	sort.Slice(out, func(i, j int) bool { return compareCanonical(out[i], out[j]) < 0 })
	return out
}

// Closest returns the deepest anchored zone at or above name.
func (a *Anchors) Closest(name string) (string, bool) {
	if a == nil {
		return "", false
	}
	for n := canonical(name); ; n = parentName(n) {
		if _, ok := a.zones[n]; ok {
			return n, true
		}
		if n == "." {
			return "", false
		}
	}
}

// has reports whether zone is anchored.
func (a *Anchors) has(zone string) bool {
	if a == nil {
		return false
	}
	_, ok := a.zones[zone]
	return ok
}

// String lists the anchors one per line, for diagnostics.
func (a *Anchors) String() string {
	var sb strings.Builder
	for _, z := range a.Zones() {
		s := a.zones[z]
		for _, d := range s.ds {
			fmt.Fprintf(&sb, "%s DS %d %d %d\n", z, d.KeyTag, d.Algorithm, d.DigestType)
		}
		for _, k := range s.dnskey {
			fmt.Fprintf(&sb, "%s DNSKEY %d %d (tag %d)\n", z, k.Flags, k.Algorithm, k.KeyTag())
		}
	}
	return sb.String()
}
