package agent

import (
	"crypto"
	"fmt"
	"net/netip"
	"time"

	"github.com/oe-agent/oe-agent/agent/config"
	"github.com/oe-agent/oe-agent/ike"
	"github.com/oe-agent/oe-agent/ike/wire"
)

// maxProposals caps the proposals one ike=/esp= value expands to: the IKE
// engine sends one transform of each type per proposal, and an
// IKE_SA_INIT above the path MTU is fragmented by IP, which firewalls and
// NATs often drop (RFC 7383 does not cover IKE_SA_INIT).
const maxProposals = 16

// ikeConfigOf builds the IKE policy of a static connection from its
// configuration, the secrets and the host key. local and remote are the
// resolved endpoint addresses. A nil peer key with a public-key method and
// a %dns key makes the SA ask for it (ike.NeedPeerKey).
func ikeConfigOf(c *config.Conn, b *config.Bundle, local, remote netip.Addr) (*ike.Config, error) {
	cfg := &ike.Config{
		LocalID:       identityOf(c.Left.ID, local),
		IKELifetime:   c.IKELifetime,
		ChildLifetime: c.SALifetime,
		RekeyMargin:   c.RekeyMargin,
		DPDInterval:   c.DPDDelay,
		// About a minute in all, as libreswan's retransmit-timeout: a peer
		// may be slow to answer its first IKE_AUTH while its kernel loads
		// the IPsec modules.
		Retransmit: ike.Retransmit{Initial: 500 * time.Millisecond, Tries: 8, Max: 20 * time.Second},
	}
	if !c.Rekey {
		cfg.IKELifetime, cfg.ChildLifetime = 0, 0
	}
	if c.Type == config.TypeTransport {
		cfg.Mode = ike.Transport
	}
	var err error
	if cfg.IKEProposals, err = ikeProposalsOf(c.IKE); err != nil {
		return nil, fmt.Errorf("agent: conn %s: ike=: %w", c.Name, err)
	}
	if cfg.ChildProposals, err = childProposalsOf(c.ESP); err != nil {
		return nil, fmt.Errorf("agent: conn %s: esp=: %w", c.Name, err)
	}
	cfg.LocalTS = selectorsFor(c.Left, local)
	cfg.RemoteTS = selectorsFor(c.Right, remote)

	remoteID := c.Right.ID
	switch m := c.EndAuth(&c.Left); m {
	case config.AuthSecret:
		psk, ok := b.Secrets.PSK(idOrAddr(c.Left.ID, local), idOrAddr(remoteID, remote))
		if !ok {
			return nil, fmt.Errorf("agent: conn %s: no PSK in the secrets for %s and %s", c.Name, local, remote)
		}
		cfg.LocalAuth = ike.LocalAuth{Method: ike.AuthPSK, PSK: psk.Bytes()}
	case config.AuthNull:
		cfg.LocalAuth = ike.LocalAuth{Method: ike.AuthNull}
		cfg.LocalID = ike.NullID()
	case config.AuthRSASig, config.AuthECDSA, config.AuthEdDSA:
		signer, err := signerFor(c, b, local)
		if err != nil {
			return nil, err
		}
		cfg.LocalAuth = ike.LocalAuth{Method: ike.AuthSignature, Signer: signer}
	default:
		return nil, fmt.Errorf("agent: conn %s: authentication %s cannot negotiate", c.Name, m)
	}

	peer := ike.PeerAuth{}
	if remoteID.Kind != config.IDAny && remoteID.Kind != config.IDFromDNS {
		peer.ID = identityOf(remoteID, remote)
	}
	switch m := c.EndAuth(&c.Right); m {
	case config.AuthSecret:
		peer.Methods = []ike.AuthMethod{ike.AuthPSK}
		peer.PSK = cfg.LocalAuth.PSK
		if len(peer.PSK) == 0 {
			psk, ok := b.Secrets.PSK(idOrAddr(c.Left.ID, local), idOrAddr(remoteID, remote))
			if !ok {
				return nil, fmt.Errorf("agent: conn %s: no PSK in the secrets for %s and %s", c.Name, local, remote)
			}
			peer.PSK = psk.Bytes()
		}
	case config.AuthNull:
		peer.Methods = []ike.AuthMethod{ike.AuthNull}
	case config.AuthRSASig, config.AuthECDSA, config.AuthEdDSA:
		peer.Methods = []ike.AuthMethod{ike.AuthSignature, ike.AuthRSA}
		peer.PublicKey = c.Right.PubKey.Key // nil for %dns: asked for later
		if peer.PublicKey == nil && c.Right.PubKey.Kind != config.PubKeyDNS {
			return nil, fmt.Errorf("agent: conn %s: authby=%s needs rightrsasigkey= (inline, a PEM file or %%dns)", c.Name, m)
		}
	default:
		return nil, fmt.Errorf("agent: conn %s: peer authentication %s cannot negotiate", c.Name, m)
	}
	cfg.Peer = peer
	return cfg, nil
}

