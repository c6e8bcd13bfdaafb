package demo

import (
	"os"
	"testing"

	"github.com/oe-agent/oe-agent/internal/oetest"
)

// TestMain removes the key material the worlds of this process share.
func TestMain(m *testing.M) {
	code := m.Run()
	oetest.RemoveShared()
	os.Exit(code)
}
