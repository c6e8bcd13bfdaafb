package oetest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/oe-agent/oe-agent/agent/api"
	"github.com/oe-agent/oe-agent/agent/client"
)

// The OE policy group names, as oe-policy-dir= files are named.
const (
	GroupClear          = "clear"
	GroupClearOrPrivate = "clear-or-private"
	GroupPrivateOrClear = "private-or-clear"
	GroupPrivate        = "private"
	GroupBlock          = "block"
)

// AgentConfig is what a test says about one oe-agentd; the rest is filled
// in by the rig (resolvers, anchors, host key, socket, log level).
type AgentConfig struct {
	// Groups are the policy group files: group name (GroupPrivate, ...)
	// to lines (CIDR, optionally "proto port", comments allowed). Nil
	// means DefaultGroups(world); a group missing from a non-nil map has
	// no file.
	Groups map[string][]string
	// Setup overrides or adds "config setup" keys, e.g.
	// {"oe-negotiation-shunt": "drop", "oe-shunt-lifetime": "30s"}. An
	// empty value removes the rig's default for that key.
	Setup map[string]string
	// Conns is appended to the configuration verbatim (conn sections).
	Conns string
	// Secrets is the secrets file's text (written with mode 0600).
	Secrets string
	// LarvalDrop keeps the kernel's default net.core.xfrm_larval_drop=1 in
	// the agent's namespace; by default the rig sets 0, so that packets
	// that hit a trap wait in the kernel's queue (oe-negotiation-shunt=hold).
	LarvalDrop bool
}

// DefaultGroups is the brief's everyday policy: opportunistic encryption
// tried with the whole test link (private-or-clear), the DNS host in
// clear (OE must not trap its own DNS).
func DefaultGroups(dnsHost *Host) map[string][]string {
	g := map[string][]string{GroupPrivateOrClear: {Prefix4.String(), Prefix6.String()}}
	if dnsHost != nil {
		for _, a := range []netip.Addr{dnsHost.Addr4, dnsHost.Addr6} {
			if a.IsValid() {
				g[GroupClear] = append(g[GroupClear], netip.PrefixFrom(a, a.BitLen()).String())
			}
		}
	}
	return g
}

// Agent is one oe-agentd running in a host's namespace, with its files in
// Dir (config, policies, secrets, socket, log).
type Agent struct {
	Host       *Host
	Bin        Binaries
	Dir        string
	ConfigPath string
	Socket     string
	LogPath    string
	// Proc is the running daemon (replaced by Restart).
	Proc *Proc
	// Config is the configuration written (with the world's resolvers and
	// anchor merged in); Reconfigure edits it.
	Config AgentConfig

	t       testing.TB
	started int
}

// StartAgent writes a configuration for h (resolver and trust anchor of
// the world, h's host key) and starts oe-agentd in h's namespace; it
// returns once the control socket answers.
func (w *World) StartAgent(t testing.TB, h *Host, cfg AgentConfig) *Agent {
	t.Helper()
	if cfg.Groups == nil {
		cfg.Groups = DefaultGroups(w.DNS)
	}
	var res []string
	for _, r := range w.Server.Resolvers {
		res = append(res, r.String())
	}
	setup := map[string]string{
		"dns-resolvers":  strings.Join(res, ","),
		"dnssec-anchors": w.Anchor,
	}
	for k, v := range cfg.Setup {
		setup[k] = v
	}
	cfg.Setup = setup
	return StartAgent(t, h, w.Bin, cfg)
}

// StartAgent starts oe-agentd in h's namespace with cfg; see
// World.StartAgent, which adds the world's resolvers and trust anchor.
func StartAgent(t testing.TB, h *Host, bin Binaries, cfg AgentConfig) *Agent {
	t.Helper()
	if h.KeyFile == "" {
		t.Fatalf("oetest: %s has no host key file", h)
	}
	dir := shortTempDir(t, "oea-"+h.Name)
	a := &Agent{Host: h, Bin: bin, Dir: dir, ConfigPath: filepath.Join(dir, "oe-agent.conf"),
		Socket: filepath.Join(dir, "ctl"), LogPath: filepath.Join(dir, "agent.log"), Config: cfg, t: t}
	a.writeConfig(t, cfg)
	if !cfg.LarvalDrop {
		SetSysctl(t, h.NS, "net/core/xfrm_larval_drop", "0")
	}
	a.Start(t)
	t.Cleanup(func() {
		if a.Proc != nil && a.Proc.Running() {
			if err := a.Stop(); err != nil {
				t.Errorf("oetest: stop agent on %s at the end of the test: %v", h, err)
			}
		}
		if t.Failed() {
			t.Logf("oetest: oe-agentd log of %s (%s):\n%s", h, a.LogPath, tail(a.Log(), 150))
		}
	})
	return a
}

