package agent

import (
	"context"

	"github.com/oe-agent/oe-agent/agent/api"
	"github.com/oe-agent/oe-agent/agent/config"
)

// status renders the loop's state for oectl status.
func (a *Agent) status(ctx context.Context) *api.Status {
	st := &api.Status{
		Version:   api.Version,
		Started:   a.started,
		Now:       a.now(),
		Config:    a.opts.ConfigPath,
		Reloaded:  a.reloaded,
		Counters:  a.counters,
		LastError: a.lastErr,
		Conns:     []api.Conn{},
		Peers:     []api.Peer{},
	}
	for _, name := range a.order {
		cs := a.conns[name]
		st.Conns = append(st.Conns, api.Conn{
			Name: name, Type: typeName(cs.cfg.Type), Auto: autoName(cs.cfg.Auto), State: cs.state,
			Local: endOf(cs.cfg, &cs.cfg.Left), Remote: endOf(cs.cfg, &cs.cfg.Right), LastError: cs.lastErr,
		})
	}
	return st
}

func typeName(t config.ConnType) string {
	return [...]string{"tunnel", "transport", "passthrough", "drop"}[t]
}

func autoName(x config.Auto) string {
	return [...]string{"ignore", "add", "route", "start"}[x]
}

func endOf(c *config.Conn, e *config.End) api.End {
	out := api.End{Auth: c.EndAuth(e).String()}
	if e.Host.Kind == config.HostAddr {
		out.Addr = e.Host.Addr.String()
	}
	switch e.ID.Kind {
	case config.IDAddr:
		out.ID = e.ID.Addr.String()
	case config.IDFQDN:
		out.ID = "@" + e.ID.Name
	case config.IDUserFQDN:
		out.ID = e.ID.Name
	case config.IDNull:
		out.ID = "%null"
	default:
		out.ID = out.Addr
	}
	for _, s := range e.Subnets {
		out.Subnets = append(out.Subnets, s.String())
	}
	switch e.PubKey.Kind {
	case config.PubKeyInline:
		out.KeySource = "config"
	case config.PubKeyFile:
		out.KeySource = "file " + e.PubKey.Path
	case config.PubKeyDNS:
		out.KeySource = "dns"
	}
	if c.EndAuth(e) == config.AuthSecret {
		out.KeySource = "psk"
	}
	return out
}
