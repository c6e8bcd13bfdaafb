package config

import (
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestPrecedence checks own entries > also= (in order, depth first) >
// %default, and that key= resets to the built-in default.
func TestPrecedence(t *testing.T) {
	conf := `
conn %default
	ikelifetime=2h
	salifetime=3h
	dpddelay=10s
	rekeymargin=4m

conn a
	salifetime=1h
	dpddelay=20s
	also=b

conn b
	salifetime=5h
	ikelifetime=6h
	dpdtimeout=7m

conn c
	also=a
	also=b
	left=192.0.2.1
	right=198.51.100.1
	authby=secret
	dpddelay=30s
	rekeymargin=
	auto=add
`
	cfg, err := parseString(conf, nil)
	if err != nil {
		t.Fatal(err)
	}
	c := cfg.Conn("c")
	if c == nil {
		t.Fatal("no conn c")
	}
	got := []time.Duration{c.IKELifetime, c.SALifetime, c.DPDDelay, c.DPDTimeout, c.RekeyMargin}
	want := []time.Duration{
		6 * time.Hour,    // from b (through a), beats %default
		time.Hour,        // from a, beats b
		30 * time.Second, // own
		7 * time.Minute,  // from b
		9 * time.Minute,  // reset to the built-in default, beating %default's 4m
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if len(cfg.Conns) != 3 || cfg.Conns[0].Name != "a" || cfg.Conns[2].Name != "c" {
		t.Errorf("conns not in file order: %v", names(cfg))
	}
	if cfg.Conn("%default") != nil {
		t.Error("the default section is listed as a conn")
	}
}

func names(cfg *Config) []string {
	var n []string
	for _, c := range cfg.Conns {
		n = append(n, c.Name)
	}
	return n
}

// TestIncludes checks glob order, relative resolution from the including
// file, nested includes, and that a glob matching nothing is fine.
func TestIncludes(t *testing.T) {
	files := map[string]string{
		confPath:                                  "include conf.d/*.conf\ninclude /etc/none/*.conf\nconn z\n",
		"/etc/oe-agent/conf.d/20-b.conf":          "conn b\ninclude ../more/x.conf\n",
		"/etc/oe-agent/conf.d/10-a.conf":          "conn a\n",
		"/etc/oe-agent/conf.d/30-c.conf.disabled": "conn disabled\n",
		"/etc/oe-agent/more/x.conf":               "conn x\n\tauto=ignore # comment\n",
	}
	cfg, err := Parse(mapFS(files), confPath)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"a", "b", "x", "z"}, names(cfg)); diff != "" {
		t.Errorf("conn order (-want +got):\n%s", diff)
	}
	wantFiles := []string{confPath, "/etc/oe-agent/conf.d/10-a.conf", "/etc/oe-agent/conf.d/20-b.conf", "/etc/oe-agent/more/x.conf"}
	if diff := cmp.Diff(wantFiles, cfg.Files); diff != "" {
		t.Errorf("files (-want +got):\n%s", diff)
	}
	if p := cfg.Conn("x").Pos; p.String() != "/etc/oe-agent/more/x.conf:1" {
		t.Errorf("conn x at %s", p)
	}
}

