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
)

// connState is the loop's record of one static connection.
type connState struct {
	cfg     *config.Conn
	state   string
	lastErr string
}

// start loads the configuration's connections into the loop's state and
// applies them to the kernel.
func (a *Agent) start(ctx context.Context) error {
	for _, c := range a.bundle.Config.Conns {
		if c.Auto == config.AutoIgnore {
			continue
		}
		a.addConn(ctx, c)
	}
	return nil
}

func (a *Agent) addConn(ctx context.Context, c *config.Conn) {
	cs := &connState{cfg: c, state: api.StateDown}
	a.conns[c.Name] = cs
	a.order = append(a.order, c.Name)
	a.log.Info("conn loaded", zap.String("conn", c.Name), zap.String("type", typeName(c.Type)))
}

func (a *Agent) removeConn(ctx context.Context, name string) {
	delete(a.conns, name)
	for i, n := range a.order {
		if n == name {
			a.order = append(a.order[:i:i], a.order[i+1:]...)
			break
		}
	}
	a.log.Info("conn removed", zap.String("conn", name))
}

// stopAll takes every connection down before shutdown.
func (a *Agent) stopAll(ctx context.Context) {
	for _, name := range append([]string(nil), a.order...) {
		a.removeConn(ctx, name)
	}
}

func (a *Agent) up(ctx context.Context, name string) (*api.Result, error) {
	cs, ok := a.conns[name]
	if !ok {
		return nil, fmt.Errorf("agent: no connection %q%s: %w", name, a.suggestConn(name), localapi.ErrNotFound)
	}
	return nil, fmt.Errorf("agent: conn %q: IKE negotiation is not available in this build: %w", cs.cfg.Name, localapi.ErrUnavailable)
}

func (a *Agent) down(ctx context.Context, name string) (*api.Result, error) {
	cs, ok := a.conns[name]
	if !ok {
		return nil, fmt.Errorf("agent: no connection %q%s: %w", name, a.suggestConn(name), localapi.ErrNotFound)
	}
	return &api.Result{Name: name, State: cs.state}, nil
}

// suggestConn names the loaded connections when the user mistyped one.
func (a *Agent) suggestConn(name string) string {
	if len(a.order) == 0 {
		return " (no connections are loaded)"
	}
	return fmt.Sprintf(" (loaded: %v)", a.order)
}

// trace says what covers addr and what a packet to it meets now.
func (a *Agent) trace(addr netip.Addr) *api.Trace {
	for _, name := range a.order {
		cs := a.conns[name]
		for _, p := range remoteSelectors(cs.cfg) {
			if p.Contains(addr) {
				return &api.Trace{Addr: addr.String(), Source: "conn " + name, Action: cs.state,
					Explanation: fmt.Sprintf("conn %s covers %s with %s; it is %s", name, addr, p, cs.state)}
			}
		}
	}
	return &api.Trace{Addr: addr.String(), Source: "none", Action: "clear",
		Explanation: "no connection or policy group covers this address: packets go out in clear"}
}

// remoteSelectors are the destinations a connection protects.
func remoteSelectors(c *config.Conn) []netip.Prefix {
	if len(c.Right.Subnets) > 0 {
		return c.Right.Subnets
	}
	if c.Right.Host.Kind == config.HostAddr {
		return []netip.Prefix{netip.PrefixFrom(c.Right.Host.Addr, c.Right.Host.Addr.BitLen())}
	}
	return nil
}

// sameConn reports whether two configurations of a connection are
// equivalent, ignoring where in the files they were written.
func sameConn(x, y *config.Conn) bool {
	cx, cy := *x, *y
	cx.Pos, cy.Pos = config.Pos{}, config.Pos{}
	return reflect.DeepEqual(cx, cy)
}
