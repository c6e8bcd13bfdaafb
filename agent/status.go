package agent

import (
	"context"
	"net/netip"

	"go.uber.org/zap"

	"github.com/oe-agent/oe-agent/agent/api"
	"github.com/oe-agent/oe-agent/agent/config"
	"github.com/oe-agent/oe-agent/ike"
	"github.com/oe-agent/oe-agent/ike/wire"
	"github.com/oe-agent/oe-agent/oe"
	"github.com/oe-agent/oe-agent/xfrm"
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
		Peers:     a.peersStatus(),
	}
	if st.Peers == nil {
		st.Peers = []api.Peer{}
	}
	if p := a.bundle.Policies; p != nil && a.bundle.Config.Setup.OE {
		for _, g := range config.Groups {
			pg := api.PolicyGroup{Name: g.String(), Prefixes: []string{}}
			for _, e := range p.Groups[g] {
				pg.Prefixes = append(pg.Prefixes, e.String())
			}
			st.Groups = append(st.Groups, pg)
		}
	}
	if a.oe != nil {
		c := a.oe.Counters()
		st.Counters.Negotiations += c.Negotiations
		st.Counters.NegotiationErrors += c.Failures
		st.Counters.Overflows += c.Overflows
	}
	counters := a.saCounters(ctx)
	for _, name := range a.order {
		cs := a.conns[name]
		st.Conns = append(st.Conns, api.Conn{
			Name: name, Type: typeName(cs.cfg.Type), Auto: autoName(cs.cfg.Auto), State: cs.state,
			Local: endOf(cs.cfg, &cs.cfg.Left), Remote: endOf(cs.cfg, &cs.cfg.Right), LastError: cs.lastErr,
			Children: childrenStatus(cs.children, counters),
		})
	}
	for i := range st.Peers {
		l, errL := netip.ParseAddr(st.Peers[i].Local.ID)
		r, errR := netip.ParseAddr(st.Peers[i].Addr)
		if errL == nil && errR == nil {
			st.Peers[i].Children = childrenStatus(a.peerChildren[oe.Pair{Local: l, Remote: r}], counters)
		}
	}
	return st
}

// saCounters reads the kernel's byte and packet counters of oe-agent's SAs,
// by SPI and destination.
func (a *Agent) saCounters(ctx context.Context) map[xfrm.SAID]xfrm.SAStats {
	out := map[xfrm.SAID]xfrm.SAStats{}
	sas, err := a.kernel.States(ctx)
	if err != nil {
		a.log.Warn("cannot read SA counters", zap.Error(err))
		return out
	}
	for _, sa := range sas {
		id := sa.ID()
		id.Mark = xfrm.Mark{}
		out[id] = sa.Stats
	}
	return out
}

func childrenStatus(children []childInfo, counters map[xfrm.SAID]xfrm.SAStats) []api.ChildSA {
	var out []api.ChildSA
	for _, c := range children {
		ch := c.child
		proto := xfrm.ProtoESP
		if ch.Protocol == wire.ProtocolAH {
			proto = xfrm.ProtoAH
		}
		in := counters[xfrm.SAID{Dst: ch.Local, Proto: proto, SPI: ch.InboundSPI}]
		outS := counters[xfrm.SAID{Dst: ch.Remote, Proto: proto, SPI: ch.OutboundSPI}]
		var lts, rts []string
		for _, ts := range ch.LocalTS {
			lts = append(lts, tsString(ts))
		}
		for _, ts := range ch.RemoteTS {
			rts = append(rts, tsString(ts))
		}
		as := api.ChildSA{
			Mode: ch.Mode.String(), Protocol: proto.String(), SPIIn: ch.InboundSPI, SPIOut: ch.OutboundSPI,
			Proposal: ch.String(), LocalTS: lts, RemoteTS: rts,
			BytesIn: in.Bytes, PacketsIn: in.Packets, BytesOut: outS.Bytes, PacketsOut: outS.Packets,
			Established: c.established,
		}
		if ch.SoftLifetime > 0 {
			as.NextRekey = c.established.Add(ch.SoftLifetime)
		}
		out = append(out, as)
	}
	return out
}

func tsString(ts ike.TrafficSelector) string {
	if ps, err := rangePrefixes(ts.StartAddr, ts.EndAddr); err == nil && len(ps) == 1 {
		return ps[0].String()
	}
	return ts.StartAddr.String() + "-" + ts.EndAddr.String()
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
