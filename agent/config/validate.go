package config

import (
	"net/netip"
	"time"
)

// maxLifetime caps ikelifetime= and salifetime= (libreswan caps both at
// 24h; longer SAs defeat the point of rekeying).
const maxLifetime = 24 * time.Hour

// check cross-checks a conn whose values all parsed.
func (x *connCtx) check() {
	c := x.c
	if c.Type == TypePassthrough || c.Type == TypeDrop {
		if r, ok := x.set["authby"]; ok && c.AuthBy != AuthNever {
			x.errAt("authby", "authby=%s makes no sense with type=%s: no IKE runs (use authby=never or leave it out)", r.Value, x.set["type"].Value)
		}
		c.AuthBy = AuthNever
	}
	if c.Auto == AutoIgnore {
		return // not loaded: like libreswan, check only the values
	}
	if c.Keying == KeyingManual {
		x.checkManual()
		return
	}
	for _, k := range manualOnlyKeys {
		if _, ok := x.set[k]; ok {
			x.errAt(k, "%s= is only used with keying=manual", k)
		}
	}
	x.checkEnds()
	if c.Type == TypePassthrough || c.Type == TypeDrop {
		if c.Auto != AutoRoute {
			x.errAt("auto", "type=%s conns install a kernel policy only: use auto=route", c.Type)
		}
		return
	}
	x.checkAuth()
	x.checkTimers()
	x.checkAutoPeer()
}

// checkAutoPeer refuses initiating towards an unknown peer: with %any on
// one side that side is the peer (our own address is never %any), and
// neither auto=start nor a tunnel-mode trap can know where to send IKE.
// strongSwan likewise allows wildcard traps in transport mode only, where
// the peer is the destination of the trapped packet.
func (x *connCtx) checkAutoPeer() {
	c := x.c
	if c.Left.Host.Kind != HostAny && c.Right.Host.Kind != HostAny {
		return
	}
	switch {
	case c.Auto == AutoStart:
		x.errAt("auto", "auto=start needs the peer's address, but one side is %%any (use auto=add to wait for the peer, or auto=route with type=transport)")
	case c.Auto == AutoRoute && c.Type == TypeTunnel:
		x.errAt("auto", "auto=route in tunnel mode needs the peer's address, but one side is %%any (a trap can only find the peer with type=transport, where it is the packet's destination)")
	}
}

var manualOnlyKeys = []string{"spi", "espenckey", "espauthkey", "leftespspi", "rightespspi",
	"leftespenckey", "rightespenckey", "leftespauthkey", "rightespauthkey"}

// checkEnds checks addresses and selectors.
func (x *connCtx) checkEnds() {
	c := x.c
	if c.Left.Host.Kind == HostUnset {
		x.errAt("left", "left= is required (an address, %%defaultroute or %%any)")
	}
	if c.Right.Host.Kind == HostUnset {
		x.errAt("right", "right= is required (an address, %%defaultroute or %%any)")
	}
	if c.Left.Host.Kind == HostAny && c.Right.Host.Kind == HostAny {
		x.errAt("right", "left and right cannot both be %%any")
	}
	if c.Left.Host.Kind == HostDefaultRoute && c.Right.Host.Kind == HostDefaultRoute {
		x.errAt("right", "left and right cannot both be %%defaultroute")
	}
	lf, lok := hostFamily(c.Left.Host)
	rf, rok := hostFamily(c.Right.Host)
	if lok && rok && lf != rf {
		x.errAt("right", "left=%s and right=%s are of different address families", fmtHost(c.Left.Host), fmtHost(c.Right.Host))
	}
	if c.Type == TypeTransport {
		for _, side := range []string{"leftsubnet", "rightsubnet"} {
			if _, ok := x.set[side]; ok {
				x.errAt(side, "%s= is not allowed with type=transport (the selectors are the hosts themselves)", side)
			}
		}
	}
	if len(c.Left.Subnets) > 0 && len(c.Right.Subnets) > 0 {
		lv4, lv6 := prefixFamilies(c.Left.Subnets)
		rv4, rv6 := prefixFamilies(c.Right.Subnets)
		if lv4 != rv4 || lv6 != rv6 {
			x.errAt("rightsubnet", "leftsubnet and rightsubnet must cover the same address families (IPv4 selectors need IPv4 on both sides, IPv6 likewise)")
		}
	}
}

// hostFamily returns 4 or 6 when the host's family is known.
func hostFamily(h Host) (int, bool) {
	switch h.Kind {
	case HostAddr:
		if h.Addr.Is4() {
			return 4, true
		}
		return 6, true
	case HostAny, HostDefaultRoute:
		if h.V6 {
			return 6, true
		}
	}
	return 0, false
}

