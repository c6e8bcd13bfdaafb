package config

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const confPath = "/etc/oe-agent/oe-agent.conf"

// parseString parses conf as the main file, with extra files alongside.
func parseString(conf string, extra map[string]string) (*Config, error) {
	files := map[string]string{confPath: conf}
	for k, v := range extra {
		files[k] = v
	}
	return Parse(mapFS(files), confPath)
}

// A minimal valid conn, to which test cases add lines.
const okConn = `conn c
	left=192.0.2.1
	right=198.51.100.1
	authby=secret
	auto=add
`

// extraFiles are the other files of some TestParseErrors cases.
var extraFiles = map[string]map[string]string{
	"include cycle":           {"/etc/oe-agent/a.conf": "include oe-agent.conf\n"},
	"error inside an include": {"/etc/oe-agent/conf.d/x.conf": okConn + "\tauto=strat\n"},
}

func TestParseErrors(t *testing.T) {
	// want lines are relative to confPath: "3: ..." means confPath:3.
	tests := []struct {
		name string
		conf string
		want []string
	}{
		{"typo suggests the nearest key", okConn + "\trigth=192.0.2.2\n",
			[]string{`6: conn c: unknown key "rigth" (did you mean "right"?)`}},
		{"typo of a side key", okConn + "\tleftsubent=10.0.0.0/8\n",
			[]string{`6: conn c: unknown key "leftsubent" (did you mean "leftsubnet"?)`}},
		{"unknown key without a near one", okConn + "\tfrobnicate=yes\n",
			[]string{`6: conn c: unknown key "frobnicate"`}},
		{"setup typo", "config setup\n\toe-authnul=yes\n",
			[]string{`2: config setup: unknown key "oe-authnul" (did you mean "oe-authnull"?)`}},
		{"known but unsupported key", okConn + "\tleftcert=west.pem\n",
			[]string{`6: conn c: unknown key "leftcert": certificates are not supported; use leftrsasigkey= or leftpubkey= with a raw key`}},
		{"setup key in a conn", okConn + "\tloglevel=debug\n",
			[]string{`6: conn c: key "loglevel" belongs in config setup, not in a conn section`}},
		{"shunt lifetime zero", "config setup\n\toe-shunt-lifetime=0\n",
			[]string{`2: config setup: oe-shunt-lifetime: 0 is too short (at least 1s)`}},
		{"idle timeout too short", "config setup\n\toe-idle-timeout=2s\n",
			[]string{`2: config setup: oe-idle-timeout: 2s is too short (at least 5s, or 0 to never delete idle SAs)`}},
		{"SA lifetime too short", "config setup\n\toe-sa-lifetime=5s\n",
			[]string{`2: config setup: oe-sa-lifetime: 5s is too short (at least 10s)`}},
		{"SA lifetime too long", "config setup\n\toe-sa-lifetime=2d\n",
			[]string{`2: config setup: oe-sa-lifetime: 2d is too long (at most 1d)`}},
		{"max negotiations zero", "config setup\n\toe-max-negotiations=0\n",
			[]string{`2: config setup: oe-max-negotiations: 0 is too small (at least 1)`}},
		{"max negotiations not a number", "config setup\n\toe-max-negotiations=many\n",
			[]string{`2: config setup: oe-max-negotiations: invalid number "many"`}},
		{"max peers too large", "config setup\n\toe-max-peers=2000000\n",
			[]string{`2: config setup: oe-max-peers: 2000000 is too large (at most 1048576)`}},
		{"conn key in setup", "config setup\n\tleft=192.0.2.1\n",
			[]string{`2: config setup: key "left" belongs in a conn section, not in config setup`}},
		{"entry before any section", "\tleft=192.0.2.1\n",
			[]string{`1: entry "left=" outside any section (a "config setup" or "conn" line must come first)`}},
		{"unindented entry", "left=192.0.2.1\n",
			[]string{`1: entry "left=192.0.2.1" must be indented under a "config setup" or "conn" section`}},
		{"unknown statement", "con west\n",
			[]string{`1: unknown statement "con" (expected "config setup", "conn NAME", "include" or "version") (did you mean "conn"?)`}},
		{"bad config section", "config stup\n",
			[]string{`1: only "config setup" is a valid config section`}},
		{"indented section header", "  conn c\n",
			[]string{`1: "conn" must start at the beginning of the line; only a section's entries are indented`}},
		{"indented include", okConn + "\tinclude x.conf\n",
			[]string{`6: conn c: "include" must start at the beginning of the line; only a section's entries are indented`}},
		{"bad rekeyfuzz", okConn + "\trekeyfuzz=lots\n",
			[]string{`6: conn c: rekeyfuzz: invalid value "lots" (expected a percentage 0%-1000%)`}},
		{"bad version", "version 3\n",
			[]string{`1: unsupported version "3" (only version 2 exists)`}},
		{"bad conn name", "conn a$b\n",
			[]string{`1: invalid character "$" in conn name "a$b"`}},
		{"duplicate key", okConn + "\tleft=192.0.2.9\n",
			[]string{`6: conn c: duplicate key "left" (already set at line 2)`}},
		{"duplicate key through an alias", okConn + "\tsalifetime=1h\n\tkeylife=2h\n",
			[]string{`7: conn c: duplicate key "salifetime" (already set at line 6)`}},
		{"duplicate conn", okConn + okConn,
			[]string{`6: duplicate conn "c" (the first is at /etc/oe-agent/oe-agent.conf:1)`}},
		{"duplicate config setup", "config setup\nconfig setup\n",
			[]string{`2: duplicate config setup section (the first is at /etc/oe-agent/oe-agent.conf:1)`}},
		{"unterminated quote", okConn + "\tike=\"aes256-sha256\n",
			[]string{`6: conn c: key "ike": unterminated quoted value`}},
		{"text after the value", okConn + "\tike=aes256-sha256, aes128-sha256\n",
			[]string{`6: conn c: key "ike": unexpected text "aes128-sha256" after the value (quote values that contain spaces)`}},
		{"key without value", okConn + "\trekey\n",
			[]string{`6: conn c: key "rekey" has no "=value"`}},
		{"also to a missing conn", okConn + "\talso=bsae\nconn base\n",
			[]string{`6: conn c: also: no conn named "bsae" (did you mean "base"?)`}},
		{"also cycle", okConn + "\talso=b\nconn b\n\talso=c\n",
			[]string{`8: conn b: also: cycle c -> b -> c`}},
		{"missing include", "include missing.conf\n",
			[]string{`1: cannot read /etc/oe-agent/missing.conf: file does not exist`}},
		{"include cycle", "include a.conf\n",
			[]string{`/etc/oe-agent/a.conf:1: include cycle: /etc/oe-agent/oe-agent.conf -> /etc/oe-agent/a.conf -> /etc/oe-agent/oe-agent.conf`}},
		{"error inside an include", "include conf.d/*.conf\n",
			[]string{`/etc/oe-agent/conf.d/x.conf:6: conn c: duplicate key "auto" (already set at line 5)`}},

		// Values.
		{"bad address", strings.Replace(okConn, "192.0.2.1", "192.0.2", 1),
			[]string{`2: conn c: left: invalid IP address "192.0.2"`}},
		{"unknown %value", strings.Replace(okConn, "192.0.2.1", "%defaultrout", 1),
			[]string{`2: conn c: left: invalid address "%defaultrout" (expected an IP address, a DNS name, %defaultroute or %any) (did you mean "%defaultroute"?)`}},
		{"OE group as host", strings.Replace(okConn, "198.51.100.1", "%opportunisticgroup", 1),
			[]string{`3: conn c: right: %opportunisticgroup is not supported: opportunistic encryption is configured with the policy group files in /etc/oe-agent/policies`}},
		{"subnet host bits", okConn + "\tleftsubnet=10.0.0.1/24\n",
			[]string{`6: conn c: leftsubnet: subnet "10.0.0.1/24" has host bits set (did you mean "10.0.0.0/24"?)`}},
		{"enum typo", strings.Replace(okConn, "auto=add", "auto=strat", 1),
			[]string{`5: conn c: auto: invalid value "strat" (expected add, ignore, ondemand, route, start, trap) (did you mean "start"?)`}},
		{"authby typo", strings.Replace(okConn, "authby=secret", "authby=rsasign", 1),
			[]string{`4: conn c: authby: invalid value "rsasign" (expected ecdsa, ecdsasig, ed25519, eddsa, never, null, psk, rsa, rsa-sha2, rsasig, secret) (did you mean "rsasig"?)`}},
		{"proposal typo", okConn + "\tike=aes256-sha265-modp2048\n",
			[]string{`6: conn c: ike: proposal "aes256-sha265-modp2048": unknown algorithm "sha265" (did you mean "sha256"?)`}},
		{"broken algorithm", okConn + "\tesp=aes128-md5\n",
			[]string{`6: conn c: esp: proposal "aes128-md5": "md5" is broken and not supported`}},
		{"duration unit", okConn + "\tikelifetime=8hours\n",
			[]string{`6: conn c: ikelifetime: invalid duration "8hours": unknown unit "hours" (use ms, s, m, h, d or w)`}},
		{"mark outside mask", okConn + "\tmark=0x100/0xff\n",
			[]string{`6: conn c: mark: mark "0x100/0xff" has bits outside its mask`}},
		{"replay window range", okConn + "\treplay-window=99999999999\n",
			[]string{`6: conn c: replay-window: value "99999999999" is out of range (at most 4294967295)`}},
		{"keyingtries", okConn + "\tkeyingtries=many\n",
			[]string{`6: conn c: keyingtries: invalid value "many" (a number, 0 or %forever for no limit)`}},
		{"ikev1", okConn + "\tkeyexchange=ikev1\n",
			[]string{`6: conn c: keyexchange: IKEv1 is not supported (RFC 9395 deprecates it); remove the key`}},
		{"bad id", okConn + "\tleftid=C=CH, O=Example\n",
			[]string{`6: conn c: key "leftid": unexpected text "O=Example" after the value (quote values that contain spaces)`}},
		{"dn id", okConn + "\tleftid=\"C=CH, O=Example\"\n",
			[]string{`6: conn c: leftid: invalid id "C=CH, O=Example": distinguished-name identities are not supported`}},
		{"bad inline key", okConn + "\trightrsasigkey=0sAAAA\n",
			[]string{`6: conn c: rightrsasigkey: inline key is not an RSA key in RFC 3110 format, an Ed25519 or ECDSA key, or a DER public key`}},
		{"errors name the key as written", okConn + "\tkeylife=forever\n",
			[]string{`6: conn c: keylife: invalid duration "forever" (expected e.g. 3600, 60s, 15m, 8h, 1h30m)`}},
		{"missing key file", okConn + "\trightrsasigkey=keys/east.pem\n",
			[]string{`6: conn c: rightrsasigkey: cannot read public key file /etc/oe-agent/keys/east.pem: file does not exist`}},

		// Cross-checks.
		{"missing right", "conn c\n\tleft=192.0.2.1\n\tauthby=secret\n\tauto=add\n",
			[]string{`1: conn c: right= is required (an address, %defaultroute or %any)`}},
		{"both any", "conn c\n\tleft=%any\n\tright=%any\n\tauthby=secret\n\tauto=add\n",
			[]string{`3: conn c: left and right cannot both be %any`}},
		{"families differ", strings.Replace(okConn, "198.51.100.1", "2001:db8::1", 1),
			[]string{`3: conn c: left=192.0.2.1 and right=2001:db8::1 are of different address families`}},
		{"subnet families differ", okConn + "\tleftsubnet=10.0.0.0/8\n\trightsubnet=2001:db8::/32\n",
			[]string{`7: conn c: leftsubnet and rightsubnet must cover the same address families (IPv4 selectors need IPv4 on both sides, IPv6 likewise)`}},
		{"transport with subnet", okConn + "\ttype=transport\n\tleftsubnet=10.0.0.0/8\n",
			[]string{`7: conn c: leftsubnet= is not allowed with type=transport (the selectors are the hosts themselves)`}},
		{"pubkey auth without keys", strings.Replace(okConn, "authby=secret", "authby=rsasig", 1),
			[]string{`4: conn c: rsasig authentication needs the peer's public key: set leftrsasigkey= or rightrsasigkey= (a key, a PEM file, or %dns)`}},
		{"key type mismatch", strings.Replace(okConn, "authby=secret", "authby=rsasig", 1) + "\trightrsasigkey=0sAkBIerBsCuP4J38+0zTFeqFPZgtvxRj+wF8KiJAi4bM=\n",
			[]string{`6: conn c: rightrsasigkey is an Ed25519 key, which cannot be used with rsasig authentication`}},
		{"key with psk", okConn + "\trightrsasigkey=%dns\n",
			[]string{`6: conn c: rightrsasigkey is set but right authenticates with secret`}},
		{"fromdns needs dns key", strings.Replace(okConn, "authby=secret", "authby=rsasig", 1) + "\trightid=%fromdns\n\tleftrsasigkey=%dns\n",
			[]string{`6: conn c: rightid=%fromdns needs rightrsasigkey=%dns (the key must come from DNS)`}},
		{"null id needs null auth", okConn + "\tleftid=%null\n",
			[]string{`6: conn c: leftid=%null needs NULL authentication (authby=null or leftauth=null, RFC 7619 §2)`}},
		{"passthrough auto", "conn p\n\ttype=passthrough\n\tleft=192.0.2.1\n\tright=%any\n\tauto=start\n",
			[]string{`5: conn p: type=passthrough conns install a kernel policy only: use auto=route`}},
		{"passthrough authby", "conn p\n\ttype=passthrough\n\tauthby=rsasig\n\tleft=192.0.2.1\n\tright=%any\n\tauto=route\n",
			[]string{`3: conn p: authby=rsasig makes no sense with type=passthrough: no IKE runs (use authby=never or leave it out)`}},
		{"lifetime too long", okConn + "\tsalifetime=2d\n",
			[]string{`6: conn c: salifetime=2d is too long (at most 1d)`}},
		{"rekeymargin too big", okConn + "\tsalifetime=15m\n",
			[]string{`1: conn c: rekeymargin=9m with rekeyfuzz=100% can reach 18m, not less than salifetime=15m`}},
		{"rekeymargin set too big", okConn + "\trekeymargin=8h\n\trekeyfuzz=0%\n",
			[]string{`6: conn c: rekeymargin=8h with rekeyfuzz=0% can reach 8h, not less than salifetime=8h`}},
		{"dpd timeout", okConn + "\tdpddelay=30s\n\tdpdtimeout=10s\n",
			[]string{`7: conn c: dpdtimeout=10s must be longer than dpddelay=30s`}},
		{"start towards any", strings.Replace(strings.Replace(okConn, "198.51.100.1", "%any", 1), "auto=add", "auto=start", 1),
			[]string{`5: conn c: auto=start needs the peer's address, but one side is %any (use auto=add to wait for the peer, or auto=route with type=transport)`}},
		{"tunnel trap towards any", strings.Replace(strings.Replace(okConn, "198.51.100.1", "%any", 1), "auto=add", "auto=route", 1),
			[]string{`5: conn c: auto=route in tunnel mode needs the peer's address, but one side is %any (a trap can only find the peer with type=transport, where it is the packet's destination)`}},
		{"manual-only key", okConn + "\tspi=0x1000\n",
			[]string{`6: conn c: spi= is only used with keying=manual`}},
		{"inherited error is reported once, where it is", "conn %default\n\tikelifetime=forever\n" + okConn + strings.Replace(okConn, "conn c", "conn d", 1),
			[]string{`2: conn %default: ikelifetime: invalid duration "forever" (expected e.g. 3600, 60s, 15m, 8h, 1h30m)`}},
		{"inherited cross-check names the conn", "conn %default\n\tsalifetime=5m\n" + okConn,
			[]string{`3: conn c: rekeymargin=9m with rekeyfuzz=100% can reach 18m, not less than salifetime=5m`}},

		// Manual keying.
		{"manual without spi", "conn m\n\tkeying=manual\n\tleft=192.0.2.1\n\tright=198.51.100.1\n\tesp=aes128gcm16\n\tespenckey=0x000102030405060708090a0b0c0d0e0f10111213\n\tauto=start\n",
			[]string{`1: conn m: keying=manual needs spi= (or leftespspi=)`, `1: conn m: keying=manual needs spi= (or rightespspi=)`}},
		{"manual key length", "conn m\n\tkeying=manual\n\tleft=192.0.2.1\n\tright=198.51.100.1\n\tesp=aes128gcm16\n\tspi=0x100\n\tespenckey=0x0001\n\tauto=start\n",
			[]string{`7: conn m: espenckey is 2 bytes, but aes128gcm16 needs 20`}},
		{"manual needs addresses", "conn m\n\tkeying=manual\n\tleft=%defaultroute\n\tright=198.51.100.1\n\tesp=aes128gcm16\n\tspi=0x100\n\tespenckey=0x000102030405060708090a0b0c0d0e0f10111213\n\tauto=start\n",
			[]string{`3: conn m: keying=manual needs a literal IP address in left=`}},
		{"manual reserved spi", "conn m\n\tkeying=manual\n\tspi=255\n",
			[]string{`3: conn m: spi: SPI 255 is reserved (0-255, RFC 4303 §2.1); use 0x100 or more`}},
		{"manual needs one integ", "conn m\n\tkeying=manual\n\tleft=192.0.2.1\n\tright=198.51.100.1\n\tesp=aes128\n\tspi=0x100\n\tauto=start\n",
			[]string{`5: conn m: keying=manual needs exactly one integrity algorithm in esp= (e.g. esp=aes128-sha256)`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := parseString(tt.conf, extraFiles[tt.name])
			if err == nil {
				t.Fatalf("no error; parsed:\n%s", Format(cfg))
			}
			if cfg != nil {
				t.Errorf("Parse returned a Config along with errors")
			}
			var want []string
			for _, w := range tt.want {
				if !strings.HasPrefix(w, "/") {
					w = confPath + ":" + w
				}
				want = append(want, w)
			}
			if diff := cmp.Diff(want, errLines(err)); diff != "" {
				t.Errorf("errors (-want +got):\n%s", diff)
			}
			// Every error carries a file and a line.
			for _, e := range err.(*ErrorList).Errs {
				if e.File == "" || e.Line <= 0 {
					t.Errorf("error without file:line: %v", e)
				}
			}
		})
	}
}
