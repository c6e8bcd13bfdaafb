// Package testenv decides which test tier may run here and gives tests
// network namespaces of their own.
//
// oe-agent has three tiers (see README.md):
//   - unit: pure tests; they run anywhere, as any user;
//   - netns: tests that need root on the host kernel (XFRM policies, ACQUIRE)
//     in network namespaces the test creates; their names start TestNetns;
//   - vm: tests that need ESP and so run inside the QEMU test guest booted by
//     internal/vmtest; their names start TestVM.
//
// A test of the netns or vm tier calls RequireNetns or RequireVM first: under
// a plain `go test ./...` as a normal user, or outside the guest, it skips
// with a message that says how to run it.
package testenv

import (
	"os"
	"testing"
)

// GuestEnv is set to "1" in the environment of test binaries run inside the
// vm-tier guest by internal/vmtest.
const GuestEnv = "OE_VMTEST_GUEST"

// TierEnv, when set to "unit", makes netns-tier tests skip even as root, so
// that `make test-unit` stays pure.
const TierEnv = "OE_TEST_TIER"

// InGuest reports whether this process runs inside the vm-tier guest.
func InGuest() bool { return os.Getenv(GuestEnv) == "1" }

// RequireNetns skips t unless it may create network namespaces and XFRM
// objects on this kernel: it must run as root and not under `make test-unit`.
func RequireNetns(t testing.TB) {
	t.Helper()
	if os.Getenv(TierEnv) == "unit" {
		t.Skip("netns tier: skipped under OE_TEST_TIER=unit (run `make test-netns` as root)")
	}
	if os.Geteuid() != 0 {
		t.Skip("netns tier: needs root to create network namespaces (run `make test-netns` as root)")
	}
}

// RequireVM skips t unless it runs inside the vm-tier guest, whose kernel has
// ESP. Run such tests with `make test-vm`, or one of them with
// `make test-vm RUN=TestVMName PKG=./xfrm`.
func RequireVM(t testing.TB) {
	t.Helper()
	if !InGuest() {
		t.Skip("vm tier: needs the QEMU test guest with ESP (run `make test-vm`)")
	}
	if os.Geteuid() != 0 {
		t.Skip("vm tier: needs root inside the guest")
	}
}
