package dnskeys_test

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"fmt"
	"net/netip"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/oe-agent/oe-agent/dnskeys"
	"github.com/oe-agent/oe-agent/dnskeys/dnskeystest"
	"github.com/oe-agent/oe-agent/internal/testenv"
)

// testKeys are the peer keys published in the test tree.
type testKeys struct {
	rsa     *rsa.PrivateKey
	ed      ed25519.PrivateKey
	ec      *ecdsa.PrivateKey
	attack  ed25519.PrivateKey
	rsaB64  string
	edB64   string
	ecB64   string
	atkB64  string
	dsaJunk string
}

var (
	keysOnce sync.Once
	peerKeys testKeys
)

func keys(t testing.TB) *testKeys {
	keysOnce.Do(func() {
		k := &peerKeys
		var err error
		if k.rsa, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			panic(err)
		}
		_, k.ed, _ = ed25519.GenerateKey(rand.Reader)
		_, k.attack, _ = ed25519.GenerateKey(rand.Reader)
		k.ec, _ = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		_, k.rsaB64, _ = dnskeys.PublicKeyBase64(&k.rsa.PublicKey)
		_, k.edB64, _ = dnskeys.PublicKeyBase64(k.ed.Public())
		_, k.ecB64, _ = dnskeys.PublicKeyBase64(&k.ec.PublicKey)
		_, k.atkB64, _ = dnskeys.PublicKeyBase64(k.attack.Public())
		k.dsaJunk = "CMrxhtFQ9CiMrfO5Ipe+vaQ9DW+RLbMW8i/EHU9QWfhxJw=="
	})
	return &peerKeys
}

// rel returns the reverse name of addr relative to zone.
func rel(t testing.TB, addr, zone string) string {
	n, err := dnskeys.ReverseName(netip.MustParseAddr(addr))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSuffix(n, "."+zone)
}

const (
	v4Zone    = "2.0.192.in-addr.arpa."
	v6Zone    = "8.b.d.0.1.0.0.2.ip6.arpa."
	unsignedZ = "9.2.0.192.in-addr.arpa."
)

// treeSpecs is the test tree: a root anchor; in-addr.arpa. (NSEC) and
// ip6.arpa. (NSEC3) below it; 2.0.192.in-addr.arpa. (NSEC) and
// 8.b.d.0.1.0.0.2.ip6.arpa. (NSEC3) below those; and an unsigned
// delegation 9.2.0.192.in-addr.arpa. The mutate function may adjust
// specs for the Bogus variants.
func treeSpecs(t testing.TB, mutate func(*treeZones)) []dnskeystest.ZoneSpec {
	k := keys(t)
	v6one := rel(t, "2001:db8::1", v6Zone)
	var big []string
	for p := 1; p <= 8; p++ {
		big = append(big, fmt.Sprintf("big IPSECKEY %d 0 2 . %s", p, k.rsaB64))
	}
	specs := treeZones{
		Root:   dnskeystest.ZoneSpec{Name: "."},
		InAddr: dnskeystest.ZoneSpec{Name: "in-addr.arpa."},
		IP6:    dnskeystest.ZoneSpec{Name: "ip6.arpa.", NSEC3: true},
		V4: dnskeystest.ZoneSpec{Name: v4Zone, Records: append([]string{
			"1 IPSECKEY 10 0 4 . " + k.edB64,
			"1 IPSECKEY 20 1 2 192.0.2.254 " + k.rsaB64,
			"1 IPSECKEY 5 0 1 . " + k.dsaJunk,
			"1 KEY 16896 4 8 " + k.rsaB64,
			"2 IPSECKEY 10 2 3 2001:db8::1 " + k.ecB64,
			"3 IPSECKEY 10 3 2 gw.example.com. " + k.rsaB64,
			"4 PTR host4.example.com.",
			"8 KEY 16896 4 15 " + k.edB64,
			"*.w IPSECKEY 10 0 4 . " + k.edB64,
			"6 CNAME 1",
			"7 CNAME " + v6one + "." + v6Zone,
		}, big...)},
		V6: dnskeystest.ZoneSpec{Name: v6Zone, NSEC3: true, Records: []string{
			v6one + " IPSECKEY 10 0 3 . " + k.ecB64,
			rel(t, "2001:db8::3", v6Zone) + " PTR host3.example.com.",
		}},
		Unsigned: dnskeystest.ZoneSpec{Name: unsignedZ, Unsigned: true, Records: []string{
			"@ IPSECKEY 10 0 4 . " + k.edB64,
		}},
	}
	if mutate != nil {
		mutate(&specs)
	}
	return append([]dnskeystest.ZoneSpec{specs.Root, specs.InAddr, specs.IP6, specs.V4, specs.V6, specs.Unsigned}, specs.Extra...)
}

type treeZones struct {
	Root, InAddr, IP6, V4, V6, Unsigned dnskeystest.ZoneSpec
	Extra                               []dnskeystest.ZoneSpec
}

