// Package peers starts real IKEv2 implementations as interop peers inside
// vm-tier tests: strongSwan's charon (configured through swanctl) and
// libreswan's pluto (with its own config, NSS directory and control socket).
//
// Several instances can run in one guest, each in its own network namespace
// and with its own files (vm-rig.md, "Real peers and servers in the guest").
// Everything here needs the guest: callers must call testenv.RequireVM first.
package peers

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// repoRoot finds the module root (the directory holding go.mod) from the
// test's working directory, which is its package directory.
func repoRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && strings.Contains(string(b), "module github.com/oe-agent/oe-agent") {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("peers: module root not found above the working directory")
		}
		dir = parent
	}
}

// waitFor polls cond every 50 ms until it is true or d passes.
func waitFor(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if cond() {
			return true
		}
		time.Sleep(50 * time.Millisecond)
	}
	return cond()
}
