package agent

import (
	"testing"
	"time"

	"github.com/oe-agent/oe-agent/agent/config"
)

// TestOEConfigOf checks that config setup's OE keys reach the engine.
func TestOEConfigOf(t *testing.T) {
	s := config.DefaultSetup()
	s.OEMaxNegotiations, s.OEMaxPeers = 300, 5000
	s.OEShuntLifetime, s.OEIdleTimeout = time.Minute, 0
	s.OENegotiationShunt = config.ShuntPass
	c := oeConfigOf(s)
	if c.MaxNegotiations != 300 || c.MaxPeers != 5000 {
		t.Errorf("limits %d, %d; want 300, 5000", c.MaxNegotiations, c.MaxPeers)
	}
	if c.ShuntLifetime != time.Minute || c.IdleTimeout >= 0 || !c.PassWhileNegotiating {
		t.Errorf("shunt lifetime %s, idle %s, pass %v; want 1m, never, true", c.ShuntLifetime, c.IdleTimeout, c.PassWhileNegotiating)
	}
	if d := oeConfigOf(config.DefaultSetup()); d.MaxNegotiations != 64 || d.MaxPeers != 4096 {
		t.Errorf("default limits %d, %d; want 64, 4096", d.MaxNegotiations, d.MaxPeers)
	}
}
