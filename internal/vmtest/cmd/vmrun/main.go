// Command vmrun boots the oe-agent test guest (Debian's kernel under QEMU,
// sharing the host's root read-only) and runs vm-tier tests or a shell in it.
//
//	vmrun test [-run REGEXP] [-timeout D] [PACKAGES...]   run TestVM* tests (default ./...)
//	vmrun exec COMMAND...                                  run one shell command
//	vmrun shell                                            interactive shell (make vm-shell)
//
// It exits non-zero when a guest test fails, and shows the guest's output.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/oe-agent/oe-agent/internal/vmtest"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	cache := os.Getenv("VMTEST_CACHE")
	if cache == "" {
		cache = ".cache/vm"
	}
	var err error
	switch os.Args[1] {
	case "test":
		err = runTests(cache, os.Args[2:])
	case "exec":
		err = runExec(cache, strings.Join(os.Args[2:], " "))
	case "shell":
		err = runShell(cache)
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "vmrun:", err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: vmrun test [-run REGEXP] [-timeout D] [PACKAGES...] | vmrun exec COMMAND... | vmrun shell")
	os.Exit(2)
}

func newShare(cache string) (string, error) {
	if err := os.MkdirAll(cache, 0o755); err != nil {
		return "", err
	}
	abs, err := filepath.Abs(cache)
	if err != nil {
		return "", err
	}
	return os.MkdirTemp(abs, "run-")
}

func runTests(cache string, args []string) error {
	fs := flag.NewFlagSet("test", flag.ExitOnError)
	run := fs.String("run", "", "regexp of tests to run (default ^TestVM)")
	timeout := fs.Duration("timeout", 25*time.Minute, "overall limit for the guest")
	keep := fs.Bool("keep", false, "keep the run directory (pcaps, logs)")
	testArgs := fs.String("args", "", "extra arguments for the test binaries, space-separated (e.g. -oe.demo)")
	fs.Parse(args)
	patterns := fs.Args()
	if len(patterns) == 0 {
		patterns = []string{"./..."}
	}
	pkgs, err := vmtest.FindTestPackages(patterns)
	if err != nil {
		return err
	}
	if len(pkgs) == 0 {
		fmt.Println("vm tier: no TestVM tests in", strings.Join(patterns, " "))
		return nil
	}
	assets, err := vmtest.PrepareAssets(cache)
	if err != nil {
		return err
	}
	share, err := newShare(cache)
	if err != nil {
		return err
	}
	if !*keep {
		defer os.RemoveAll(share)
	}
	if err := vmtest.BuildTests(pkgs, filepath.Join(share, "bin"), os.Stderr); err != nil {
		return err
	}
	// TestVMSystemd* tests need systemd as PID 1: a second boot
	// (systemd.go). Split after building, so both halves carry binaries.
	plain, sdPkgs, err := vmtest.SplitSystemd(pkgs, *run)
	if err != nil {
		return err
	}
	g := &vmtest.Guest{
		Assets:   assets,
		Script:   vmtest.TestScript(plain, *run, (*timeout - time.Minute).String(), append(strings.Fields(*testArgs), vmtest.SkipSystemdArgs...)),
		ShareDir: share,
		Stdout:   os.Stdout,
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	start := time.Now()
	rc, runErr := 0, error(nil)
	var sum vmtest.Summary
	ok := true
	if len(plain) > 0 {
		rc, runErr = g.Run(ctx)
		sum, ok = vmtest.ReportResults(plain, share, os.Stdout)
	}
	if len(sdPkgs) > 0 && runErr == nil {
		fmt.Println("=== vm: booting the systemd guest for", vmtest.SystemdPrefix+"* tests")
		sdSum, sdOK, err := vmtest.RunSystemdTests(ctx, assets, sdPkgs, *run, *timeout, cache, *keep, os.Stdout)
		sum.Passed, sum.Failed, sum.Skipped = sum.Passed+sdSum.Passed, sum.Failed+sdSum.Failed, sum.Skipped+sdSum.Skipped
		sum.Failures = append(sum.Failures, sdSum.Failures...)
		ok = ok && sdOK
		if err != nil {
			fmt.Println("vm tier: systemd guest:", err)
			ok = false
		}
	}
	vmtest.PrintDigest(os.Stdout, sum.Failures)
	fmt.Printf("vm tier: %d passed, %d failed, %d skipped (guest %s, kernel %s)\n",
		sum.Passed, sum.Failed, sum.Skipped, time.Since(start).Round(100*time.Millisecond), assets.KernelRelease)
	if runErr != nil {
		console, _ := os.ReadFile(filepath.Join(share, "console.log"))
		fmt.Printf("--- guest kernel console ---\n%s\n", tail(console, 60))
		return runErr
	}
	if !ok || rc != 0 || sum.Failed > 0 {
		return fmt.Errorf("vm tier failed")
	}
	return nil
}

func runExec(cache, script string) error {
	assets, err := vmtest.PrepareAssets(cache)
	if err != nil {
		return err
	}
	share, err := newShare(cache)
	if err != nil {
		return err
	}
	defer os.RemoveAll(share)
	g := &vmtest.Guest{Assets: assets, Script: script, ShareDir: share, Stdout: os.Stdout}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	rc, err := g.Run(ctx)
	if err != nil {
		return err
	}
	if rc != 0 {
		return fmt.Errorf("guest command exited %d", rc)
	}
	return nil
}

func runShell(cache string) error {
	assets, err := vmtest.PrepareAssets(cache)
	if err != nil {
		return err
	}
	share, err := newShare(cache)
	if err != nil {
		return err
	}
	defer os.RemoveAll(share)
	g := &vmtest.Guest{Assets: assets, Interactive: true, ShareDir: share, Stdout: os.Stdout, Stdin: os.Stdin}
	_, err = g.Run(context.Background())
	return err
}

func tail(b []byte, n int) string {
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