func (a *Agent) writeConfig(t testing.TB, cfg AgentConfig) {
	t.Helper()
	setup := map[string]string{
		"oe":            "yes",
		"oe-policy-dir": filepath.Join(a.Dir, "policies"),
		"secrets":       filepath.Join(a.Dir, "oe-agent.secrets"),
		"hostkey":       a.Host.KeyFile,
		"ctlsocket":     a.Socket,
		"loglevel":      "debug",
	}
	for k, v := range cfg.Setup {
		if v == "" {
			delete(setup, k)
		} else {
			setup[k] = v
		}
	}
	keys := make([]string, 0, len(setup))
	for k := range setup {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	fmt.Fprintf(&b, "# oe-agentd for %s, written by internal/oetest\nversion 2\n\nconfig setup\n", a.Host)
	for _, k := range keys {
		v := setup[k]
		if strings.ContainsAny(v, " \t#") {
			v = `"` + v + `"`
		}
		fmt.Fprintf(&b, "\t%s=%s\n", k, v)
	}
	if cfg.Conns != "" {
		b.WriteString("\n" + cfg.Conns + "\n")
	}
	writeFile(t, a.ConfigPath, b.String())
	pdir := filepath.Join(a.Dir, "policies")
	if err := os.MkdirAll(pdir, 0o755); err != nil {
		t.Fatal(err)
	}
	for g, lines := range cfg.Groups {
		writeFile(t, filepath.Join(pdir, g), strings.Join(lines, "\n")+"\n")
	}
	if err := os.WriteFile(filepath.Join(a.Dir, "oe-agent.secrets"), []byte(cfg.Secrets), 0o600); err != nil {
		t.Fatal(err)
	}
}

// Start starts the daemon (again) with the files in Dir and waits until
// its control socket answers. A test normally uses StartAgent or Restart.
func (a *Agent) Start(t testing.TB) {
	t.Helper()
	a.started++
	f, err := os.OpenFile(a.LogPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(f, "===== oetest: start #%d of oe-agentd on %s at %s\n", a.started, a.Host, time.Now().Format(time.RFC3339Nano))
	f.Close()
	a.Proc = StartProc(t, a.Host.NS, "oe-agentd on "+a.Host.Name, a.LogPath,
		a.Bin.Agentd, "--config", a.ConfigPath, "--socket", a.Socket)
	a.Proc.QuietLog = true // the agent's cleanup shows the log of all starts once
	t0 := time.Now()
	a.WaitReady(t, 60*time.Second)
	t.Logf("oetest: oe-agentd on %s ready in %s", a.Host, time.Since(t0).Round(time.Millisecond))
}

// WaitReady waits until the control socket answers a status request.
func (a *Agent) WaitReady(t testing.TB, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	var last error
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_, err := a.Client().Status(ctx)
		cancel()
		if err == nil {
			return
		}
		last = err
		if !a.Proc.Running() {
			t.Fatalf("oetest: oe-agentd on %s exited (%v) before its socket answered:\n%s", a.Host, a.Proc.ExitErr(), tail(a.Log(), 60))
		}
		if time.Now().After(deadline) {
			t.Fatalf("oetest: oe-agentd on %s: socket %s does not answer after %s: %v\n%s", a.Host, a.Socket, d, last, tail(a.Log(), 60))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Client is a control API client for the agent's socket.
func (a *Agent) Client() *client.Client { return client.New(a.Socket) }

// Status returns the daemon's state (GET /v0/status, what `oectl status
// --json` prints).
func (a *Agent) Status(t testing.TB) *api.Status {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	st, err := a.Client().Status(ctx)
	if err != nil {
		t.Fatalf("oetest: status of the agent on %s: %v", a.Host, err)
	}
	return st
}

// Peer returns the status of the OE peer addr, or nil.
func (a *Agent) Peer(t testing.TB, addr netip.Addr) *api.Peer {
	t.Helper()
	for _, p := range a.Status(t).Peers {
		if pa, err := netip.ParseAddr(p.Addr); err == nil && pa == addr {
			return &p
		}
	}
	return nil
}

// WaitPeer polls the status until peer addr is in one of states (api.State*)
// and returns it; it fails the test after d.
func (a *Agent) WaitPeer(t testing.TB, addr netip.Addr, d time.Duration, states ...string) *api.Peer {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		p := a.Peer(t, addr)
		if p != nil {
			for _, s := range states {
				if p.State == s {
					return p
				}
			}
		}
		if time.Now().After(deadline) {
			st, _ := json.MarshalIndent(a.Status(t), "", "  ")
			t.Fatalf("oetest: agent on %s: peer %s not in %v after %s; status:\n%s", a.Host, addr, states, d, st)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Oectl runs bin/oectl --socket SOCKET args... (from the test's
// namespace: the control socket is a file) and returns its stdout and
// stderr; err is non-nil for a non-zero exit.
func (a *Agent) Oectl(args ...string) (stdout, stderr string, err error) {
	cmd := exec.Command(a.Bin.Oectl, append([]string{"--socket", a.Socket}, args...)...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err = cmd.Run()
	return o.String(), e.String(), err
}

// Lookup runs `oectl lookup --json target` and decodes the answer. It
// fails the test, with oectl's exact output, if oectl fails or prints
// something that is not an api.Lookup.
func (a *Agent) Lookup(t testing.TB, target string) *api.Lookup {
	t.Helper()
	out, errOut, err := a.Oectl("lookup", "--json", target)
	if err != nil {
		t.Fatalf("oetest: oectl lookup --json %s: %v\nstdout:\n%s\nstderr:\n%s", target, err, out, errOut)
	}
	var lk api.Lookup
	if err := json.Unmarshal([]byte(out), &lk); err != nil {
		t.Fatalf("oetest: oectl lookup --json %s: not JSON (%v):\n%s\nstderr:\n%s", target, err, out, errOut)
	}
	return &lk
}

// Kill9 kills the daemon with SIGKILL, as a crash would: it leaves its
// kernel policies and SAs behind.
func (a *Agent) Kill9(t testing.TB) {
	t.Helper()
	a.Proc.Kill()
	f, err := os.OpenFile(a.LogPath, os.O_WRONLY|os.O_APPEND, 0o644)
	if err == nil {
		fmt.Fprintf(f, "===== oetest: oe-agentd killed with SIGKILL at %s\n", time.Now().Format(time.RFC3339Nano))
		f.Close()
	}
}

// Stop sends SIGTERM (the agent removes its kernel objects) and waits up
// to 30 s; it returns an error if the daemon did not exit or exited with a
// non-zero status.
func (a *Agent) Stop() error {
	if err := a.Proc.Stop(30 * time.Second); err != nil {
		return fmt.Errorf("oetest: oe-agentd on %s: %w", a.Host, err)
	}
	return nil
}

// Restart stops the daemon (SIGTERM) if it runs and starts it again with
// the same files.
func (a *Agent) Restart(t testing.TB) {
	t.Helper()
	if a.Proc.Running() {
		if err := a.Stop(); err != nil {
			t.Fatal(err)
		}
	}
	a.Start(t)
}

// Reconfigure lets edit change a copy of the current configuration,
// rewrites the files (not the host key) and sends SIGHUP: the agent
// reloads asynchronously.
func (a *Agent) Reconfigure(t testing.TB, edit func(cfg *AgentConfig)) {
	t.Helper()
	cfg := a.Config
	cfg.Groups = map[string][]string{}
	for g, l := range a.Config.Groups {
		cfg.Groups[g] = append([]string(nil), l...)
	}
	cfg.Setup = map[string]string{}
	for k, v := range a.Config.Setup {
		cfg.Setup[k] = v
	}
	edit(&cfg)
	a.Config = cfg
	os.RemoveAll(filepath.Join(a.Dir, "policies"))
	a.writeConfig(t, cfg)
	if err := a.Proc.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
}

// Log returns everything the daemon wrote (all starts).
func (a *Agent) Log() string {
	b, _ := os.ReadFile(a.LogPath)
	return string(b)
}