// signerFor finds the private key for the local end: a key file named in
// the secrets for the local identity, else the host key.
func signerFor(c *config.Conn, b *config.Bundle, local netip.Addr) (crypto.Signer, error) {
	if s, ok := b.Secrets.PrivateKey(idOrAddr(c.Left.ID, local)); ok && s.Signer != nil {
		return s.Signer, nil
	}
	if b.HostKey != nil && b.HostKey.Signer != nil {
		return b.HostKey.Signer, nil
	}
	return nil, fmt.Errorf("agent: conn %s: authby=%s but there is no host key and no private key in the secrets (create one with oectl keygen)", c.Name, c.EndAuth(&c.Left))
}

// idOrAddr is the identity an end presents: its configured ID, or its
// address (libreswan's default).
func idOrAddr(id config.ID, addr netip.Addr) config.ID {
	if id.Kind == config.IDDefault {
		return config.ID{Kind: config.IDAddr, Addr: addr}
	}
	return id
}

func identityOf(id config.ID, addr netip.Addr) ike.Identity {
	switch id.Kind {
	case config.IDAddr:
		return ike.AddrID(id.Addr)
	case config.IDFQDN:
		return ike.FQDNID(id.Name)
	case config.IDUserFQDN:
		return ike.EmailID(id.Name)
	case config.IDNull:
		return ike.NullID()
	}
	return ike.AddrID(addr)
}

// selectorsFor is an end's traffic selectors: its subnets, or its address,
// narrowed by leftprotoport=.
func selectorsFor(e config.End, addr netip.Addr) []ike.TrafficSelector {
	prefixes := e.Subnets
	if len(prefixes) == 0 {
		prefixes = []netip.Prefix{netip.PrefixFrom(addr, addr.BitLen())}
	}
	var out []ike.TrafficSelector
	for _, p := range prefixes {
		p = p.Masked()
		typ := wire.TSIPv4AddrRange
		if p.Addr().Is6() {
			typ = wire.TSIPv6AddrRange
		}
		ts := ike.TrafficSelector{Type: typ, IPProtocol: e.ProtoPort.Proto, StartAddr: p.Addr(), EndAddr: lastAddr(p), EndPort: 65535}
		if e.ProtoPort.Port != 0 {
			ts.StartPort, ts.EndPort = e.ProtoPort.Port, e.ProtoPort.Port
		}
		out = append(out, ts)
	}
	return out
}

func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Addr().AsSlice()
	for i := p.Bits(); i < len(b)*8; i++ {
		b[i/8] |= 0x80 >> (i % 8)
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}

// supportedEncr is what the IKE engine and the kernel both implement.
func supportedEncr(id uint16) bool {
	switch id {
	case config.EncrAESGCM16, config.EncrAESCBC, config.EncrChaCha20Poly1305:
		return true
	}
	return false
}

// ikeProposalsOf expands neutral proposals (lists per transform type) to
// the engine's one-transform-per-type proposals, keeping preference order.
func ikeProposalsOf(ps config.Proposals) ([]ike.IKEProposal, error) {
	var out []ike.IKEProposal
	for _, p := range ps.List {
		var dh []wire.DHGroup
		for _, g := range p.DH {
			dh = append(dh, wire.DHGroup(g))
		}
		integs := p.Integ
		if p.AEAD() {
			integs = []uint16{config.IntegNone}
		}
		// The first cipher goes with every integrity and PRF choice, the
		// others with the first of each: the full cross product of a
		// default-style list would not fit an unfragmented IKE_SA_INIT.
		for i, e := range p.Encr {
			if !supportedEncr(e.ID) {
				return nil, fmt.Errorf("%s is not implemented by oe-agent's IKE engine", wire.EncrID(e.ID))
			}
			for j, in := range integs {
				for k, prf := range p.PRF {
					if i > 0 && (j > 0 || k > 0) {
						continue
					}
					out = append(out, ike.IKEProposal{Encr: wire.EncrID(e.ID), KeyBits: e.KeyLen, Integ: wire.IntegID(in), PRF: wire.PRFID(prf), DH: dh})
				}
			}
		}
	}
	if len(out) > maxProposals {
		out = out[:maxProposals]
	}
	return out, nil
}

func childProposalsOf(ps config.Proposals) ([]ike.ChildProposal, error) {
	var out []ike.ChildProposal
	for _, p := range ps.List {
		var dh []wire.DHGroup
		for _, g := range p.DH {
			if g != config.DHNone {
				dh = append(dh, wire.DHGroup(g))
			}
		}
		esn := len(p.ESN) > 0 && p.ESN[0] == 1
		integs := p.Integ
		if p.AEAD() || len(integs) == 0 {
			integs = []uint16{config.IntegNone}
		}
		for _, e := range p.Encr {
			if !supportedEncr(e.ID) {
				return nil, fmt.Errorf("%s is not supported for ESP by oe-agent", wire.EncrID(e.ID))
			}
			for _, in := range integs {
				out = append(out, ike.ChildProposal{Encr: wire.EncrID(e.ID), KeyBits: e.KeyLen, Integ: wire.IntegID(in), DH: dh, ESN: esn})
			}
		}
	}
	if len(out) > maxProposals {
		out = out[:maxProposals]
	}
	return out, nil
}
