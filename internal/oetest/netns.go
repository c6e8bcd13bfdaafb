package oetest

import (
	"fmt"
	"os"
	"runtime"
	"sync/atomic"
	"testing"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"

	"github.com/oe-agent/oe-agent/internal/testenv"
)

var nsSeq atomic.Uint32

// newNetns is testenv.NewNetns without running ip: a named namespace
// (/run/netns/NAME, so ip netns exec and Netns.Run work) with its loopback
// up, deleted when the test ends. Every exec costs about a second in a
// loaded TCG guest, and a world has six namespaces.
func newNetns(t testing.TB) *testenv.Netns {
	t.Helper()
	name := fmt.Sprintf("oeo%d-%d", os.Getpid(), nsSeq.Add(1))
	errc := make(chan error, 1)
	go func() {
		// The thread ends up in the new namespace: it stays locked, so
		// Go discards it when the goroutine returns.
		runtime.LockOSThread()
		h, err := netns.NewNamed(name)
		if err == nil {
			h.Close()
		}
		errc <- err
	}()
	if err := <-errc; err != nil {
		t.Fatalf("oetest: create netns %s: %v", name, err)
	}
	t.Cleanup(func() { _ = netns.DeleteNamed(name) })
	h, err := netns.GetFromName(name)
	if err != nil {
		t.Fatalf("oetest: open netns %s: %v", name, err)
	}
	t.Cleanup(func() { _ = h.Close() })
	nh, err := netlink.NewHandleAt(h)
	if err != nil {
		t.Fatalf("oetest: netlink in %s: %v", name, err)
	}
	defer nh.Close()
	lo, err := nh.LinkByName("lo")
	if err == nil {
		err = nh.LinkSetUp(lo)
	}
	if err != nil {
		t.Fatalf("oetest: lo up in %s: %v", name, err)
	}
	return &testenv.Netns{Name: name, Handle: h}
}
