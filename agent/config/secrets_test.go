package config

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net/netip"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"
)

const secretsPath = "/etc/oe-agent/oe-agent.secrets"

func secretsFS(t *testing.T, text string, extra map[string]string) fstest.MapFS {
	files := map[string]string{secretsPath: text}
	for k, v := range extra {
		files[k] = v
	}
	m := mapFS(files)
	m["etc/oe-agent/keys/rsa.pem"] = &fstest.MapFile{Data: testKey(t, "rsa-private.pem"), Mode: 0o600}
	m["etc/oe-agent/keys/ed.pem"] = &fstest.MapFile{Data: testKey(t, "ed25519-private.pem"), Mode: 0o400}
	m["etc/oe-agent/keys/ec.pem"] = &fstest.MapFile{Data: testKey(t, "ecdsa-private.pem"), Mode: 0o600}
	return m
}

func TestParseSecrets(t *testing.T) {
	text := `# comment
@west @east : PSK "west and east share # this"
192.0.2.1 2001:db8::1 : PSK 0x0102030405060708
%any : PSK 0sc2VjcmV0LWZvci1hbnk=
: RSA keys/rsa.pem
@host.example : EDDSA
	/etc/oe-agent/keys/ed.pem
: ECDSA "keys/ec.pem"
include secrets.d/*.secrets
`
	fsys := secretsFS(t, text, map[string]string{"/etc/oe-agent/secrets.d/a.secrets": "@a : PSK 'single quoted'\n"})
	s, err := ParseSecrets(fsys, secretsPath)
	if err != nil {
		t.Fatal(err)
	}
	type row struct {
		IDs     []string
		Kind    SecretKind
		PSK     string
		KeyPath string
		Line    int
	}
	var got []row
	for _, e := range s.Entries {
		r := row{Kind: e.Kind, PSK: string(e.PSK), KeyPath: e.KeyPath, Line: e.Pos.Line}
		for _, id := range e.IDs {
			r.IDs = append(r.IDs, id.String())
		}
		if e.Kind != SecretPSK && e.Signer == nil {
			t.Errorf("line %d: no key loaded", e.Pos.Line)
		}
		got = append(got, r)
	}
	want := []row{
		{[]string{"@west", "@east"}, SecretPSK, "west and east share # this", "", 2},
		{[]string{"192.0.2.1", "2001:db8::1"}, SecretPSK, "\x01\x02\x03\x04\x05\x06\x07\x08", "", 3},
		{[]string{"%any"}, SecretPSK, "secret-for-any", "", 4},
		{nil, SecretRSA, "", "/etc/oe-agent/keys/rsa.pem", 5},
		{[]string{"@host.example"}, SecretEdDSA, "", "/etc/oe-agent/keys/ed.pem", 6},
		{nil, SecretECDSA, "", "/etc/oe-agent/keys/ec.pem", 8},
		{[]string{"@a"}, SecretPSK, "single quoted", "", 1},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{secretsPath, "/etc/oe-agent/secrets.d/a.secrets"}, s.Files); diff != "" {
		t.Errorf("files (-want +got):\n%s", diff)
	}

	// Lookup by specificity.
	fqdn := func(n string) ID { return ID{Kind: IDFQDN, Name: n} }
	addr := func(a string) ID { return ID{Kind: IDAddr, Addr: netip.MustParseAddr(a)} }
	for _, tt := range []struct {
		a, b ID
		want string
	}{
		{fqdn("west"), fqdn("east"), "west and east share # this"},
		{fqdn("east"), fqdn("west"), "west and east share # this"},
		{addr("2001:db8::1"), addr("192.0.2.1"), "\x01\x02\x03\x04\x05\x06\x07\x08"},
		{fqdn("west"), fqdn("north"), "secret-for-any"}, // @west @east does not apply: it names @east
		{fqdn("a"), fqdn("x"), "single quoted"},         // one exact beats %any
	} {
		k, ok := s.PSK(tt.a, tt.b)
		if !ok || string(k) != tt.want {
			t.Errorf("PSK(%s, %s) = %q, %v; want %q", tt.a, tt.b, string(k), ok, tt.want)
		}
	}
	if k, ok := s.PrivateKey(fqdn("host.example")); !ok || k.Kind != SecretEdDSA {
		t.Errorf("PrivateKey(@host.example) = %v", k)
	}
	if k, ok := s.PrivateKey(fqdn("other")); !ok || k.Kind != SecretRSA {
		t.Errorf("PrivateKey(@other) = %v, want the first key without indices", k)
	}
	// SignerFor filters by what the method can use.
	for _, tt := range []struct {
		id   ID
		m    AuthMethod
		want string
	}{
		{fqdn("other"), AuthECDSA, "ECDSA-P-256"},
		{fqdn("other"), AuthRSASig, "RSA-2048"},
		{fqdn("host.example"), AuthEdDSA, "Ed25519"},
	} {
		sg, ok := s.SignerFor(tt.id, tt.m)
		if !ok || keyTypeName(sg.Public()) != tt.want {
			t.Errorf("SignerFor(%s, %s) = %v, %v; want %s", tt.id, tt.m, ok, sg != nil, tt.want)
		}
	}
	if _, ok := s.SignerFor(fqdn("other"), AuthEdDSA); ok {
		t.Error("SignerFor(@other, eddsa) found a key; the only Ed25519 key is for @host.example")
	}
}

