package config

import (
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"
)

// valuePool holds plausible values per key, valid and a few invalid, for
// TestRoundTripRandom.
var valuePool = map[string][]string{
	"type":           {"tunnel", "transport", "passthrough", "drop"},
	"auto":           {"ignore", "add", "route", "start", "ondemand"},
	"authby":         {"rsasig", "ecdsa", "eddsa", "secret", "psk", "null", "never"},
	"left":           {"192.0.2.1", "%defaultroute", "%any", "2001:db8::1", "gw.example", "%any6", "%defaultroute6"},
	"right":          {"198.51.100.1", "%any", "2001:db8::2", "peer.example.", "%any6"},
	"leftsubnet":     {"10.0.0.0/24", "10.0.0.0/24,10.0.1.0/24", "2001:db8:1::/48", "0.0.0.0/0,::/0"},
	"rightsubnet":    {"10.1.0.0/24", "2001:db8:2::/48", "10.1.0.0/16,2001:db8:2::/48"},
	"leftid":         {"@west.example", "192.0.2.1", "user@example.org", "%null", "%any"},
	"rightid":        {"@east.example", "%fromdns", "%null", "2001:db8::2"},
	"leftauth":       {"null", "rsasig", "eddsa", "secret"},
	"rightauth":      {"null", "rsasig", "ecdsa"},
	"leftrsasigkey":  {"%dns", "%dnsondemand", "pub.pem"},
	"rightrsasigkey": {"%dns", "pub.pem", "0sAkBIerBsCuP4J38+0zTFeqFPZgtvxRj+wF8KiJAi4bM="},
	"leftprotoport":  {"tcp", "udp/53", "17/%any", "icmp"},
	"rightprotoport": {"tcp/443", "sctp", "0"},
	"ike":            {"aes_gcm256-sha2;dh31", "aes256-sha2_512+sha2_256;dh19+dh20", "aes128-sha256-modp2048!", `"aes256gcm16-prfsha256-x25519, aes256-sha256-ecp256"`, "default"},
	"esp":            {"aes_gcm128", "aes256-sha256-esn", "chacha20poly1305-x25519", "aes128ctr-aesxcbc-noesn", "null-sha256"},
	"ikelifetime":    {"8h", "3600", "1h30m", "20m"},
	"salifetime":     {"1h", "7200", "45m", "1d"},
	"rekey":          {"yes", "no"},
	"rekeymargin":    {"3m", "90s", "9m"},
	"rekeyfuzz":      {"0%", "50%", "100%"},
	"keyingtries":    {"%forever", "1", "5"},
	"dpddelay":       {"0", "30s"},
	"dpdtimeout":     {"2m", "150s"},
	"dpdaction":      {"clear", "hold", "restart"},
	"replay-window":  {"0", "32", "4096"},
	"mark":           {"1", "0x10/0xf0", "0xffffffff"},
}

// TestRoundTripRandom builds many random conns from valuePool; whichever
// parse must Format and parse back to the same model. It complements
// FuzzParse, which seldom builds a valid conn from random bytes.
func TestRoundTripRandom(t *testing.T) {
	keys := make([]string, 0, len(valuePool))
	for k := range valuePool {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	rng := rand.New(rand.NewPCG(1, 2))
	pub := testKey(t, "ed25519-public.pem")
	valid := 0
	for i := 0; i < 1500; i++ {
		var b strings.Builder
		fmt.Fprintf(&b, "conn c%d\n", i)
		for _, k := range keys {
			if rng.IntN(3) == 0 {
				continue
			}
			vals := valuePool[k]
			fmt.Fprintf(&b, "\t%s=%s\n", k, vals[rng.IntN(len(vals))])
		}
		fsys := fstest.MapFS{
			"etc/oe-agent/oe-agent.conf": {Data: []byte(b.String())},
			"etc/oe-agent/pub.pem":       {Data: pub},
		}
		cfg, err := Parse(fsys, confPath)
		if err != nil {
			continue
		}
		valid++
		out := Format(cfg)
		fsys["etc/oe-agent/n.conf"] = &fstest.MapFile{Data: []byte(out)}
		again, err := Parse(fsys, "/etc/oe-agent/n.conf")
		if err != nil {
			t.Fatalf("Format output does not parse: %v\ninput:\n%s\noutput:\n%s", err, b.String(), out)
		}
		if diff := cmp.Diff(cfg, again, cmpConfig...); diff != "" {
			t.Fatalf("round trip changed the model:\n%s\ninput:\n%s", diff, b.String())
		}
	}
	if valid < 50 {
		t.Errorf("only %d of 1500 random conns were valid; the pool no longer exercises the round trip", valid)
	}
	t.Logf("%d valid random conns round-tripped", valid)
}