// served builds, signs and serves a tree and returns it with a Resolver
// pointed at it through the stub map.
func served(t testing.TB, mutate func(*treeZones), cfg func(*dnskeys.Config, *dnskeystest.Tree)) (*dnskeystest.Tree, *dnskeys.Resolver) {
	t.Helper()
	if b, ok := t.(*testing.B); ok {
		// Benchmarks are no test tier: run wherever the tools exist.
		if err := dnskeystest.HaveTools(); err != nil {
			b.Skip(err)
		}
	} else {
		dnskeystest.RequireTools(t)
	}
	tr := dnskeystest.BuildTree(t, treeSpecs(t, mutate)...)
	tr.Serve(t)
	anchors, err := dnskeys.LoadAnchors(tr.Anchor)
	if err != nil {
		t.Fatal(err)
	}
	c := dnskeys.Config{
		Anchors:  anchors,
		Stub:     map[string][]string{},
		Timeout:  time.Second,
		Attempts: 2,
	}
	for z, a := range tr.Servers {
		c.Stub[z] = []string{a}
	}
	if cfg != nil {
		cfg(&c, tr)
	}
	r, err := dnskeys.New(c)
	if err != nil {
		t.Fatal(err)
	}
	return tr, r
}

func lookupAddr(t *testing.T, r *dnskeys.Resolver, addr string) *dnskeys.KeyResult {
	t.Helper()
	ctx := t.Context()
	kr, err := r.LookupAddr(ctx, netip.MustParseAddr(addr))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s: %s %s", addr, kr.State, kr.Reason)
	return kr
}

func wantZones(t *testing.T, got []string, want ...string) {
	t.Helper()
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("zones walked = %v, want %v", got, want)
	}
}

// noLeaks fails the test if goroutines it started outlive it (after its
// cleanups, which stop the servers and proxies).
func noLeaks(t *testing.T) {
	before := runtime.NumGoroutine()
	t.Cleanup(func() {
		deadline := time.Now().Add(3 * time.Second)
		for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		if n := runtime.NumGoroutine(); n > before {
			buf := make([]byte, 1<<16)
			t.Errorf("%d goroutines leaked:\n%s", n-before, buf[:runtime.Stack(buf, true)])
		}
	})
}

