package agent

import (
	"bufio"
	"context"
	"fmt"
	"net/netip"
	"os"
	"strings"

	"go.uber.org/zap"

	"github.com/oe-agent/oe-agent/agent/api"
	"github.com/oe-agent/oe-agent/agent/config"
	"github.com/oe-agent/oe-agent/trap"
)

// groupOf maps the configuration's policy groups to trap's.
var groupOf = map[config.Group]trap.Group{
	config.GroupClear:          trap.GroupClear,
	config.GroupClearOrPrivate: trap.GroupClearOrPrivate,
	config.GroupPrivateOrClear: trap.GroupPrivateOrClear,
	config.GroupPrivate:        trap.GroupPrivate,
	config.GroupBlock:          trap.GroupBlock,
}

// desiredPolicies computes the kernel policy set for a configuration and
// the loop's current connection and peer state. It is pure apart from
// reading resolv.conf when no resolvers are configured; an error leaves
// the kernel as it is.
func (a *Agent) desiredPolicies(b *config.Bundle) (*trap.Set, error) {
	in := trap.Input{Groups: map[trap.Group][]trap.Dest{}}
	if b.Policies != nil {
		for g, entries := range b.Policies.Groups {
			for _, e := range entries {
				in.Groups[groupOf[g]] = append(in.Groups[groupOf[g]], trap.Dest{Prefix: e.Prefix, Proto: e.Proto, LocalPort: e.SPort, RemotePort: e.DPort})
			}
		}
	}
	for _, name := range a.order {
		cs := a.conns[name]
		tc, ok := trapConnOf(cs)
		if ok {
			in.Conns = append(in.Conns, tc)
		}
	}
	if a.oe != nil {
		in.Peers = a.oe.Entries()
	}
	in.Resolvers = resolversOf(b.Config.Setup)
	set, err := trap.Compute(in)
	if err != nil {
		return nil, fmt.Errorf("agent: policies: %w", err)
	}
	return set, nil
}

// applyPolicies reconciles the kernel to the desired set. Failures of
// single policies are logged and counted; the rest is applied.
func (a *Agent) applyPolicies(ctx context.Context, set *trap.Set) error {
	res, err := a.rec.Apply(ctx, set)
	a.set = set
	a.respSet.Store(set)
	if err != nil {
		a.lastErr = err.Error()
		a.log.Error("kernel policies not fully applied", zap.Error(err))
		return err
	}
	a.log.Debug("kernel policies reconciled", zap.Int("added", len(res.Added)), zap.Int("updated", len(res.Updated)),
		zap.Int("deleted", len(res.Deleted)), zap.Int("unchanged", res.Unchanged))
	return nil
}

// trapConnOf describes a connection's policies for trap; false for conns
// that have none (no fixed remote address and not up).
func trapConnOf(cs *connState) (trap.Conn, bool) {
	c := cs.cfg
	tc := trap.Conn{Name: c.Name, Route: c.Auto == config.AutoRoute, Up: cs.state == api.StateUp, Reqid: cs.reqid,
		Local: c.Left.Subnets, Remote: c.Right.Subnets, Proto: c.Left.ProtoPort.Proto,
		LocalPort: c.Left.ProtoPort.Port, RemotePort: c.Right.ProtoPort.Port}
	if tc.Proto == 0 {
		tc.Proto = c.Right.ProtoPort.Proto
	}
	switch c.Type {
	case config.TypeTunnel:
		tc.Type = trap.ConnTunnel
	case config.TypeTransport:
		tc.Type = trap.ConnTransport
	case config.TypePassthrough:
		tc.Type, tc.Reqid = trap.ConnPassthrough, 0
	case config.TypeDrop:
		tc.Type, tc.Reqid = trap.ConnDrop, 0
	}
	tc.LocalAddr, tc.RemoteAddr = cs.local, cs.remote
	if !tc.RemoteAddr.IsValid() && len(tc.Remote) == 0 {
		return tc, false
	}
	if tc.IPsec() && (!tc.LocalAddr.IsValid() || !tc.RemoteAddr.IsValid()) {
		return tc, false
	}
	return tc, tc.Route || tc.Up
}

// resolversOf lists the DNS servers whose traffic must bypass every trap:
// dns-resolvers=, or the nameservers of /etc/resolv.conf.
func resolversOf(s config.Setup) []netip.AddrPort {
	if len(s.DNSResolvers) > 0 {
		return s.DNSResolvers
	}
	f, err := os.Open("/etc/resolv.conf")
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []netip.AddrPort
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) >= 2 && fields[0] == "nameserver" {
			if ip, err := netip.ParseAddr(fields[1]); err == nil && !ip.IsLoopback() {
				out = append(out, netip.AddrPortFrom(ip.Unmap(), 53))
			}
		}
	}
	return out
}