func prefixFamilies(ps []netip.Prefix) (v4, v6 bool) {
	for _, p := range ps {
		if p.Addr().Is4() {
			v4 = true
		} else {
			v6 = true
		}
	}
	return
}

// checkAuth checks that each end can be authenticated as configured.
func (x *connCtx) checkAuth() {
	c := x.c
	if c.AuthBy == AuthNever {
		x.errAt("authby", "authby=never is only valid with type=passthrough or type=drop")
	}
	needKey := false
	for _, side := range []struct {
		name string
		e    *End
	}{{"left", &c.Left}, {"right", &c.Right}} {
		m := c.EndAuth(side.e)
		if side.e.Auth == AuthNever {
			x.errAt(side.name+"auth", "%sauth=never is not an authentication method", side.name)
		}
		if m.NeedsPubKey() {
			needKey = true
		}
		k := side.e.PubKey
		if k.Key != nil && m.NeedsPubKey() && !pubKeyMatches(k.Key, m) {
			x.errAt(side.name+"rsasigkey", "%srsasigkey is an %s key, which cannot be used with %s authentication",
				side.name, keyTypeName(k.Key), m)
		}
		if k.Kind != PubKeyNone && !m.NeedsPubKey() {
			x.errAt(side.name+"rsasigkey", "%srsasigkey is set but %s authenticates with %s", side.name, side.name, m)
		}
		switch side.e.ID.Kind {
		case IDFromDNS:
			if k.Kind != PubKeyDNS {
				x.errAt(side.name+"id", "%sid=%%fromdns needs %srsasigkey=%%dns (the key must come from DNS)", side.name, side.name)
			}
		case IDNull:
			if m != AuthNull {
				x.errAt(side.name+"id", "%sid=%%null needs NULL authentication (authby=null or %sauth=null, RFC 7619 §2)", side.name, side.name)
			}
		}
		if m == AuthNull && side.e.ID.Kind != IDNull && side.e.ID.Kind != IDDefault && side.e.ID.Kind != IDAny {
			x.errAt(side.name+"id", "%sid=%s: NULL authentication uses the identity %%null (RFC 7619 §2)", side.name, side.e.ID)
		}
	}
	if needKey && c.Left.PubKey.Kind == PubKeyNone && c.Right.PubKey.Kind == PubKeyNone {
		x.errAt("authby", "%s authentication needs the peer's public key: set leftrsasigkey= or rightrsasigkey= (a key, a PEM file, or %%dns)", firstKeyMethod(c))
	}
}

func firstKeyMethod(c *Conn) AuthMethod {
	for _, e := range []*End{&c.Left, &c.Right} {
		if m := c.EndAuth(e); m.NeedsPubKey() {
			return m
		}
	}
	return c.AuthBy
}

// checkTimers checks lifetimes, rekeying and DPD.
func (x *connCtx) checkTimers() {
	c := x.c
	for _, k := range []struct {
		key string
		d   time.Duration
	}{{"ikelifetime", c.IKELifetime}, {"salifetime", c.SALifetime}} {
		if k.d < time.Minute {
			x.errAt(k.key, "%s=%s is too short (at least 1m)", k.key, FormatDuration(k.d))
		} else if k.d > maxLifetime {
			x.errAt(k.key, "%s=%s is too long (at most %s)", k.key, FormatDuration(k.d), FormatDuration(maxLifetime))
		}
	}
	if c.Rekey {
		// The rekey happens margin*(1+fuzz) before expiry at the earliest
		// (libreswan ipsec.conf(5) rekeyfuzz), so that must fit.
		worst := c.RekeyMargin + c.RekeyMargin*time.Duration(c.RekeyFuzz)/100
		for _, k := range []struct {
			key string
			d   time.Duration
		}{{"salifetime", c.SALifetime}, {"ikelifetime", c.IKELifetime}} {
			if worst >= k.d {
				x.errAt("rekeymargin", "rekeymargin=%s with rekeyfuzz=%d%% can reach %s, not less than %s=%s",
					FormatDuration(c.RekeyMargin), c.RekeyFuzz, FormatDuration(worst), k.key, FormatDuration(k.d))
				break
			}
		}
	}
	if c.DPDDelay > 0 && c.DPDTimeout <= c.DPDDelay {
		x.errAt("dpdtimeout", "dpdtimeout=%s must be longer than dpddelay=%s", FormatDuration(c.DPDTimeout), FormatDuration(c.DPDDelay))
	}
}
