package agent

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/miekg/dns"
	"go.uber.org/zap"

	"github.com/oe-agent/oe-agent/agent/api"
	"github.com/oe-agent/oe-agent/agent/config"
	"github.com/oe-agent/oe-agent/agent/localapi"
	"github.com/oe-agent/oe-agent/dnskeys"
)

// newResolver builds the DNS key resolver from config setup: the trust
// anchors, and dns-resolvers= or the nameservers of /etc/resolv.conf.
func newResolver(b *config.Bundle, a *Agent) (*dnskeys.Resolver, error) {
	if b.Anchors == nil {
		return nil, nil
	}
	cfg := dnskeys.Config{Anchors: b.Anchors, Now: a.now, Logger: a.log.Named("dns")}
	for _, s := range b.Config.Setup.DNSResolvers {
		cfg.Servers = append(cfg.Servers, s.String())
	}
	r, err := dnskeys.New(cfg)
	if err != nil {
		return nil, fmt.Errorf("agent: %w", err)
	}
	return r, nil
}

// lookup is oectl lookup: the keys of an address (its reverse zone) or a
// name, with the DNSSEC chain. It runs on the caller's goroutine: the
// resolver is safe for concurrent use and the loop must not wait on DNS.
func (a *Agent) lookup(ctx context.Context, target string) (*api.Lookup, error) {
	if a.dns == nil {
		return nil, fmt.Errorf("agent: lookup: no DNSSEC trust anchors are configured (dnssec-anchors=): %w", localapi.ErrUnavailable)
	}
	var kr *dnskeys.KeyResult
	var err error
	if ip, perr := netip.ParseAddr(target); perr == nil {
		kr, err = a.dns.LookupAddr(ctx, ip.Unmap())
	} else {
		kr, err = a.dns.LookupName(ctx, target)
	}
	if err != nil {
		return nil, fmt.Errorf("agent: lookup %s: %w: %w", target, err, localapi.ErrBadRequest)
	}
	return lookupOf(target, kr, a.now()), nil
}

// lookupOf renders a key lookup for the control API.
func lookupOf(target string, kr *dnskeys.KeyResult, now time.Time) *api.Lookup {
	lk := &api.Lookup{Target: target, Name: kr.Name, State: strings.ToLower(kr.State.String()), Reason: kr.Reason, At: now}
	if kr.IPSECKEY != nil {
		lk.Denial = kr.IPSECKEY.State == dnskeys.Secure && kr.IPSECKEY.Denial != 0
		lk.TTL = uint32(kr.IPSECKEY.TTL.Seconds())
		for i, z := range kr.IPSECKEY.Zones {
			link := api.ChainLink{Zone: z, State: "secure", Detail: "validated"}
			if i == 0 {
				link.Detail = "trust anchor"
			}
			if z == kr.IPSECKEY.Zone && kr.IPSECKEY.State != dnskeys.Secure {
				link.State = strings.ToLower(kr.IPSECKEY.State.String())
				link.Detail = kr.IPSECKEY.Reason
			}
			lk.Chain = append(lk.Chain, link)
		}
	}
	best := kr.Best()
	for i := range kr.Keys {
		k := &kr.Keys[i]
		dk := api.DNSKey{Record: k.String(), Algorithm: k.Describe(), Precedence: k.Precedence, Usable: k.Usable(), Reason: k.Refused}
		if k.Gateway.IsValid() {
			dk.Gateway = k.Gateway.String()
		} else if k.GatewayName != "" {
			dk.Gateway = k.GatewayName
		}
		dk.Selected = best == k
		lk.Keys = append(lk.Keys, dk)
	}
	return lk
}

// hostKey is oectl showhostkey: this host's public key, and with an
// address the IPSECKEY record to publish in its reverse zone (RFC 4025
// §2.1: precedence 10, no gateway).
func (a *Agent) hostKey(addr netip.Addr) (*api.HostKey, error) {
	hk := a.bundle.HostKey
	if hk == nil || hk.Signer == nil {
		return nil, fmt.Errorf("agent: showhostkey: there is no host key at %s (create one with oectl keygen): %w",
			a.bundle.Config.Setup.HostKey, localapi.ErrNotFound)
	}
	return hostKeyOf(hk.Signer.Public(), addr)
}

func hostKeyOf(pub any, addr netip.Addr) (*api.HostKey, error) {
	alg, b64, err := dnskeys.PublicKeyBase64(pub)
	if err != nil {
		return nil, fmt.Errorf("agent: showhostkey: %w", err)
	}
	out := &api.HostKey{Algorithm: strings.ToLower(alg.String()), PublicKey: b64}
	if addr.IsValid() {
		name, err := dnskeys.ReverseName(addr.Unmap())
		if err != nil {
			return nil, fmt.Errorf("agent: showhostkey: %w: %w", err, localapi.ErrBadRequest)
		}
		rr := fmt.Sprintf("%s 3600 IN IPSECKEY 10 0 %d . %s", name, alg, b64)
		if _, err := dns.NewRR(rr); err != nil {
			return nil, fmt.Errorf("agent: showhostkey: built an invalid record %q: %w", rr, err)
		}
		out.IPSECKEY = rr
	}
	return out, nil
}

// warmDNS validates, in the background, the DNSSEC chain down to the
// reverse zone of every prefix an OE group covers, so that the first
// ACQUIRE's key lookup finds the zones' DS and DNSKEY records cached and
// asks only for the peer's own records.
func (a *Agent) warmDNS(ctx context.Context, b *config.Bundle) {
	if a.dns == nil || b.Policies == nil || !b.Config.Setup.OE {
		return
	}
	seen := map[string]bool{}
	for _, g := range []config.Group{config.GroupClearOrPrivate, config.GroupPrivateOrClear, config.GroupPrivate} {
		for _, e := range b.Policies.Groups[g] {
			if z := reverseZoneOf(e.Prefix); z != "" && !seen[z] {
				seen[z] = true
			}
		}
	}
	for z := range seen {
		go func(z string) {
			lctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			defer cancel()
			if _, err := a.dns.LookupName(lctx, z); err != nil {
				a.log.Debug("DNS warm-up", zap.String("zone", z), zap.Error(err))
			}
		}(z)
	}
}

// prefetchKey starts the lookup of a peer's key without waiting for it:
// the resolver caches the answer and collapses the lookup that follows.
func (a *Agent) prefetchKey(ctx context.Context, remote netip.Addr) {
	if a.dns == nil {
		return
	}
	go func() {
		lctx, cancel := context.WithTimeout(ctx, 15*time.Second)
		defer cancel()
		a.dns.LookupAddr(lctx, remote)
	}()
}

// reverseZoneOf is the reverse-DNS name that covers a prefix on octet
// (IPv4) or nibble (IPv6) boundaries, or "" for a prefix too short to
// have one below the arpa zones.
func reverseZoneOf(p netip.Prefix) string {
	name, err := dnskeys.ReverseName(p.Masked().Addr())
	if err != nil {
		return ""
	}
	labels := strings.Split(strings.TrimSuffix(name, "."), ".")
	keep := p.Bits() / 8
	if p.Addr().Is6() {
		keep = p.Bits() / 4
	}
	host := len(labels) - 2 - keep // labels below in-addr.arpa / ip6.arpa
	if keep == 0 || host < 0 {
		return ""
	}
	return strings.Join(labels[host:], ".") + "."
}
