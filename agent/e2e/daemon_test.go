// Package e2e runs oe-agentd binaries against each other in network
// namespaces of the vm-tier guest (the host kernel has no ESP).
package e2e

import (
	"bytes"
	"context"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/oe-agent/oe-agent/agent/api"
	"github.com/oe-agent/oe-agent/agent/client"
	"github.com/oe-agent/oe-agent/internal/testenv"
)

// binDir finds the repository's bin/ with oe-agentd (make build).
func binDir(t testing.TB) string {
	t.Helper()
	dir, _ := os.Getwd()
	for ; dir != "/"; dir = filepath.Dir(dir) {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
	}
	bin := filepath.Join(dir, "bin")
	if _, err := os.Stat(filepath.Join(bin, "oe-agentd")); err != nil {
		t.Fatalf("e2e: %s/oe-agentd missing: run `make build` (make test-vm does)", bin)
	}
	return bin
}

// daemon is one oe-agentd process in a namespace.
type daemon struct {
	t      testing.TB
	ns     *testenv.Netns
	dir    string
	socket string
	cmd    *exec.Cmd
	log    *lockedBuffer
	done   chan struct{}
	client *client.Client
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// newDaemon writes conf (with @DIR@ replaced by the daemon's folder) and
// secrets, and starts oe-agentd in ns. files are written into the folder
// first (name to content, mode 0600), e.g. a hostkey.pem.
func newDaemon(t testing.TB, ns *testenv.Netns, conf, secrets string, files ...map[string][]byte) *daemon {
	t.Helper()
	dir := t.TempDir()
	for _, fs := range files {
		for name, data := range fs {
			write(t, filepath.Join(dir, name), string(data), 0o600)
		}
	}
	d := &daemon{t: t, ns: ns, dir: dir, socket: filepath.Join(dir, "ctl.sock"), log: &lockedBuffer{}}
	write(t, filepath.Join(dir, "oe-agent.conf"), strings.ReplaceAll(conf, "@DIR@", dir), 0o644)
	write(t, filepath.Join(dir, "secrets"), secrets, 0o600)
	write(t, filepath.Join(dir, "root.key"), ". IN DS 20326 8 2 E06D44B80B8F1D39A95C0B0D7C65D08458E880409BBC683457104237C7F8EC8D\n", 0o644)
	d.client = client.New(d.socket)
	d.start()
	t.Cleanup(func() {
		d.stop(syscall.SIGTERM)
		if t.Failed() {
			t.Logf("oe-agentd log (%s):\n%s", ns.Name, d.log.String())
		}
	})
	return d
}

func write(t testing.TB, path, text string, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), mode); err != nil {
		t.Fatal(err)
	}
}

// reconfigure rewrites the configuration and reloads it through oectl.
func (d *daemon) reconfigure(conf string) string {
	d.t.Helper()
	write(d.t, filepath.Join(d.dir, "oe-agent.conf"), strings.ReplaceAll(conf, "@DIR@", d.dir), 0o644)
	return d.oectl("reload")
}

func (d *daemon) start() {
	d.t.Helper()
	d.cmd = d.ns.Cmd(filepath.Join(binDir(d.t), "oe-agentd"), "--config", filepath.Join(d.dir, "oe-agent.conf"), "--socket", d.socket)
	d.cmd.Stdout, d.cmd.Stderr = d.log, d.log
	if err := d.cmd.Start(); err != nil {
		d.t.Fatal(err)
	}
	d.done = make(chan struct{})
	go func(cmd *exec.Cmd, done chan struct{}) { cmd.Wait(); close(done) }(d.cmd, d.done)
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if _, err := d.client.Version(context.Background()); err == nil {
			return
		}
		select {
		case <-d.done:
			d.t.Fatalf("oe-agentd exited at start:\n%s", d.log.String())
		case <-time.After(50 * time.Millisecond):
		}
	}
	d.t.Fatalf("oe-agentd not answering on %s:\n%s", d.socket, d.log.String())
}

// stop sends sig and waits for the process to end.
func (d *daemon) stop(sig syscall.Signal) {
	if d.cmd == nil || d.cmd.Process == nil {
		return
	}
	d.cmd.Process.Signal(sig)
	select {
	case <-d.done:
	case <-time.After(15 * time.Second):
		d.cmd.Process.Kill()
		<-d.done
	}
	d.cmd = nil
}

func (d *daemon) status() *api.Status {
	d.t.Helper()
	st, err := d.client.Status(context.Background())
	if err != nil {
		d.t.Fatalf("status: %v", err)
	}
	return st
}

// conn returns the named connection from status.
func (d *daemon) conn(name string) api.Conn {
	for _, c := range d.status().Conns {
		if c.Name == name {
			return c
		}
	}
	d.t.Fatalf("no conn %s in status", name)
	return api.Conn{}
}

// waitConn waits until the conn reaches state, failing after timeout.
func (d *daemon) waitConn(name, state string, timeout time.Duration) api.Conn {
	d.t.Helper()
	deadline := time.Now().Add(timeout)
	var c api.Conn
	for time.Now().Before(deadline) {
		if c = d.conn(name); c.State == state {
			return c
		}
		time.Sleep(100 * time.Millisecond)
	}
	d.t.Fatalf("%s: conn %s is %s (%s), want %s\n%s", d.ns.Name, name, c.State, c.LastError, state, d.log.String())
	return c
}

// oectl runs the oectl binary against this daemon.
func (d *daemon) oectl(args ...string) string {
	d.t.Helper()
	out, err := exec.Command(filepath.Join(binDir(d.t), "oectl"), append([]string{"--socket", d.socket}, args...)...).CombinedOutput()
	if err != nil {
		d.t.Fatalf("oectl %v: %v\n%s", args, err, out)
	}
	return string(out)
}

// tcpEcho makes one TCP round trip with payload from client to addr in
// server.
func tcpEcho(t testing.TB, client, server *testenv.Netns, addr, payload string) {
	t.Helper()
	tcpEchoFrom(t, client, server, "", addr, payload)
}

// tcpEchoFrom is tcpEcho from a given source address ("" for any).
func tcpEchoFrom(t testing.TB, client, server *testenv.Netns, src, addr, payload string) {
	t.Helper()
	var ln net.Listener
	if err := server.Do(func() (err error) { ln, err = net.Listen("tcp", addr); return err }); err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		io.Copy(c, c)
	}()
	var conn net.Conn
	d := net.Dialer{Timeout: 20 * time.Second}
	if src != "" {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(src)}
	}
	if err := client.Do(func() (err error) { conn, err = d.Dial("tcp", addr); return err }); err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(conn, payload); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, len(payload))
	if _, err := io.ReadFull(conn, buf); err != nil || string(buf) != payload {
		t.Fatalf("echo: %q, %v", buf, err)
	}
}
