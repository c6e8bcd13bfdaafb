package pkgtest

import (
	"bufio"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/oe-agent/oe-agent/agent/config"
)

// repo is the repository root, seen from this package's directory.
const repo = "../.."

func readRepo(t *testing.T, rel string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repo, rel))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// installedFS lays the package's /etc/oe-agent out as postinst leaves it
// (with a host key), plus a root trust anchor, in a MapFS. conf replaces
// the shipped oe-agent.conf when not nil.
func installedFS(t *testing.T, conf []byte) fstest.MapFS {
	t.Helper()
	if conf == nil {
		conf = readRepo(t, "packaging/oe-agent.conf")
	}
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	fsys := fstest.MapFS{
		"etc/oe-agent/oe-agent.conf":    {Data: conf, Mode: 0o644},
		"etc/oe-agent/oe-agent.secrets": {Data: readRepo(t, "packaging/oe-agent.secrets"), Mode: 0o600},
		"etc/oe-agent/hostkey.pem":      {Data: pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), Mode: 0o600},
		"usr/share/dns/root.key":        {Data: readRepo(t, "agent/config/testdata/full/usr/share/dns/root.key"), Mode: 0o644},
	}
	for _, g := range config.Groups {
		fsys["etc/oe-agent/policies/"+g.String()] = &fstest.MapFile{Data: readRepo(t, "packaging/policies/"+g.String()), Mode: 0o644}
	}
	return fsys
}

// TestShippedConfigurationLoads loads what the package installs, as
// oe-agentd does at start: no error, no warning, OE on with every policy
// group empty (so installing the package changes no traffic).
func TestShippedConfigurationLoads(t *testing.T) {
	b, err := config.LoadBundle(installedFS(t, nil), config.DefaultConfigPath)
	if err != nil {
		t.Fatalf("the shipped configuration does not load:\n%v", err)
	}
	for _, w := range b.Warnings {
		t.Errorf("warning: %v", w)
	}
	s := b.Config.Setup
	if !s.OE || b.Policies == nil {
		t.Fatalf("OE is off in the shipped configuration")
	}
	for _, g := range config.Groups {
		if n := len(b.Policies.Groups[g]); n != 0 {
			t.Errorf("policy group %s ships with %d entries; all groups must be empty", g, n)
		}
	}
	if len(b.Policies.Files) != len(config.Groups) {
		t.Errorf("policy group files read: %v, want all %d", b.Policies.Files, len(config.Groups))
	}
	if !reflect.DeepEqual(s.DNSSECAnchors, []string{"/usr/share/dns/root.key"}) {
		t.Errorf("dnssec-anchors = %v, want dns-root-data's /usr/share/dns/root.key", s.DNSSECAnchors)
	}
	if len(b.Config.Conns) != 0 {
		t.Errorf("the shipped configuration has conns: %v", b.Config.Conns)
	}
	if b.HostKey == nil {
		t.Errorf("host key not loaded")
	}
}

// TestShippedCommentedDefaultsAreTrue uncomments, one at a time, each
// "#key=value" the shipped config setup section shows as the default, and
// checks that the daemon ends up with the same settings as without it: a
// comment that claims a default must not lie.
func TestShippedCommentedDefaultsAreTrue(t *testing.T) {
	conf := readRepo(t, "packaging/oe-agent.conf")
	base, err := config.LoadBundle(installedFS(t, conf), config.DefaultConfigPath)
	if err != nil {
		t.Fatal(err)
	}
	commented := regexp.MustCompile(`(?m)^\t#([a-z-]+)=(\S+)$`)
	inSetup := setupSection(string(conf))
	n := 0
	for _, m := range commented.FindAllStringSubmatchIndex(inSetup, -1) {
		key := inSetup[m[2]:m[3]]
		line := inSetup[m[0]:m[1]]
		variant := strings.Replace(string(conf), line, "\t"+strings.TrimPrefix(line, "\t#"), 1)
		b, err := config.LoadBundle(installedFS(t, []byte(variant)), config.DefaultConfigPath)
		if err != nil {
			t.Errorf("uncommenting %q: %v", line, err)
			continue
		}
		got, want := effective(b.Config.Setup), effective(base.Config.Setup)
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: the commented value is not the default:\n got %+v\nwant %+v", key, got, want)
		}
		n++
	}
	if n < 8 {
		t.Errorf("only %d commented defaults found in config setup; the pattern no longer matches the file", n)
	}
}

