package agent

import (
	"context"
	"fmt"
	"net/netip"
	"reflect"
	"time"

	"go.uber.org/zap"

	"github.com/oe-agent/oe-agent/agent/api"
	"github.com/oe-agent/oe-agent/agent/config"
	"github.com/oe-agent/oe-agent/agent/localapi"
	"github.com/oe-agent/oe-agent/ike"
	"github.com/oe-agent/oe-agent/trap"
	"github.com/oe-agent/oe-agent/xfrm"
)

// connState is the loop's record of one static connection.
type connState struct {
	cfg           *config.Conn
	reqid         uint32
	local, remote netip.Addr // resolved endpoints; invalid if unknown
	state         string
	lastErr       string
	sa            *saRunner   // the IKE SA, if any
	children      []childInfo // installed Child SAs, newest first
}

// ipsec reports whether the connection negotiates SAs.
func (cs *connState) ipsec() bool {
	return cs.cfg.Type == config.TypeTunnel || cs.cfg.Type == config.TypeTransport
}

// params are the kernel settings of the connection's SAs.
func (cs *connState) params() childParams {
	p := childParams{Reqid: cs.reqid, Priority: trap.LayerBase(trap.LayerConn), ReplayWindow: cs.cfg.ReplayWindow}
	if cs.cfg.Mark.Set {
		p.Mark = xfrm.Mark{Value: cs.cfg.Mark.Value, Mask: cs.cfg.Mark.Mask}
	}
	if p.ReplayWindow == 0 {
		p.ReplayWindow = 32
	}
	return p
}

// reqidAllocator gives each connection a reqid that stays the same across
// reloads for as long as the connection exists, so that its SAs and
// policies keep matching.
type reqidAllocator struct {
	byName map[string]uint32
	next   uint32
}

func (r *reqidAllocator) get(name string) uint32 {
	if r.byName == nil {
		r.byName, r.next = map[string]uint32{}, trap.ReqidConnMin
	}
	if id, ok := r.byName[name]; ok {
		return id
	}
	used := map[uint32]bool{}
	for _, id := range r.byName {
		used[id] = true
	}
	for used[r.next] {
		r.next++
	}
	r.byName[name] = r.next
	r.next++
	return r.byName[name]
}

func (r *reqidAllocator) release(name string) { delete(r.byName, name) }

// newConnState resolves a connection's endpoints. Only literal addresses
// are supported for now; %defaultroute and %any leave the end unresolved.
func (a *Agent) newConnState(c *config.Conn) *connState {
	cs := &connState{cfg: c, state: api.StateDown}
	if c.Left.Host.Kind == config.HostAddr {
		cs.local = c.Left.Host.Addr
	}
	if c.Right.Host.Kind == config.HostAddr {
		cs.remote = c.Right.Host.Addr
	}
	switch c.Type {
	case config.TypePassthrough:
		cs.state = api.StatePassthrough
	case config.TypeDrop:
		cs.state = api.StateDrop
	default:
		cs.reqid = a.reqids.get(c.Name)
		if c.Auto == config.AutoRoute {
			cs.state = api.StateTrapped
		}
	}
	return cs
}

// start loads the configuration's connections and applies the policy set:
// traps, bypasses and blocks first, so that nothing leaks while SAs come
// up. Stale objects of a previous run are replaced by reconcile (never
// flushed, so a private destination is covered throughout) and its SAs
// removed: their IKE SAs died with it.
func (a *Agent) start(ctx context.Context) error {
	for _, c := range a.bundle.Config.Conns {
		if c.Auto == config.AutoIgnore {
			continue
		}
		a.conns[c.Name] = a.newConnState(c)
		a.order = append(a.order, c.Name)
	}
	if err := checkPeers(a.conns, a.order); err != nil {
		return err
	}
	set, err := a.desiredPolicies(a.bundle)
	if err != nil {
		return err
	}
	if err := a.applyPolicies(ctx, set); err != nil {
		return err
	}
	a.removeStaleSAs(ctx)
	for _, name := range a.order {
		a.log.Info("conn loaded", zap.String("conn", name), zap.String("type", typeName(a.conns[name].cfg.Type)), zap.String("state", a.conns[name].state))
	}
	return nil
}

// removeStaleSAs deletes every SA oe-agent owns. It runs at start, before
// any IKE SA of this process exists, so all of them belong to a run that
// died (kill -9) and whose keys are lost.
func (a *Agent) removeStaleSAs(ctx context.Context) {
	sas, err := a.kernel.States(ctx)
	if err != nil {
		a.log.Error("cannot list SAs", zap.Error(err))
		return
	}
	n := 0
	for _, sa := range sas {
		if sa.SPI == 0 {
			continue // larval: expires by itself
		}
		if err := a.kernel.DeleteState(ctx, sa.ID()); err != nil {
			a.log.Warn("cannot remove stale SA", zap.Stringer("sa", sa), zap.Error(err))
			continue
		}
		n++
	}
	if n > 0 {
		a.log.Info("removed stale SAs of an earlier run", zap.Int("sas", n))
	}
}

