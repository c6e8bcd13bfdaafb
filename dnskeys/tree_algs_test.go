package dnskeys_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/miekg/dns"
	"github.com/oe-agent/oe-agent/dnskeys"
	"github.com/oe-agent/oe-agent/dnskeys/dnskeystest"
	"github.com/oe-agent/oe-agent/internal/testenv"
)

// TestNetnsNSDAlgorithms signs the whole tree with each DNSKEY algorithm we
// validate, and once with SHA-384 DS records, and looks up a key.
func TestNetnsNSDAlgorithms(t *testing.T) {
	testenv.RequireNetns(t)
	for _, tc := range []struct {
		name, alg, digest string
		bits              int
	}{
		// 1024-bit zone keys keep key generation quick; the validator
		// checks DNSKEY RSA sizes no further than RFC 3110 allows.
		{"RSASHA256 (8)", "RSASHA256", "", 1024},
		{"RSASHA512 (10)", "RSASHA512", "", 1024},
		{"ECDSAP384SHA384 (14)", "ECDSAP384SHA384", "", 0},
		{"ED25519 (15)", "ED25519", "", 0},
		{"ECDSAP256SHA256 (13) with SHA-384 DS (digest 4)", "ECDSAP256SHA256", "SHA-384", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, r := served(t, func(z *treeZones) {
				for _, s := range []*dnskeystest.ZoneSpec{&z.Root, &z.InAddr, &z.IP6, &z.V4, &z.V6} {
					s.Algorithm = tc.alg
					s.KeyBits = tc.bits
					s.DSDigest = tc.digest
				}
			}, nil)
			kr := lookupAddr(t, r, "192.0.2.1")
			if kr.State != dnskeys.Secure || !kr.Usable() {
				t.Fatalf("got %s: %s", kr.State, kr.Reason)
			}
			if kr := lookupAddr(t, r, "2001:db8::3"); kr.State != dnskeys.Secure || kr.IPSECKEY.Denial != dnskeys.DenialNoData {
				t.Fatalf("NSEC3 denial: %s %s", kr.State, kr.Reason)
			}
		})
	}
}

// TestNetnsNSDPrivateAnchors anchors the tree at in-addr.arpa. instead of the
// root (a private trust anchor), alone and together with the root.
func TestNetnsNSDPrivateAnchors(t *testing.T) {
	testenv.RequireNetns(t)
	tr, _ := served(t, nil, nil)
	z := tr.Zones["in-addr.arpa."]
	b, err := os.ReadFile(filepath.Join(z.Dir, z.KSK+".key"))
	if err != nil {
		t.Fatal(err)
	}
	private := filepath.Join(t.TempDir(), "in-addr.key")
	if err := os.WriteFile(private, b, 0o644); err != nil {
		t.Fatal(err)
	}
	stub := map[string][]string{}
	for zn, a := range tr.Servers {
		stub[zn] = []string{a}
	}
	for _, tc := range []struct {
		name  string
		files []string
		zones string
	}{
		{"private anchor only", []string{private}, "in-addr.arpa. " + v4Zone},
		{"root and private anchor", []string{tr.Anchor, private}, "in-addr.arpa. " + v4Zone},
	} {
		t.Run(tc.name, func(t *testing.T) {
			anchors, err := dnskeys.LoadAnchors(tc.files...)
			if err != nil {
				t.Fatal(err)
			}
			r, err := dnskeys.New(dnskeys.Config{Anchors: anchors, Stub: stub})
			if err != nil {
				t.Fatal(err)
			}
			res, err := r.Lookup(t.Context(), peer1, dns.TypeIPSECKEY)
			if err != nil {
				t.Fatal(err)
			}
			if res.State != dnskeys.Secure || strings.Join(res.Zones, " ") != tc.zones {
				t.Fatalf("got %s zones %v: %s", res.State, res.Zones, res.Reason)
			}
			res, _ = r.Lookup(t.Context(), reverse("2001:db8::1"), dns.TypeIPSECKEY)
			want := dnskeys.Secure
			if len(tc.files) == 1 {
				want = dnskeys.Indeterminate // no anchor covers ip6.arpa.
			}
			if res.State != want {
				t.Errorf("ip6.arpa. name: %s: %s", res.State, res.Reason)
			}
		})
	}
}
