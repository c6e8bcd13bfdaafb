package vmtest

import (
	"strings"
	"testing"
)

func TestSummaryCountsNestedResults(t *testing.T) {
	log := `=== RUN   TestVMA
=== RUN   TestVMA/gcm
    --- PASS: TestVMA/gcm (1.00s)
    --- SKIP: TestVMA/cbc (0.00s)
--- FAIL: TestVMA (1.00s)
--- PASS: TestVMB (0.10s)
FAIL
`
	var s Summary
	s.Add([]byte(log))
	if s.Passed != 2 || s.Failed != 1 || s.Skipped != 1 {
		t.Fatalf("Summary = %+v", s)
	}
}

func TestTestScriptQuotesAndRunsEachPackage(t *testing.T) {
	pkgs := []TestPackage{
		{ImportPath: "example/a", Dir: "/src/a", Binary: "/bin dir/a.test"},
		{ImportPath: "example/b", Dir: "/src/it's", Binary: "/b.test"},
	}
	s := TestScript(pkgs, "", "10m", nil)
	for _, want := range []string{
		`cd '/src/a' && '/bin dir/a.test' -test.run '^TestVM'`,
		`cd '/src/it'\''s'`,
		`results/1.rc`,
		"\nwait\n",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("script lacks %q:\n%s", want, s)
		}
	}
}

func TestFindTestPackagesFindsThisOne(t *testing.T) {
	pkgs, err := FindTestPackages([]string{"github.com/oe-agent/oe-agent/internal/..."})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, p := range pkgs {
		if p.ImportPath == "github.com/oe-agent/oe-agent/internal/vmtest" {
			found = true
		}
		if p.ImportPath == "github.com/oe-agent/oe-agent/internal/testenv" {
			t.Errorf("testenv has no TestVM tests but was listed")
		}
	}
	if !found {
		t.Fatalf("internal/vmtest not found among %+v", pkgs)
	}
}
