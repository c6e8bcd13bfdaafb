package e2e

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/oe-agent/oe-agent/agent/api"
	"github.com/oe-agent/oe-agent/dnskeys"
	"github.com/oe-agent/oe-agent/dnskeys/dnskeystest"
	"github.com/oe-agent/oe-agent/internal/oetest"
	"github.com/oe-agent/oe-agent/internal/peers"
	"github.com/oe-agent/oe-agent/internal/testenv"
)

// TestVMOELibreswan is OE between oe-agentd and libreswan 4.10 (issue 6):
// west runs oe-agentd, east runs pluto configured for opportunistic IPsec
// with keys from DNS (rightrsasigkey=%dnsondemand), validating with its own
// libunbound against the test's trust anchor. Neither is configured for
// the other: each finds the other's key in the DNSSEC-signed reverse zone.
// libreswan 4.10 uses only RSA and ECDSA IPSECKEYs, so both publish RSA
// keys: west an RSA host key, east the key in pluto's NSS database.
//
// West initiates (our ACQUIRE path): every datagram of a numbered burst
// arrives. Then pluto deletes the SAs, and east initiates (pluto's
// ACQUIRE path, our responder finds pluto's key Secure in DNS): traffic
// flows once pluto's SA is up; libreswan drops what it sent while
// negotiating (its hold shunt), which the test reports. Between the two
// hosts the wire carries only IKE and ESP.
func TestVMOELibreswan(t *testing.T) {
	testenv.RequireVM(t)
	t.Parallel()
	w := newLibreswanWorld(t)
	west := oetest.StartAgent(t, w.West, oetest.RequireBinaries(t), oetest.AgentConfig{
		Groups: oetest.DefaultGroups(w.DNS),
		Setup:  map[string]string{"dns-resolvers": w.Server.Resolvers[0].String(), "dnssec-anchors": w.Tree.Anchor},
	})
	w.startPluto(t)
	cap := w.Net.StartCapture(t)

	// West initiates: our ACQUIRE, our hold queue, pluto responds after
	// finding west's key in DNS.
	rep, m1 := udpRound(t, w.West, oetest.WestAddr4, w.East, netip.AddrPortFrom(oetest.EastAddr4, 9000), 300, 10*time.Millisecond, 60*time.Second)
	t.Logf("west(oe-agentd)->east(pluto) burst, oe-agentd initiates: %s", rep)
	if rep.Delivered != rep.Sent {
		t.Errorf("west->east: oe-agentd's side lost %d of %d datagrams: %s", rep.Sent-rep.Delivered, rep.Sent, rep)
	}
	p := west.WaitPeer(t, oetest.EastAddr4, 30*time.Second, api.StateUp)
	if p.Anonymous || !strings.Contains(p.Remote.KeySource, "secure") {
		t.Errorf("west's peer %s: anonymous %v, key source %q; want pluto's key, Secure in DNS", p.Addr, p.Anonymous, p.Remote.KeySource)
	}
	w.waitPlutoSA(t, oetest.WestAddr4, 30*time.Second)
	back, m2 := udpRound(t, w.East, oetest.EastAddr4, w.West, netip.AddrPortFrom(oetest.WestAddr4, 9001), 50, 10*time.Millisecond, 20*time.Second)
	t.Logf("east->west over the same SAs: %s", back)
	if back.Delivered != back.Sent {
		t.Errorf("east->west over west's SAs: %s", back)
	}
	for _, h := range []*oetest.Host{w.West, w.East} {
		waitESPCount(t, h, oetest.WestAddr4, oetest.EastAddr4, 2, time.Second, 30*time.Second)
	}

	// pluto deletes its IKE SA and Child SA with west (RFC 7296 §1.4.1):
	// the agent removes its SAs and puts the trap back.
	w.pluto.Whack(t, "--deleteid", "--name", oetest.WestAddr4.String())
	waitNoPeer(t, west, oetest.EastAddr4, 30*time.Second)
	for _, h := range []*oetest.Host{w.West, w.East} {
		waitESPCount(t, h, oetest.WestAddr4, oetest.EastAddr4, 0, time.Second, 30*time.Second)
	}

	// East initiates: pluto's ACQUIRE, our responder looks up pluto's key.
	// The same rate as west's burst, long enough for its tail to outlast
	// pluto's negotiation.
	const n, every = 500, 10 * time.Millisecond
	marker := oetest.NewMarker()
	sink := w.West.ListenUDP(t, netip.AddrPortFrom(oetest.WestAddr4, 9002), marker)
	flow := w.East.SendUDP(t, oetest.EastAddr4, sink.Addr, marker, oetest.Burst{Count: n, Interval: every})
	sink.WaitCount(n, 5*time.Second)
	ls := sink.Report(flow)
	t.Logf("east(pluto)->west(oe-agentd) burst, pluto initiates: %s; send errors %d (first %v)", ls, flow.Errors, flow.ErrFirst)
	t.Logf("libreswan's side lost %d of %d datagrams while it negotiated (first delivered: seq %d after %s)",
		ls.Sent-ls.Delivered, ls.Sent, ls.FirstSeq, ls.FirstDelivery.Round(time.Millisecond))
	if ls.Delivered == 0 || len(ls.Lost) > 0 && ls.Lost[len(ls.Lost)-1] >= n-100 {
		t.Errorf("east->west: pluto's SA was not up for the last 100 datagrams (1 s) of the burst: %s", ls)
	}
	p = west.WaitPeer(t, oetest.EastAddr4, 30*time.Second, api.StateUp)
	if p.Anonymous || !strings.Contains(p.Remote.KeySource, "secure") {
		t.Errorf("west's peer %s (pluto initiated): anonymous %v, key source %q; want pluto's key, Secure in DNS", p.Addr, p.Anonymous, p.Remote.KeySource)
	}
	w.waitPlutoSA(t, oetest.WestAddr4, 30*time.Second)
	fwd, m3 := udpRound(t, w.West, oetest.WestAddr4, w.East, netip.AddrPortFrom(oetest.EastAddr4, 9003), 50, 10*time.Millisecond, 20*time.Second)
	t.Logf("west->east over pluto's SAs: %s", fwd)
	if fwd.Delivered != fwd.Sent {
		t.Errorf("west->east over pluto's SAs: %s", fwd)
	}
	for _, h := range []*oetest.Host{w.West, w.East} {
		waitESPCount(t, h, oetest.WestAddr4, oetest.EastAddr4, 2, time.Second, 30*time.Second)
	}

	cap.Stop()
	for _, m := range [][]byte{m1, m2, marker, m3} {
		cap.AssertNoCleartext(t, m)
	}
	cap.AssertOnly(t, w.West, w.East, oetest.OEKinds...)
	if t.Failed() {
		t.Logf("pluto --trafficstatus:\n%s", w.pluto.Whack(t, "--trafficstatus"))
	}
}

