package dnskeys

import (
	"context"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/miekg/dns"
)

// askLog is a replayFetcher that records the questions asked.
type askLog struct {
	replayFetcher
	mu    sync.Mutex
	asked []string
}

func (a *askLog) Fetch(ctx context.Context, name string, qtype uint16) (*dns.Msg, error) {
	a.mu.Lock()
	a.asked = append(a.asked, name+" "+dns.TypeToString[qtype])
	a.mu.Unlock()
	return a.replayFetcher.Fetch(ctx, name, qtype)
}

func TestCollectAsksTheChain(t *testing.T) {
	cases := []struct {
		file string
		want []string
	}{{
		"secure_v4.bin",
		[]string{"1.2.0.192.in-addr.arpa. IPSECKEY", "2.0.192.in-addr.arpa. DNSKEY", "2.0.192.in-addr.arpa. DS",
			"in-addr.arpa. DNSKEY", "in-addr.arpa. DS", ". DNSKEY"},
	}, {
		// The unsigned answer makes the collector locate the zone (SOA) and
		// ask its parent for DS, then walk the parent's chain.
		"insecure.bin",
		[]string{"9.2.0.192.in-addr.arpa. IPSECKEY", "9.2.0.192.in-addr.arpa. SOA", "9.2.0.192.in-addr.arpa. DS",
			"2.0.192.in-addr.arpa. DNSKEY", "2.0.192.in-addr.arpa. DS", "in-addr.arpa. DNSKEY", "in-addr.arpa. DS", ". DNSKEY"},
	}}
	for _, tc := range cases {
		t.Run(tc.file, func(t *testing.T) {
			ev, a, _ := fixture(t, tc.file)
			f := &askLog{replayFetcher: replayFetcher{ev: ev}}
			got := Collect(context.Background(), f, a, ev.QName, ev.QType, Options{})
			if len(got.Failures) != 0 {
				t.Errorf("failures: %v", got.Failures)
			}
			asked := append([]string(nil), f.asked...)
			want := append([]string(nil), tc.want...)
			sort.Strings(asked)
			sort.Strings(want)
			if strings.Join(asked, "\n") != strings.Join(want, "\n") {
				t.Errorf("asked:\n%s\nwant:\n%s", strings.Join(asked, "\n"), strings.Join(want, "\n"))
			}
		})
	}
}

func TestCollectRecordsFailures(t *testing.T) {
	ev, a, now := fixture(t, "secure_v4.bin")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	got := Collect(ctx, &replayFetcher{ev: ev}, a, ev.QName, ev.QType, Options{})
	if len(got.Responses) != 0 || len(got.Failures) != 1 || !strings.Contains(got.Failures[0].Err, "canceled") {
		t.Fatalf("responses %d failures %v", len(got.Responses), got.Failures)
	}
	res := Validate(got, a, now, Options{})
	if res.State != Indeterminate || !strings.Contains(res.Reason, "context canceled") {
		t.Fatalf("got %s", res)
	}
}
