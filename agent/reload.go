package agent

import (
	"context"
	"fmt"
	"sort"
	"time"

	"go.uber.org/zap"

	"github.com/oe-agent/oe-agent/agent/api"
	"github.com/oe-agent/oe-agent/agent/config"
	"github.com/oe-agent/oe-agent/ike"
)

// doReload rereads the configuration and applies only the difference:
// connections whose configuration is unchanged keep their state and SAs.
// Everything is checked first: a configuration with any error, or whose
// policy set cannot be computed, changes nothing.
func (a *Agent) doReload(ctx context.Context) (*api.ReloadResult, error) {
	b, err := config.Load(a.opts.ConfigPath)
	if err != nil {
		a.lastErr = err.Error()
		return nil, fmt.Errorf("agent: reload %s: %w", a.opts.ConfigPath, err)
	}
	res := &api.ReloadResult{}
	next := map[string]*config.Conn{}
	var order []string
	for _, c := range b.Config.Conns {
		if c.Auto != config.AutoIgnore {
			next[c.Name] = c
			order = append(order, c.Name)
		}
	}
	// Build the new state beside the old one.
	oldConns, oldOrder, oldReqids := a.conns, a.order, a.reqids.clone()
	conns := map[string]*connState{}
	for _, name := range order {
		old, had := oldConns[name]
		switch {
		case had && sameConn(old.cfg, next[name]):
			kept := *old
			kept.cfg = next[name] // same settings; newer positions
			conns[name] = &kept
			res.Unchanged = append(res.Unchanged, name)
		case had:
			a.reqids.release(name) // a changed conn gets fresh SAs and reqid
			conns[name] = a.newConnState(next[name])
			res.Changed = append(res.Changed, name)
		default:
			conns[name] = a.newConnState(next[name])
			res.Added = append(res.Added, name)
		}
	}
	for _, name := range oldOrder {
		if _, ok := next[name]; !ok {
			a.reqids.release(name)
			res.Removed = append(res.Removed, name)
		}
	}
	a.conns, a.order = conns, order
	set, err := a.desiredPolicies(b)
	if err == nil {
		err = checkPeers(conns, order)
	}
	if err != nil {
		a.conns, a.order, a.reqids = oldConns, oldOrder, oldReqids
		a.lastErr = err.Error()
		return nil, fmt.Errorf("agent: reload: %w", err)
	}
	a.bundle = b
	a.setLogLevel(b.Config.Setup.LogLevel)
	// Connections that went away or changed lose their IKE SA (and with it
	// their Child SAs, on both sides).
	for _, name := range append(append([]string(nil), res.Removed...), res.Changed...) {
		if r := oldConns[name].sa; r != nil {
			r.post(func(now time.Time) []ike.Action { return r.sa.Delete(now) })
		}
	}
	if err := a.applyPolicies(ctx, set); err != nil {
		a.log.Warn("reload applied with errors", zap.Error(err))
	}
	a.publishResponders()
	a.warmDNS(a.runCtx, b)
	a.startConns(ctx)
	sort.Strings(res.Added)
	a.reloaded = a.now()
	a.lastErr = ""
	a.log.Info("reloaded", zap.Strings("added", res.Added), zap.Strings("removed", res.Removed),
		zap.Strings("changed", res.Changed), zap.Int("unchanged", len(res.Unchanged)))
	a.notify(a.statusLine())
	return res, nil
}

func (r reqidAllocator) clone() reqidAllocator {
	c := reqidAllocator{next: r.next, byName: map[string]uint32{}}
	for k, v := range r.byName {
		c.byName[k] = v
	}
	return c
}
