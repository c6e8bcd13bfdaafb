package vmtest

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
)

// TestPackage is a Go package with vm-tier tests (functions named TestVM*).
type TestPackage struct {
	ImportPath string
	Dir        string
	Binary     string // host path of the `go test -c` binary
}

var vmTestFunc = regexp.MustCompile(`(?m)^func (TestVM\w*)\(`)

// FindTestPackages lists the packages matched by patterns (as for go list)
// whose test files define at least one TestVM function.
func FindTestPackages(patterns []string) ([]TestPackage, error) {
	args := append([]string{"list", "-f", "{{.ImportPath}}\t{{.Dir}}\t{{join .TestGoFiles \" \"}} {{join .XTestGoFiles \" \"}}"}, patterns...)
	out, err := exec.Command("go", args...).Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return nil, fmt.Errorf("vmtest: go list: %v: %s", err, ee.Stderr)
		}
		return nil, fmt.Errorf("vmtest: go list: %w", err)
	}
	var pkgs []TestPackage
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.SplitN(sc.Text(), "\t", 3)
		if len(f) != 3 {
			continue
		}
		for _, name := range strings.Fields(f[2]) {
			src, err := os.ReadFile(filepath.Join(f[1], name))
			if err == nil && vmTestFunc.Match(src) {
				pkgs = append(pkgs, TestPackage{ImportPath: f[0], Dir: f[1]})
				break
			}
		}
	}
	sort.Slice(pkgs, func(i, j int) bool { return pkgs[i].ImportPath < pkgs[j].ImportPath })
	return pkgs, nil
}

// BuildTests compiles each package's test binary into dir on the host: the
// guest shares the host's root, so it runs them in place.
func BuildTests(pkgs []TestPackage, dir string, w io.Writer) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("vmtest: %w", err)
	}
	for i := range pkgs {
		p := &pkgs[i]
		p.Binary = filepath.Join(dir, strings.ReplaceAll(p.ImportPath, "/", "_")+".test")
		cmd := exec.Command("go", "test", "-c", "-o", p.Binary, p.ImportPath)
		cmd.Stdout, cmd.Stderr = w, w
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("vmtest: build %s: %w", p.ImportPath, err)
		}
	}
	return nil
}

// TestScript is the guest script that runs every package's TestVM tests side
// by side, each binary in its package directory (so testdata/ resolves), with
// output to ShareDir/results/<n>.log and status to <n>.rc.
func TestScript(pkgs []TestPackage, run, timeout string, extraArgs []string) string {
	if run == "" {
		run = "^TestVM"
	}
	var b strings.Builder
	b.WriteString("set -u\nmkdir -p /run/vmtest/results\nSECONDS=0\n")
	b.WriteString("echo \"vmtest: guest up after $(cut -d' ' -f1 /proc/uptime) s, kernel $(uname -r)\"\n")
	for i, p := range pkgs {
		fmt.Fprintf(&b, "( cd %s && %s -test.run %s -test.v -test.timeout %s %s >/run/vmtest/results/%d.log 2>&1; rc=$?; echo $rc >/run/vmtest/results/%d.rc; echo \"vmtest: %s done rc=$rc after ${SECONDS}s\" ) &\n",
			shellQuote(p.Dir), shellQuote(p.Binary), shellQuote(run), shellQuote(timeout), strings.Join(quoteAll(extraArgs), " "), i, i, p.ImportPath)
	}
	b.WriteString("wait\n")
	return b.String()
}

func quoteAll(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = shellQuote(s)
	}
	return out
}

// Summary counts test results in `go test -v` output and keeps a digest
// of the failures.
type Summary struct {
	Passed, Failed, Skipped int
	Failures                []FailedTest
}

var resultLine = regexp.MustCompile(`^\s*--- (PASS|FAIL|SKIP): `)

// Add counts the top-level and subtest result lines of one log.
func (s *Summary) Add(log []byte) {
	s.Failures = append(s.Failures, Digest(log)...)
	sc := bufio.NewScanner(bytes.NewReader(log))
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for sc.Scan() {
		m := resultLine.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		switch m[1] {
		case "PASS":
			s.Passed++
		case "FAIL":
			s.Failed++
		case "SKIP":
			s.Skipped++
		}
	}
}

// ReportResults prints each package's guest output in order, like go test,
// and returns whether all passed. A package without a status file failed.
func ReportResults(pkgs []TestPackage, shareDir string, w io.Writer) (Summary, bool) {
	var sum Summary
	ok := true
	for i, p := range pkgs {
		log, _ := os.ReadFile(filepath.Join(shareDir, "results", fmt.Sprintf("%d.log", i)))
		rcb, err := os.ReadFile(filepath.Join(shareDir, "results", fmt.Sprintf("%d.rc", i)))
		rc := strings.TrimSpace(string(rcb))
		sum.Add(log)
		fmt.Fprintf(w, "=== vm: %s\n", p.ImportPath)
		w.Write(log)
		switch {
		case err != nil:
			ok = false
			fmt.Fprintf(w, "FAIL\t%s (vm)\tno exit status: the guest stopped before the test binary ended\n", p.ImportPath)
		case rc != "0":
			ok = false
			fmt.Fprintf(w, "FAIL\t%s (vm)\texit status %s\n", p.ImportPath, rc)
		default:
			fmt.Fprintf(w, "ok  \t%s (vm)\n", p.ImportPath)
		}
	}
	return sum, ok
}
