package dnskeys

import (
	"context"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// testServer runs a miekg/dns server on a loopback port over UDP and TCP.
func testServer(t *testing.T, h dns.HandlerFunc) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := pc.LocalAddr().String()
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	udp := &dns.Server{PacketConn: pc, Handler: h}
	tcp := &dns.Server{Listener: l, Handler: h}
	go udp.ActivateAndServe()
	go tcp.ActivateAndServe()
	t.Cleanup(func() { udp.Shutdown(); tcp.Shutdown() })
	time.Sleep(20 * time.Millisecond)
	return addr
}

func answerA(w dns.ResponseWriter, r *dns.Msg, rcode int) {
	m := new(dns.Msg)
	m.SetRcode(r, rcode)
	if rcode == dns.RcodeSuccess {
		rr, _ := dns.NewRR(r.Question[0].Name + " 60 IN A 192.0.2.1")
		m.Answer = append(m.Answer, rr)
	}
	w.WriteMsg(m)
}

func TestNetExchangerTruncationUsesTCP(t *testing.T) {
	var udpSeen, tcpSeen atomic.Int32
	addr := testServer(t, func(w dns.ResponseWriter, r *dns.Msg) {
		if w.RemoteAddr().Network() == "udp" {
			udpSeen.Add(1)
			m := new(dns.Msg)
			m.SetReply(r)
			m.Truncated = true
			w.WriteMsg(m)
			return
		}
		tcpSeen.Add(1)
		answerA(w, r, dns.RcodeSuccess)
	})
	x := &NetExchanger{Timeout: time.Second}
	resp, err := x.Exchange(context.Background(), newQuery("a.example.", dns.TypeA, true, true, 0), addr)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Truncated || len(resp.Answer) != 1 || udpSeen.Load() != 1 || tcpSeen.Load() != 1 {
		t.Fatalf("tc=%v answers=%d udp=%d tcp=%d", resp.Truncated, len(resp.Answer), udpSeen.Load(), tcpSeen.Load())
	}
}

func TestQueryFlags(t *testing.T) {
	var got atomic.Value
	addr := testServer(t, func(w dns.ResponseWriter, r *dns.Msg) {
		got.Store(r.Copy())
		answerA(w, r, dns.RcodeSuccess)
	})
	f := &RecursiveFetcher{Servers: []string{addr}, Exchanger: &NetExchanger{}}
	if _, err := f.Fetch(context.Background(), "a.example.", dns.TypeA); err != nil {
		t.Fatal(err)
	}
	q := got.Load().(*dns.Msg)
	opt := q.IsEdns0()
	if !q.RecursionDesired || !q.CheckingDisabled || opt == nil || !opt.Do() || opt.UDPSize() != DefaultUDPSize {
		t.Errorf("query flags rd=%v cd=%v edns=%v", q.RecursionDesired, q.CheckingDisabled, opt)
	}
}

func TestUnresponsiveServerTimesOut(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	x := &NetExchanger{Timeout: 100 * time.Millisecond}
	start := time.Now()
	_, err = exchangeAny(context.Background(), x, newQuery("a.example.", dns.TypeA, true, true, 0), []string{pc.LocalAddr().String()}, 3)
	if err == nil || !strings.Contains(err.Error(), "timeout") {
		t.Fatalf("err = %v", err)
	}
	if el := time.Since(start); el > 2*time.Second {
		t.Errorf("three 100ms attempts took %v", el)
	}
}

func TestExchangeAnyFailsOver(t *testing.T) {
	bad := testServer(t, func(w dns.ResponseWriter, r *dns.Msg) { answerA(w, r, dns.RcodeServerFailure) })
	good := testServer(t, func(w dns.ResponseWriter, r *dns.Msg) { answerA(w, r, dns.RcodeSuccess) })
	other := testServer(t, func(w dns.ResponseWriter, r *dns.Msg) {
		r.Question[0].Name = "other.example."
		answerA(w, r, dns.RcodeSuccess)
	})
	x := &NetExchanger{Timeout: time.Second}
	q := newQuery("a.example.", dns.TypeA, true, true, 0)
	resp, err := exchangeAny(context.Background(), x, q, []string{bad, other, good}, 1)
	if err != nil || resp.Rcode != dns.RcodeSuccess {
		t.Fatalf("failover: %v %v", resp, err)
	}
	resp, err = exchangeAny(context.Background(), x, q, []string{bad}, 2)
	if err != nil || resp.Rcode != dns.RcodeServerFailure {
		t.Fatalf("all SERVFAIL: rcode %v err %v", resp, err)
	}
	if _, err := exchangeAny(context.Background(), x, q, []string{other}, 1); err == nil || !strings.Contains(err.Error(), "another question") {
		t.Fatalf("mismatched question: %v", err)
	}
	if _, err := exchangeAny(context.Background(), x, q, nil, 1); err != errNoServers {
		t.Fatalf("no servers: %v", err)
	}
}

// routeEx records which server each question went to.
type routeEx struct{ got map[string]string }

func (r *routeEx) Exchange(_ context.Context, m *dns.Msg, server string) (*dns.Msg, error) {
	r.got[m.Question[0].Name+"/"+dns.TypeToString[m.Question[0].Qtype]] = server
	resp := new(dns.Msg)
	resp.SetReply(m)
	return resp, nil
}

func TestStubFetcherRouting(t *testing.T) {
	ex := &routeEx{got: map[string]string{}}
	f, err := NewStubFetcher(map[string][]string{
		".":                    {"127.0.0.1:5301"},
		"in-addr.arpa":         {"127.0.0.1:5302"},
		"2.0.192.in-addr.arpa": {"127.0.0.2"},
	}, ex, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, q := range []struct {
		name  string
		qtype uint16
		want  string
	}{
		{"1.2.0.192.in-addr.arpa.", dns.TypeIPSECKEY, "127.0.0.2:53"},
		{"2.0.192.in-addr.arpa.", dns.TypeDNSKEY, "127.0.0.2:53"},
		{"2.0.192.in-addr.arpa.", dns.TypeDS, "127.0.0.1:5302"}, // the parent side
		{"in-addr.arpa.", dns.TypeDS, "127.0.0.1:5301"},
		{".", dns.TypeDNSKEY, "127.0.0.1:5301"},
		{"example.", dns.TypeA, "127.0.0.1:5301"},
	} {
		if _, err := f.Fetch(ctx, q.name, q.qtype); err != nil {
			t.Fatal(err)
		}
		if got := ex.got[q.name+"/"+dns.TypeToString[q.qtype]]; got != q.want {
			t.Errorf("%s %s went to %s, want %s", q.name, dns.TypeToString[q.qtype], got, q.want)
		}
	}
	narrow, _ := NewStubFetcher(map[string][]string{"example.": {"127.0.0.1"}}, ex, nil)
	if _, err := narrow.Fetch(ctx, "other.", dns.TypeA); err == nil {
		t.Error("a name outside every stub zone was fetched without a fallback")
	}
	if _, err := NewStubFetcher(map[string][]string{"example.": {"not-an-ip"}}, ex, nil); err == nil {
		t.Error("bad server address accepted")
	}
	if _, err := NewStubFetcher(map[string][]string{"example.": nil}, ex, nil); err == nil {
		t.Error("zone without servers accepted")
	}
}
