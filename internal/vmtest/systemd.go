package vmtest

import (
	"context"
	_ "embed"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"
)

// systemdStage2 replaces stage2.sh when Guest.Systemd is set: systemd
// becomes PID 1 and runs the script as a service.
//
//go:embed systemd-stage2.sh
var systemdStage2 []byte

// SystemdPrefix starts the names of vm-tier tests that need systemd as PID 1
// (to install the Debian package and drive its service). They run in a
// second guest booted with Guest.Systemd, after the other vm tests; in the
// plain guest they are skipped with -test.skip.
const SystemdPrefix = "TestVMSystemd"

var systemdTestFunc = regexp.MustCompile(`(?m)^func (` + SystemdPrefix + `\w*)\(`)

// vmTestName matches every vm-tier test function, to tell packages that
// have only systemd tests (they need no plain boot).
var vmTestName = regexp.MustCompile(`(?m)^func (TestVM\w*)\(`)

// SplitSystemd sorts packages by the guest their tests need: plain are
// packages with TestVM tests that are not TestVMSystemd ones; systemd are
// packages with TestVMSystemd tests whose name matches run (all of them
// when run is empty). A package can be in both.
func SplitSystemd(pkgs []TestPackage, run string) (plain, systemd []TestPackage, err error) {
	var runRE *regexp.Regexp
	if run != "" {
		if runRE, err = regexp.Compile(run); err != nil {
			return nil, nil, fmt.Errorf("vmtest: -run: %w", err)
		}
	}
	for _, p := range pkgs {
		files, _ := filepath.Glob(filepath.Join(p.Dir, "*_test.go"))
		var other, sd bool
		for _, f := range files {
			src, err := os.ReadFile(f)
			if err != nil {
				return nil, nil, fmt.Errorf("vmtest: %w", err)
			}
			for _, m := range vmTestName.FindAllSubmatch(src, -1) {
				name := string(m[1])
				if !strings.HasPrefix(name, SystemdPrefix) {
					other = true
				} else if runRE == nil || runRE.MatchString(name) {
					sd = true
				}
			}
		}
		if other {
			plain = append(plain, p)
		}
		if sd {
			systemd = append(systemd, p)
		}
	}
	return plain, systemd, nil
}

// SkipSystemdArgs are the extra test binary flags for the plain guest.
var SkipSystemdArgs = []string{"-test.skip", "^" + SystemdPrefix}

// RunSystemdTests boots one guest with systemd as PID 1 and runs the
// TestVMSystemd tests of pkgs (already built) in it, each package's output
// and status coming back through a share directory under cacheDir. It
// prints the results like ReportResults and returns their summary and
// whether all passed.
func RunSystemdTests(ctx context.Context, assets *Assets, pkgs []TestPackage, run string, timeout time.Duration, cacheDir string, keep bool, w io.Writer) (Summary, bool, error) {
	if run == "" {
		run = "^" + SystemdPrefix
	}
	abs, err := filepath.Abs(cacheDir)
	if err != nil {
		return Summary{}, false, fmt.Errorf("vmtest: %w", err)
	}
	share, err := os.MkdirTemp(abs, "run-systemd-")
	if err != nil {
		return Summary{}, false, fmt.Errorf("vmtest: %w", err)
	}
	if !keep {
		defer os.RemoveAll(share)
	}
	g := &Guest{
		Assets:   assets,
		Script:   TestScript(pkgs, run, (timeout - time.Minute).String(), nil),
		ShareDir: share,
		Stdout:   w,
		Systemd:  true,
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	rc, runErr := g.Run(ctx)
	sum, ok := ReportResults(pkgs, share, w)
	if runErr != nil {
		console, _ := os.ReadFile(filepath.Join(share, "console.log"))
		fmt.Fprintf(w, "--- systemd guest kernel console ---\n%s\n", tailLines(console, 60))
		return sum, false, runErr
	}
	return sum, ok && rc == 0 && sum.Failed == 0, nil
}

func tailLines(b []byte, n int) string {
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
