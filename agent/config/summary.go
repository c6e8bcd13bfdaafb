package config

import (
	"fmt"
	"strings"
)

// Summary describes a loaded Bundle for a person: the files read, each
// conn in one line, the policy groups, the secrets (never their values) and
// the host key, then the warnings. oe-agentd --check can print it to show
// what a configuration amounts to; the text is stable (golden-tested).
func (b *Bundle) Summary() string {
	var w strings.Builder
	cfg := b.Config
	fmt.Fprintf(&w, "configuration: %s\n", strings.Join(cfg.Files, ", "))
	active := 0
	for _, c := range cfg.Conns {
		if c.Auto != AutoIgnore {
			active++
		}
	}
	fmt.Fprintf(&w, "conns: %d (%d loaded, %d auto=ignore)\n", len(cfg.Conns), active, len(cfg.Conns)-active)
	for _, c := range cfg.Conns {
		fmt.Fprintf(&w, "  %s\n", connLine(c))
	}
	s := cfg.Setup
	if !s.OE {
		w.WriteString("opportunistic encryption: off\n")
	} else {
		fmt.Fprintf(&w, "opportunistic encryption: on (NULL auth %s, negotiation shunt %s, failure shunts last %s)\n",
			map[bool]string{true: "allowed", false: "refused"}[s.OEAuthNull], s.OENegotiationShunt, FormatDuration(s.OEShuntLifetime))
		if b.Policies != nil {
			for _, g := range Groups {
				es := b.Policies.Groups[g]
				if len(es) == 0 {
					continue
				}
				var dst []string
				for i, e := range es {
					if i == 4 {
						dst = append(dst, fmt.Sprintf("... (%d more)", len(es)-4))
						break
					}
					dst = append(dst, e.String())
				}
				fmt.Fprintf(&w, "  %-16s %s\n", g, strings.Join(dst, ", "))
			}
		}
	}
	if len(s.DNSResolvers) == 0 {
		w.WriteString("resolvers: from /etc/resolv.conf\n")
	} else {
		var r []string
		for _, ap := range s.DNSResolvers {
			r = append(r, ap.String())
		}
		fmt.Fprintf(&w, "resolvers: %s\n", strings.Join(r, ", "))
	}
	fmt.Fprintf(&w, "trust anchors: %s\n", strings.Join(s.DNSSECAnchors, ", "))
	if b.HostKey != nil {
		fmt.Fprintf(&w, "host key: %s\n", b.HostKey)
	} else {
		fmt.Fprintf(&w, "host key: none (%s)\n", s.HostKey)
	}
	if b.Secrets != nil {
		fmt.Fprintf(&w, "secrets: %d entries\n", len(b.Secrets.Entries))
		for _, e := range b.Secrets.Entries {
			fmt.Fprintf(&w, "  %s\n", e)
		}
	}
	for _, e := range b.Warnings {
		fmt.Fprintf(&w, "warning: %s\n", e)
	}
	return w.String()
}

// connLine is one conn in a line: name, type, auto, ends, auth.
func connLine(c *Conn) string {
	end := func(e *End) string {
		s := fmtHost(e.Host)
		if s == "" {
			s = "?"
		}
		if len(e.Subnets) > 0 {
			s = fmtSubnets(e.Subnets) + "@" + s
		}
		if e.ID.Kind != IDDefault {
			s += "[" + e.ID.String() + "]"
		}
		return s
	}
	line := fmt.Sprintf("%s: %s auto=%s %s <-> %s", c.Name, c.Type, c.Auto, end(&c.Left), end(&c.Right))
	switch {
	case c.Keying == KeyingManual:
		line += " manual keying (debugging only)"
	case c.Type == TypeTunnel || c.Type == TypeTransport:
		la, ra := c.EndAuth(&c.Left), c.EndAuth(&c.Right)
		if la == ra {
			line += " authby=" + la.String()
		} else {
			line += " auth=" + la.String() + "/" + ra.String()
		}
	}
	return line
}
