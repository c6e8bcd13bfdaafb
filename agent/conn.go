package agent

import (
	"context"
	"fmt"
	"net/netip"
	"reflect"

	"go.uber.org/zap"

	"github.com/oe-agent/oe-agent/agent/api"
	"github.com/oe-agent/oe-agent/agent/config"
	"github.com/oe-agent/oe-agent/agent/localapi"
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

// removeStaleSAs deletes every SA oe-agent owns that no live IKE SA of
// this process installed.
func (a *Agent) removeStaleSAs(ctx context.Context) {
	sas, err := a.kernel.States(ctx)
	if err != nil {
		a.log.Error("cannot list SAs", zap.Error(err))
		return
	}
	n := 0
	for _, sa := range sas {
		if sa.SPI == 0 || a.liveSA(sa) {
			continue
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

// liveSA reports whether sa belongs to an IKE SA of this process.
func (a *Agent) liveSA(sa xfrm.SA) bool { return false }

// stopAll takes every connection down before shutdown.
func (a *Agent) stopAll(ctx context.Context) {
	for _, name := range a.order {
		a.conns[name].state = api.StateDown
	}
}

func (a *Agent) up(ctx context.Context, name string) (*api.Result, error) {
	cs, ok := a.conns[name]
	if !ok {
		return nil, fmt.Errorf("agent: no connection %q%s: %w", name, a.suggestConn(), localapi.ErrNotFound)
	}
	return nil, fmt.Errorf("agent: conn %q: IKE negotiation is not available in this build: %w", cs.cfg.Name, localapi.ErrUnavailable)
}

func (a *Agent) down(ctx context.Context, name string) (*api.Result, error) {
	cs, ok := a.conns[name]
	if !ok {
		return nil, fmt.Errorf("agent: no connection %q%s: %w", name, a.suggestConn(), localapi.ErrNotFound)
	}
	return &api.Result{Name: name, State: cs.state}, nil
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
