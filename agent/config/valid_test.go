package config

import (
	"strings"
	"testing"
)

// TestParseValid is a table of valid configurations in the styles users
// bring from libreswan, strongSwan and FreeS/WAN; for each, lines that must
// appear in the normalised form of one conn.
func TestParseValid(t *testing.T) {
	tests := []struct {
		name, conf, conn string
		want             []string
	}{
		{"libreswan host-to-host with raw RSA keys", `
conn mytunnel
    leftid=@west
    left=192.0.2.1
    leftrsasigkey=%dnsondemand
    rightid=@east
    right=198.51.100.1
    rightrsasigkey=%dns
    authby=rsasig
    # use auto=start when done testing the tunnel
    auto=add
`, "mytunnel", []string{"leftid=@west", "rightrsasigkey=%dns", "leftrsasigkey=%dnsondemand", "auto=add", "type=tunnel"}},

		{"strongSwan site-to-site with PSK", `
config setup

conn %default
	ikelifetime=60m
	keylife=20m
	rekeymargin=3m
	keyingtries=1
	keyexchange=ikev2
	authby=secret

conn net-net
	left=192.0.2.1
	leftsubnet=10.1.0.0/16
	leftid=@moon.strongswan.org
	right=198.51.100.2
	rightsubnet=10.2.0.0/16
	rightid=@sun.strongswan.org
	ike=aes128-sha256-modp3072!
	esp=aes128-sha256-modp3072!
	auto=start
`, "net-net", []string{"ikelifetime=1h", "salifetime=20m", "rekeymargin=3m", "keyingtries=1", "authby=secret",
			"ike=aes128-sha256-prfsha256-modp3072!", "esp=aes128-sha256-modp3072!"}},

		{"OE-style transport trap to any peer", `
conn private-host
	type=transport
	left=%defaultroute
	right=%any
	authby=null
	leftid=%null
	rightid=%null
	auto=route
`, "private-host", []string{"type=transport", "auto=route", "authby=null", "right=%any", "rightid=%null"}},

		{"road warrior responder with IPv6", `
conn rw
	left=2001:db8::1
	leftsubnet=::/0
	right=%any6
	rightid=@laptop.example
	rightrsasigkey=%dns
	auto=add
	dpddelay=30
	dpdtimeout=120
	dpdaction=clear
`, "rw", []string{"left=2001:db8::1", "leftsubnet=::/0", "right=%any6", "dpddelay=30s", "dpdtimeout=2m", "dpdaction=clear"}},

		{"libreswan passthrough for SSH", `
conn pass-ssh
	type=passthrough
	authby=never
	left=192.0.2.1
	right=%any
	rightsubnet=0.0.0.0/0
	leftprotoport=tcp/22
	auto=route
`, "pass-ssh", []string{"type=passthrough", "authby=never", "rightsubnet=0.0.0.0/0", "leftprotoport=tcp/22"}},

		{"FreeS/WAN style manual keying", `
conn manual
	keying=manual
	left=192.0.2.1
	right=198.51.100.1
	leftsubnet=10.0.1.0/24
	rightsubnet=10.0.2.0/24
	spi=0x200
	esp=aes128-sha1
	espenckey=0x000102030405060708090a0b0c0d0e0f
	espauthkey=0x000102030405060708090a0b0c0d0e0f10111213
	auto=start
`, "manual", []string{"keying=manual", "leftespspi=0x200", "rightespspi=0x200", "esp=aes128-sha1"}},

		{"asymmetric: anonymous client, authenticated server", `
conn client
	left=%defaultroute
	leftauth=null
	leftid=%null
	right=198.51.100.7
	rightauth=eddsa
	rightrsasigkey=%dns
	auto=route
	type=transport
`, "client", []string{"leftauth=null", "rightauth=eddsa", "authby=rsasig"}},

		{"empty value restores the default over %default", `
conn %default
	replay-window=0
	rekey=no
conn c
	left=192.0.2.1
	right=198.51.100.1
	authby=secret
	replay-window=
	auto=add
`, "c", []string{"replay-window=128", "rekey=no"}},

		{"mark, protoport and ESN", `
conn marked
	left=192.0.2.1
	right=198.51.100.1
	authby=secret
	mark=0x2a
	leftprotoport=udp/500
	esp=aes256gcm16-esn
	auto=add
`, "marked", []string{"mark=0x2a/0xffffffff", "leftprotoport=udp/500", "esp=aes256gcm16-esn"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := parseString(tt.conf, nil)
			if err != nil {
				t.Fatal(err)
			}
			c := cfg.Conn(tt.conn)
			if c == nil {
				t.Fatalf("no conn %s", tt.conn)
			}
			var b strings.Builder
			fmtConn(&b, c)
			lines := map[string]bool{}
			for _, l := range strings.Split(b.String(), "\n") {
				lines[strings.TrimSpace(l)] = true
			}
			for _, w := range tt.want {
				if !lines[w] {
					t.Errorf("normalised conn lacks %q:\n%s", w, b.String())
				}
			}
		})
	}
}
