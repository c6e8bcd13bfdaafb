package oetest

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/oe-agent/oe-agent/internal/testenv"
)

// Proc is a daemon started in a namespace for one test (nsd, unbound,
// oe-agentd), with its output in a log file. It is stopped when the test
// ends, and its log is shown if the test failed.
type Proc struct {
	Name    string
	Cmd     *exec.Cmd
	LogPath string
	// QuietLog keeps the cleanup from showing the log when the test
	// failed (for callers that show it themselves).
	QuietLog bool

	done chan struct{}
	mu   sync.Mutex
	err  error // the exit status, once done is closed
}

// StartProc runs args in ns (through `ip netns exec`, which execs the
// command, so Cmd.Process is the daemon itself), appending its stdout and
// stderr to logPath.
func StartProc(t testing.TB, ns *testenv.Netns, name, logPath string, args ...string) *Proc {
	t.Helper()
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	p := &Proc{Name: name, Cmd: ns.Cmd(args...), LogPath: logPath, done: make(chan struct{})}
	p.Cmd.Stdout, p.Cmd.Stderr = logf, logf
	if err := p.Cmd.Start(); err != nil {
		t.Fatalf("oetest: start %s: %v", name, err)
	}
	go func() {
		err := p.Cmd.Wait()
		p.mu.Lock()
		p.err = err
		p.mu.Unlock()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.Stop(5 * time.Second)
		if t.Failed() && !p.QuietLog {
			t.Logf("oetest: %s log (%s):\n%s", name, logPath, tail(p.Log(), 80))
		}
	})
	return p
}

// Pid is the daemon's process id.
func (p *Proc) Pid() int { return p.Cmd.Process.Pid }

// Running reports whether the process has not exited.
func (p *Proc) Running() bool {
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// ExitErr is how the process ended (nil for status 0); only meaningful
// once Running is false.
func (p *Proc) ExitErr() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.err
}

// Done is closed when the process has exited.
func (p *Proc) Done() <-chan struct{} { return p.done }

// Signal sends sig to the process if it still runs.
func (p *Proc) Signal(sig syscall.Signal) error {
	if !p.Running() {
		return nil
	}
	return p.Cmd.Process.Signal(sig)
}

// Wait waits up to d for the process to exit.
func (p *Proc) Wait(d time.Duration) error {
	select {
	case <-p.done:
		return nil
	case <-time.After(d):
		return fmt.Errorf("oetest: %s (pid %d) still runs after %s", p.Name, p.Pid(), d)
	}
}

// Stop sends SIGTERM and, if the process has not exited after grace,
// SIGKILL. It returns the exit error of a process that ended by itself
// after SIGTERM (nil for status 0).
func (p *Proc) Stop(grace time.Duration) error {
	if !p.Running() {
		return p.ExitErr()
	}
	_ = p.Cmd.Process.Signal(syscall.SIGTERM)
	if err := p.Wait(grace); err != nil {
		_ = p.Cmd.Process.Kill()
		<-p.done
		return err
	}
	return p.ExitErr()
}

// Kill sends SIGKILL and waits for the process to be gone.
func (p *Proc) Kill() {
	if p.Running() {
		_ = p.Cmd.Process.Kill()
	}
	<-p.done
}

// Log returns the whole log file.
func (p *Proc) Log() string {
	b, _ := os.ReadFile(p.LogPath)
	return string(b)
}

func tail(s string, lines int) string {
	l := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(l) > lines {
		l = append([]string{fmt.Sprintf("[... %d earlier lines]", len(l)-lines)}, l[len(l)-lines:]...)
	}
	return strings.Join(l, "\n")
}
