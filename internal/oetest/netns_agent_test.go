package oetest

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/oe-agent/oe-agent/agent/api"
	"github.com/oe-agent/oe-agent/internal/testenv"
)

// TestNetnsAgentLookup runs the real oe-agentd on west (oe=yes,
// private-or-clear for the test link, the DNS host in clear) against the
// world's resolver and checks `oectl lookup` for each kind of peer: east's
// key is Secure, nokey's absence is a Secure denial, bogus's record is
// Bogus. It also checks that the agent installed its group traps.
func TestNetnsAgentLookup(t *testing.T) {
	testenv.RequireNetns(t)
	t.Parallel()
	w := NewWorld(t, Options{})
	a := w.StartAgent(t, w.West, AgentConfig{})

	for _, addr := range w.East.Addrs() {
		lk := a.Lookup(t, addr.String())
		if lk.State != "secure" || lk.Denial {
			t.Errorf("lookup %s (east): state %q denial %v, want secure with a key: %+v", addr, lk.State, lk.Denial, lk)
			continue
		}
		var selected int
		for _, k := range lk.Keys {
			if k.Selected {
				selected++
				if fp := w.East.Key.Fingerprint(); !strings.Contains(k.Record, "sha256:"+fp) || !strings.EqualFold(k.Algorithm, "ed25519") || !k.Usable {
					t.Errorf("lookup %s: selected key %+v is not east's usable Ed25519 key (sha256:%s)", addr, k, fp)
				}
			}
		}
		if selected != 1 {
			t.Errorf("lookup %s: %d selected keys, want 1: %+v", addr, selected, lk.Keys)
		}
		if lk.Name != ReverseName(t, addr) {
			t.Errorf("lookup %s: name %q, want %q", addr, lk.Name, ReverseName(t, addr))
		}
	}
	for _, addr := range w.NoKey.Addrs() {
		lk := a.Lookup(t, addr.String())
		if lk.State != "secure" || !lk.Denial || len(lk.Keys) != 0 {
			t.Errorf("lookup %s (nokey): want a secure denial without keys, got %s", addr, jsonOf(lk))
		}
	}
	for _, addr := range w.Bogus.Addrs() {
		lk := a.Lookup(t, addr.String())
		if lk.State != "bogus" {
			t.Errorf("lookup %s (bogus): state %q, want bogus: %s", addr, lk.State, jsonOf(lk))
		}
	}

	// The record the rig publishes for west is what west's agent says to
	// publish, and oectl status --json is the control API's status.
	for _, addr := range w.West.Addrs() {
		out, errOut, err := a.Oectl("showhostkey", "--ipseckey", addr.String())
		if want := w.West.Key.IPSECKEY(t, addr, 3600); err != nil || strings.TrimSpace(out) != want {
			t.Errorf("oectl showhostkey --ipseckey %s: %v %q %s\nwant %q", addr, err, out, errOut, want)
		}
	}
	out, errOut, err := a.Oectl("status", "--json")
	var st api.Status
	if err != nil || json.Unmarshal([]byte(out), &st) != nil {
		t.Errorf("oectl status --json: %v\n%s\n%s", err, out, errOut)
	} else if st.Config != a.ConfigPath || st.Version == "" || st.Started.IsZero() {
		t.Errorf("oectl status --json: config %q version %q started %s, want %s, a version and a start time", st.Config, st.Version, st.Started, a.ConfigPath)
	}

	// The traps: the test link's prefixes trapped for private-or-clear,
	// and no trap for the DNS host (clear).
	for _, dst := range w.East.Addrs() {
		tr, ok := w.West.TrapFor(t, dst)
		if !ok || tr.Group != GroupPrivateOrClear {
			t.Errorf("no private-or-clear trap covers %s (found %v, %v):\n%s", dst, tr, ok, w.West.XfrmDump(t))
		}
	}
	for _, dst := range w.DNS.Addrs() {
		if tr, ok := w.West.TrapFor(t, dst); ok && tr.Dst.Bits() == dst.BitLen() {
			t.Errorf("the DNS host %s has a trap %v, want clear", dst, tr)
		}
	}
	if got := Sysctl(t, w.West.NS, "net/core/xfrm_larval_drop"); got != "0" {
		t.Errorf("xfrm_larval_drop in west's namespace is %s, want 0", got)
	}
}

func jsonOf(v any) string {
	b, _ := json.MarshalIndent(v, "", "  ")
	return string(b)
}
