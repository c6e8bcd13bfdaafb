package config

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"
)

const fullConf = "/etc/oe-agent/oe-agent.conf"

// TestGolden parses testdata/full (a configuration using every key, with
// includes, also= and %default), writes the parsed form with Format and
// compares it with testdata/full.golden (go test -update rewrites it).
func TestGolden(t *testing.T) {
	fsys := loadTree(t, "testdata/full")
	b, err := LoadBundle(fsys, fullConf)
	if err != nil {
		t.Fatalf("LoadBundle: %v", err)
	}
	got := Format(b.Config)
	golden := filepath.Join("testdata", "full.golden")
	if *update {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -update)", err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("Format differs from %s (-want +got):\n%s", golden, diff)
	}
}

// TestSummaryGolden checks Bundle.Summary on the golden tree against
// testdata/full.summary.golden (go test -update rewrites it).
func TestSummaryGolden(t *testing.T) {
	b, err := LoadBundle(loadTree(t, "testdata/full"), fullConf)
	if err != nil {
		t.Fatal(err)
	}
	got := b.Summary()
	golden := filepath.Join("testdata", "full.summary.golden")
	if *update {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -update)", err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("Summary differs from %s (-want +got):\n%s", golden, diff)
	}
	if strings.Contains(got, "a shared secret") || strings.Contains(got, "6f74686572") {
		t.Error("Summary shows a PSK")
	}
}

// TestRoundTrip checks that Format's output parses back to the same model,
// and that formatting is idempotent.
func TestRoundTrip(t *testing.T) {
	fsys := loadTree(t, "testdata/full")
	cfg, err := Parse(fsys, fullConf)
	if err != nil {
		t.Fatal(err)
	}
	out := Format(cfg)
	fsys["etc/oe-agent/normalised.conf"] = &fstest.MapFile{Data: []byte(out), Mode: 0o600}
	again, err := Parse(fsys, "/etc/oe-agent/normalised.conf")
	if err != nil {
		t.Fatalf("Format output does not parse: %v\n%s", err, out)
	}
	if diff := cmp.Diff(cfg, again, cmpConfig...); diff != "" {
		t.Errorf("round trip changed the model (-first +second):\n%s", diff)
	}
	if out2 := Format(again); out2 != out {
		t.Errorf("Format is not idempotent:\n%s", cmp.Diff(out, out2))
	}
	if len(again.Warnings) != 0 {
		t.Errorf("normalised output has warnings: %v", again.Warnings)
	}
}

// TestGoldenUsesEveryKey keeps the golden configuration honest: every key
// the parser knows must appear in it.
func TestGoldenUsesEveryKey(t *testing.T) {
	doc, err := ParseDocument(loadTree(t, "testdata/full"), fullConf)
	if err != nil {
		t.Fatal(err)
	}
	used := map[string]bool{}
	for _, s := range doc.Sections {
		for _, e := range s.Entries {
			if s.Kind == "config" {
				used[canonSetupKey(e.Key)] = true
			} else {
				used[canonConnKey(e.Key)] = true
			}
		}
	}
	var missing []string
	for _, k := range append(connVocabulary(), setupVocabulary()...) {
		if !used[k] {
			missing = append(missing, k)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("testdata/full does not use: %s", strings.Join(missing, " "))
	}
}

// TestGoldenWarnings checks the warnings of the golden configuration: the
// strongSwan/libreswan aliases it uses on purpose.
func TestGoldenWarnings(t *testing.T) {
	b, err := LoadBundle(loadTree(t, "testdata/full"), fullConf)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, w := range b.Warnings {
		got = append(got, w.Error())
	}
	want := []string{
		`/etc/oe-agent/conf.d/10-site.conf:5: conn site-defaults: "keylife" is spelled "salifetime" in oe-agent`,
		`/etc/oe-agent/conf.d/10-site.conf:6: conn site-defaults: "margintime" is spelled "rekeymargin" in oe-agent`,
		`/etc/oe-agent/conf.d/10-site.conf:7: conn site-defaults: "replay_window" is spelled "replay-window" in oe-agent`,
		`/etc/oe-agent/oe-agent.secrets:3: PSK of 5 bytes is weak: use at least 16 random bytes (RFC 7296 §2.15: as strong as the keys it protects)`,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("warnings (-want +got):\n%s", diff)
	}
}
