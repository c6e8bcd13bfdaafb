package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/vishvananda/netns"
)

var nsSeq atomic.Uint32

// Netns is a network namespace created for one test and deleted when the
// test ends. Its name is unique to this process.
type Netns struct {
	Name   string
	Handle netns.NsHandle
}

// NewNetns creates a fresh network namespace with its loopback up. It must be
// called after RequireNetns or RequireVM.
func NewNetns(t testing.TB) *Netns {
	t.Helper()
	name := fmt.Sprintf("oet%d-%d", os.Getpid(), nsSeq.Add(1))
	Run(t, "ip", "netns", "add", name)
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", name).Run() })
	h, err := netns.GetFromName(name)
	if err != nil {
		t.Fatalf("testenv: open netns %s: %v", name, err)
	}
	t.Cleanup(func() { _ = h.Close() })
	ns := &Netns{Name: name, Handle: h}
	ns.Run(t, "ip", "link", "set", "lo", "up")
	return ns
}

// Run runs a command in the namespace and fails the test if it fails.
func (ns *Netns) Run(t testing.TB, args ...string) string {
	t.Helper()
	return Run(t, append([]string{"ip", "netns", "exec", ns.Name}, args...)...)
}

// Cmd returns an unstarted command that runs in the namespace.
func (ns *Netns) Cmd(args ...string) *exec.Cmd {
	return exec.Command("ip", append([]string{"netns", "exec", ns.Name}, args...)...)
}

// Do runs f on a locked OS thread switched into the namespace, so that
// sockets f opens belong to it. Other goroutines f starts do not inherit the
// namespace.
func (ns *Netns) Do(f func() error) error {
	errc := make(chan error, 1)
	go func() {
		// The thread is never unlocked: if restoring the original namespace
		// failed it must not be reused, and Go then discards it.
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			errc <- err
			return
		}
		defer orig.Close()
		if err := netns.Set(ns.Handle); err != nil {
			errc <- err
			return
		}
		err = f()
		if rerr := netns.Set(orig); rerr == nil {
			runtime.UnlockOSThread()
		}
		errc <- err
	}()
	return <-errc
}

// Veth joins a and b with a veth pair named ifA (in a) and ifB (in b), brings
// both up and assigns the given addresses (CIDR notation, any number; IPv6
// addresses are added with nodad so they are usable at once).
func Veth(t testing.TB, a *Netns, ifA string, addrsA []string, b *Netns, ifB string, addrsB []string) {
	t.Helper()
	tmpA := fmt.Sprintf("oev%d-%d", os.Getpid()%100000, nsSeq.Add(1))
	tmpB := fmt.Sprintf("oev%d-%d", os.Getpid()%100000, nsSeq.Add(1))
	Run(t, "ip", "link", "add", tmpA, "type", "veth", "peer", "name", tmpB)
	Run(t, "ip", "link", "set", tmpA, "netns", a.Name, "name", ifA)
	Run(t, "ip", "link", "set", tmpB, "netns", b.Name, "name", ifB)
	for _, side := range []struct {
		ns    *Netns
		ifc   string
		addrs []string
	}{{a, ifA, addrsA}, {b, ifB, addrsB}} {
		for _, addr := range side.addrs {
			args := []string{"ip", "addr", "add", addr, "dev", side.ifc}
			if strings.Contains(addr, ":") {
				args = append(args, "nodad")
			}
			side.ns.Run(t, args...)
		}
		side.ns.Run(t, "ip", "link", "set", side.ifc, "up")
	}
}

// Run runs a command on the host and fails the test with its output if it
// fails. It returns the combined output.
func Run(t testing.TB, args ...string) string {
	t.Helper()
	out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
	if err != nil {
		t.Fatalf("testenv: %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}