// TestLexing covers quoting, comments and brace lists.
func TestLexing(t *testing.T) {
	conf := "\ufeff# leading comment after a byte order mark\n" +
		"config setup\n" +
		"\tdns-resolvers = \"192.0.2.53 198.51.100.53\"   # spaces around = are fine\n" +
		"\tsecrets=\"/etc/oe agent/#secrets\"\n" +
		"\n" +
		"conn c # trailing comment\r\n" +
		"\tleft=192.0.2.1\n" +
		"\tright=198.51.100.1\n" +
		"\n" +
		"\t# a comment inside the section; blank lines do not end it\n" +
		"\tleftsubnet={10.0.0.0/24   10.0.1.0/24}\n" +
		"\trightsubnet=10.1.0.0/24#not-a-comment-but-invalid\n" +
		"\tauto=ignore\n"
	_, err := parseString(conf, nil)
	want := []string{confPath + `:12: conn c: rightsubnet: invalid subnet "10.1.0.0/24#not-a-comment-but-invalid"`}
	if diff := cmp.Diff(want, errLines(err)); diff != "" {
		t.Fatalf("(-want +got):\n%s", diff)
	}
	cfg, err := parseString(strings.ReplaceAll(conf, "#not-a-comment-but-invalid", ""), nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.Setup.Secrets; got != "/etc/oe agent/#secrets" {
		t.Errorf("quoted value: %q", got)
	}
	wantR := []netip.AddrPort{netip.MustParseAddrPort("192.0.2.53:53"), netip.MustParseAddrPort("198.51.100.53:53")}
	if diff := cmp.Diff(wantR, cfg.Setup.DNSResolvers, cmpConfig...); diff != "" {
		t.Errorf("resolvers (-want +got):\n%s", diff)
	}
	c := cfg.Conn("c")
	wantS := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/24"), netip.MustParsePrefix("10.0.1.0/24")}
	if diff := cmp.Diff(wantS, c.Left.Subnets, cmpConfig...); diff != "" {
		t.Errorf("brace list (-want +got):\n%s", diff)
	}
}

// TestMaxErrors checks that a hopeless file yields a capped report.
func TestMaxErrors(t *testing.T) {
	conf := "conn c\n"
	for i := 0; i < MaxErrors+10; i++ {
		conf += "\tbogus" + string(rune('a'+i%26)) + string(rune('a'+i/26)) + "=1\n"
	}
	_, err := parseString(conf, nil)
	el, ok := err.(*ErrorList)
	if !ok {
		t.Fatalf("error %T", err)
	}
	if el.Len() != MaxErrors+10 || len(el.Errs) != MaxErrors {
		t.Errorf("Len %d, kept %d", el.Len(), len(el.Errs))
	}
	lines := errLines(err)
	if last := lines[len(lines)-1]; last != "... and 10 more errors" {
		t.Errorf("last line %q", last)
	}
}

func TestConnValues(t *testing.T) {
	conf := `conn c
	left=%defaultroute
	right=vpn.example.
	leftid=alice@Example.ORG
	rightid=@VPN.example
	leftprotoport=17/%any
	rightprotoport=udp/4500
	authby=secret
	mark=42
	rekeyfuzz=0
	keyingtries=0
	auto=trap
`
	cfg, err := parseString(conf, nil)
	if err != nil {
		t.Fatal(err)
	}
	c := cfg.Conn("c")
	want := &Conn{
		Name: "c", Type: TypeTunnel, Auto: AutoRoute, AuthBy: AuthSecret,
		Left: End{
			Host:      Host{Kind: HostDefaultRoute},
			ID:        ID{Kind: IDUserFQDN, Name: "alice@example.org"},
			ProtoPort: ProtoPort{Proto: 17},
		},
		Right: End{
			Host:      Host{Kind: HostName, Name: "vpn.example"},
			ID:        ID{Kind: IDFQDN, Name: "vpn.example"},
			ProtoPort: ProtoPort{Proto: 17, Port: 4500},
		},
		IKE: DefaultProposals(ProposalIKE), ESP: DefaultProposals(ProposalESP),
		IKELifetime: 8 * time.Hour, SALifetime: 8 * time.Hour, Rekey: true, RekeyMargin: 9 * time.Minute,
		RekeyFuzz: 0, KeyingTries: 0, DPDTimeout: 150 * time.Second, DPDAction: DPDHold, ReplayWindow: 128,
		Mark: Mark{Value: 42, Mask: 0xffffffff, Set: true},
	}
	if diff := cmp.Diff(want, c, cmpConfig...); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

// TestLibreswanKeyOptions checks libreswan's per-type key options are the
// one key option here.
func TestLibreswanKeyOptions(t *testing.T) {
	blk, _ := pem.Decode(testKey(t, "ecdsa-public.pem"))
	pub, err := x509.ParsePKIXPublicKey(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	point, _ := pub.(*ecdsa.PublicKey).Bytes()
	ec := "0s" + base64.StdEncoding.EncodeToString(point[1:]) // x | y, as libreswan 4 writes it
	conf := "conn c\n\tleft=192.0.2.1\n\tright=198.51.100.1\n\tauthby=ecdsa\n\trightecdsakey=" + ec + "\n\tauto=add\n"
	cfg, err := parseString(conf, nil)
	if err != nil {
		t.Fatal(err)
	}
	if k := cfg.Conn("c").Right.PubKey; k.Kind != PubKeyInline || keyTypeName(k.Key) != "ECDSA-P-256" {
		t.Errorf("rightecdsakey: %v %s", k.Kind, keyTypeName(k.Key))
	}
	_, err = parseString(conf+"\trightrsasigkey=%dns\n", nil)
	want := []string{confPath + `:7: conn c: duplicate key "rightrsasigkey" (already set at line 5)`}
	if diff := cmp.Diff(want, errLines(err)); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}
