package oetest

import (
	"strings"
	"testing"
	"time"

	"github.com/oe-agent/oe-agent/internal/testenv"
)

// TestNetnsCrowd checks the many-peer part of the rig: 200 crowd addresses
// on one namespace, each with its own IPSECKEY record and its own key,
// reachable from west and found Secure by west's agent.
func TestNetnsCrowd(t *testing.T) {
	testenv.RequireNetns(t)
	t.Parallel()
	w := NewWorld(t, Options{Crowd: 200, CrowdDistinctKeys: true})
	addrs := w.Crowd.Addrs()
	if len(addrs) != 200 {
		t.Fatalf("crowd has %d addresses, want 200", len(addrs))
	}
	// Before the agent runs: with it, west's packets to the crowd would
	// wait for OE.
	for _, addr := range addrs {
		if _, err := w.West.Ping(addr, 3*time.Second); err != nil {
			t.Errorf("ping crowd %s: %v", addr, err)
		}
	}
	a := w.StartAgent(t, w.West, AgentConfig{})
	for _, i := range []int{0, 99, 199} {
		addr := addrs[i]
		lk := a.Lookup(t, addr.String())
		fp := w.Keys[addr].Fingerprint()
		if lk.State != "secure" || len(lk.Keys) != 1 || !strings.Contains(lk.Keys[0].Record, "sha256:"+fp) {
			t.Errorf("lookup crowd %s: want secure with its own key sha256:%s, got %s", addr, fp, jsonOf(lk))
		}
	}
	if w.Keys[addrs[0]] == w.Keys[addrs[1]] {
		t.Error("CrowdDistinctKeys: two crowd addresses share a key")
	}
}
