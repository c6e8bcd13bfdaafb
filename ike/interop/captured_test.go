package interop

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/oe-agent/oe-agent/ike/wire"
)

// seedDir holds the messages TestVMInterop captured from strongSwan 5.9.8
// and libreswan 4.10 (written there through OE_INTEROP_SEEDS), which seed
// ike/wire's FuzzDecodeMessage.
const seedDir = "../wire/testdata/fuzz/FuzzDecodeMessage"

// TestCapturedPeerMessagesDecode checks that every captured message
// decodes, re-encodes to the same octets and is the exchange its name
// says: real peers' messages must never be rejected by the codec.
func TestCapturedPeerMessagesDecode(t *testing.T) {
	var files []string
	for _, pat := range []string{"strongswan-5.9.8-*", "libreswan-4.10-*"} {
		m, err := filepath.Glob(filepath.Join(seedDir, pat))
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, m...)
	}
	if len(files) < 10 {
		t.Fatalf("found %d captured messages, want 10", len(files))
	}
	for _, f := range files {
		name := filepath.Base(f)
		b := readSeed(t, f)
		m, err := wire.Decode(b)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if out, err := m.Encode(); err != nil || string(out) != string(b) {
			t.Errorf("%s: re-encoding differs (%v)", name, err)
		}
		h := m.Header
		kind := strings.ToLower(strings.ReplaceAll(h.Exchange.String(), "_", "-"))
		if h.IsResponse() {
			kind += "-resp"
		} else {
			kind += "-req"
		}
		if !strings.Contains(name, "-"+kind) {
			t.Errorf("%s is a %s", name, kind)
		}
	}
}

func TestQuoteBytes(t *testing.T) {
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	q := quoteBytes(all)
	for _, r := range q {
		if r < 0x20 || r >= 0x7f {
			t.Fatalf("non-printable %q in %s", r, q)
		}
	}
	if s, err := strconv.Unquote(q); err != nil || s != string(all) {
		t.Fatalf("Unquote(%s) = %q, %v", q, s, err)
	}
}

// readSeed reads a `go test fuzz v1` file holding one []byte value.
func readSeed(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) != 2 || lines[0] != "go test fuzz v1" || !strings.HasPrefix(lines[1], "[]byte(") || !strings.HasSuffix(lines[1], ")") {
		t.Fatalf("%s: not a go test fuzz v1 []byte file", path)
	}
	s, err := strconv.Unquote(strings.TrimSuffix(strings.TrimPrefix(lines[1], "[]byte("), ")"))
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return []byte(s)
}
