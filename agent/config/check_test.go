package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"
)

func TestLoadBundle(t *testing.T) {
	b, err := LoadBundle(loadTree(t, "testdata/full"), fullConf)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(b.Secrets.Entries); n != 3 {
		t.Errorf("%d secrets", n)
	}
	if b.HostKey == nil || b.HostKey.AuthMethod() != AuthEdDSA {
		t.Errorf("host key %v", b.HostKey)
	}
	if b.Anchors == nil {
		t.Error("no trust anchors")
	}
	got := map[string]int{}
	for g, es := range b.Policies.Groups {
		got[g.String()] = len(es)
	}
	if diff := cmp.Diff(map[string]int{"private-or-clear": 2, "clear": 3, "private": 1, "block": 1}, got); diff != "" {
		t.Errorf("policies (-want +got):\n%s", diff)
	}
}

func TestLoadBundleErrors(t *testing.T) {
	tests := []struct {
		name   string
		change func(m map[string][]byte)
		want   []string
	}{
		{"no secrets file: the PSK conn has no key", func(m map[string][]byte) {
			delete(m, "etc/oe-agent/oe-agent.secrets")
		}, []string{
			`/etc/oe-agent/oe-agent.conf:91: conn psk: authby=secret but /etc/oe-agent/oe-agent.secrets has no PSK for 192.0.2.1 and user@example.org`,
		}},
		{"no host key: an end without a public key has no private key", func(m map[string][]byte) {
			delete(m, "etc/oe-agent/hostkey.pem")
		}, []string{
			`/etc/oe-agent/oe-agent.conf:42: conn host-host: eddsa authentication of 192.0.2.1 needs a private key: a matching host key or an EDDSA entry in /etc/oe-agent/oe-agent.secrets`,
		}},
		{"errors in several files are all reported", func(m map[string][]byte) {
			m["etc/oe-agent/oe-agent.secrets"] = []byte("@a PSK \"x\"\n")
			m["etc/oe-agent/policies/private"] = []byte("10.0.0.0/33\n")
			m["usr/share/dns/root.key"] = []byte(". IN A 192.0.2.1\n")
		}, []string{
			`/etc/oe-agent/oe-agent.secrets:1: missing " : " between the identities and the secret (the colon needs white space around it)`,
			`/etc/oe-agent/policies/private:1: invalid subnet "10.0.0.0/33"`,
			`/usr/share/dns/root.key: dnskeys: trust anchors /usr/share/dns/root.key: .: A records are not trust anchors (want DS or DNSKEY)`,
		}},
		{"a config error stops before the other files", func(m map[string][]byte) {
			m["etc/oe-agent/conf.d/10-site.conf"] = append(m["etc/oe-agent/conf.d/10-site.conf"], "\tesp=aes\n"...)
			delete(m, "etc/oe-agent/hostkey.pem")
		}, []string{
			`/etc/oe-agent/conf.d/10-site.conf:8: conn site-defaults: duplicate key "esp" (already set at line 4)`,
		}},
		{"OE without NULL auth needs a host key", func(m map[string][]byte) {
			delete(m, "etc/oe-agent/hostkey.pem")
			m["etc/oe-agent/oe-agent.conf"] = []byte(strings.Replace(string(m["etc/oe-agent/oe-agent.conf"]), "mark=0x10/0xff\n\tauto=route", "mark=0x10/0xff\n\tauto=ignore", 1))
		}, []string{
			`/etc/oe-agent/oe-agent.conf:4: config setup: oe-authnull=no but there is no host key (/etc/oe-agent/hostkey.pem): opportunistic encryption could never authenticate this host`,
		}},
		{"missing trust anchor file", func(m map[string][]byte) {
			delete(m, "usr/share/dns/root.key")
		}, []string{
			`/etc/oe-agent/oe-agent.conf:4: config setup: dnssec-anchors: cannot read /usr/share/dns/root.key: file does not exist`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fsys := loadTree(t, "testdata/full")
			m := map[string][]byte{}
			for k, v := range fsys {
				m[k] = v.Data
			}
			tt.change(m)
			for k := range fsys {
				if _, ok := m[k]; !ok {
					delete(fsys, k)
				}
			}
			for k, v := range m {
				if f, ok := fsys[k]; ok {
					f.Data = v
				} else {
					fsys[k] = &fstest.MapFile{Data: v, Mode: 0o600}
				}
			}
			_, err := LoadBundle(fsys, fullConf)
			if diff := cmp.Diff(tt.want, errLines(err)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestBundleWarnings(t *testing.T) {
	fsys := loadTree(t, "testdata/full")
	conf := fsys["etc/oe-agent/oe-agent.conf"]
	conf.Data = []byte(strings.Replace(string(conf.Data), "oe=yes", "oe=no", 1) +
		"\nconn private-or-clear\n\tleft=192.0.2.1\n\tright=198.51.100.3\n\tauthby=null\n\tauto=add\n")
	b, err := LoadBundle(fsys, fullConf)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, w := range b.Warnings {
		if !strings.Contains(w.Msg, "is spelled") && !strings.Contains(w.Msg, "PSK of") {
			got = append(got, w.Error())
		}
	}
	want := []string{
		`/etc/oe-agent/oe-agent.conf:4: config setup: oe=no: the 7 entries of the policy group files in /etc/oe-agent/policies are ignored`,
		`/etc/oe-agent/oe-agent.conf:120: conn private-or-clear: in libreswan a conn named "private-or-clear" defines an OE group; in oe-agent it is an ordinary conn (OE groups are the files in /etc/oe-agent/policies)`,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if b.Policies != nil {
		t.Error("policies loaded with oe=no")
	}
}

// TestCheck runs the --check entry point on real files.
func TestCheck(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string, mode os.FileMode) {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil { // umask
			t.Fatal(err)
		}
	}
	root, _ := os.ReadFile("testdata/full/usr/share/dns/root.key")
	write("root.key", string(root), 0o644)
	write("oe.secrets", "192.0.2.1 198.51.100.1 : PSK \"a long enough secret\"\n", 0o600)
	write("policies/private-or-clear", "0.0.0.0/0\n", 0o644)
	write("oe.conf", `config setup
	oe-authnull=yes
	secrets=oe.secrets
	hostkey=hostkey.pem
	oe-policy-dir=policies
	dnssec-anchors=root.key
	ctlsocket=oe.ctl

conn c
	left=192.0.2.1
	right=198.51.100.1
	authby=secret
	auto=start
`, 0o644)
	// Check takes a path relative to the working directory too.
	wd, _ := os.Getwd()
	rel, err := filepath.Rel(wd, filepath.Join(dir, "oe.conf"))
	if err != nil {
		t.Fatal(err)
	}
	if errs := Check(rel); errs != nil {
		t.Fatalf("Check: %v", errs)
	}
	b, err := Load(filepath.Join(dir, "oe.conf"))
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.ToSlash(filepath.Join(dir, "oe.ctl")); b.Config.Setup.CtlSocket != want {
		t.Errorf("ctlsocket %q, want %q", b.Config.Setup.CtlSocket, want)
	}
	if len(b.Warnings) != 1 || !strings.Contains(b.Warnings[0].Msg, "no host key") {
		t.Errorf("warnings: %v", b.Warnings)
	}

	// Root reads any file; the mode check is ours, not the kernel's.
	os.Chmod(filepath.Join(dir, "oe.secrets"), 0o640)
	errs := Check(filepath.Join(dir, "oe.conf"))
	want := filepath.ToSlash(filepath.Join(dir, "oe.secrets")) + ": is accessible by group or others (mode 0640): it holds secrets and must be mode 0600 or stricter (chmod 600 " +
		filepath.ToSlash(filepath.Join(dir, "oe.secrets")) + ")"
	if len(errs) != 1 || errs[0].Error() != want {
		t.Errorf("Check with a readable secrets file:\n got %v\nwant %s", errs, want)
	}
	if os.Geteuid() == 0 {
		// A secrets file owned by another user is refused: that user could
		// replace the keys.
		os.Chmod(filepath.Join(dir, "oe.secrets"), 0o600)
		if err := os.Chown(filepath.Join(dir, "oe.secrets"), 4242, 4242); err != nil {
			t.Fatal(err)
		}
		errs = Check(filepath.Join(dir, "oe.conf"))
		sec := filepath.ToSlash(filepath.Join(dir, "oe.secrets"))
		want := sec + ": is owned by uid 4242: a file holding secrets must be owned by root or by the daemon's user (chown root " + sec + ")"
		if len(errs) != 1 || errs[0].Error() != want {
			t.Errorf("Check with a foreign-owned secrets file:\n got %v\nwant %s", errs, want)
		}
	}
	if errs := Check(filepath.Join(dir, "missing.conf")); len(errs) != 1 || !strings.Contains(errs[0].Error(), "missing.conf: no such file or directory") {
		t.Errorf("Check of a missing file: %v", errs)
	}
}
