package pkgtest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/oe-agent/oe-agent/internal/testenv"
	"github.com/oe-agent/oe-agent/xfrm"
)

const (
	unit     = "oe-agentd.service"
	etcDir   = "/etc/oe-agent"
	confPath = etcDir + "/oe-agent.conf"
	hostKey  = etcDir + "/hostkey.pem"
)

// requireSystemdGuest skips unless this is the vm-tier guest with systemd
// as PID 1 (internal/vmtest runs TestVMSystemd* tests there).
func requireSystemdGuest(t *testing.T) {
	t.Helper()
	testenv.RequireVM(t)
	if _, err := os.Stat("/run/systemd/system"); err != nil {
		t.Skip("needs the vm-tier guest booted with systemd as PID 1 (vmtest runs TestVMSystemd* tests there)")
	}
	comm, _ := os.ReadFile("/proc/1/comm")
	if strings.TrimSpace(string(comm)) != "systemd" {
		t.Skipf("PID 1 is %q, not systemd", strings.TrimSpace(string(comm)))
	}
}

// findDeb returns the package `make deb` built, relative to the repository
// root (the test runs in its package directory).
func findDeb(t *testing.T) string {
	t.Helper()
	debs, _ := filepath.Glob("../../.cache/deb/oe-agent_*.deb")
	if len(debs) != 1 {
		t.Fatalf("want exactly one .cache/deb/oe-agent_*.deb, found %d: run `make deb` before the vm tier (make test does)", len(debs))
	}
	abs, err := filepath.Abs(debs[0])
	if err != nil {
		t.Fatal(err)
	}
	return abs
}

// sh runs a command, logs it with its output, and returns the output and
// exit status (-1 if it could not run or timed out).
func sh(t *testing.T, timeout time.Duration, args ...string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive", "SYSTEMD_PAGER=", "LC_ALL=C.UTF-8")
	start := time.Now()
	out, err := cmd.CombinedOutput()
	rc := 0
	if err != nil {
		rc = -1
		if ee, ok := err.(*exec.ExitError); ok && ctx.Err() == nil {
			rc = ee.ExitCode()
		}
	}
	t.Logf("$ %s  (rc=%d, %s)\n%s", strings.Join(args, " "), rc, time.Since(start).Round(10*time.Millisecond), indent(out))
	return string(out), rc
}

// must runs a command that has to succeed.
func must(t *testing.T, timeout time.Duration, args ...string) string {
	t.Helper()
	out, rc := sh(t, timeout, args...)
	if rc != 0 {
		if args[0] == "systemctl" || strings.HasPrefix(args[0], "apt") {
			serviceLog(t)
		}
		t.Fatalf("%s: exit status %d", strings.Join(args, " "), rc)
	}
	return out
}

// serviceLog shows the unit's state and journal, for a failure's message.
func serviceLog(t *testing.T) {
	t.Helper()
	sh(t, time.Minute, "systemctl", "status", "--no-pager", "-l", unit)
	sh(t, time.Minute, "journalctl", "--no-pager", "-b", "-o", "short-monotonic", "-u", unit)
}

func indent(b []byte) string {
	s := strings.TrimRight(string(b), "\n")
	if s == "" {
		return ""
	}
	lines := strings.Split(s, "\n")
	if len(lines) > 40 {
		lines = append(lines[:15], append([]string{fmt.Sprintf("\t... %d lines ...", len(lines)-30)}, lines[len(lines)-15:]...)...)
	}
	return "\t" + strings.Join(lines, "\n\t")
}

