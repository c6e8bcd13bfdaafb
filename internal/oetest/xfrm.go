package oetest

import (
	"fmt"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/oe-agent/oe-agent/trap"
)

// The rig reads the kernel's XFRM tables with `ip xfrm`, what an
// administrator sees, and independently of the agent's own xfrm package.
// (vishvananda/netlink v1.3.1 misreads IPv6 selectors whose low 96 bits
// are zero, such as 2001:db8::/64, as IPv4: not usable here.)

// Policy is one XFRM policy as `ip xfrm policy` prints it.
type Policy struct {
	Src, Dst     netip.Prefix
	Proto        string // "" for any, else udp, tcp, ipv6-icmp, ...
	SPort, DPort int
	// Dir is in, out or fwd; Socket marks a per-socket policy.
	Dir      string
	Socket   bool
	Action   string // allow or block
	Priority uint32
	Tmpls    []Tmpl
}

// Tmpl is a policy's template: the SA the policy asks for.
type Tmpl struct {
	Src, Dst netip.Addr
	Proto    string // esp, ah, comp
	SPI      uint32
	Reqid    uint32
	Mode     string // transport, tunnel
	Level    string // required (default), use
}

// State is one XFRM state (SA) as `ip xfrm state` prints it; an SPI of 0
// is a larval state (an ACQUIRE in progress).
type State struct {
	Src, Dst netip.Addr
	Proto    string
	SPI      uint32
	Reqid    uint32
	Mode     string
	// SelSrc and SelDst are the selector, if printed.
	SelSrc, SelDst netip.Prefix
}

func (p Policy) String() string {
	s := fmt.Sprintf("%s -> %s", p.Src, p.Dst)
	if p.Proto != "" {
		s += " " + p.Proto
		if p.DPort != 0 {
			s += fmt.Sprintf(" dport %d", p.DPort)
		}
	}
	s += fmt.Sprintf(" dir %s %s prio %d", p.Dir, p.Action, p.Priority)
	for _, t := range p.Tmpls {
		s += fmt.Sprintf(" tmpl %s reqid %d %s", t.Proto, t.Reqid, t.Mode)
	}
	return s
}

// Policies lists the namespace's XFRM policies.
func (h *Host) Policies(t testing.TB) []Policy {
	t.Helper()
	out, err := h.NS.Cmd("ip", "xfrm", "policy", "list").CombinedOutput()
	if err != nil {
		t.Fatalf("oetest: ip xfrm policy in %s: %v\n%s", h, err, out)
	}
	ps, err := ParsePolicies(string(out))
	if err != nil {
		t.Fatalf("oetest: %s: %v", h, err)
	}
	return ps
}

// States lists the namespace's XFRM states, larval ones included.
func (h *Host) States(t testing.TB) []State {
	t.Helper()
	out, err := h.NS.Cmd("ip", "xfrm", "state", "list").CombinedOutput()
	if err != nil {
		t.Fatalf("oetest: ip xfrm state in %s: %v\n%s", h, err, out)
	}
	ss, err := ParseStates(string(out))
	if err != nil {
		t.Fatalf("oetest: %s: %v", h, err)
	}
	return ss
}

// records splits ip's output into records: a line at column 0 and the
// indented lines after it.
func records(text string) [][]string {
	var out [][]string
	for _, line := range strings.Split(text, "\n") {
		if strings.TrimSpace(line) == "" {
			continue
		}
		if line[0] != ' ' && line[0] != '\t' {
			out = append(out, nil)
		}
		if len(out) == 0 {
			out = append(out, nil)
		}
		out[len(out)-1] = append(out[len(out)-1], line)
	}
	return out
}

// ParsePolicies reads `ip xfrm policy list` output (iproute2 6.x).
func ParsePolicies(text string) ([]Policy, error) {
	var out []Policy
	for _, rec := range records(text) {
		p := Policy{Action: "allow"}
		var tmpl *Tmpl
		for i, line := range rec {
			f := strings.Fields(line)
			for j := 0; j < len(f); j++ {
				k := f[j]
				v := ""
				if j+1 < len(f) {
					v = f[j+1]
				}
				var err error
				switch {
				case i == 0 && k == "src":
					p.Src, err = netip.ParsePrefix(v)
					j++
				case i == 0 && k == "dst":
					p.Dst, err = netip.ParsePrefix(v)
					j++
				case i == 0 && k == "proto":
					p.Proto = v
					j++
				case i == 0 && k == "sport":
					p.SPort, err = strconv.Atoi(v)
					j++
				case i == 0 && k == "dport":
					p.DPort, err = strconv.Atoi(v)
					j++
				case k == "dir" || k == "socket":
					p.Dir, p.Socket = v, k == "socket"
					j++
				case k == "action":
					p.Action = v
					j++
				case k == "priority" && tmpl == nil:
					var n uint64
					n, err = strconv.ParseUint(v, 10, 32)
					p.Priority = uint32(n)
					j++
				case k == "tmpl":
					p.Tmpls = append(p.Tmpls, Tmpl{Level: "required"})
					tmpl = &p.Tmpls[len(p.Tmpls)-1]
				case tmpl != nil && k == "src":
					tmpl.Src, err = netip.ParseAddr(v)
					j++
				case tmpl != nil && k == "dst":
					tmpl.Dst, err = netip.ParseAddr(v)
					j++
				case tmpl != nil && k == "proto":
					tmpl.Proto = v
					j++
				case tmpl != nil && k == "spi":
					tmpl.SPI, err = parseHex32(v)
					j++
				case tmpl != nil && k == "reqid":
					var n uint64
					n, err = strconv.ParseUint(v, 10, 32)
					tmpl.Reqid = uint32(n)
					j++
				case tmpl != nil && k == "mode":
					tmpl.Mode = v
					j++
				case tmpl != nil && k == "level":
					tmpl.Level = v
					j++
				}
				if err != nil {
					return nil, fmt.Errorf("oetest: ip xfrm policy: %q: %s %q: %w", line, k, v, err)
				}
			}
		}
		if !p.Dst.IsValid() || p.Dir == "" {
			return nil, fmt.Errorf("oetest: ip xfrm policy: cannot read record %q", strings.Join(rec, "\\n"))
		}
		out = append(out, p)
	}
	return out, nil
}

