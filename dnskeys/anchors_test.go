package dnskeys

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

func genKSK(t testing.TB, zone string) *dns.DNSKEY {
	t.Helper()
	k := &dns.DNSKEY{Hdr: dns.RR_Header{Name: zone, Rrtype: dns.TypeDNSKEY, Class: dns.ClassINET, Ttl: 3600},
		Flags: dns.ZONE | dns.SEP, Protocol: 3, Algorithm: dns.ECDSAP256SHA256}
	if _, err := k.Generate(256); err != nil {
		t.Fatal(err)
	}
	return k
}

func TestParseAnchorsFormats(t *testing.T) {
	root := genKSK(t, ".")
	corp := genKSK(t, "corp.example.")
	ds := root.ToDS(dns.SHA256)
	cases := map[string]string{
		// Debian dns-root-data root.ds / root.key as DS lines.
		"debian DS": ". IN DS " + strings.TrimPrefix(ds.String(), ds.Hdr.String()) + "\n",
		// Debian root.key as a DNSKEY line, unbound trust-anchor-file style.
		"debian DNSKEY": ". 172800 IN DNSKEY " + strings.TrimPrefix(root.String(), root.Hdr.String()) + "\n",
		// unbound auto-trust-anchor-file, with its comment annotations.
		"unbound autotrust": "; autotrust trust anchor file\n;;id: . 1\n;;last_queried: 1700000000 ;;Tue Nov 14 22:13:20 2023\n" +
			".\t172800\tIN\tDNSKEY\t" + strings.TrimPrefix(root.String(), root.Hdr.String()) +
			" ;{id = " + strconv.Itoa(int(root.KeyTag())) + " (ksk), size = 256b} ;;state=2 [  VALID  ] ;;count=0\n",
		// $ORIGIN, $TTL and parentheses.
		"zone file syntax": "$ORIGIN .\n$TTL 3600\n@ IN DS ( " + strings.TrimPrefix(ds.String(), ds.Hdr.String()) + " )\n",
	}
	for name, text := range cases {
		a, err := ParseAnchors(strings.NewReader(text), name)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if z, ok := a.Closest("2.0.192.in-addr.arpa."); !ok || z != "." {
			t.Errorf("%s: closest anchor %q %v", name, z, ok)
		}
	}
	// Several anchors at once: the root plus a private zone.
	dir := t.TempDir()
	p1, p2 := filepath.Join(dir, "root.key"), filepath.Join(dir, "corp.key")
	os.WriteFile(p1, []byte(root.String()+"\n"), 0o644)
	os.WriteFile(p2, []byte(corp.ToDS(dns.SHA384).String()+"\n"), 0o644)
	a, err := LoadAnchors(p1, p2)
	if err != nil {
		t.Fatal(err)
	}
	if z, _ := a.Closest("host.corp.example."); z != "corp.example." {
		t.Errorf("closest for corp name = %q", z)
	}
	if z, _ := a.Closest("www.example."); z != "." {
		t.Errorf("closest for public name = %q", z)
	}
	if got := a.Zones(); len(got) != 2 || got[0] != "." {
		t.Errorf("zones %v", got)
	}
	if !strings.Contains(a.String(), "corp.example. DS") {
		t.Errorf("String() = %q", a.String())
	}
}

func TestParseAnchorsRejects(t *testing.T) {
	root := genKSK(t, ".")
	notZone := *root
	notZone.Flags = 0
	revoked := *root
	revoked.Flags |= dns.REVOKE
	cases := map[string]string{
		"empty":          "; nothing here\n",
		"A record":       "example. IN A 192.0.2.1\n",
		"not a zone key": notZone.String() + "\n",
		"only revoked":   revoked.String() + "\n",
		"syntax":         ". IN DS 1 2\n",
		"chaos class":    ". CH DS 12345 13 2 " + strings.Repeat("ab", 32) + "\n",
	}
	for name, text := range cases {
		if _, err := ParseAnchors(strings.NewReader(text), name); err == nil || !strings.HasPrefix(err.Error(), "dnskeys: trust anchors "+name) {
			t.Errorf("%s: err = %v", name, err)
		}
	}
	if _, err := LoadAnchors(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Error("missing file accepted")
	}
	if _, err := LoadAnchors(); err == nil {
		t.Error("no files accepted")
	}
}

// TestDebianRootAnchors parses copies of Debian dns-root-data's root.key
// (DNSKEY lines with comments) and root.ds, and the installed files when
// present, and checks that the two describe the same root KSKs.
func TestDebianRootAnchors(t *testing.T) {
	for _, dir := range []string{filepath.Join("testdata", "anchors"), "/usr/share/dns"} {
		keyFile, dsFile := filepath.Join(dir, "root.key"), filepath.Join(dir, "root.ds")
		if _, err := os.Stat(keyFile); err != nil && dir == "/usr/share/dns" {
			t.Logf("%s: dns-root-data not installed", dir)
			continue
		}
		keys, err := LoadAnchors(keyFile)
		if err != nil {
			t.Fatal(err)
		}
		dss, err := LoadAnchors(dsFile)
		if err != nil {
			t.Fatal(err)
		}
		ks, ds := keys.zones["."], dss.zones["."]
		if ks == nil || ds == nil || len(ks.dnskey) == 0 || len(ds.ds) != len(ks.dnskey) {
			t.Fatalf("%s: root.key %v, root.ds %v", dir, ks, ds)
		}
		tags := map[uint16]bool{}
		for _, k := range ks.dnskey {
			tags[k.KeyTag()] = true
			e := keyEntry{rr: k, tag: k.KeyTag()}
			found := false
			for _, d := range ds.ds {
				found = found || dsMatches(d, e, ".")
			}
			if !found {
				t.Errorf("%s: root.key KSK %d has no matching DS in root.ds", dir, k.KeyTag())
			}
		}
		if !tags[20326] {
			t.Errorf("%s: KSK-2017 (20326) missing: %v", dir, tags)
		}
	}
}
