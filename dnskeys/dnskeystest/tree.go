// Package dnskeystest provides test doubles for code that uses dnskeys: a
// fake KeyFinder for higher layers' unit tests, and, for end-to-end DNSSEC
// tests, a zone tree signed at test time with BIND's dnssec-keygen and
// dnssec-signzone (Debian bind9-utils) and served by NSD instances on
// loopback, a recursive unbound reaching that tree through stub zones, and a
// UDP/TCP proxy that can rewrite or swallow answers.
package dnskeystest

import (
	"crypto"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// ZoneSpec describes one zone of a test tree.
type ZoneSpec struct {
	// Name is the zone's apex, fully qualified.
	Name string
	// Records are zone-file lines, relative to the apex unless fully
	// qualified. SOA and apex NS are added; so are delegations (NS, and DS
	// when the child is signed) to the tree's child zones.
	Records []string
	// Unsigned leaves the zone unsigned.
	Unsigned bool
	// NSEC3 signs with NSEC3 (no salt) instead of NSEC; OptOut sets the
	// opt-out flag; Iterations are the extra NSEC3 iterations.
	NSEC3      bool
	OptOut     bool
	Iterations int
	// Algorithm for both keys (dnssec-keygen name); default ECDSAP256SHA256.
	// KeyBits sets the RSA modulus size (dnssec-keygen -b).
	Algorithm string
	KeyBits   int
	// Inception and Expiration of the signatures; zero means one hour ago
	// and thirty days ahead.
	Inception, Expiration time.Time
	// DSDigest selects the DS digest put into the parent: "" or "SHA-256"
	// (dnssec-signzone's dsset), or "SHA-384" (from dnssec-dsfromkey).
	DSDigest string
	// MutateDS edits the DS lines that go into the parent (for a DS that
	// matches no DNSKEY).
	MutateDS func(ds string) string
	// MutateSigned edits the signed zone text before it is served.
	MutateSigned func(t testing.TB, z *Zone, signed string) string
}

// Zone is a built zone.
type Zone struct {
	Spec ZoneSpec
	// Dir holds the zone's keys and files.
	Dir string
	// SignedFile is the file served.
	SignedFile string
	// DS holds the DS lines generated for the parent ("" if unsigned).
	DS string
	// KSK and ZSK are the key file base names (K<zone>+alg+tag).
	KSK, ZSK string
}

// Tree is a set of zones signed together: children first, so that each
// parent carries its children's DS records.
type Tree struct {
	Dir   string
	Zones map[string]*Zone
	// Anchor is a trust-anchor file (unbound format: the root zone's KSK
	// as a DNSKEY line) for the tree's topmost zone.
	Anchor string
	// Servers maps each zone to its "127.0.0.1:port" once served.
	Servers map[string]string
}

// RequireTools fails t if the signing and serving tools are missing, except
// under OE_TEST_TIER=unit, where the test is skipped. Tests that use it are
// netns-tier tests (TestNetns*, after testenv.RequireNetns), which `make
// test` runs as root after installing internal/testenv/apt-packages.txt, so
// a missing tool there is a failure, not a reason to skip silently. They
// serve on 127.0.0.1 and need no namespace of their own.
func RequireTools(t testing.TB) {
	t.Helper()
	if os.Getenv("OE_TEST_TIER") == "unit" {
		t.Skip("needs nsd and bind9-utils: skipped under OE_TEST_TIER=unit")
	}
	if err := HaveTools(); err != nil {
		t.Fatalf("dnskeystest: %v (apt-get install nsd bind9-utils; listed in internal/testenv/apt-packages.txt)", err)
	}
}

// HaveTools reports whether nsd, dnssec-keygen and dnssec-signzone are
// installed.
func HaveTools() error {
	for _, tool := range []string{"nsd", "dnssec-keygen", "dnssec-signzone", "dnssec-dsfromkey"} {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Errorf("%s not found: %w", tool, err)
		}
	}
	return nil
}

