package vmtest

import (
	"os"
	"path/filepath"
	"testing"
)

func TestSplitSystemdSortsPackagesByGuest(t *testing.T) {
	dir := t.TempDir()
	write := func(pkg, src string) TestPackage {
		d := filepath.Join(dir, pkg)
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(d, "x_test.go"), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		return TestPackage{ImportPath: "example/" + pkg, Dir: d}
	}
	plainOnly := write("plain", "func TestVMTransport(t *testing.T) {}\n")
	sdOnly := write("sd", "func TestVMSystemdPackage(t *testing.T) {}\n")
	both := write("both", "func TestVMTunnel(t *testing.T) {}\nfunc TestVMSystemdReload(t *testing.T) {}\n")
	pkgs := []TestPackage{plainOnly, sdOnly, both}

	names := func(ps []TestPackage) []string {
		var out []string
		for _, p := range ps {
			out = append(out, p.ImportPath)
		}
		return out
	}
	for _, tc := range []struct {
		run            string
		plain, systemd []string
	}{
		{"", []string{"example/plain", "example/both"}, []string{"example/sd", "example/both"}},
		{"^TestVMSystemdReload", []string{"example/plain", "example/both"}, []string{"example/both"}},
		{"^TestVMTransport", []string{"example/plain", "example/both"}, nil},
	} {
		plain, sd, err := SplitSystemd(pkgs, tc.run)
		if err != nil {
			t.Fatal(err)
		}
		if got := names(plain); !equal(got, tc.plain) {
			t.Errorf("run %q: plain = %v, want %v", tc.run, got, tc.plain)
		}
		if got := names(sd); !equal(got, tc.systemd) {
			t.Errorf("run %q: systemd = %v, want %v", tc.run, got, tc.systemd)
		}
	}
	if _, _, err := SplitSystemd(pkgs, "("); err == nil {
		t.Errorf("a bad -run regexp was accepted")
	}
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