// effective is what the daemon uses of a Setup: positions do not count.
func effective(s config.Setup) config.Setup {
	s.Pos = config.Pos{}
	return s
}

// setupSection returns the config setup section of an ipsec.conf text.
func setupSection(conf string) string {
	i := strings.Index(conf, "\nconfig setup\n")
	if i < 0 {
		return ""
	}
	rest := conf[i+1:]
	end := regexp.MustCompile(`(?m)^\S`).FindAllStringIndex(rest, 2)
	if len(end) == 2 {
		return rest[:end[1][0]]
	}
	return rest
}

// roffText turns a man page source into searchable text: escapes and font
// changes removed.
func roffText(b []byte) string {
	r := strings.NewReplacer(`\-`, "-", `\fB`, "", `\fR`, "", `\fI`, "", `\fP`, "", `\(en`, "-", `\(dq`, `"`)
	return r.Replace(string(b))
}

// TestManPageDocumentsEveryKey checks that oe-agent.conf(5) names every key
// that the configuration code writes out (config.Format of a configuration
// that uses every key, agent/config's golden test input): config setup
// keys, conn keys and, through their left* form, the per-end keys.
func TestManPageDocumentsEveryKey(t *testing.T) {
	man := roffText(readRepo(t, "packaging/man/oe-agent.conf.5"))
	cfg, err := config.Parse(os.DirFS(filepath.Join(repo, "agent/config/testdata/full")), config.DefaultConfigPath)
	if err != nil {
		t.Fatalf("agent/config's full test configuration: %v", err)
	}
	keys := map[string]bool{}
	key := regexp.MustCompile(`(?m)^\t([a-z_-]+)=`)
	for _, m := range key.FindAllStringSubmatch(config.Format(cfg), -1) {
		k := m[1]
		if s, ok := strings.CutPrefix(k, "right"); ok {
			k = "left" + s
		}
		keys[k] = true
	}
	if len(keys) < 30 {
		t.Fatalf("only %d keys found in config.Format output", len(keys))
	}
	var missing []string
	for k := range keys {
		if !regexp.MustCompile(`(^|[\s(,])` + regexp.QuoteMeta(k) + `=`).MatchString(man) {
			missing = append(missing, k)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("oe-agent.conf(5) does not document: %s", strings.Join(missing, ", "))
	}
}

var (
	flagDef    = regexp.MustCompile(`fs\.(?:Bool|String|Int|Duration)\("([a-z-]+)"`)
	commandDef = regexp.MustCompile(`(?m)^\t\t\{"([a-z]+)", "`)
)

// TestManPagesDocumentFlagsAndCommands checks oe-agentd(8) against the
// daemon's flags, and oectl(8) against oectl's commands and flags, as the
// code defines them.
func TestManPagesDocumentFlagsAndCommands(t *testing.T) {
	check := func(page string, srcs []string, re *regexp.Regexp, format string) {
		t.Helper()
		man := roffText(readRepo(t, page))
		found := 0
		for _, src := range srcs {
			for _, m := range re.FindAllStringSubmatch(string(readRepo(t, src)), -1) {
				found++
				want := strings.ReplaceAll(format, "NAME", m[1])
				if !regexp.MustCompile(want).MatchString(man) {
					t.Errorf("%s does not document %q (from %s)", page, m[1], src)
				}
			}
		}
		if found == 0 {
			t.Errorf("no definitions found in %v: the pattern no longer matches the code", srcs)
		}
	}
	check("packaging/man/oe-agentd.8", []string{"cmd/oe-agentd/main.go"}, flagDef, `(?m)^\.B[IR]? --NAME\b`)
	check("packaging/man/oectl.8", []string{"cmd/oectl/main.go"}, flagDef, `(?m)^\.B[IR]? --NAME\b`)
	check("packaging/man/oectl.8", []string{"cmd/oectl/keygen.go", "cmd/oectl/commands.go"}, flagDef, `--NAME\b`)
	check("packaging/man/oectl.8", []string{"cmd/oectl/main.go"}, commandDef, `(?m)^\.B[IR]? "?NAME\b`)
}

// unitFile parses a systemd unit into key -> values (in order).
func unitFile(t *testing.T, rel string) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	sc := bufio.NewScanner(strings.NewReader(string(readRepo(t, rel))))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' || line[0] == '[' {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			t.Fatalf("%s: bad line %q", rel, line)
		}
		out[k] = append(out[k], v)
	}
	return out
}

