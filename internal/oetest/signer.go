package oetest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/oe-agent/oe-agent/dnskeys/dnskeystest"
)

// signTree signs a tree of zones with BIND's dnssec-keygen and
// dnssec-signzone, like dnskeystest.BuildTree (whose result type it
// returns, so that the two are interchangeable), but running the tools in
// parallel where they are independent: the ten key generations at once,
// then the zones in waves, each zone as soon as its children's DS records
// exist. In the TCG guest every run of a BIND tool costs seconds, and
// BuildTree's fifteen sequential runs dominated a world's setup. The first
// spec is the top of the tree (the trust anchor).
//
// Zones are signed with NSEC, ECDSAP256SHA256, a KSK and a ZSK each,
// signatures valid from an hour ago for thirty days. mutate, if set, may
// edit each zone's signed text.
func signTree(t testing.TB, dir string, specs []dnskeystest.ZoneSpec, mutate func(t testing.TB, z *dnskeystest.Zone, signed string) string) *dnskeystest.Tree {
	t.Helper()
	tr := &dnskeystest.Tree{Dir: dir, Zones: map[string]*dnskeystest.Zone{}, Servers: map[string]string{}}
	var zones []*dnskeystest.Zone
	for _, s := range specs {
		s.Name = strings.ToLower(dns.Fqdn(s.Name))
		s.Algorithm = "ECDSAP256SHA256"
		dirName := strings.TrimSuffix(s.Name, ".")
		if dirName == "" {
			dirName = "root"
		}
		z := &dnskeystest.Zone{Spec: s, Dir: filepath.Join(dir, dirName)}
		if err := os.MkdirAll(z.Dir, 0o755); err != nil {
			t.Fatal(err)
		}
		tr.Zones[s.Name] = z
		zones = append(zones, z)
	}

	// All keys at once.
	var jobs []func() error
	for _, z := range zones {
		z := z
		for _, ksk := range []bool{true, false} {
			ksk := ksk
			jobs = append(jobs, func() error {
				args := []string{"-q", "-K", z.Dir, "-a", z.Spec.Algorithm, "-n", "ZONE"}
				if ksk {
					args = append(args, "-f", "KSK")
				}
				out, err := runTool(z.Dir, "dnssec-keygen", append(args, z.Spec.Name)...)
				if ksk {
					z.KSK = strings.TrimSpace(out)
				} else {
					z.ZSK = strings.TrimSpace(out)
				}
				return err
			})
		}
	}
	if err := parallel(jobs); err != nil {
		t.Fatalf("oetest: %v", err)
	}

	// Then waves: a zone is signed once all its children are.
	parent := map[*dnskeystest.Zone]*dnskeystest.Zone{}
	children := map[*dnskeystest.Zone][]*dnskeystest.Zone{}
	for _, z := range zones {
		if p := closestParent(tr, z.Spec.Name); p != nil {
			parent[z] = p
			children[p] = append(children[p], z)
		}
	}
	signed := map[*dnskeystest.Zone]bool{}
	for len(signed) < len(zones) {
		var wave []*dnskeystest.Zone
		for _, z := range zones {
			if signed[z] {
				continue
			}
			ready := true
			for _, c := range children[z] {
				ready = ready && signed[c]
			}
			if ready {
				wave = append(wave, z)
			}
		}
		jobs = jobs[:0]
		for _, z := range wave {
			z := z
			jobs = append(jobs, func() error { return signZone(z, children[z]) })
		}
		if err := parallel(jobs); err != nil {
			t.Fatalf("oetest: %v", err)
		}
		for _, z := range wave {
			signed[z] = true
			if mutate != nil {
				b, err := os.ReadFile(z.SignedFile)
				if err != nil {
					t.Fatal(err)
				}
				writeFile(t, z.SignedFile, mutate(t, z, string(b)))
			}
		}
	}

	top := zones[0]
	key, err := os.ReadFile(filepath.Join(top.Dir, top.KSK+".key"))
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, l := range strings.Split(string(key), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, ";") {
			lines = append(lines, l)
		}
	}
	tr.Anchor = filepath.Join(dir, "anchor.key")
	writeFile(t, tr.Anchor, "; test trust anchor (the root KSK)\n"+strings.Join(lines, "\n")+"\n")
	return tr
}

// signZone writes z's zone file (SOA, NS, its records, delegations with
// DS to its children) and signs it.
func signZone(z *dnskeystest.Zone, children []*dnskeystest.Zone) error {
	s := z.Spec
	var b strings.Builder
	fmt.Fprintf(&b, "$ORIGIN %s\n$TTL 300\n", s.Name)
	fmt.Fprintf(&b, "@ SOA ns1.nic.test. hostmaster.nic.test. 1 3600 600 86400 60\n@ NS ns1.nic.test.\n")
	for _, r := range s.Records {
		b.WriteString(r + "\n")
	}
	sort.Slice(children, func(i, j int) bool { return children[i].Spec.Name < children[j].Spec.Name })
	for _, c := range children {
		fmt.Fprintf(&b, "%s NS ns1.nic.test.\n%s", c.Spec.Name, c.DS)
	}
	if err := os.WriteFile(filepath.Join(z.Dir, "zone.db"), []byte(b.String()), 0o644); err != nil {
		return err
	}
	now := time.Now()
	_, err := runTool(z.Dir, "dnssec-signzone", "-S", "-K", z.Dir, "-d", z.Dir, "-o", s.Name, "-O", "full", "-f", "zone.signed",
		"-s", now.Add(-time.Hour).UTC().Format("20060102150405"), "-e", now.Add(30*24*time.Hour).UTC().Format("20060102150405"),
		"-j", "0", "zone.db")
	if err != nil {
		return err
	}
	z.SignedFile = filepath.Join(z.Dir, "zone.signed")
	ds, err := os.ReadFile(filepath.Join(z.Dir, "dsset-"+s.Name))
	z.DS = string(ds)
	return err
}

// closestParent is the closest zone of tr strictly above name.
func closestParent(tr *dnskeystest.Tree, name string) *dnskeystest.Zone {
	for n := name; n != "."; {
		i := strings.IndexByte(n, '.')
		n = n[i+1:]
		if n == "" {
			n = "."
		}
		if z, ok := tr.Zones[n]; ok {
			return z
		}
	}
	return nil
}

func runTool(dir, name string, args ...string) (string, error) {
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("%s %s: %v\n%s", name, strings.Join(args, " "), err, stderr.String())
	}
	return string(out), nil
}

// parallel runs the jobs at once and returns the first error.
func parallel(jobs []func() error) error {
	errs := make([]error, len(jobs))
	var wg sync.WaitGroup
	for i, j := range jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = j()
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
