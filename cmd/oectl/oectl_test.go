package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/oe-agent/oe-agent/agent/api"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// sampleStatus has one of each kind of row: a static connection that is up,
// one that failed, an OE peer that is up, and one behind a pass shunt.
func sampleStatus() *api.Status {
	t0 := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	return &api.Status{
		Version: "1.0.0", Started: t0, Now: t0.Add(2*time.Hour + 3*time.Minute), Config: "/etc/oe-agent/oe-agent.conf",
		Conns: []api.Conn{
			{
				Name: "west-east", Type: "transport", Auto: "start", State: api.StateUp,
				Local:  api.End{Addr: "192.0.2.1", ID: "192.0.2.1", Auth: "rsasig"},
				Remote: api.End{Addr: "192.0.2.2", ID: "192.0.2.2", Auth: "rsasig", KeySource: "config"},
				IKE:    &api.IKESA{SPIi: "0102030405060708", SPIr: "1112131415161718", Initiator: true, Proposal: "AES_GCM_16_256/PRF_HMAC_SHA2_256/CURVE25519", Established: t0.Add(time.Hour), NextRekey: t0.Add(5 * time.Hour)},
				Children: []api.ChildSA{{Mode: "transport", Protocol: "esp", SPIIn: 0xc2018b7a, SPIOut: 0x69e6b622, Proposal: "AES_GCM_16_256",
					LocalTS: []string{"192.0.2.1/32"}, RemoteTS: []string{"192.0.2.2/32"}, BytesIn: 123456, BytesOut: 654321, PacketsIn: 100, PacketsOut: 120,
					Established: t0.Add(time.Hour + 30*time.Minute), NextRekey: t0.Add(2*time.Hour + 50*time.Minute)}},
			},
			{
				Name: "to-lab", Type: "tunnel", Auto: "route", State: api.StateFailed,
				Local:     api.End{Addr: "192.0.2.1", ID: "@west.example", Subnets: []string{"198.51.100.0/24"}, Auth: "secret"},
				Remote:    api.End{Addr: "203.0.113.9", ID: "@lab.example", Subnets: []string{"203.0.113.0/24"}, Auth: "secret", KeySource: "psk"},
				LastError: "peer sent AUTHENTICATION_FAILED",
			},
		},
		Peers: []api.Peer{
			{
				Addr: "192.0.2.7", Group: "private-or-clear", State: api.StateUp, Since: t0.Add(2 * time.Hour),
				Local:    api.End{ID: "192.0.2.1"},
				Remote:   api.End{ID: "192.0.2.7", KeySource: "dns secure (., in-addr.arpa., 2.0.192.in-addr.arpa.)"},
				Children: []api.ChildSA{{Mode: "transport", Protocol: "esp", SPIIn: 0xabcdef01, SPIOut: 0x01020304, BytesIn: 2048, BytesOut: 4096, PacketsIn: 2, PacketsOut: 4, Established: t0.Add(2 * time.Hour)}},
			},
			{
				Addr: "192.0.2.9", Group: "private-or-clear", State: api.StatePassthrough, Since: t0.Add(2*time.Hour + time.Minute),
				Remote: api.End{KeySource: "dns secure denial"}, ShuntExpires: t0.Add(2*time.Hour + 16*time.Minute),
				LastError: "no IPSECKEY for 9.2.0.192.in-addr.arpa. (proven)",
			},
		},
		Counters: api.Counters{Acquires: 3, Negotiations: 2, NegotiationErrors: 1, DNSLookups: 2},
	}
}

// serve answers the status route with st on a unix socket.
func serve(t *testing.T, st *api.Status) string {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "ctl.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+api.RouteStatus, func(w http.ResponseWriter, r *http.Request) { json.NewEncoder(w).Encode(st) })
	mux.HandleFunc("POST "+api.RouteUp, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNotFound)
		json.NewEncoder(w).Encode(&api.Error{Code: "not-found", Message: `no connection "` + r.URL.Query().Get("name") + `"`})
	})
	srv := &http.Server{Handler: mux}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return sock
}

// oectl runs the command line and returns exit code, stdout and stderr.
func oectl(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	Stdout, Stderr = &out, &errb
	defer func() { Stdout, Stderr = os.Stdout, os.Stderr }()
	code := run(args)
	return code, out.String(), errb.String()
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs from golden file (-update to accept):\n--- got ---\n%s\n--- want ---\n%s", name, got, want)
	}
}

func TestStatusGolden(t *testing.T) {
	sock := serve(t, sampleStatus())
	for _, tc := range []struct {
		args   []string
		golden string
	}{
		{[]string{"status"}, "status.table.golden"},
		{[]string{"status", "--json"}, "status.json.golden"},
		{[]string{"status", "dump"}, "status.dump.golden"},
	} {
		code, out, errs := oectl(t, append([]string{"--socket", sock}, tc.args...)...)
		if code != exitOK || errs != "" {
			t.Fatalf("%v: exit %d, stderr %q", tc.args, code, errs)
		}
		golden(t, tc.golden, out)
	}
}

