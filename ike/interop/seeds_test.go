package interop

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// writeSeeds writes the first received message of each exchange and
// direction as a seed file for ike/wire's FuzzDecodeMessage, in the
// `go test fuzz v1` format, named prefix-exchange-req|resp.
func writeSeeds(t *testing.T, dir, prefix string, msgs []received) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, m := range msgs {
		_, kind := describe(m.Data)
		name := strings.ToLower(strings.ReplaceAll(prefix+"-"+kind, "_", "-"))
		if seen[name] {
			continue
		}
		seen[name] = true
		body := "go test fuzz v1\n[]byte(" + strconv.Quote(string(m.Data)) + ")\n"
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
