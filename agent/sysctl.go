package agent

import (
	"fmt"
	"os"
	"strings"

	"go.uber.org/zap"
)

// larvalDropPath is per network namespace.
const larvalDropPath = "/proc/sys/net/core/xfrm_larval_drop"

// holdPackets makes the kernel queue packets that hit a trap while their
// SA is negotiated, instead of dropping them (net.core.xfrm_larval_drop=0:
// up to 100 packets per policy, re-sent when the SA is there). It is what
// RFC 4322 §3.1 asks of a negotiation shunt: the first packets of a flow
// are delivered, not lost. The setting is the namespace's, not ours alone,
// so it is logged; it is left as it is at shutdown, since traps may
// outlive the agent.
func holdPackets(log *zap.Logger) error {
	b, err := os.ReadFile(larvalDropPath)
	if err != nil {
		return fmt.Errorf("agent: read %s: %w", larvalDropPath, err)
	}
	if strings.TrimSpace(string(b)) == "0" {
		return nil
	}
	if err := os.WriteFile(larvalDropPath, []byte("0\n"), 0o644); err != nil {
		return fmt.Errorf("agent: set %s to 0 (hold packets while negotiating): %w", larvalDropPath, err)
	}
	log.Info("set net.core.xfrm_larval_drop=0: packets wait for their SA instead of being dropped")
	return nil
}
