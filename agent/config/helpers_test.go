package config

import (
	"crypto"
	"flag"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// The key files under testdata are test material generated for these tests
// only; they protect nothing.

// loadTree reads a directory of testdata into a MapFS rooted like "/", with
// every file mode 0600 (git does not keep modes).
func loadTree(t testing.TB, root string) fstest.MapFS {
	t.Helper()
	m := fstest.MapFS{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		m[filepath.ToSlash(rel)] = &fstest.MapFile{Data: data, Mode: 0o600}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// testKey returns a key file from testdata/keys.
func testKey(t testing.TB, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "keys", name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// mapFS builds a file system from name -> content, all mode 0600.
func mapFS(files map[string]string) fstest.MapFS {
	m := fstest.MapFS{}
	for n, c := range files {
		m[strings.TrimPrefix(n, "/")] = &fstest.MapFile{Data: []byte(c), Mode: 0o600}
	}
	return m
}

// cmpConfig compares the parsed forms of two configurations, ignoring
// positions and the list of files read.
var cmpConfig = []cmp.Option{
	cmpopts.IgnoreTypes(Pos{}),
	cmpopts.IgnoreFields(Config{}, "Files", "Warnings"),
	cmpopts.EquateEmpty(),
	cmpopts.EquateComparable(netip.Addr{}, netip.AddrPort{}, netip.Prefix{}),
	cmp.FilterPath(func(p cmp.Path) bool {
		sf, ok := p.Last().(cmp.StructField)
		return ok && sf.Name() == "Key" && p.Index(-2).Type() == reflect.TypeOf(PubKey{})
	}, cmp.Comparer(func(a, b crypto.PublicKey) bool {
		if a == nil || b == nil {
			return a == nil && b == nil
		}
		eq, ok := a.(interface{ Equal(crypto.PublicKey) bool })
		return ok && eq.Equal(b)
	})),
}

// errLines returns the lines of err's text ("" for nil).
func errLines(err error) []string {
	if err == nil {
		return nil
	}
	return strings.Split(err.Error(), "\n")
}
