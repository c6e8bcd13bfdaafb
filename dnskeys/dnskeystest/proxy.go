package dnskeystest

import (
	"encoding/binary"
	"io"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// Proxy is a DNS man in the middle on a loopback port: it relays UDP and
// TCP queries to Upstream and can rewrite or swallow the answers.
type Proxy struct {
	Addr     string
	Upstream string
	// Rewrite, if set, may modify each response before it is relayed.
	Rewrite func(*dns.Msg)
	// Silent makes the proxy read queries and never answer.
	Silent atomic.Bool
	// UDPQueries and TCPQueries count the queries seen per transport.
	UDPQueries, TCPQueries atomic.Int64

	udp net.PacketConn
	tcp net.Listener
	wg  sync.WaitGroup
}

// NewProxy starts a proxy in front of upstream; it stops when the test ends.
func NewProxy(t testing.TB, upstream string, rewrite func(*dns.Msg)) *Proxy {
	t.Helper()
	port := freePort(t)
	p := &Proxy{Upstream: upstream, Rewrite: rewrite}
	var err error
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	if p.udp, err = net.ListenPacket("udp", addr); err != nil {
		t.Fatal(err)
	}
	if p.tcp, err = net.Listen("tcp", addr); err != nil {
		t.Fatal(err)
	}
	p.Addr = addr
	p.wg.Add(2)
	go p.serveUDP()
	go p.serveTCP()
	t.Cleanup(func() {
		p.udp.Close()
		p.tcp.Close()
		p.wg.Wait()
	})
	return p
}

// NewSilentServer returns the address of a loopback UDP/TCP endpoint that
// accepts queries and never answers.
func NewSilentServer(t testing.TB) string {
	p := NewProxy(t, "127.0.0.1:9", nil)
	p.Silent.Store(true)
	return p.Addr
}

func (p *Proxy) relay(q []byte, network string) []byte {
	if p.Silent.Load() {
		return nil
	}
	c := &dns.Client{Net: network, Timeout: 2 * time.Second, UDPSize: 65535}
	qm := new(dns.Msg)
	if err := qm.Unpack(q); err != nil {
		return nil
	}
	resp, _, err := c.Exchange(qm, p.Upstream)
	if err != nil {
		return nil
	}
	if p.Rewrite != nil {
		p.Rewrite(resp)
	}
	out, err := resp.Pack()
	if err != nil {
		return nil
	}
	return out
}

func (p *Proxy) serveUDP() {
	defer p.wg.Done()
	buf := make([]byte, 65535)
	for {
		n, from, err := p.udp.ReadFrom(buf)
		if err != nil {
			return
		}
		p.UDPQueries.Add(1)
		q := append([]byte(nil), buf[:n]...)
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			if out := p.relay(q, "udp"); out != nil {
				_, _ = p.udp.WriteTo(out, from)
			}
		}()
	}
}

func (p *Proxy) serveTCP() {
	defer p.wg.Done()
	for {
		conn, err := p.tcp.Accept()
		if err != nil {
			return
		}
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			defer conn.Close()
			_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
			for {
				var l [2]byte
				if _, err := io.ReadFull(conn, l[:]); err != nil {
					return
				}
				q := make([]byte, binary.BigEndian.Uint16(l[:]))
				if _, err := io.ReadFull(conn, q); err != nil {
					return
				}
				p.TCPQueries.Add(1)
				out := p.relay(q, "tcp")
				if out == nil {
					continue
				}
				_, _ = conn.Write(binary.BigEndian.AppendUint16(nil, uint16(len(out))))
				_, _ = conn.Write(out)
			}
		}()
	}
}
