package config

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"
)

// FuzzParse feeds arbitrary text as the main configuration file (with one
// includable file and one public key file beside it). Parse must not
// panic; every error must carry file:line; and whatever parses must survive
// the Format round trip unchanged.
func FuzzParse(f *testing.F) {
	f.Add([]byte(okConn))
	f.Add([]byte("config setup\n\toe=no\nconn %default\n\tike=aes_gcm256-sha2;dh31\ninclude inc.conf\nconn x\n\talso=inc\n\tleft=192.0.2.1\n\tright=%any\n\tauto=add\n\tauthby=null\n"))
	f.Add([]byte("conn m\n\tkeying=manual\n\tleft=192.0.2.1\n\tright=198.51.100.1\n\tesp=aes128gcm16\n\tspi=0x100\n\tespenckey=0x000102030405060708090a0b0c0d0e0f10111213\n\tauto=start\n"))
	f.Add([]byte("conn a\n\talso=b\nconn b\n\talso=a\n"))
	f.Add([]byte("conn r\n\tleft=%defaultroute\n\tright=192.0.2.9\n\trightrsasigkey=pub.pem\n\tauthby=eddsa\n\tauto=route\n"))
	pub := testKey(f, "ed25519-public.pem")
	// The golden tree supplies the includes and key files the seeds name,
	// so mutations of a complete configuration still parse.
	tree := loadTree(f, "testdata/full")
	f.Fuzz(func(t *testing.T, data []byte) {
		fsys := fstest.MapFS{
			"etc/oe-agent/oe-agent.conf": {Data: data, Mode: 0o600},
			"etc/oe-agent/inc.conf":      {Data: []byte("conn inc\n\tesp=aes256gcm16\n"), Mode: 0o600},
			"etc/oe-agent/pub.pem":       {Data: pub, Mode: 0o644},
		}
		for name, file := range tree {
			if _, ok := fsys[name]; !ok {
				fsys[name] = file
			}
		}
		cfg, err := Parse(fsys, confPath)
		if err != nil {
			var el *ErrorList
			if !errors.As(err, &el) {
				t.Fatalf("error of type %T: %v", err, err)
			}
			for _, e := range el.Errs {
				if e.File == "" || e.Line <= 0 {
					t.Fatalf("error without file:line: %q", e.Error())
				}
			}
			if cfg != nil {
				t.Fatal("Config returned with errors")
			}
			return
		}
		out := Format(cfg)
		fsys["etc/oe-agent/normalised.conf"] = &fstest.MapFile{Data: []byte(out), Mode: 0o600}
		again, err := Parse(fsys, "/etc/oe-agent/normalised.conf")
		if err != nil {
			t.Fatalf("Format output does not parse: %v\ninput:\n%s\noutput:\n%s", err, data, out)
		}
		if diff := cmp.Diff(cfg, again, cmpConfig...); diff != "" {
			t.Fatalf("round trip changed the model (-first +second):\n%s\ninput:\n%s", diff, data)
		}
	})
}

// FuzzProposals checks that proposal parsing never panics and that the
// canonical form of anything accepted reads back the same.
func FuzzProposals(f *testing.F) {
	for _, s := range []string{"aes_gcm256-sha2;dh31", "aes256gcm16-prfsha256-x25519", "aes-128-sha1;modp2048,3des-sha1!",
		"aes_gcm_c_256-none", "chacha20poly1305-esn", "aes256-sha2_512+sha2_256;dh19+dh20"} {
		f.Add(s, false)
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, s string, esp bool) {
		kind := ProposalIKE
		if esp {
			kind = ProposalESP
		}
		p, err := ParseProposals(s, kind)
		if err != nil {
			return
		}
		again, err := ParseProposals(p.String(), kind)
		if err != nil {
			t.Fatalf("%q -> %q does not parse: %v", s, p.String(), err)
		}
		if diff := cmp.Diff(p, again); diff != "" {
			t.Fatalf("%q -> %q parses differently:\n%s", s, p.String(), diff)
		}
	})
}

// FuzzSecrets checks that secrets parsing never panics, that errors carry
// the file, and that a parsed PSK never shows up when printed.
func FuzzSecrets(f *testing.F) {
	f.Add([]byte("@west @east : PSK \"secret\"\n%any : PSK 0sc2VjcmV0\n: RSA key.pem\ninclude x.secrets\n"))
	f.Add([]byte("192.0.2.1 2001:db8::1 : PSK 0x0102\n\t# continued\n@a : EDDSA 'key.pem'\n"))
	key := testKey(f, "ed25519-private.pem")
	f.Fuzz(func(t *testing.T, data []byte) {
		fsys := fstest.MapFS{
			"etc/oe-agent/oe-agent.secrets": {Data: data, Mode: 0o600},
			"etc/oe-agent/key.pem":          {Data: key, Mode: 0o600},
		}
		s, err := ParseSecrets(fsys, secretsPath)
		if err != nil {
			for _, e := range err.(*ErrorList).Errs {
				if e.File == "" {
					t.Fatalf("error without file: %q", e.Error())
				}
			}
			return
		}
		// The printed form must not depend on the key bytes: print the
		// entry, and a copy with other bytes of the same length.
		for _, e := range s.Entries {
			other := *e
			other.PSK = Key(strings.Repeat("\x00", len(e.PSK)))
			if got, alt := fmtAll(e), fmtAll(&other); got != alt {
				t.Fatalf("printed form depends on the PSK:\n%s\n%s", got, alt)
			}
		}
	})
}

func fmtAll(s *Secret) string {
	var b strings.Builder
	for _, v := range []string{"%v", "%+v", "%#v", "%s", "%x", "%q"} {
		b.WriteString(fmt.Sprintf(v, s))
		b.WriteString(fmt.Sprintf(v, *s))
	}
	return b.String()
}

// FuzzPolicyFile checks that policy lines never panic the parser and that
// accepted entries print back to a line that parses to the same entry.
func FuzzPolicyFile(f *testing.F) {
	f.Add([]byte("# c\n10.0.1.0/24 tcp 0 25\n0.0.0.0/0\n2001:db8::/32\n192.0.2.7\n"))
	f.Add([]byte("0.0.0.0/0 udp 53 0\n198.51.100.0/24 icmp 8 0\n::/0 58 128 0\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		es, err := ParsePolicyFile("/p", data)
		if err != nil {
			for _, e := range err.(*ErrorList).Errs {
				if e.Line <= 0 {
					t.Fatalf("error without line: %q", e.Error())
				}
			}
			return
		}
		for _, e := range es {
			again, err := ParsePolicyFile("/p", []byte(e.String()))
			if err != nil || len(again) != 1 || again[0].selector() != e.selector() {
				t.Fatalf("%q -> %q -> %v, %v", data, e.String(), again, err)
			}
		}
	})
}

// FuzzDuration checks ParseDuration/FormatDuration agree.
func FuzzDuration(f *testing.F) {
	for _, s := range []string{"3600", "1h30m", "1d12h", "500ms", "2w"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseDuration(s)
		if err != nil {
			return
		}
		if d < 0 || d > maxDuration {
			t.Fatalf("%q -> %v out of range", s, d)
		}
		back, err := ParseDuration(FormatDuration(d))
		if err != nil || back != d {
			t.Fatalf("%q -> %v -> %q -> %v, %v", s, d, FormatDuration(d), back, err)
		}
	})
}