func TestParseSecretsErrors(t *testing.T) {
	tests := []struct {
		name, text string
		mode       fs.FileMode
		want       string
	}{
		{"no colon", "@a @b PSK \"x\"\n", 0o600, `2: missing " : " between the identities and the secret (the colon needs white space around it)`},
		{"glued colon", "@a: PSK \"x\"\n", 0o600, `1: missing " : " between the identities and the secret ("@a:" needs white space before its colon)`},
		{"unknown type", "@a : PKS \"x\"\n", 0o600, `1: unsupported secret type "PKS" (PSK, RSA, ECDSA or EDDSA) (did you mean "PSK"?)`},
		{"xauth", "@a : XAUTH \"x\"\n", 0o600, `1: unsupported secret type "XAUTH" (PSK, RSA, ECDSA or EDDSA)`},
		{"bare psk", "@a : PSK secret\n", 0o600, `1: PSK: write the key quoted ("..."), as 0x<hex> or as 0s<base64>`},
		{"unterminated", "@a : PSK \"secret\n", 0o600, `1: unterminated quoted string`},
		{"spaces", "@a : PSK two words\n", 0o600, `1: PSK: unexpected text after the key (quote a key that contains spaces)`},
		{"empty psk", "@a : PSK \"\"\n", 0o600, `1: PSK: empty key`},
		{"bad hex", "@a : PSK 0xZZ\n", 0o600, `1: PSK: invalid hex after 0x`},
		{"missing value", ": RSA\n", 0o600, `1: RSA: missing value`},
		{"passphrase", ": RSA keys/rsa.pem \"pass\"\n", 0o600, `1: RSA: unexpected text after the file name (passphrases are not supported: store the key unencrypted, mode 0600)`},
		{"inline block", ": RSA {\n\tModulus: 0x00\n\t}\n", 0o600, `1: RSA: inline key blocks are not supported; give the path of a PEM file`},
		{"missing key", ": RSA keys/none.pem\n", 0o600, `1: RSA: cannot read /etc/oe-agent/keys/none.pem: file does not exist`},
		{"wrong key type", ": RSA keys/ed.pem\n", 0o600, `1: RSA: /etc/oe-agent/keys/ed.pem holds an Ed25519 key`},
		{"not a key", ": EDDSA oe-agent.secrets\n", 0o600, `1: EDDSA: /etc/oe-agent/oe-agent.secrets: no PEM block found`},
		{"indented first", "\t@a : PSK \"x\"\n", 0o600, `1: indented line outside any entry`},
		{"include cycle", "include oe-agent.secrets\n", 0o600, `1: include cycle: /etc/oe-agent/oe-agent.secrets -> /etc/oe-agent/oe-agent.secrets`},
		{"fromdns", "%fromdns : PSK \"x\"\n", 0o600, `1: %fromdns is not an identity a secret can be indexed by`},
		{"group readable", "@a : PSK \"x\"\n", 0o640, `/etc/oe-agent/oe-agent.secrets: is accessible by group or others (mode 0640): it holds secrets and must be mode 0600 or stricter (chmod 600 /etc/oe-agent/oe-agent.secrets)`},
		{"world readable", "@a : PSK \"x\"\n", 0o604, `/etc/oe-agent/oe-agent.secrets: is accessible by group or others (mode 0604): it holds secrets and must be mode 0600 or stricter (chmod 600 /etc/oe-agent/oe-agent.secrets)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			text := tt.text
			if tt.name == "no colon" {
				text = "# first line\n" + text
			}
			fsys := secretsFS(t, text, nil)
			fsys[fsName(secretsPath)].Mode = tt.mode
			_, err := ParseSecrets(fsys, secretsPath)
			want := tt.want
			if !strings.HasPrefix(want, "/") {
				want = secretsPath + ":" + want
			}
			if diff := cmp.Diff([]string{want}, errLines(err)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestSecretKeyFileMode(t *testing.T) {
	fsys := secretsFS(t, ": RSA keys/rsa.pem\n", nil)
	fsys["etc/oe-agent/keys/rsa.pem"].Mode = 0o644
	_, err := ParseSecrets(fsys, secretsPath)
	want := secretsPath + ":1: RSA: /etc/oe-agent/keys/rsa.pem is accessible by group or others (mode 0644): it holds secrets and must be mode 0600 or stricter (chmod 600 /etc/oe-agent/keys/rsa.pem)"
	if diff := cmp.Diff([]string{want}, errLines(err)); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

// TestSecretsNeverPrinted formats secrets every way fmt allows and checks
// that no key material appears.
func TestSecretsNeverPrinted(t *testing.T) {
	const psk = "correct-horse-battery-staple"
	fsys := secretsFS(t, "@a @b : PSK \""+psk+"\"\n: EDDSA keys/ed.pem\n", nil)
	s, err := ParseSecrets(fsys, secretsPath)
	if err != nil {
		t.Fatal(err)
	}
	edPriv := s.Entries[1].Signer.(ed25519.PrivateKey)
	hk, err := LoadHostKey(fsys, "/etc/oe-agent/keys/ed.pem")
	if err != nil {
		t.Fatal(err)
	}
	forbidden := []string{
		psk, hex.EncodeToString([]byte(psk)), base64.StdEncoding.EncodeToString([]byte(psk)), fmt.Sprint([]byte(psk)),
		hex.EncodeToString(edPriv.Seed()), base64.StdEncoding.EncodeToString(edPriv.Seed()), fmt.Sprint([]byte(edPriv.Seed())),
		strings.ToUpper(hex.EncodeToString([]byte(psk))),
	}
	values := []any{s, *s, s.Entries, s.Entries[0], *s.Entries[0], s.Entries[1], *s.Entries[1], s.Entries[0].PSK, hk, *hk,
		[]any{s.Entries[0]}, map[string]*Secret{"x": s.Entries[0]}, struct{ S *Secret }{s.Entries[0]}}
	verbs := []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%T"}
	for i, v := range values {
		for _, verb := range verbs {
			out := fmt.Sprintf(verb, v)
			for _, f := range forbidden {
				if strings.Contains(out, f) {
					t.Errorf("value %d printed with %s leaks key material: %s", i, verb, out)
				}
			}
		}
		for _, out := range []string{fmt.Sprint(v), fmt.Sprintln(v)} {
			for _, f := range forbidden {
				if strings.Contains(out, f) {
					t.Errorf("value %d printed with Sprint leaks key material: %s", i, out)
				}
			}
		}
	}
	if got := fmt.Sprint(s.Entries[0]); got != "PSK for @a @b at /etc/oe-agent/oe-agent.secrets:1" {
		t.Errorf("String() = %q", got)
	}
	if got := fmt.Sprintf("%v", s.Entries[0].PSK); got != "<redacted> 28 bytes" {
		t.Errorf("Key prints %q", got)
	}
}