// TestUnitFile checks the settings the service's behaviour rests on, and
// its hardening: what XFRM needs stays allowed, the rest stays closed.
func TestUnitFile(t *testing.T) {
	u := unitFile(t, "packaging/oe-agentd.service")
	want := map[string]string{
		"Type":                    "notify",
		"ExecStart":               "/usr/sbin/oe-agentd",
		"ExecReload":              "/usr/sbin/oectl reload",
		"ExecStopPost":            "/usr/sbin/oe-agentd --cleanup",
		"RuntimeDirectory":        "oe-agent",
		"Group":                   "oe-agent",
		"CapabilityBoundingSet":   "CAP_NET_ADMIN CAP_NET_BIND_SERVICE",
		"ProtectSystem":           "strict",
		"ProtectHome":             "yes",
		"NoNewPrivileges":         "yes",
		"RestrictAddressFamilies": "AF_UNIX AF_NETLINK AF_INET AF_INET6",
		"WantedBy":                "multi-user.target",
	}
	for k, v := range want {
		if got := u[k]; len(got) != 1 || got[0] != v {
			t.Errorf("%s=%v, want %s", k, got, v)
		}
	}
	// The daemon reads /proc/sys/net/core/xfrm_larval_drop: ProcSubset=pid
	// would hide it.
	if v := u["ProcSubset"]; len(v) > 0 {
		t.Errorf("ProcSubset=%v hides /proc/sys from the daemon", v)
	}
	if !strings.Contains(string(readRepo(t, "debian/oe-agent.sysusers")), "g oe-agent ") {
		t.Errorf("debian/oe-agent.sysusers does not create the unit's group oe-agent")
	}
	rules := string(readRepo(t, "debian/rules"))
	for _, bin := range []string{"/usr/sbin/oe-agentd", "/usr/sbin/oectl"} {
		if !strings.Contains(rules, "$(PKGDIR)"+bin) {
			t.Errorf("debian/rules does not install %s, which the unit runs", bin)
		}
	}
	if _, err := exec.LookPath("systemd-analyze"); err != nil {
		t.Log("systemd-analyze not installed: exposure level not checked here (the vm tier checks it)")
		return
	}
	out, err := exec.Command("systemd-analyze", "security", "--offline=yes", "--threshold=25",
		filepath.Join(repo, "packaging/oe-agentd.service")).CombinedOutput()
	if err != nil {
		t.Errorf("systemd-analyze security: exposure above 2.5 or error: %v\n%s", err, out)
	}
}

// TestPackageInstallsShippedFiles checks that debian/ installs every file
// of packaging/ that is meant for the system.
func TestPackageInstallsShippedFiles(t *testing.T) {
	install := string(readRepo(t, "debian/oe-agent.install"))
	for _, f := range []string{"packaging/oe-agentd.service", "packaging/oe-agent.conf", "packaging/oe-agent.secrets", "packaging/policies/*"} {
		if !strings.Contains(install, f+" ") {
			t.Errorf("debian/oe-agent.install does not install %s", f)
		}
	}
	pages, _ := filepath.Glob(filepath.Join(repo, "packaging/man/*.[0-9]"))
	manpages := string(readRepo(t, "debian/oe-agent.manpages"))
	if len(pages) != 3 {
		t.Errorf("packaging/man has %d pages, want oe-agentd.8, oectl.8, oe-agent.conf.5", len(pages))
	}
	for _, p := range pages {
		if rel := "packaging/man/" + filepath.Base(p); !strings.Contains(manpages, rel+"\n") {
			t.Errorf("debian/oe-agent.manpages does not install %s", rel)
		}
	}
	for _, g := range config.Groups {
		if _, err := os.Stat(filepath.Join(repo, "packaging/policies", g.String())); err != nil {
			t.Errorf("policy group file: %v", err)
		}
	}
}
