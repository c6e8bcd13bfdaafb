package vmtest

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/oe-agent/oe-agent/internal/testenv"
)

// TestVMGuestHasESP checks the guest is what the vm tier promises: Debian's
// kernel, not the host's, with ESP and the AEAD templates loadable, and the
// repository visible at its host path.
func TestVMGuestHasESP(t *testing.T) {
	testenv.RequireVM(t)
	rel, err := os.ReadFile("/proc/sys/kernel/osrelease")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(strings.TrimSpace(string(rel)), "-amd64") {
		t.Fatalf("guest kernel %q is not Debian's linux-image-amd64", rel)
	}
	for _, m := range []string{"esp4", "esp6", "ah4", "xfrm_user"} {
		if out, err := exec.Command("modprobe", m).CombinedOutput(); err != nil {
			t.Errorf("modprobe %s: %v: %s", m, err, out)
		}
	}
	if _, err := os.Stat("guest_test.go"); err != nil {
		t.Errorf("test binary does not run in its package directory: %v", err)
	}
}
