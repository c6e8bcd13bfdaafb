package agent

import (
	"context"
	"fmt"
	"net/netip"

	"github.com/oe-agent/oe-agent/agent/api"
	"github.com/oe-agent/oe-agent/agent/localapi"
)

// backend adapts the Agent to the control API: every call runs on the loop
// goroutine, which owns the state.
type backend struct{ a *Agent }

var _ localapi.Backend = backend{}

func (b backend) Status(ctx context.Context) (st *api.Status, err error) {
	if e := b.a.runOnLoop(ctx, func() { st = b.a.status(ctx) }); e != nil {
		return nil, e
	}
	return st, nil
}

func (b backend) Up(ctx context.Context, name string) (r *api.Result, err error) {
	if e := b.a.runOnLoop(ctx, func() { r, err = b.a.up(ctx, name) }); e != nil {
		return nil, e
	}
	return r, err
}

func (b backend) Down(ctx context.Context, name string) (r *api.Result, err error) {
	if e := b.a.runOnLoop(ctx, func() { r, err = b.a.down(ctx, name) }); e != nil {
		return nil, e
	}
	return r, err
}

func (b backend) Reload(ctx context.Context) (r *api.ReloadResult, err error) {
	if e := b.a.runOnLoop(ctx, func() { r, err = b.a.doReload(ctx) }); e != nil {
		return nil, e
	}
	return r, err
}

func (b backend) Lookup(ctx context.Context, target string) (*api.Lookup, error) {
	if target == "" {
		return nil, fmt.Errorf("agent: lookup needs an address or a name: %w", localapi.ErrBadRequest)
	}
	return b.a.lookup(ctx, target)
}

func (b backend) Trace(ctx context.Context, addr string) (tr *api.Trace, err error) {
	ip, perr := netip.ParseAddr(addr)
	if perr != nil {
		return nil, fmt.Errorf("agent: trace: %q is not an IP address: %w", addr, localapi.ErrBadRequest)
	}
	if e := b.a.runOnLoop(ctx, func() { tr = b.a.trace(ip.Unmap()) }); e != nil {
		return nil, e
	}
	return tr, nil
}

func (b backend) HostKey(ctx context.Context, addr string) (hk *api.HostKey, err error) {
	var ip netip.Addr
	if addr != "" {
		var perr error
		if ip, perr = netip.ParseAddr(addr); perr != nil {
			return nil, fmt.Errorf("agent: showhostkey: %q is not an IP address: %w", addr, localapi.ErrBadRequest)
		}
	}
	if e := b.a.runOnLoop(ctx, func() { hk, err = b.a.hostKey(ip) }); e != nil {
		return nil, e
	}
	return hk, err
}
