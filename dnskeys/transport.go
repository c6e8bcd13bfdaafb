package dnskeys

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/miekg/dns"
)

// An Exchanger sends one query to one server ("host:port") and returns its
// response. It is the I/O edge of the package; tests substitute fakes.
type Exchanger interface {
	Exchange(ctx context.Context, m *dns.Msg, server string) (*dns.Msg, error)
}

// Defaults for the network transport.
const (
	// DefaultUDPSize is the EDNS0 buffer size advertised (the DNS Flag Day
	// 2020 value, which avoids IP fragmentation).
	DefaultUDPSize = 1232
	// DefaultQueryTimeout bounds one query to one server.
	DefaultQueryTimeout = 2 * time.Second
	// DefaultAttempts is how many rounds over the servers a query gets.
	DefaultAttempts = 2
)

// NetExchanger is the network Exchanger: UDP first, and TCP when the UDP
// answer is truncated (RFC 7766 §5, RFC 1035 §4.2.1). The zero value uses
// the defaults. It is safe for concurrent use.
type NetExchanger struct {
	// Timeout bounds each attempt (UDP and TCP each); the context may cut
	// it shorter.
	Timeout time.Duration
	// UDPSize is the EDNS0 UDP payload size to advertise.
	UDPSize uint16
}

// Exchange implements Exchanger.
func (x *NetExchanger) Exchange(ctx context.Context, m *dns.Msg, server string) (*dns.Msg, error) {
	timeout := x.Timeout
	if timeout <= 0 {
		timeout = DefaultQueryTimeout
	}
	size := x.UDPSize
	if size == 0 {
		size = DefaultUDPSize
	}
	qctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	udp := &dns.Client{Net: "udp", UDPSize: size, Timeout: timeout}
	resp, _, err := udp.ExchangeContext(qctx, m, server)
	if err == nil && resp.Truncated {
		tctx, tcancel := context.WithTimeout(ctx, timeout)
		defer tcancel()
		tcp := &dns.Client{Net: "tcp", Timeout: timeout}
		resp, _, err = tcp.ExchangeContext(tctx, m, server)
	}
	if err != nil {
		return nil, fmt.Errorf("dnskeys: query %s %s to %s: %w", m.Question[0].Name, typeName(m.Question[0].Qtype), server, err)
	}
	return resp, nil
}

// newQuery builds a query with EDNS0 and the DO bit (RFC 4035 §3.2.1). rd
// asks for recursion; cd (RFC 4035 §3.2.2) asks a validating resolver to
// pass data it considers bogus, so that our own validator decides.
func newQuery(name string, qtype uint16, rd, cd bool, udpSize uint16) *dns.Msg {
	m := new(dns.Msg)
	m.SetQuestion(name, qtype)
	m.RecursionDesired = rd
	m.CheckingDisabled = cd
	if udpSize == 0 {
		udpSize = DefaultUDPSize
	}
	m.SetEdns0(udpSize, true)
	return m
}

// errNoServers is returned when a query has nowhere to go.
var errNoServers = errors.New("dnskeys: no DNS servers configured")

// exchangeAny sends m to servers in order, up to attempts rounds, until one
// gives a usable response: any response except SERVFAIL, REFUSED and
// NOTIMP, whose question matches. A retry uses a fresh message ID.
func exchangeAny(ctx context.Context, ex Exchanger, m *dns.Msg, servers []string, attempts int) (*dns.Msg, error) {
	if len(servers) == 0 {
		return nil, errNoServers
	}
	if attempts <= 0 {
		attempts = DefaultAttempts
	}
	var lastErr error
	var lastResp *dns.Msg
	for round := 0; round < attempts; round++ {
		for _, s := range servers {
			if err := ctx.Err(); err != nil {
				if lastErr == nil {
					lastErr = err
				}
				return nil, fmt.Errorf("%w (last error: %v)", err, lastErr)
			}
			q := m.Copy()
			q.Id = dns.Id()
			resp, err := ex.Exchange(ctx, q, s)
			if err != nil {
				lastErr = err
				continue
			}
			if len(resp.Question) != 1 || resp.Question[0].Qtype != q.Question[0].Qtype ||
				canonical(resp.Question[0].Name) != canonical(q.Question[0].Name) {
				lastErr = fmt.Errorf("dnskeys: %s answered another question", s)
				continue
			}
			switch resp.Rcode {
			case dns.RcodeServerFailure, dns.RcodeRefused, dns.RcodeNotImplemented:
				lastResp = resp
				lastErr = fmt.Errorf("dnskeys: %s answered %s", s, dns.RcodeToString[resp.Rcode])
				continue
			}
			return resp, nil
		}
	}
	if lastResp != nil {
		return lastResp, nil
	}
	return nil, lastErr
}

// normalizeServer adds the default port to a server address.
func normalizeServer(s string) (string, error) {
	if host, port, err := net.SplitHostPort(s); err == nil {
		if host == "" || port == "" {
			return "", fmt.Errorf("dnskeys: bad server address %q", s)
		}
		return s, nil
	}
	if net.ParseIP(s) == nil {
		return "", fmt.Errorf("dnskeys: bad server address %q (want IP or IP:port)", s)
	}
	return net.JoinHostPort(s, "53"), nil
}