func TestStatusJSONIsTheAPIStruct(t *testing.T) {
	sock := serve(t, sampleStatus())
	_, out, _ := oectl(t, "--socket", sock, "status", "--json")
	var back api.Status
	if err := json.Unmarshal([]byte(out), &back); err != nil {
		t.Fatal(err)
	}
	if back.Conns[0].Children[0].SPIIn != 0xc2018b7a || back.Peers[1].ShuntExpires.IsZero() {
		t.Fatalf("JSON lost fields: %+v", back)
	}
}

func TestDumpIsStable(t *testing.T) {
	sock := serve(t, sampleStatus())
	_, out, _ := oectl(t, "--socket", sock, "status", "dump")
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != 4 {
		t.Fatalf("want 4 lines, got %d", len(lines))
	}
	for _, l := range lines {
		f := strings.Split(l, "\t")
		want := map[string]int{"conn": 19, "peer": 18}[f[0]]
		if len(f) != want {
			t.Errorf("%s line has %d fields, want %d: %q", f[0], len(f), want, l)
		}
		for i, v := range f {
			if v == "" {
				t.Errorf("empty field %d in %q (want -)", i, l)
			}
		}
	}
}

func TestNotRunningGolden(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "oe-agentd.sock")
	code, out, errs := oectl(t, "--socket", sock, "status")
	if code != exitNotRunning || out != "" {
		t.Fatalf("exit %d, stdout %q", code, out)
	}
	golden(t, "notrunning.golden", strings.ReplaceAll(errs, sock, "SOCKET"))
}

func TestErrorsAndUsage(t *testing.T) {
	sock := serve(t, sampleStatus())
	for _, tc := range []struct {
		args     []string
		code     int
		errMatch string
	}{
		{[]string{"--socket", sock, "up", "nope"}, exitError, `oectl up: no connection "nope"`},
		{[]string{"--socket", sock, "up"}, exitUsage, "oectl up: needs exactly one connection name"},
		{[]string{"--socket", sock, "status", "--xml"}, exitUsage, "oectl status: takes --json or dump"},
		{[]string{"frobnicate"}, exitUsage, `unknown command "frobnicate"`},
		{[]string{"keygen", "--type", "dsa", "--out", "-"}, exitUsage, `unknown --type "dsa"`},
		{[]string{"keygen", "--type", "rsa", "--bits", "512", "--out", "-"}, exitUsage, "--bits 512 outside 2048..8192"},
		{[]string{"completion", "zsh"}, exitUsage, "supports only: oectl completion bash"},
	} {
		code, _, errs := oectl(t, tc.args...)
		if code != tc.code || !strings.Contains(errs, tc.errMatch) {
			t.Errorf("%v: exit %d stderr %q; want exit %d containing %q", tc.args, code, errs, tc.code, tc.errMatch)
		}
	}
}

func TestKeygenWritesPrivateFileAndKeepsExisting(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "hostkey.pem")
	if code, _, errs := oectl(t, "keygen", "--out", path); code != 0 {
		t.Fatalf("keygen: %d %s", code, errs)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %o", fi.Mode().Perm())
	}
	first, _ := os.ReadFile(path)
	code, _, errs := oectl(t, "keygen", "--out", path)
	if code != exitError || !strings.Contains(errs, "already exists") {
		t.Fatalf("second keygen: %d %q", code, errs)
	}
	if again, _ := os.ReadFile(path); !bytes.Equal(first, again) {
		t.Fatal("existing key was changed")
	}
	if code, _, _ := oectl(t, "keygen", "--out", path, "--force"); code != 0 {
		t.Fatal("--force failed")
	}
}

func TestCompletionListsCommands(t *testing.T) {
	_, out, _ := oectl(t, "completion", "bash")
	if !strings.Contains(out, "status up down reload lookup trace showhostkey keygen completion version") {
		t.Fatalf("completion lacks the command list:\n%s", out)
	}
	if _, err := exec.LookPath("bash"); err == nil {
		cmd := exec.Command("bash", "-n")
		cmd.Stdin = strings.NewReader(out)
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("bash -n: %v: %s", err, b)
		}
	}
}

// TestImportsOnlyAPIAndClient enforces the layering: oectl must not reach
// into the daemon's packages.
func TestImportsOnlyAPIAndClient(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}}", ".").Output()
	if err != nil {
		t.Skipf("go list unavailable: %v", err)
	}
	for _, p := range strings.Fields(string(out)) {
		if strings.HasPrefix(p, "github.com/oe-agent/oe-agent/") && p != "github.com/oe-agent/oe-agent/cmd/oectl" &&
			p != "github.com/oe-agent/oe-agent/agent/api" && p != "github.com/oe-agent/oe-agent/agent/client" {
			t.Errorf("oectl depends on %s; it may import only agent/api and agent/client", p)
		}
	}
}
