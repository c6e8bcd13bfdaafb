package interop

import (
	"fmt"
	"os"
	"path/filepath"
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
		body := "go test fuzz v1\n[]byte(" + quoteBytes(m.Data) + ")\n"
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// quoteBytes quotes b as a Go string literal of printable ASCII and \x
// escapes, byte for byte, so that the seed survives any text channel (the
// guest's serial console) unchanged.
func quoteBytes(b []byte) string {
	var sb strings.Builder
	sb.WriteByte('"')
	for _, c := range b {
		switch {
		case c == '"' || c == '\\':
			sb.WriteByte('\\')
			sb.WriteByte(c)
		case c >= 0x20 && c < 0x7f:
			sb.WriteByte(c)
		default:
			fmt.Fprintf(&sb, "\\x%02x", c)
		}
	}
	sb.WriteByte('"')
	return sb.String()
}
