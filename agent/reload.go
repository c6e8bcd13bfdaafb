package agent

import (
	"context"
	"fmt"
	"sort"

	"go.uber.org/zap"

	"github.com/oe-agent/oe-agent/agent/api"
	"github.com/oe-agent/oe-agent/agent/config"
)

// doReload rereads the configuration and applies only the difference:
// connections whose configuration is unchanged keep their SAs. A
// configuration with any error changes nothing.
func (a *Agent) doReload(ctx context.Context) (*api.ReloadResult, error) {
	b, err := config.Load(a.opts.ConfigPath)
	if err != nil {
		a.lastErr = err.Error()
		return nil, fmt.Errorf("agent: reload %s: %w", a.opts.ConfigPath, err)
	}
	res := &api.ReloadResult{}
	next := map[string]*config.Conn{}
	for _, c := range b.Config.Conns {
		if c.Auto != config.AutoIgnore {
			next[c.Name] = c
		}
	}
	for _, name := range append([]string(nil), a.order...) {
		nc, keep := next[name]
		switch {
		case !keep:
			a.removeConn(ctx, name)
			res.Removed = append(res.Removed, name)
		case !sameConn(a.conns[name].cfg, nc):
			a.removeConn(ctx, name)
			res.Changed = append(res.Changed, name)
		default:
			a.conns[name].cfg = nc // same settings; keep the newer positions
			res.Unchanged = append(res.Unchanged, name)
		}
	}
	a.bundle = b
	for _, c := range b.Config.Conns {
		if _, ok := a.conns[c.Name]; ok || next[c.Name] == nil {
			continue
		}
		if !contains(res.Changed, c.Name) {
			res.Added = append(res.Added, c.Name)
		}
		a.addConn(ctx, c)
	}
	sort.Strings(res.Added)
	a.reloaded = a.now()
	a.lastErr = ""
	a.log.Info("reloaded", zap.Strings("added", res.Added), zap.Strings("removed", res.Removed),
		zap.Strings("changed", res.Changed), zap.Int("unchanged", len(res.Unchanged)))
	a.notify(a.statusLine())
	return res, nil
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}
