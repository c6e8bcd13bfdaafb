package e2e

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/oe-agent/oe-agent/agent/api"
	"github.com/oe-agent/oe-agent/internal/oetest"
)

// Helpers shared by the OE scenario tests (vm tier).

// espSAs returns the ESP SAs (larval ones excluded) in h's namespace
// between a and b, in either direction.
func espSAs(t testing.TB, h *oetest.Host, a, b netip.Addr) []oetest.State {
	t.Helper()
	var out []oetest.State
	for _, s := range h.States(t) {
		if s.Proto != "esp" || s.SPI == 0 {
			continue
		}
		if (s.Src == a && s.Dst == b) || (s.Src == b && s.Dst == a) {
			out = append(out, s)
		}
	}
	return out
}

// waitESPCount waits until h has exactly n ESP SAs between a and b and
// keeps that number for stable; it fails the test after d and returns the
// SAs last seen.
func waitESPCount(t testing.TB, h *oetest.Host, a, b netip.Addr, n int, stable, d time.Duration) []oetest.State {
	t.Helper()
	deadline := time.Now().Add(d)
	var since time.Time
	for {
		sas := espSAs(t, h, a, b)
		if len(sas) == n {
			if since.IsZero() {
				since = time.Now()
			}
			if time.Since(since) >= stable {
				return sas
			}
		} else {
			since = time.Time{}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %d ESP SAs between %s and %s after %s, want %d:\n%s", h, len(sas), a, b, d, n, kernelDump(t, h))
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// udpRound sends count datagrams from src (an address of from) to dst, an
// address of to, and waits up to wait for all of them. It returns the
// sink's report and the marker the datagrams carried.
func udpRound(t testing.TB, from *oetest.Host, src netip.Addr, to *oetest.Host, dst netip.AddrPort, count int, interval, wait time.Duration) (oetest.FlowReport, []byte) {
	t.Helper()
	marker := oetest.NewMarker()
	sink := to.ListenUDP(t, dst, marker)
	defer sink.Close()
	flow := from.SendUDP(t, src, dst, marker, oetest.Burst{Count: count, Interval: interval})
	if flow.Errors > 0 {
		t.Logf("%s -> %s: %d of %d sends failed, the first with %v", src, dst, flow.Errors, count, flow.ErrFirst)
	}
	sink.WaitCount(count, wait)
	return sink.Report(flow), marker
}

// statusJSON is an agent's status, indented, for failure messages.
func statusJSON(t testing.TB, a *oetest.Agent) string {
	t.Helper()
	b, _ := json.MarshalIndent(a.Status(t), "", "  ")
	return string(b)
}

// waitNoPeer waits until the agent no longer lists addr and returns how
// long that took; it fails the test after d.
func waitNoPeer(t testing.TB, a *oetest.Agent, addr netip.Addr, d time.Duration) time.Duration {
	t.Helper()
	t0 := time.Now()
	for a.Peer(t, addr) != nil {
		if time.Since(t0) > d {
			t.Fatalf("agent on %s still lists peer %s after %s:\n%s", a.Host, addr, d, statusJSON(t, a))
		}
		time.Sleep(200 * time.Millisecond)
	}
	return time.Since(t0)
}

// trace runs `oectl trace --json addr` on the agent.
func trace(t testing.TB, a *oetest.Agent, addr netip.Addr) *api.Trace {
	t.Helper()
	out, errOut, err := a.Oectl("trace", "--json", addr.String())
	if err != nil {
		t.Fatalf("oectl trace --json %s: %v\n%s\n%s", addr, err, out, errOut)
	}
	var tr api.Trace
	if err := json.Unmarshal([]byte(out), &tr); err != nil {
		t.Fatalf("oectl trace --json %s: not JSON (%v):\n%s", addr, err, out)
	}
	return &tr
}

// cleartextTo returns the captured frames that carry marker and go to dst
// (the payload in clear on the wire).
func cleartextTo(c *oetest.Capture, marker []byte, dst netip.Addr) []*oetest.Packet {
	return c.Filter(func(p *oetest.Packet) bool { return p.Dst == dst && p.Contains(marker) })
}

// espSPIs are the distinct SPIs of the ESP packets captured from src to dst.
func espSPIs(c *oetest.Capture, src, dst netip.Addr) []uint32 {
	seen := map[uint32]bool{}
	var out []uint32
	for _, p := range c.Filter(func(p *oetest.Packet) bool { return p.Kind == oetest.KindESP && p.Src == src && p.Dst == dst }) {
		if !seen[p.SPI] {
			seen[p.SPI] = true
			out = append(out, p.SPI)
		}
	}
	return out
}

// kernelDump is what h's kernel holds and counts for XFRM: policies,
// states and /proc/net/xfrm_stat, for failure messages.
func kernelDump(t testing.TB, h *oetest.Host) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("--- policies on " + h.Name + "\n")
	for _, p := range h.Policies(t) {
		b.WriteString("  " + p.String() + "\n")
	}
	b.WriteString("--- states on " + h.Name + "\n")
	for _, s := range h.States(t) {
		fmt.Fprintf(&b, "  %s -> %s %s spi %#x reqid %d %s\n", s.Src, s.Dst, s.Proto, s.SPI, s.Reqid, s.Mode)
	}
	b.WriteString("--- /proc/net/xfrm_stat on " + h.Name + " (non-zero)\n")
	for _, line := range strings.Split(h.Run(t, "cat", "/proc/net/xfrm_stat"), "\n") {
		if f := strings.Fields(line); len(f) == 2 && f[1] != "0" {
			b.WriteString("  " + line + "\n")
		}
	}
	return b.String()
}

// logHas reports whether the agent's log contains s.
func logHas(a *oetest.Agent, s string) bool { return strings.Contains(a.Log(), s) }
