package oetest

import (
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

// Binaries are the project's commands the rig runs: built on the host with
// `make build` into bin/ at the module root. The vm tier runs them in the
// guest through the shared root (building inside the TCG guest would be
// slow), so the rig never builds them itself.
type Binaries struct {
	Agentd string // bin/oe-agentd
	Oectl  string // bin/oectl
}

var (
	rootOnce sync.Once
	rootDir  string
	rootErr  error
)

// ModuleRoot returns the directory of go.mod above the working directory
// (go test runs a package's tests in its directory; so does vmtest).
func ModuleRoot(t testing.TB) string {
	t.Helper()
	rootOnce.Do(func() {
		dir, err := os.Getwd()
		if err != nil {
			rootErr = err
			return
		}
		for {
			if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
				rootDir = dir
				return
			}
			parent := filepath.Dir(dir)
			if parent == dir {
				rootErr = os.ErrNotExist
				return
			}
			dir = parent
		}
	})
	if rootErr != nil {
		t.Fatalf("oetest: no go.mod above the working directory: %v", rootErr)
	}
	return rootDir
}

// RequireBinaries returns bin/oe-agentd and bin/oectl of the module root,
// and fails the test with "run make build" if either is missing.
func RequireBinaries(t testing.TB) Binaries {
	t.Helper()
	root := ModuleRoot(t)
	b := Binaries{Agentd: filepath.Join(root, "bin", "oe-agentd"), Oectl: filepath.Join(root, "bin", "oectl")}
	for _, p := range []string{b.Agentd, b.Oectl} {
		fi, err := os.Stat(p)
		if err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
			t.Fatalf("oetest: %s is missing or not executable: run make build (the rig uses the binaries built on the host)", p)
		}
	}
	return b
}

// lookPath finds a program in PATH or in the sbin directories (the vm
// guest's and a root shell's PATH have them, go test's may not).
func lookPath(name string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	for _, dir := range []string{"/usr/sbin", "/sbin"} {
		p := filepath.Join(dir, name)
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", exec.ErrNotFound
}