// BuildTree keygens and signs the zones under a fresh temporary directory.
// The first zone is the tree's top and its anchor.
func BuildTree(t testing.TB, specs ...ZoneSpec) *Tree {
	t.Helper()
	tr := &Tree{Dir: t.TempDir(), Zones: map[string]*Zone{}, Servers: map[string]string{}}
	for _, s := range specs {
		s.Name = strings.ToLower(dns.Fqdn(s.Name))
		if s.Algorithm == "" {
			s.Algorithm = "ECDSAP256SHA256"
		}
		dirName := strings.TrimSuffix(s.Name, ".")
		if dirName == "" {
			dirName = "root"
		}
		z := &Zone{Spec: s, Dir: filepath.Join(tr.Dir, dirName)}
		if err := os.MkdirAll(z.Dir, 0o755); err != nil {
			t.Fatal(err)
		}
		tr.Zones[s.Name] = z
	}
	// Deepest zones first, so that DS records exist before parents sign.
	names := make([]string, 0, len(tr.Zones))
	for n := range tr.Zones {
		names = append(names, n)
	}
	sort.Slice(names, func(i, j int) bool { return dns.CountLabel(names[i]) > dns.CountLabel(names[j]) })
	for _, n := range names {
		tr.sign(t, tr.Zones[n])
	}
	top := tr.Zones[strings.ToLower(dns.Fqdn(specs[0].Name))]
	if top.Spec.Unsigned {
		t.Fatalf("dnskeystest: the top zone %s must be signed", top.Spec.Name)
	}
	key := readFile(t, filepath.Join(top.Dir, top.KSK+".key"))
	var lines []string
	for _, l := range strings.Split(key, "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, ";") {
			lines = append(lines, l)
		}
	}
	tr.Anchor = filepath.Join(tr.Dir, "anchor.key")
	writeFile(t, tr.Anchor, "; test trust anchor\n"+strings.Join(lines, "\n")+"\n")
	return tr
}

// children lists the tree zones directly delegated from z (their closest
// enclosing tree zone is z).
func (tr *Tree) children(z *Zone) []*Zone {
	var out []*Zone
	for n, c := range tr.Zones {
		if n == z.Spec.Name || !dns.IsSubDomain(z.Spec.Name, n) {
			continue
		}
		if tr.parentOf(n) == z.Spec.Name {
			out = append(out, c)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Spec.Name < out[j].Spec.Name })
	return out
}

// parentOf returns the closest tree zone strictly above name.
func (tr *Tree) parentOf(name string) string {
	for n := name; n != "."; {
		i := strings.IndexByte(n, '.')
		n = n[i+1:]
		if n == "" {
			n = "."
		}
		if _, ok := tr.Zones[n]; ok {
			return n
		}
	}
	return ""
}

func (tr *Tree) sign(t testing.TB, z *Zone) {
	t.Helper()
	s := z.Spec
	var b strings.Builder
	fmt.Fprintf(&b, "$ORIGIN %s\n$TTL 300\n", s.Name)
	fmt.Fprintf(&b, "@ SOA ns1.nic.test. hostmaster.nic.test. 1 3600 600 86400 60\n@ NS ns1.nic.test.\n")
	for _, r := range s.Records {
		b.WriteString(r + "\n")
	}
	for _, c := range tr.children(z) {
		fmt.Fprintf(&b, "%s NS ns1.nic.test.\n", c.Spec.Name)
		if c.DS != "" {
			b.WriteString(c.DS)
		}
	}
	plain := filepath.Join(z.Dir, "zone.db")
	writeFile(t, plain, b.String())
	if s.Unsigned {
		z.SignedFile = plain
		return
	}
	kg := []string{"-q", "-K", z.Dir, "-a", s.Algorithm, "-n", "ZONE"}
	if s.KeyBits > 0 {
		kg = append(kg, "-b", fmt.Sprint(s.KeyBits))
	}
	z.KSK = strings.TrimSpace(run(t, z.Dir, "dnssec-keygen", append(kg, "-f", "KSK", s.Name)...))
	z.ZSK = strings.TrimSpace(run(t, z.Dir, "dnssec-keygen", append(kg, s.Name)...))
	incep, exp := s.Inception, s.Expiration
	if incep.IsZero() {
		incep = time.Now().Add(-time.Hour)
	}
	if exp.IsZero() {
		exp = time.Now().Add(30 * 24 * time.Hour)
	}
	args := []string{"-S", "-K", z.Dir, "-d", z.Dir, "-o", s.Name, "-O", "full", "-f", "zone.signed",
		"-s", incep.UTC().Format("20060102150405"), "-e", exp.UTC().Format("20060102150405"), "-j", "0"}
	if s.NSEC3 {
		args = append(args, "-3", "-", "-H", fmt.Sprint(s.Iterations))
		if s.OptOut {
			args = append(args, "-A")
		}
	}
	if exp.Before(time.Now()) {
		args = append(args, "-P")
	}
	args = append(args, "zone.db")
	run(t, z.Dir, "dnssec-signzone", args...)
	z.SignedFile = filepath.Join(z.Dir, "zone.signed")
	dsFile := filepath.Join(z.Dir, "dsset-"+s.Name)
	z.DS = readFile(t, dsFile)
	if s.DSDigest != "" && s.DSDigest != "SHA-256" {
		z.DS = run(t, z.Dir, "dnssec-dsfromkey", "-a", s.DSDigest, z.KSK+".key")
	}
	if s.MutateDS != nil {
		z.DS = s.MutateDS(z.DS)
	}
	if s.MutateSigned != nil {
		writeFile(t, z.SignedFile, s.MutateSigned(t, z, readFile(t, z.SignedFile)))
	}
}