// checkPeers refuses two negotiating connections with the same pair of
// endpoints: the agent keeps one IKE SA per address pair and, answering a
// peer, chooses the conn by addresses before IKE_AUTH.
func checkPeers(conns map[string]*connState, order []string) error {
	seen := map[[2]netip.Addr]string{}
	for _, name := range order {
		cs := conns[name]
		if !cs.ipsec() || !cs.remote.IsValid() {
			continue
		}
		k := [2]netip.Addr{cs.local, cs.remote}
		if other, ok := seen[k]; ok {
			return fmt.Errorf("agent: conns %q and %q both negotiate between %s and %s: oe-agent keeps one IKE SA per address pair; give them different addresses or merge their subnets into one conn", other, name, cs.local, cs.remote)
		}
		seen[k] = name
	}
	return nil
}

// startConns initiates the auto=start connections.
func (a *Agent) startConns(ctx context.Context) {
	for _, name := range a.order {
		cs := a.conns[name]
		if cs.cfg.Auto == config.AutoStart && cs.sa == nil && cs.ipsec() {
			if err := a.initiateConn(ctx, cs); err != nil {
				a.log.Warn("cannot start conn", zap.String("conn", name), zap.Error(err))
			}
		}
	}
}

// stopAll deletes every IKE SA (telling the peers) before shutdown; the
// kernel objects go with Cleanup.
func (a *Agent) stopAll(ctx context.Context) {
	if a.disp == nil {
		return
	}
	for _, name := range a.order {
		cs := a.conns[name]
		cs.state = api.StateDown
		if r := cs.sa; r != nil {
			r.post(func(now time.Time) []ike.Action { return r.sa.Delete(now) })
		}
	}
	for _, r := range a.peerSA {
		r.post(func(now time.Time) []ike.Action { return r.sa.Delete(now) })
	}
	// Give the delete notifications a moment to leave.
	time.Sleep(200 * time.Millisecond)
}

func (a *Agent) up(ctx context.Context, name string) (*api.Result, error) {
	cs, ok := a.conns[name]
	if !ok {
		return nil, fmt.Errorf("agent: no connection %q%s: %w", name, a.suggestConn(), localapi.ErrNotFound)
	}
	if cs.sa != nil {
		return &api.Result{Name: name, State: cs.state, Message: "already negotiating or up"}, nil
	}
	if err := a.initiateConn(ctx, cs); err != nil {
		return nil, err
	}
	return &api.Result{Name: name, State: cs.state, Message: "initiating"}, nil
}

// down deletes the connection's IKE SA, which deletes its Child SAs on
// both sides (RFC 7296 §1.4.1). A routed conn goes back to its trap.
func (a *Agent) down(ctx context.Context, name string) (*api.Result, error) {
	cs, ok := a.conns[name]
	if !ok {
		return nil, fmt.Errorf("agent: no connection %q%s: %w", name, a.suggestConn(), localapi.ErrNotFound)
	}
	if r := cs.sa; r != nil {
		r.post(func(now time.Time) []ike.Action { return r.sa.Delete(now) })
		return &api.Result{Name: name, State: cs.state, Message: "deleting"}, nil
	}
	return &api.Result{Name: name, State: cs.state, Message: "no SA"}, nil
}

// suggestConn names the loaded connections when the user mistyped one.
func (a *Agent) suggestConn() string {
	if len(a.order) == 0 {
		return " (no connections are loaded)"
	}
	return fmt.Sprintf(" (loaded: %v)", a.order)
}

// trace says what covers addr and what a packet to it meets now.
func (a *Agent) trace(addr netip.Addr) *api.Trace {
	tr := &api.Trace{Addr: addr.String(), Source: "none", Action: "clear",
		Explanation: "no connection or policy group covers this address: packets go out in clear"}
	if a.set == nil {
		return tr
	}
	d := a.set.Explain(addr)
	tr.Explanation = d.Explanation
	if d.Out != nil {
		tr.Source = d.Out.Owner
		if d.Out.Source != "" {
			tr.Source += " (" + d.Out.Source + ")"
		}
		tr.Action = d.Verdict.String()
	}
	return tr
}

// sameConn reports whether two configurations of a connection are
// equivalent, ignoring where in the files they were written.
func sameConn(x, y *config.Conn) bool {
	cx, cy := *x, *y
	cx.Pos, cy.Pos = config.Pos{}, config.Pos{}
	return reflect.DeepEqual(cx, cy)
}