func TestNetnsNSDTreeSecure(t *testing.T) {
	testenv.RequireNetns(t)
	noLeaks(t)
	_, r := served(t, nil, nil)
	k := keys(t)

	t.Run("ipv4 several records", func(t *testing.T) {
		kr := lookupAddr(t, r, "192.0.2.1")
		if kr.State != dnskeys.Secure || kr.IPSECKEY.State != dnskeys.Secure || kr.KEY.State != dnskeys.Secure {
			t.Fatalf("state %s (ipseckey %s, key %s), want secure", kr.State, kr.IPSECKEY.Reason, kr.KEY.Reason)
		}
		best := kr.Best()
		if best == nil || !k.ed.Public().(ed25519.PublicKey).Equal(best.PublicKey) || best.Precedence != 10 {
			t.Fatalf("best key = %v, want the Ed25519 key at precedence 10", best)
		}
		if len(kr.Keys) != 4 {
			t.Fatalf("got %d keys, want 4 (3 IPSECKEY + 1 KEY): %v", len(kr.Keys), kr.Keys)
		}
		var sawDSA, sawGW, sawKEY bool
		for _, key := range kr.Keys {
			switch {
			case key.Algorithm == dnskeys.AlgDSA:
				sawDSA = strings.Contains(key.Refused, "DSA")
			case key.GatewayType == dnskeys.GatewayIPv4:
				sawGW = key.Gateway == netip.MustParseAddr("192.0.2.254") && key.Usable()
			case key.Source == dns.TypeKEY:
				sawKEY = key.Usable() && k.rsa.PublicKey.Equal(key.PublicKey)
			}
		}
		if !sawDSA || !sawGW || !sawKEY {
			t.Errorf("diagnostic keys: DSA refused %v, RSA via IPv4 gateway %v, legacy KEY %v: %v", sawDSA, sawGW, sawKEY, kr.Keys)
		}
		wantZones(t, kr.Zones(), ".", "in-addr.arpa.", v4Zone)
	})
	t.Run("ipv6 gateway ecdsa", func(t *testing.T) {
		kr := lookupAddr(t, r, "192.0.2.2")
		b := kr.Best()
		if kr.State != dnskeys.Secure || b == nil || b.GatewayType != dnskeys.GatewayIPv6 ||
			b.Gateway != netip.MustParseAddr("2001:db8::1") || !k.ec.PublicKey.Equal(b.PublicKey) {
			t.Fatalf("got %s %v", kr.State, b)
		}
	})
	t.Run("name gateway rsa", func(t *testing.T) {
		kr := lookupAddr(t, r, "192.0.2.3")
		b := kr.Best()
		if kr.State != dnskeys.Secure || b == nil || b.GatewayType != dnskeys.GatewayName || b.GatewayName != "gw.example.com." ||
			!k.rsa.PublicKey.Equal(b.PublicKey) {
			t.Fatalf("got %s %v", kr.State, b)
		}
	})
	t.Run("ip6.arpa nsec3 zone", func(t *testing.T) {
		kr := lookupAddr(t, r, "2001:db8::1")
		b := kr.Best()
		if kr.State != dnskeys.Secure || b == nil || !k.ec.PublicKey.Equal(b.PublicKey) {
			t.Fatalf("got %s %v", kr.State, b)
		}
		wantZones(t, kr.Zones(), ".", "ip6.arpa.", v6Zone)
	})
	t.Run("nodata nsec", func(t *testing.T) {
		kr := lookupAddr(t, r, "192.0.2.4")
		if kr.State != dnskeys.Secure || kr.Usable() || kr.IPSECKEY.Denial != dnskeys.DenialNoData ||
			!strings.Contains(kr.IPSECKEY.Reason, "NSEC from "+v4Zone) {
			t.Fatalf("got %s %s denial %s", kr.State, kr.IPSECKEY.Reason, kr.IPSECKEY.Denial)
		}
	})
	t.Run("nxdomain nsec", func(t *testing.T) {
		kr := lookupAddr(t, r, "192.0.2.5")
		if kr.State != dnskeys.Secure || kr.Usable() || kr.IPSECKEY.Denial != dnskeys.DenialNXDomain {
			t.Fatalf("got %s %s denial %s", kr.State, kr.IPSECKEY.Reason, kr.IPSECKEY.Denial)
		}
	})
	t.Run("nodata nsec3", func(t *testing.T) {
		kr := lookupAddr(t, r, "2001:db8::3")
		if kr.State != dnskeys.Secure || kr.Usable() || kr.IPSECKEY.Denial != dnskeys.DenialNoData ||
			!strings.Contains(kr.IPSECKEY.Reason, "NSEC3 from "+v6Zone) {
			t.Fatalf("got %s %s denial %s", kr.State, kr.IPSECKEY.Reason, kr.IPSECKEY.Denial)
		}
	})
	t.Run("nxdomain nsec3", func(t *testing.T) {
		kr := lookupAddr(t, r, "2001:db8::4")
		if kr.State != dnskeys.Secure || kr.Usable() || kr.IPSECKEY.Denial != dnskeys.DenialNXDomain ||
			!strings.Contains(kr.IPSECKEY.Reason, "NSEC3") {
			t.Fatalf("got %s %s denial %s", kr.State, kr.IPSECKEY.Reason, kr.IPSECKEY.Denial)
		}
	})
	t.Run("wildcard", func(t *testing.T) {
		kr, err := r.LookupName(t.Context(), "host.w."+v4Zone)
		if err != nil {
			t.Fatal(err)
		}
		if kr.State != dnskeys.Secure || kr.Best() == nil || !k.ed.Public().(ed25519.PublicKey).Equal(kr.Best().PublicKey) {
			t.Fatalf("got %s %s", kr.State, kr.Reason)
		}
	})
	t.Run("cname in zone", func(t *testing.T) {
		kr := lookupAddr(t, r, "192.0.2.6")
		if kr.State != dnskeys.Secure || kr.Best() == nil || len(kr.IPSECKEY.CNAMEs) != 1 {
			t.Fatalf("got %s %s cnames %v", kr.State, kr.Reason, kr.IPSECKEY.CNAMEs)
		}
	})
	t.Run("cname across zones", func(t *testing.T) {
		kr := lookupAddr(t, r, "192.0.2.7")
		if kr.State != dnskeys.Secure || kr.Best() == nil || !k.ec.PublicKey.Equal(kr.Best().PublicKey) {
			t.Fatalf("got %s %s", kr.State, kr.Reason)
		}
		wantZones(t, kr.Zones(), ".", "in-addr.arpa.", v4Zone, "ip6.arpa.", v6Zone)
	})
	t.Run("legacy KEY only", func(t *testing.T) {
		kr := lookupAddr(t, r, "192.0.2.8")
		b := kr.Best()
		if kr.State != dnskeys.Secure || b == nil || b.Source != dns.TypeKEY || !k.ed.Public().(ed25519.PublicKey).Equal(b.PublicKey) ||
			kr.IPSECKEY.Denial != dnskeys.DenialNoData {
			t.Fatalf("got %s %v", kr.State, b)
		}
	})
	t.Run("unsigned delegation", func(t *testing.T) {
		kr := lookupAddr(t, r, "192.0.2.9")
		if kr.State != dnskeys.Insecure || kr.Usable() || kr.IPSECKEY.Zone != unsignedZ ||
			!strings.Contains(kr.Reason, "delegation to "+unsignedZ+" from "+v4Zone+" has no DS") {
			t.Fatalf("got %s %q zone %s", kr.State, kr.Reason, kr.IPSECKEY.Zone)
		}
		if len(kr.Keys) != 1 || !strings.Contains(kr.Keys[0].Refused, "insecure") {
			t.Errorf("the insecure key should be visible but refused: %v", kr.Keys)
		}
	})
}
