package peers

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/oe-agent/oe-agent/internal/testenv"
)

// Libreswan is a pluto daemon running in one test namespace with its own
// ipsec.conf, secrets, NSS database and control socket, so several can run
// in one guest.
type Libreswan struct {
	Dir     string // holds ipsec.conf, ipsec.secrets, nss/, run/
	ns      *testenv.Netns
	ctl     string
	logPath string
}

// NewLibreswan prepares pluto's files in ns (an empty NSS database) without
// starting it, so a test can generate a host key first (NewHostKey) and
// write a configuration that uses it.
func NewLibreswan(t testing.TB, ns *testenv.Netns) *Libreswan {
	t.Helper()
	dir := t.TempDir()
	l := &Libreswan{Dir: dir, ns: ns, ctl: filepath.Join(dir, "run/pluto.ctl"), logPath: filepath.Join(dir, "pluto.log")}
	for _, d := range []string{"nss", "run", "dump"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	run(t, "certutil", "-N", "-d", "sql:"+filepath.Join(dir, "nss"), "--empty-password")
	return l
}

var ckaidRE = regexp.MustCompile(`ckaid: ([0-9a-f]+)`)

// NewHostKey makes an RSA host key in pluto's NSS database and returns its
// CKAID and public key in libreswan's `0s...` form (RFC 3110), for
// leftckaid= and for the other side's rightrsasigkey=.
func (l *Libreswan) NewHostKey(t testing.TB) (ckaid, pubkey string) {
	t.Helper()
	nss := filepath.Join(l.Dir, "nss")
	run(t, "ipsec", "newhostkey", "--nssdir", nss)
	m := ckaidRE.FindStringSubmatch(run(t, "ipsec", "showhostkey", "--nssdir", nss, "--list"))
	if m == nil {
		t.Fatal("peers: no ckaid in showhostkey --list")
	}
	out := run(t, "ipsec", "showhostkey", "--nssdir", nss, "--left", "--ckaid", m[1])
	k := regexp.MustCompile(`leftrsasigkey=(0s\S+)`).FindStringSubmatch(out)
	if k == nil {
		t.Fatalf("peers: no leftrsasigkey in:\n%s", out)
	}
	return m[1], k[1]
}

// Start writes ipsec.conf and ipsec.secrets, starts pluto in the namespace,
// makes it listen and adds every conn with auto=add/start/route
// (addconn --autoall).
func (l *Libreswan) Start(t testing.TB, ipsecConf, secrets string) {
	t.Helper()
	write(t, filepath.Join(l.Dir, "ipsec.conf"), ipsecConf)
	write(t, filepath.Join(l.Dir, "ipsec.secrets"), secrets)
	cmd := l.ns.Cmd("/usr/libexec/ipsec/pluto", "--nofork",
		"--config", filepath.Join(l.Dir, "ipsec.conf"),
		"--rundir", filepath.Join(l.Dir, "run"),
		"--nssdir", filepath.Join(l.Dir, "nss"),
		"--secretsfile", filepath.Join(l.Dir, "ipsec.secrets"),
		"--logfile", l.logPath,
		"--dumpdir", filepath.Join(l.Dir, "dump"))
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("peers: start pluto: %v", err)
	}
	var once sync.Once
	t.Cleanup(func() {
		once.Do(func() {
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
				t.Logf("pluto log (%s):\n%s\n%s", l.ns.Name, l.Log(), stderr.String())
			}
		})
	})
	if !waitFor(20*time.Second, func() bool { _, err := os.Stat(l.ctl); return err == nil }) {
		t.Fatalf("peers: pluto did not open %s in 20 s:\n%s\n%s", l.ctl, stderr.String(), l.Log())
	}
	l.Whack(t, "--listen")
	l.AddConn(t, "--autoall")
}

// AddConn runs addconn against this pluto with its ipsec.conf.
func (l *Libreswan) AddConn(t testing.TB, args ...string) string {
	t.Helper()
	full := append([]string{"/usr/libexec/ipsec/addconn", "--ctlsocket", l.ctl, "--config", filepath.Join(l.Dir, "ipsec.conf")}, args...)
	return l.ns.Run(t, full...)
}

// Whack runs whack against this pluto and fails the test if it fails.
func (l *Libreswan) Whack(t testing.TB, args ...string) string {
	t.Helper()
	out, err := l.WhackErr(args...)
	if err != nil {
		t.Fatalf("peers: whack %v: %v\n%s\npluto log:\n%s", args, err, out, l.Log())
	}
	return out
}

// WhackErr is Whack returning the error instead of failing the test.
func (l *Libreswan) WhackErr(args ...string) (string, error) {
	full := append([]string{"/usr/libexec/ipsec/whack", "--ctlsocket", l.ctl}, args...)
	out, err := l.ns.Cmd(full...).CombinedOutput()
	return string(out), err
}

// Log returns pluto's log file so far.
func (l *Libreswan) Log() string {
	b, _ := os.ReadFile(l.logPath)
	return string(b)
}

func run(t testing.TB, args ...string) string {
	t.Helper()
	out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
	if err != nil {
		t.Fatalf("peers: %v: %v\n%s", args, err, out)
	}
	return string(out)
}
