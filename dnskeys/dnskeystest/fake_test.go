package dnskeystest

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"net/netip"
	"testing"
	"time"

	"github.com/oe-agent/oe-agent/dnskeys"
)

func TestFakeResolver(t *testing.T) {
	pub, _, _ := ed25519.GenerateKey(rand.Reader)
	r := NewResolver()
	addr := netip.MustParseAddr("192.0.2.10")
	r.SetAddr(addr, SecureKey("10.2.0.192.in-addr.arpa.", pub))
	r.SetName("gw.example.com", Failed("gw.example.com", dnskeys.Bogus, "RRSIG expired (zone example.com.)"))

	kr, err := r.LookupAddr(context.Background(), addr)
	if err != nil || kr.State != dnskeys.Secure || kr.Best() == nil || !pub.Equal(kr.Best().PublicKey) {
		t.Fatalf("configured key: %v %v", kr, err)
	}
	kr, _ = r.LookupName(context.Background(), "GW.example.com.")
	if kr.State != dnskeys.Bogus || kr.Usable() || kr.Reason != "bogus: RRSIG expired (zone example.com.)" {
		t.Fatalf("configured failure: %+v", kr)
	}
	kr, _ = r.LookupAddr(context.Background(), netip.MustParseAddr("192.0.2.11"))
	if kr.State != dnskeys.Indeterminate {
		t.Fatalf("unconfigured: %s", kr.State)
	}
	if got := r.Calls(); len(got) != 3 || got[1] != "gw.example.com." {
		t.Errorf("calls %v", got)
	}
	if _, err := r.LookupName(context.Background(), "bad..name"); err == nil {
		t.Error("invalid name accepted")
	}
	r.Delay = time.Second
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if kr, _ := r.LookupAddr(ctx, addr); kr.State != dnskeys.Indeterminate {
		t.Errorf("deadline: %s", kr.State)
	}
}
