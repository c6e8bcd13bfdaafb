package config

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseID(t *testing.T) {
	ok := map[string]ID{
		"@Host.Example.":   {Kind: IDFQDN, Name: "host.example"},
		"bob@Example.ORG":  {Kind: IDUserFQDN, Name: "bob@example.org"},
		"192.0.2.1":        {Kind: IDAddr, Addr: netip.MustParseAddr("192.0.2.1")},
		"::ffff:192.0.2.1": {Kind: IDAddr, Addr: netip.MustParseAddr("192.0.2.1")},
		"2001:db8::1":      {Kind: IDAddr, Addr: netip.MustParseAddr("2001:db8::1")},
		"%NULL":            {Kind: IDNull},
		"%any":             {Kind: IDAny},
		"%fromdns":         {Kind: IDFromDNS},
	}
	for in, want := range ok {
		got, err := parseID(in)
		if err != nil {
			t.Errorf("%s: %v", in, err)
			continue
		}
		if diff := cmp.Diff(want, got, cmpConfig...); diff != "" {
			t.Errorf("%s (-want +got):\n%s", in, diff)
		}
		if again, err := parseID(got.String()); err != nil || again != got {
			t.Errorf("%s: String %q does not read back", in, got.String())
		}
	}
	bad := map[string]string{
		"host.example":                 `invalid id "host.example" (expected an IP address, @fqdn, user@domain, %null, %any or %fromdns)`,
		"@":                            `invalid id "@": not a valid DNS name`,
		"@#0102":                       `invalid id "@#0102": key-id and DER identities are not supported`,
		"@a@b":                         `invalid id "@a@b": write a user identity as user@domain, without the leading @`,
		"@-bad.example":                `invalid id "@-bad.example": not a valid DNS name (label starts or ends with "-")`,
		"%fromcert":                    `%fromcert is not supported: oe-agent authenticates with raw keys, not certificates`,
		"%nul":                         `invalid id "%nul" (did you mean "%null"?)`,
		"@bad_é":                       `invalid id "@bad_é": not a valid DNS name (character 0xc3)`,
		"@" + strings.Repeat("a", 300): `invalid id "@` + strings.Repeat("a", 300) + `": not a valid DNS name`,
	}
	for in, want := range bad {
		_, err := parseID(in)
		if err == nil || err.Error() != want {
			t.Errorf("%.20q: error %v\nwant %s", in, err, want)
		}
	}
}

func TestParseHost(t *testing.T) {
	for in, want := range map[string]string{
		"192.0.2.1": "192.0.2.1", "::ffff:192.0.2.1": "192.0.2.1", "GW.Example.": "gw.example",
		"%any6": "%any6", "%DefaultRoute": "%defaultroute",
	} {
		h, err := parseHost(in)
		if err != nil || fmtHost(h) != want {
			t.Errorf("%s: %q, %v; want %q", in, fmtHost(h), err, want)
		}
	}
	for in, want := range map[string]string{
		"0.0.0.0":       `invalid address "0.0.0.0": use %any for any address`,
		"fe80::1%eth0":  `invalid address "fe80::1%eth0": zones are not supported`,
		"2001:db8::/32": `invalid IP address "2001:db8::/32"`,
		"a..b":          `invalid address "a..b": not a valid DNS name (empty or over-long label)`,
	} {
		_, err := parseHost(in)
		if err == nil || err.Error() != want {
			t.Errorf("%s: error %v, want %s", in, err, want)
		}
	}
}

func TestResolvers(t *testing.T) {
	rc := "# generated\nsearch example\nnameserver 192.0.2.53\nnameserver 2001:db8::53\nnameserver bogus\noptions edns0\n"
	want := []netip.AddrPort{netip.MustParseAddrPort("192.0.2.53:53"), netip.MustParseAddrPort("[2001:db8::53]:53")}
	if diff := cmp.Diff(want, ResolversFromResolvConf([]byte(rc)), cmpConfig...); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	for in, want := range map[string]string{
		"192.0.2.53:0": `invalid resolver "192.0.2.53:0": port 0`,
		"dns.example":  `invalid resolver "dns.example" (expected an IP address, optionally with :port)`,
		",":            `empty resolver list (use %resolvconf for /etc/resolv.conf)`,
	} {
		_, err := parseResolvers(in)
		if err == nil || err.Error() != want {
			t.Errorf("%s: error %v, want %s", in, err, want)
		}
	}
	if r, err := parseResolvers("%resolvconf"); err != nil || r != nil {
		t.Errorf("%%resolvconf: %v, %v", r, err)
	}
}