// Resign re-signs a zone's RRset of the given owner and type with the
// zone's ZSK and the given validity, replacing its RRSIGs in signed text.
// Tests use it to plant an expired (but otherwise valid) signature.
func Resign(t testing.TB, z *Zone, signed, owner string, rrtype uint16, inception, expiration time.Time) string {
	t.Helper()
	pubText := readFile(t, filepath.Join(z.Dir, z.ZSK+".key"))
	rr, err := dns.NewRR(lastRecordLine(pubText))
	if err != nil {
		t.Fatalf("dnskeystest: parse %s.key: %v", z.ZSK, err)
	}
	pub := rr.(*dns.DNSKEY)
	f, err := os.Open(filepath.Join(z.Dir, z.ZSK+".private"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	priv, err := pub.ReadPrivateKey(f, z.ZSK+".private")
	if err != nil {
		t.Fatalf("dnskeystest: read private key: %v", err)
	}
	owner = strings.ToLower(dns.Fqdn(owner))
	var set []dns.RR
	var keep []string
	for _, line := range strings.Split(signed, "\n") {
		rr, err := dns.NewRR(line)
		if err != nil || rr == nil {
			keep = append(keep, line)
			continue
		}
		h := rr.Header()
		if strings.EqualFold(h.Name, owner) {
			if h.Rrtype == rrtype {
				set = append(set, rr)
			}
			if sig, ok := rr.(*dns.RRSIG); ok && sig.TypeCovered == rrtype {
				continue
			}
		}
		keep = append(keep, line)
	}
	if len(set) == 0 {
		t.Fatalf("dnskeystest: no %s %s in signed zone", owner, dns.TypeToString[rrtype])
	}
	sig := &dns.RRSIG{
		Hdr:        dns.RR_Header{Name: owner, Rrtype: dns.TypeRRSIG, Class: dns.ClassINET, Ttl: set[0].Header().Ttl},
		KeyTag:     pub.KeyTag(),
		SignerName: z.Spec.Name,
		Algorithm:  pub.Algorithm,
		Inception:  uint32(inception.Unix()),
		Expiration: uint32(expiration.Unix()),
	}
	signer, ok := priv.(crypto.Signer)
	if !ok {
		t.Fatalf("dnskeystest: %T is not a crypto.Signer", priv)
	}
	if err := sig.Sign(signer, set); err != nil {
		t.Fatalf("dnskeystest: sign: %v", err)
	}
	keep = append(keep, sig.String())
	return strings.Join(keep, "\n") + "\n"
}

func lastRecordLine(text string) string {
	var last string
	for _, l := range strings.Split(text, "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, ";") {
			last = l
		}
	}
	return last
}

func run(t testing.TB, dir, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("dnskeystest: %s %s: %v\n%s", name, strings.Join(args, " "), err, stderr.String())
	}
	return string(out)
}

func readFile(t testing.TB, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func writeFile(t testing.TB, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}