// libreswanWorld is the test's own small OE world: west (oe-agentd, RSA
// host key), east (pluto) and dns on one link, and a DNSSEC tree (".",
// in-addr.arpa., 2.0.192.in-addr.arpa.) that publishes both RSA keys. The
// rig's standard world publishes Ed25519 keys, which libreswan 4.10
// cannot use.
type libreswanWorld struct {
	Net             *oetest.Net
	West, East, DNS *oetest.Host
	Tree            *dnskeystest.Tree
	Server          *oetest.DNSServer

	pluto      *peers.Libreswan
	plutoCKAID string
}

func newLibreswanWorld(t *testing.T) *libreswanWorld {
	t.Helper()
	oetest.RequireTools(t, "nsd", "unbound", "dnssec-keygen", "dnssec-signzone", "gcc", "ipsec")
	w := &libreswanWorld{Net: oetest.NewNet(t)}
	w.West = w.Net.AddHost(t, "west", oetest.WestAddr4)
	w.East = w.Net.AddHost(t, "east", oetest.EastAddr4)
	w.DNS = w.Net.AddHost(t, "dns", oetest.DNSAddr4)
	w.pluto = peers.NewLibreswan(t, w.East.NS)

	// The two host keys at once: RSA key generation is slow in the
	// emulated guest.
	var (
		wg       sync.WaitGroup
		westKey  *rsa.PrivateKey
		keyErr   error
		eastRR   string
		plutoErr error
	)
	t0 := time.Now()
	wg.Add(2)
	go func() {
		defer wg.Done()
		westKey, keyErr = rsa.GenerateKey(rand.Reader, 2048)
	}()
	go func() {
		defer wg.Done()
		w.plutoCKAID, eastRR, plutoErr = plutoHostKey(filepath.Join(w.pluto.Dir, "nss"))
	}()
	wg.Wait()
	if keyErr != nil {
		t.Fatal(keyErr)
	}
	if plutoErr != nil {
		t.Fatal(plutoErr)
	}
	t.Logf("host keys in %s (pluto's CKAID %s)", time.Since(t0).Round(time.Millisecond), w.plutoCKAID)
	der, err := x509.MarshalPKCS8PrivateKey(westKey)
	if err != nil {
		t.Fatal(err)
	}
	w.West.KeyFile = filepath.Join(t.TempDir(), "west-rsa.pem")
	if err := os.WriteFile(w.West.KeyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	alg, b64, err := dnskeys.PublicKeyBase64(&westKey.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	rev := func(a netip.Addr) string { return oetest.ReverseName(t, a) }
	records := []string{
		fmt.Sprintf("%s 300 IN PTR west.oe.test.", rev(oetest.WestAddr4)),
		fmt.Sprintf("%s 300 IN PTR east.oe.test.", rev(oetest.EastAddr4)),
		fmt.Sprintf("%s 300 IN PTR dns.oe.test.", rev(oetest.DNSAddr4)),
		fmt.Sprintf("%s 300 IN IPSECKEY 10 0 %d . %s", rev(oetest.WestAddr4), alg, b64),
		fmt.Sprintf("%s 300 IN IPSECKEY %s", rev(oetest.EastAddr4), eastRR),
	}
	t1 := time.Now()
	w.Tree = dnskeystest.BuildTree(t,
		dnskeystest.ZoneSpec{Name: oetest.ZoneRoot},
		dnskeystest.ZoneSpec{Name: oetest.ZoneInArpa},
		dnskeystest.ZoneSpec{Name: oetest.ZoneRev4, Records: records})
	w.Server = oetest.ServeDNS(t, w.DNS, w.Tree)
	t.Logf("signed tree and DNS service in %s", time.Since(t1).Round(time.Millisecond))
	return w
}

var ckaidRE = regexp.MustCompile(`ckaid: ([0-9a-f]+)`)

// plutoHostKey makes an RSA host key in pluto's NSS database (the
// smallest libreswan allows, to keep key generation short in the emulated
// guest) and returns its CKAID and the RDATA of its IPSECKEY record as
// `ipsec showhostkey --ipseckey` prints it (RFC 4025: precedence 10, no
// gateway, algorithm 2).
func plutoHostKey(nss string) (ckaid, rdata string, err error) {
	run := func(args ...string) (string, error) {
		out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
		if err != nil {
			return "", fmt.Errorf("%v: %v\n%s", args, err, out)
		}
		return string(out), nil
	}
	if _, err := run("ipsec", "newhostkey", "--nssdir", nss, "--bits", "2192"); err != nil {
		return "", "", err
	}
	out, err := run("ipsec", "showhostkey", "--nssdir", nss, "--list")
	if err != nil {
		return "", "", err
	}
	m := ckaidRE.FindStringSubmatch(out)
	if m == nil {
		return "", "", fmt.Errorf("no ckaid in showhostkey --list:\n%s", out)
	}
	out, err = run("ipsec", "showhostkey", "--nssdir", nss, "--ipseckey", "--ckaid", m[1])
	if err != nil {
		return "", "", err
	}
	_, rest, ok := strings.Cut(out, "IPSECKEY")
	if !ok || !strings.HasPrefix(strings.TrimSpace(rest), "10 0 2 . ") {
		return "", "", fmt.Errorf("showhostkey --ipseckey: want an RSA record without gateway, got:\n%s", out)
	}
	return m[1], strings.Join(strings.Fields(rest), " "), nil
}

// plutoConf is east's ipsec.conf: libreswan's OE policy groups with keys
// from DNS, both ends authenticated by RSA signatures (as in libreswan's
// dnsoe tests, but symmetric and in transport mode), failing open for
// private-or-clear and holding (dropping) packets while negotiating.
const plutoConf = `config setup
	plutodebug=none
	dnssec-enable=yes
	dnssec-rootkey-file=%[1]s

conn clear
	type=passthrough
	authby=never
	left=%[2]s
	right=%%group
	auto=ondemand

conn private-or-clear
	type=transport
	ikev2=insist
	left=%[2]s
	leftckaid=%[3]s
	leftauth=rsasig
	leftupdown=/bin/true
	right=%%opportunisticgroup
	rightauth=rsasig
	rightrsasigkey=%%dnsondemand
	negotiationshunt=hold
	failureshunt=passthrough
	keyingtries=1
	retransmit-timeout=10s
	auto=ondemand
`

// startPluto builds the libunbound shim, writes east's configuration and
// policy groups, and starts pluto in east's namespace with the shim
// preloaded and the test's resolver as its forwarder.
func (w *libreswanWorld) startPluto(t *testing.T) {
	t.Helper()
	dir := w.pluto.Dir
	shim := filepath.Join(dir, "ubshim.so")
	if out, err := exec.Command("gcc", "-shared", "-fPIC", "-O1", "-Wall", "-o", shim, "testdata/ubshim.c", "-ldl").CombinedOutput(); err != nil {
		t.Fatalf("build the libunbound shim: %v\n%s", err, out)
	}
	ipsecdir := filepath.Join(dir, "ipsec.d")
	if err := os.MkdirAll(filepath.Join(ipsecdir, "policies"), 0o755); err != nil {
		t.Fatal(err)
	}
	files := map[string]string{
		filepath.Join(dir, "ipsec.conf"):                        fmt.Sprintf(plutoConf, w.Tree.Anchor, oetest.EastAddr4, w.plutoCKAID),
		filepath.Join(dir, "ipsec.secrets"):                     "",
		filepath.Join(dir, "resolv.conf"):                       fmt.Sprintf("nameserver %s\n", w.DNS.Addr4),
		filepath.Join(ipsecdir, "policies", "private-or-clear"): oetest.Prefix4.String() + "\n",
		filepath.Join(ipsecdir, "policies", "clear"):            netip.PrefixFrom(w.DNS.Addr4, 32).String() + "\n",
	}
	for p, text := range files {
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	stderr := filepath.Join(dir, "pluto.stderr")
	errf, err := os.Create(stderr)
	if err != nil {
		t.Fatal(err)
	}
	defer errf.Close()
	cmd := w.East.NS.Cmd("/usr/libexec/ipsec/pluto", "--nofork",
		"--config", filepath.Join(dir, "ipsec.conf"),
		"--rundir", filepath.Join(dir, "run"),
		"--nssdir", filepath.Join(dir, "nss"),
		"--ipsecdir", ipsecdir,
		"--secretsfile", filepath.Join(dir, "ipsec.secrets"),
		"--logfile", filepath.Join(dir, "pluto.log"),
		"--dumpdir", filepath.Join(dir, "dump"),
		"--dnssec-rootkey-file", w.Tree.Anchor)
	cmd.Env = append(os.Environ(), "LD_PRELOAD="+shim, "OETEST_RESOLV_CONF="+filepath.Join(dir, "resolv.conf"))
	cmd.Stdout, cmd.Stderr = errf, errf
	if err := cmd.Start(); err != nil {
		t.Fatalf("start pluto: %v", err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			b, _ := os.ReadFile(stderr)
			t.Logf("pluto on east: stderr:\n%s\nlog:\n%s", b, w.pluto.Log())
		}
	})
	ctl := filepath.Join(dir, "run", "pluto.ctl")
	deadline := time.Now().Add(60 * time.Second)
	for {
		if _, err := os.Stat(ctl); err == nil {
			break
		}
		select {
		case <-done:
			b, _ := os.ReadFile(stderr)
			t.Fatalf("pluto exited before opening %s:\n%s\n%s", ctl, b, w.pluto.Log())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("pluto did not open %s in 60 s", ctl)
		}
		time.Sleep(50 * time.Millisecond)
	}
	w.pluto.Whack(t, "--listen")
	w.pluto.AddConn(t, "--autoall")
	// The policy groups are loaded asynchronously: wait for the trap of
	// the test link.
	deadline = time.Now().Add(60 * time.Second)
	for {
		if _, ok := w.East.TrapFor(t, oetest.WestAddr4); ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("pluto installed no trap for %s in 60 s:\n%s\n%s", oetest.WestAddr4, w.East.XfrmDump(t), w.pluto.Log())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// waitPlutoSA waits until pluto lists a Child SA with peer.
func (w *libreswanWorld) waitPlutoSA(t *testing.T, peer netip.Addr, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		out := w.pluto.Whack(t, "--trafficstatus")
		if strings.Contains(out, peer.String()) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("pluto lists no SA with %s after %s:\n%s", peer, d, out)
		}
		time.Sleep(250 * time.Millisecond)
	}
}
