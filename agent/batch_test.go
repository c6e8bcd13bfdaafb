package agent

import (
	"context"
	"net/netip"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/oe-agent/oe-agent/agent/config"
	"github.com/oe-agent/oe-agent/oe"
	"github.com/oe-agent/oe-agent/trap"
	"github.com/oe-agent/oe-agent/xfrm"
	"github.com/oe-agent/oe-agent/xfrm/xfrmtest"
)

// batchAgent is an agent with a fake kernel, private-or-clear for
// 192.0.2.0/24, whose OE engine may negotiate with one peer at a time and
// already does: every further ACQUIRE overflows into a pass shunt, a policy
// change without IKE. lists counts the kernel's policy dumps.
func batchAgent(t *testing.T, lists *int) (*Agent, *xfrmtest.Kernel) {
	t.Helper()
	k := xfrmtest.New()
	k.SetFault(func(op, object string) error {
		if op == "list" && object == "policies" {
			*lists++
		}
		return nil
	})
	setup := config.DefaultSetup()
	setup.OEMaxNegotiations = 1
	setup.DNSResolvers = []netip.AddrPort{netip.MustParseAddrPort("192.0.2.53:53")}
	pol := &config.Policies{Groups: map[config.Group][]config.PolicyEntry{
		config.GroupPrivateOrClear: {{Prefix: netip.MustParsePrefix("192.0.2.0/24")}},
	}}
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	a := &Agent{
		log: zap.NewNop(), kernel: k, now: func() time.Time { return now },
		bundle: &config.Bundle{Config: &config.Config{Setup: setup}, Policies: pol},
		oe:     oe.New(oeConfigOf(setup)),
		conns:  map[string]*connState{},
	}
	a.rec = trap.NewReconciler(k, a.log)
	a.reapplyPolicies(context.Background())
	a.oe.Handle(now, oe.Inbound{Local: netip.MustParseAddr("192.0.2.1"), Remote: netip.MustParseAddr("192.0.2.99"), Group: trap.GroupPrivateOrClear})
	return a, k
}

func acquireFor(remote netip.Addr) *xfrm.Acquire {
	local := netip.MustParseAddr("192.0.2.1")
	return &xfrm.Acquire{Src: local, Dst: remote, Proto: xfrm.ProtoESP, Selector: hostSelector(local, remote),
		Templates: []xfrm.Template{{Src: local, Dst: remote, Proto: xfrm.ProtoESP, Reqid: trap.GroupReqid(trap.GroupPrivateOrClear)}}}
}

// TestInBatchAppliesOnce: ACQUIREs that wait together are handled in one
// batch with one reconcile; every peer's shunt is in the kernel after it.
// A lone event is applied at once.
func TestInBatchAppliesOnce(t *testing.T) {
	lists := 0
	a, k := batchAgent(t, &lists)
	ctx := context.Background()
	events := make(chan xfrm.Event, 16)
	for i := 11; i <= 20; i++ {
		events <- acquireFor(netip.AddrFrom4([4]byte{192, 0, 2, byte(i)}))
	}
	var ch <-chan xfrm.Event = events
	lists = 0
	first := acquireFor(netip.MustParseAddr("192.0.2.10"))
	a.inBatch(ctx, &ch, func() { a.handleKernelEvent(ctx, first) })
	if lists != 1 {
		t.Errorf("11 ACQUIREs in one batch read the kernel's policies %d times, want once", lists)
	}
	if len(events) != 0 {
		t.Errorf("%d events left unhandled", len(events))
	}
	text := k.PolicyText()
	for i := 10; i <= 20; i++ {
		if !strings.Contains(text, netip.AddrFrom4([4]byte{192, 0, 2, byte(i)}).String()+"/32") {
			t.Errorf("no per-peer policy for 192.0.2.%d after the batch:\n%s", i, text)
		}
	}
	if a.policiesDirty || a.deferPolicies {
		t.Error("batch left policies deferred")
	}

	// A lone event: applied before inBatch returns.
	lists = 0
	lone := acquireFor(netip.MustParseAddr("192.0.2.30"))
	a.inBatch(ctx, &ch, func() { a.handleKernelEvent(ctx, lone) })
	if lists != 1 || !strings.Contains(k.PolicyText(), "192.0.2.30/32") {
		t.Errorf("lone ACQUIRE: %d policy reads, policy present %v", lists, strings.Contains(k.PolicyText(), "192.0.2.30/32"))
	}
}