func TestManualKeyingMore(t *testing.T) {
	base := "conn m\n\tkeying=manual\n\tleft=192.0.2.1\n\tright=198.51.100.1\n\tauto=add\n"
	cases := []struct{ extra, want string }{
		{"\tesp=null-sha1\n\tspi=0x100\n\tespenckey=0x00\n\tespauthkey=0x" + hex20 + "\n",
			`8: conn m: espenckey is set but null-sha1 needs no encryption key`},
		{"\tesp=aes128-sha1\n\tspi=0x100\n\tespenckey=0x" + hex16 + "\n",
			`1: conn m: keying=manual with esp=aes128-sha1 needs espauthkey= (or leftespauthkey= and rightespauthkey=): 20 bytes`},
		{"\tesp=aes128gcm16,aes256gcm16\n\tspi=0x100\n",
			`6: conn m: keying=manual needs exactly one esp= proposal, not 2`},
		{"\tesp=aes128gcm16-x25519\n\tspi=0x100\n",
			`6: conn m: keying=manual has no key exchange: remove the DH groups from esp=`},
		{"\tesp=aes_gcm\n\tspi=0x100\n",
			`6: conn m: keying=manual needs exactly one cipher in esp=, not 2 (give the key length, e.g. aes128)`},
		{"\ttype=passthrough\n",
			`2: conn m: keying=manual needs type=tunnel or type=transport`},
		{"\tspi=0x100\n",
			`2: conn m: keying=manual needs esp= with exactly one algorithm, e.g. esp=aes128gcm16 or esp=aes128-sha256`},
		{"\tesp=aes128gcm16\n\tspi=0x100\n\tespenckey=" + hex16 + "\n",
			`8: conn m: espenckey: key must be written 0x<hex> or 0s<base64>`},
	}
	for _, tt := range cases {
		_, err := parseString(base+tt.extra, nil)
		if diff := cmp.Diff([]string{confPath + ":" + tt.want}, errLines(err)); diff != "" {
			t.Errorf("%q (-want +got):\n%s", tt.extra, diff)
		}
	}
}

const (
	hex16 = "000102030405060708090a0b0c0d0e0f"
	hex20 = "000102030405060708090a0b0c0d0e0f10111213"
)

// TestOELimits checks oe-max-negotiations= and oe-max-peers=: their
// defaults, accepted values and the errors for bad ones.
func TestOELimits(t *testing.T) {
	tests := []struct {
		name, lines string
		negs, peers int
		wantErr     string
	}{
		{"defaults", "", 64, 4096, ""},
		{"both set", "\toe-max-negotiations=256\n\toe-max-peers=10000\n", 256, 10000, ""},
		{"empty means default", "\toe-max-negotiations=\n", 64, 4096, ""},
		{"one", "\toe-max-negotiations=1\n\toe-max-peers=1\n", 1, 1, ""},
		{"negotiations upper bound", "\toe-max-negotiations=65536\n", 65536, 4096, ""},
		{"negotiations too many", "\toe-max-negotiations=65537\n", 0, 0, "oe-max-negotiations: 65537 is too large (at most 65536)"},
		{"negative peers", "\toe-max-peers=-1\n", 0, 0, "oe-max-peers: -1 is too small (at least 1)"},
		{"not decimal", "\toe-max-peers=0x100\n", 0, 0, `oe-max-peers: invalid number "0x100"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := parseString("config setup\n"+tc.lines, nil)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Setup.OEMaxNegotiations != tc.negs || cfg.Setup.OEMaxPeers != tc.peers {
				t.Errorf("limits %d, %d; want %d, %d", cfg.Setup.OEMaxNegotiations, cfg.Setup.OEMaxPeers, tc.negs, tc.peers)
			}
		})
	}
}