// ParseStates reads `ip xfrm state list` output (iproute2 6.x).
func ParseStates(text string) ([]State, error) {
	var out []State
	for _, rec := range records(text) {
		var s State
		for i, line := range rec {
			f := strings.Fields(line)
			sel := len(f) > 0 && f[0] == "sel"
			for j := 0; j+1 < len(f); j++ {
				k, v := f[j], f[j+1]
				var err error
				switch {
				case i == 0 && k == "src":
					s.Src, err = netip.ParseAddr(v)
				case i == 0 && k == "dst":
					s.Dst, err = netip.ParseAddr(v)
				case sel && k == "src":
					s.SelSrc, err = netip.ParsePrefix(v)
				case sel && k == "dst":
					s.SelDst, err = netip.ParsePrefix(v)
				case i > 0 && !sel && k == "proto" && s.Proto == "":
					s.Proto = v
				case k == "spi" && !sel:
					s.SPI, err = parseHex32(v)
				case k == "reqid":
					var n uint64
					n, err = strconv.ParseUint(v, 10, 32)
					s.Reqid = uint32(n)
				case k == "mode":
					s.Mode = v
				default:
					continue
				}
				if err != nil {
					return nil, fmt.Errorf("oetest: ip xfrm state: %q: %s %q: %w", line, k, v, err)
				}
				j++
			}
		}
		if !s.Src.IsValid() || !s.Dst.IsValid() {
			return nil, fmt.Errorf("oetest: ip xfrm state: cannot read record %q", strings.Join(rec, "\\n"))
		}
		out = append(out, s)
	}
	return out, nil
}

func parseHex32(v string) (uint32, error) {
	n, err := strconv.ParseUint(strings.TrimPrefix(v, "0x"), 16, 32)
	return uint32(n), err
}

// Trap is an outbound policy that asks for ESP: the kernel sends ACQUIRE
// for the first packet that hits it while no SA exists.
type Trap struct {
	Policy
	Reqid uint32
	// Group is the OE group whose trap this is (trap.GroupOfReqid), or
	// "" for a conn's or a peer's.
	Group string
}

// Traps returns the outbound ESP policies of the namespace.
func (h *Host) Traps(t testing.TB) []Trap {
	t.Helper()
	var out []Trap
	for _, p := range h.Policies(t) {
		if p.Dir != "out" || p.Socket || p.Action != "allow" || len(p.Tmpls) == 0 || p.Tmpls[0].Proto != "esp" {
			continue
		}
		tr := Trap{Policy: p, Reqid: p.Tmpls[0].Reqid}
		if g, ok := trap.GroupOfReqid(tr.Reqid); ok {
			tr.Group = g.String()
		}
		out = append(out, tr)
	}
	return out
}

// TrapFor returns the ESP policy covering dst (any protocol) with the
// longest prefix, if any.
func (h *Host) TrapFor(t testing.TB, dst netip.Addr) (Trap, bool) {
	t.Helper()
	var best Trap
	found := false
	for _, tr := range h.Traps(t) {
		if tr.Proto == "" && tr.Dst.Contains(dst) && (!found || tr.Dst.Bits() > best.Dst.Bits()) {
			best, found = tr, true
		}
	}
	return best, found
}

// XfrmDump is `ip xfrm policy` and `ip xfrm state` of the namespace, for
// failure messages.
// keyHex matches the key of an `ip xfrm state` algorithm line (aead, enc,
// auth, auth-trunc), which must not reach test logs.
var keyHex = regexp.MustCompile(`(?m)^(\s+(?:aead|enc|auth|auth-trunc|comp) \S+ )0x[0-9a-f]+`)

func (h *Host) XfrmDump(t testing.TB) string {
	t.Helper()
	var b strings.Builder
	for _, what := range []string{"policy", "state"} {
		out, err := h.NS.Cmd("ip", "xfrm", what).CombinedOutput()
		fmt.Fprintf(&b, "--- ip xfrm %s on %s (%v)\n%s", what, h, err, keyHex.ReplaceAllString(string(out), "$1[key hidden]"))
	}
	return b.String()
}