// waitActive waits until the unit is active (a restart after a crash takes
// RestartSec= plus a start under TCG).
func waitActive(t *testing.T, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		out, _ := exec.Command("systemctl", "is-active", unit).Output()
		state := strings.TrimSpace(string(out))
		if state == "active" {
			return
		}
		if time.Now().After(deadline) {
			serviceLog(t)
			t.Fatalf("%s is %q, not active, after %s", unit, state, within)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

func fileSum(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// TestVMSystemdPackage installs the .deb in a guest that has never had it,
// and checks what an administrator relies on, step by step: the service
// runs and answers, reload applies a change (and refuses a broken one),
// stop removes oe-agent's XFRM objects and nothing else, a crash is cleaned
// up by ExecStopPost, remove keeps /etc/oe-agent, a reinstall keeps the host
// key, purge removes everything.
func TestVMSystemdPackage(t *testing.T) {
	requireSystemdGuest(t)
	deb := findDeb(t)
	if out, _ := exec.Command("dpkg-query", "-W", "-f=${Status}", "oe-agent").Output(); strings.Contains(string(out), "installed") {
		t.Fatalf("oe-agent is already installed in the guest (%s): the guest's root is the host's, so the host has it; remove it there", out)
	}
	if _, err := os.Stat(etcDir); err == nil {
		t.Fatalf("%s exists before the installation (left over on the host?)", etcDir)
	}
	bootedMachine(t)

	var keySum string
	t.Run("install", func(t *testing.T) {
		aptGet(t, "install", "--no-install-recommends", deb)
		fi, err := os.Stat(hostKey)
		if err != nil {
			t.Fatalf("postinst created no host key: %v", err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %04o, want 0600", hostKey, fi.Mode().Perm())
		}
		if st, ok := fi.Sys().(*syscall.Stat_t); ok && st.Uid != 0 {
			t.Errorf("%s belongs to uid %d, want root", hostKey, st.Uid)
		}
		keySum = fileSum(t, hostKey)
		fi, err = os.Stat(etcDir + "/oe-agent.secrets")
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("secrets file: %v, mode %v; want 0600", err, fi.Mode().Perm())
		}
		for _, g := range []string{"clear", "clear-or-private", "private-or-clear", "private", "block"} {
			if _, err := os.Stat(etcDir + "/policies/" + g); err != nil {
				t.Errorf("policy group file: %v", err)
			}
		}
		must(t, time.Minute, "getent", "group", "oe-agent")
		if out := must(t, time.Minute, "systemctl", "is-enabled", unit); strings.TrimSpace(out) != "enabled" {
			t.Errorf("%s is %q, want enabled", unit, out)
		}
		waitActive(t, 30*time.Second)
		must(t, time.Minute, "oe-agentd", "--check")
		must(t, time.Minute, "man", "-w", "oe-agentd", "oectl", "oe-agent.conf")
		if _, err := os.Stat("/usr/share/bash-completion/completions/oectl"); err != nil {
			t.Errorf("bash completion: %v", err)
		}
	})
	if t.Failed() {
		t.FailNow()
	}

	t.Run("status", func(t *testing.T) {
		must(t, time.Minute, "oectl", "status")
		out := must(t, time.Minute, "oectl", "version")
		if !strings.Contains(out, "oe-agentd ") {
			t.Errorf("oectl version did not reach the daemon:\n%s", out)
		}
		// The socket is 0660 root:oe-agent in a 0750 directory: a member
		// of the group may read the status, anyone else may not.
		must(t, time.Minute, "setpriv", "--reuid=65534", "--regid=65534", "--groups=oe-agent", "oectl", "status")
		if _, rc := sh(t, time.Minute, "setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "oectl", "status"); rc == 0 {
			t.Errorf("a user outside the oe-agent group could read the status")
		}
		if out, rc := sh(t, time.Minute, "setpriv", "--reuid=65534", "--regid=65534", "--groups=oe-agent", "oectl", "reload"); rc == 0 {
			t.Errorf("a non-root member of oe-agent could reload:\n%s", out)
		}
		must(t, time.Minute, "systemctl", "show", "-p", "StatusText", "-p", "NRestarts", unit)
	})

	t.Run("reload", func(t *testing.T) {
		orig, err := os.ReadFile(confPath)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(must(t, time.Minute, "oectl", "status", "dump"), "pkgtest-pass") {
			t.Fatal("conn pkgtest-pass is loaded before it is configured")
		}
		added := string(orig) + "\nconn pkgtest-pass\n\ttype=passthrough\n\tleft=192.0.2.1\n\tright=198.51.100.7\n\tauto=route\n"
		if err := os.WriteFile(confPath, []byte(added), 0o644); err != nil {
			t.Fatal(err)
		}
		must(t, time.Minute, "systemctl", "reload", unit)
		if out := must(t, time.Minute, "oectl", "status", "dump"); !regexp.MustCompile(`(?m)^conn\tpkgtest-pass\t`).MatchString(out) {
			t.Errorf("after systemctl reload the new conn is not loaded:\n%s", out)
		}
		// A broken configuration: reload fails, the daemon keeps running
		// with what it had.
		if err := os.WriteFile(confPath, []byte(added+"\tno-such-key=1\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, rc := sh(t, time.Minute, "systemctl", "reload", unit); rc == 0 {
			t.Errorf("systemctl reload succeeded with an invalid configuration")
		}
		waitActive(t, 5*time.Second)
		if out := must(t, time.Minute, "oectl", "status", "dump"); !strings.Contains(out, "pkgtest-pass") {
			t.Errorf("a failed reload dropped the loaded conn:\n%s", out)
		}
		// Leave the valid, changed configuration in place: remove must
		// keep it and purge must delete it.
		if err := os.WriteFile(confPath, []byte(added), 0o644); err != nil {
			t.Fatal(err)
		}
		must(t, time.Minute, "systemctl", "reload", unit)
	})

	t.Run("stop", func(t *testing.T) {
		x := plantXFRM(t)
		must(t, time.Minute, "systemctl", "stop", unit)
		x.check(t, "after systemctl stop")
		if out, _ := sh(t, time.Minute, "systemctl", "is-active", unit); strings.TrimSpace(out) != "inactive" {
			t.Errorf("%s is %q after stop, want inactive", unit, strings.TrimSpace(out))
		}
	})

	t.Run("crash", func(t *testing.T) {
		must(t, 2*time.Minute, "systemctl", "start", unit)
		waitActive(t, 30*time.Second)
		before := nRestarts(t)
		x := plantXFRM(t)
		// SIGKILL: the daemon cannot clean up; ExecStopPost=oe-agentd
		// --cleanup must, before Restart=on-failure starts it again.
		must(t, time.Minute, "systemctl", "kill", "--signal=SIGKILL", unit)
		deadline := time.Now().Add(time.Minute)
		for nRestarts(t) == before && time.Now().Before(deadline) {
			time.Sleep(500 * time.Millisecond)
		}
		waitActive(t, time.Minute)
		if nRestarts(t) == before {
			t.Errorf("the killed daemon was not restarted")
		}
		x.check(t, "after SIGKILL and ExecStopPost")
	})

	t.Run("security", func(t *testing.T) {
		must(t, time.Minute, "systemd-analyze", "verify", unit)
		out := must(t, time.Minute, "systemd-analyze", "security", "--no-pager", unit)
		m := regexp.MustCompile(`Overall exposure level for \S+: ([0-9.]+)`).FindStringSubmatch(out)
		if m == nil {
			t.Fatalf("no exposure level in systemd-analyze security output")
		}
		score, _ := strconv.ParseFloat(m[1], 64)
		t.Logf("systemd-analyze security %s: exposure %.1f", unit, score)
		if score > maxExposure {
			t.Errorf("exposure %.1f, want at most %.1f", score, maxExposure)
		}
	})

	t.Run("remove", func(t *testing.T) {
		aptGet(t, "remove", "oe-agent")
		if _, err := os.Stat("/usr/sbin/oe-agentd"); err == nil {
			t.Errorf("remove left /usr/sbin/oe-agentd")
		}
		if out, _ := sh(t, time.Minute, "systemctl", "is-active", unit); strings.TrimSpace(out) == "active" {
			t.Errorf("%s still active after remove", unit)
		}
		for _, f := range []string{confPath, etcDir + "/oe-agent.secrets", etcDir + "/policies/private", hostKey} {
			if _, err := os.Stat(f); err != nil {
				t.Errorf("remove must keep the configuration: %v", err)
			}
		}
	})

	t.Run("reinstall", func(t *testing.T) {
		aptGet(t, "install", "--no-install-recommends", deb)
		if got := fileSum(t, hostKey); got != keySum {
			t.Errorf("reinstallation replaced the host key")
		}
		if b, _ := os.ReadFile(confPath); !strings.Contains(string(b), "pkgtest-pass") {
			t.Errorf("reinstallation replaced the changed configuration")
		}
		waitActive(t, 30*time.Second)
		if out := must(t, time.Minute, "oectl", "status", "dump"); !strings.Contains(out, "pkgtest-pass") {
			t.Errorf("the reinstalled service does not run the kept configuration:\n%s", out)
		}
		// --reinstall while installed: the same promise.
		aptGet(t, "install", "--reinstall", "--no-install-recommends", deb)
		if got := fileSum(t, hostKey); got != keySum {
			t.Errorf("apt-get install --reinstall replaced the host key")
		}
		waitActive(t, 30*time.Second)
	})

	t.Run("purge", func(t *testing.T) {
		x := plantXFRM(t)
		aptGet(t, "purge", "oe-agent")
		if _, err := os.Stat(etcDir); err == nil {
			out, _ := exec.Command("find", etcDir).CombinedOutput()
			t.Errorf("purge left %s:\n%s", etcDir, out)
		}
		if out, _ := exec.Command("dpkg-query", "-W", "-f=${Status}", "oe-agent").CombinedOutput(); strings.Contains(string(out), "installed") || strings.Contains(string(out), "config-files") {
			t.Errorf("dpkg still knows oe-agent after purge: %s", out)
		}
		x.check(t, "after purge")
	})
}

// bootedMachine undoes, in the guest's overlay only, what the host's
// container image does to its root: Docker images carry a policy-rc.d that
// forbids maintainer scripts to start services, which a booted machine does
// not have. It also turns off man-db's index update trigger, which costs
// minutes over 9p under TCG and is not what is tested (man -w is).
func bootedMachine(t *testing.T) {
	t.Helper()
	for _, f := range []string{"/usr/sbin/policy-rc.d", "/var/lib/man-db/auto-update"} {
		if err := os.Remove(f); err == nil {
			t.Logf("guest: removed %s", f)
		} else if !os.IsNotExist(err) {
			t.Fatal(err)
		}
	}
}

// aptGet runs apt-get as an administrator would, with the package sources
// switched off: the guest is offline, so apt resolves the .deb's
// dependencies against what is installed (the host's packages, from
// internal/testenv/apt-packages.txt), and does not spend minutes under TCG
// loading the host's package lists.
func aptGet(t *testing.T, args ...string) string {
	t.Helper()
	empty := t.TempDir()
	if err := os.WriteFile(filepath.Join(empty, "sources.list"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := []string{"apt-get", "-y",
		"-o", "Dir::Etc::SourceList=" + filepath.Join(empty, "sources.list"), "-o", "Dir::Etc::SourceParts=" + empty,
		"-o", "Dir::Cache::pkgcache=", "-o", "Dir::Cache::srcpkgcache="}
	return must(t, 5*time.Minute, append(cmd, args...)...)
}

// maxExposure is the highest `systemd-analyze security` exposure level the
// unit may have (packaging/README.md explains what remains open).
const maxExposure = 2.5

func nRestarts(t *testing.T) int {
	t.Helper()
	out, err := exec.Command("systemctl", "show", "-p", "NRestarts", "--value", unit).Output()
	if err != nil {
		t.Fatalf("systemctl show: %v", err)
	}
	n, _ := strconv.Atoi(strings.TrimSpace(string(out)))
	return n
}

// planted are XFRM objects the test adds in the guest's namespace: one
// policy and one SA carrying oe-agent's ownership tags (as if the daemon had
// installed them) and one of each of another daemon's. Stopping oe-agent
// must remove the first pair and keep the second.
type planted struct{}

const (
	ownedSPI   = "0x0e0e0001"
	foreignSPI = "0x00070001"
)

func plantXFRM(t *testing.T) planted {
	t.Helper()
	key := "0x000102030405060708090a0b0c0d0e0f"
	auth := "0x000102030405060708090a0b0c0d0e0f000102030405060708090a0b0c0d0e0f"
	ownedReqid := strconv.FormatUint(uint64(xfrm.ReqidMin+0x4242), 10)
	ownedPrio := strconv.FormatUint(uint64(xfrm.PriorityMin+0x4242), 10)
	must(t, time.Minute, "ip", "xfrm", "policy", "add", "src", "192.0.2.1/32", "dst", "198.51.100.0/24", "dir", "out",
		"priority", ownedPrio, "tmpl", "src", "192.0.2.1", "dst", "198.51.100.1", "proto", "esp", "reqid", ownedReqid, "mode", "tunnel")
	must(t, time.Minute, "ip", "xfrm", "state", "add", "src", "192.0.2.1", "dst", "198.51.100.1", "proto", "esp", "spi", ownedSPI,
		"reqid", ownedReqid, "mode", "tunnel", "enc", "cbc(aes)", key, "auth-trunc", "hmac(sha256)", auth, "128")
	must(t, time.Minute, "ip", "xfrm", "policy", "add", "src", "192.0.2.1/32", "dst", "203.0.113.0/24", "dir", "out",
		"priority", "1000", "tmpl", "src", "192.0.2.1", "dst", "203.0.113.1", "proto", "esp", "reqid", "7", "mode", "tunnel")
	must(t, time.Minute, "ip", "xfrm", "state", "add", "src", "192.0.2.1", "dst", "203.0.113.1", "proto", "esp", "spi", foreignSPI,
		"reqid", "7", "mode", "tunnel", "enc", "cbc(aes)", key, "auth-trunc", "hmac(sha256)", auth, "128")
	return planted{}
}

// check verifies oe-agent's planted objects are gone and the other
// daemon's are intact, then removes the latter.
func (planted) check(t *testing.T, when string) {
	t.Helper()
	_, rc := sh(t, time.Minute, "ip", "xfrm", "policy", "get", "src", "192.0.2.1/32", "dst", "198.51.100.0/24", "dir", "out")
	if rc == 0 {
		t.Errorf("%s: oe-agent's policy to 198.51.100.0/24 is still installed", when)
	}
	_, rc = sh(t, time.Minute, "ip", "xfrm", "state", "get", "src", "192.0.2.1", "dst", "198.51.100.1", "proto", "esp", "spi", ownedSPI)
	if rc == 0 {
		t.Errorf("%s: oe-agent's SA %s is still installed", when, ownedSPI)
	}
	if _, rc := sh(t, time.Minute, "ip", "xfrm", "policy", "delete", "src", "192.0.2.1/32", "dst", "203.0.113.0/24", "dir", "out"); rc != 0 {
		t.Errorf("%s: another daemon's policy to 203.0.113.0/24 was removed", when)
	}
	if _, rc := sh(t, time.Minute, "ip", "xfrm", "state", "delete", "src", "192.0.2.1", "dst", "203.0.113.1", "proto", "esp", "spi", foreignSPI); rc != 0 {
		t.Errorf("%s: another daemon's SA %s was removed", when, foreignSPI)
	}
}
