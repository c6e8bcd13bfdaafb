package peers

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/oe-agent/oe-agent/internal/testenv"
)

// charonPlugins is what the tests need; loading only these avoids plugins
// whose libraries (curl, ldap, tpm) are not installed.
const charonPlugins = "random nonce openssl kdf hmac sha1 sha2 aes gcm curve25519 chapoly gmp " +
	"pem pkcs1 pkcs8 pubkey x509 revocation constraints kernel-netlink socket-default vici updown"

// StrongSwan is a charon daemon running in one test namespace. Its
// swanctl.conf and credential folders (private/, pubkey/, x509/...) live in
// Dir.
type StrongSwan struct {
	Dir string
	ns  *testenv.Netns
	uri string
	log *bytes.Buffer
	mu  *sync.Mutex
}

var installStrongSwanOnce sync.Once

// installStrongSwan copies the strongSwan files unpacked by `make
// deps-peers` into the guest's overlay root, once per guest: a lock file
// guards against test binaries doing it side by side.
func installStrongSwan(t testing.TB) {
	t.Helper()
	installStrongSwanOnce.Do(func() {
		src := filepath.Join(repoRoot(t), ".cache/peers/strongswan")
		if _, err := os.Stat(filepath.Join(src, "usr/lib/ipsec/charon")); err != nil {
			t.Fatalf("peers: strongSwan not unpacked in %s (run `make deps-peers`): %v", src, err)
		}
		lock, err := os.OpenFile("/run/oe-peers-strongswan.lock", os.O_CREATE|os.O_RDWR, 0o600)
		if err != nil {
			t.Fatal(err)
		}
		defer lock.Close()
		if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat("/usr/lib/ipsec/charon"); err == nil {
			return
		}
		if out, err := exec.Command("cp", "-a", src+"/.", "/").CombinedOutput(); err != nil {
			t.Fatalf("peers: install strongSwan: %v: %s", err, out)
		}
	})
}

// StartStrongSwan starts charon in ns with the given swanctl.conf text and
// loads it. Files the configuration refers to (keys) can be written into the
// returned Dir before calling Load again. charon's PID file is compiled in as
// /run/charon.pid, so each instance runs in its own mount namespace with a
// private /run; its vici socket lives in Dir.
func StartStrongSwan(t testing.TB, ns *testenv.Netns, swanctlConf string) *StrongSwan {
	t.Helper()
	installStrongSwan(t)
	dir := t.TempDir()
	for _, d := range []string{"private", "pubkey", "x509", "x509ca", "rsa", "ecdsa", "pkcs8"} {
		os.MkdirAll(filepath.Join(dir, d), 0o700)
	}
	s := &StrongSwan{Dir: dir, ns: ns, uri: "unix://" + dir + "/charon.vici", log: new(bytes.Buffer), mu: new(sync.Mutex)}
	conf := fmt.Sprintf(`charon {
  load = %s
  install_routes = no
  retransmit_timeout = 1.0
  retransmit_tries = 6
  filelog { stderr { default = 1 ike = 2 cfg = 1 knl = 1 time_format = %%T } }
  plugins { vici { socket = %s } }
}
swanctl { load = pem pkcs1 pkcs8 x509 openssl }
`, charonPlugins, s.uri)
	write(t, filepath.Join(dir, "strongswan.conf"), conf)
	write(t, filepath.Join(dir, "swanctl.conf"), swanctlConf)
	cmd := ns.Cmd("unshare", "-m", "sh", "-c", "mount -t tmpfs run /run && exec /usr/lib/ipsec/charon")
	cmd.Env = append(os.Environ(), "STRONGSWAN_CONF="+filepath.Join(dir, "strongswan.conf"))
	cmd.Stdout = lockedWriter{s.mu, s.log}
	cmd.Stderr = lockedWriter{s.mu, s.log}
	if err := cmd.Start(); err != nil {
		t.Fatalf("peers: start charon: %v", err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("charon log (%s):\n%s", ns.Name, s.Log())
		}
	})
	if !waitFor(20*time.Second, func() bool { _, err := os.Stat(filepath.Join(dir, "charon.vici")); return err == nil }) {
		t.Fatalf("peers: charon did not open its vici socket in 20 s:\n%s", s.Log())
	}
	s.Load(t)
	return s
}

// Load (re)loads swanctl.conf and the credentials in Dir.
func (s *StrongSwan) Load(t testing.TB) {
	t.Helper()
	s.Swanctl(t, "--load-all", "--noprompt", "--file", filepath.Join(s.Dir, "swanctl.conf"))
}

// Swanctl runs swanctl against this charon and returns its output; it fails
// the test if swanctl fails.
func (s *StrongSwan) Swanctl(t testing.TB, args ...string) string {
	t.Helper()
	out, err := s.SwanctlErr(args...)
	if err != nil {
		t.Fatalf("peers: swanctl %v: %v\n%s\ncharon log:\n%s", args, err, out, s.Log())
	}
	return out
}

// SwanctlErr is Swanctl returning the error instead of failing the test.
func (s *StrongSwan) SwanctlErr(args ...string) (string, error) {
	// swanctl wants --uri after the command (vm-rig.md).
	full := append([]string{"/usr/sbin/swanctl"}, args[0])
	full = append(full, "--uri", s.uri)
	full = append(full, args[1:]...)
	cmd := s.ns.Cmd(full...)
	cmd.Env = append(os.Environ(), "STRONGSWAN_CONF="+filepath.Join(s.Dir, "strongswan.conf"))
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// Log returns what charon has logged so far.
func (s *StrongSwan) Log() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.log.String()
}

type lockedWriter struct {
	mu *sync.Mutex
	w  *bytes.Buffer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func write(t testing.TB, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
}
