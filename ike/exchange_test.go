package ike_test

import (
	"errors"
	"net/netip"
	"testing"
	"time"

	"github.com/oe-agent/oe-agent/ike"
	"github.com/oe-agent/oe-agent/ike/iketest"
	"github.com/oe-agent/oe-agent/ike/wire"
)

// TestRetransmitBackoff drops everything the initiator sends and checks
// the send times (0.5 s doubling) and the failure after the last try.
func TestRetransmitBackoff(t *testing.T) {
	icfg, rcfg := pskConfigs()
	icfg.Retransmit = ike.Retransmit{Initial: 500 * time.Millisecond, Factor: 2, Tries: 5}
	p := iketest.NewPair(t, icfg, rcfg, ike.DispatcherConfig{})
	p.Filter = func(iketest.Datagram) iketest.Verdict { return iketest.Drop }
	start := p.Now
	p.Start()
	var sends []time.Duration
	for i := 0; i < 20 && !p.Init.IsClosed(); i++ {
		for range p.I.Sent() {
			sends = append(sends, p.Now.Sub(start))
		}
		p.Run()
		if !p.AdvanceToTimer() {
			break
		}
	}
	want := []time.Duration{0, 500 * time.Millisecond, 1500 * time.Millisecond, 3500 * time.Millisecond, 7500 * time.Millisecond}
	if len(sends) != len(want) {
		t.Fatalf("sent at %v, want %v", sends, want)
	}
	for i := range want {
		if sends[i] != want[i] {
			t.Errorf("send %d at %v, want %v", i, sends[i], want[i])
		}
	}
	if !errors.Is(p.Init.Err(), ike.ErrTimeout) {
		t.Errorf("error %v, want ErrTimeout", p.Init.Err())
	}
	if got := p.Now.Sub(start); got != 15500*time.Millisecond {
		t.Errorf("gave up after %v, want 15.5s", got)
	}
	if len(p.I.D.SAs()) != 0 {
		t.Error("failed SA still registered")
	}
}

// TestRetransmitRecovers loses the first IKE_AUTH request and the first
// IKE_AUTH response; retransmission completes the handshake.
func TestRetransmitRecovers(t *testing.T) {
	icfg, rcfg := pskConfigs()
	p := iketest.NewPair(t, icfg, rcfg, ike.DispatcherConfig{})
	lost := map[string]bool{}
	p.Filter = func(d iketest.Datagram) iketest.Verdict {
		h := d.Header(t)
		key := h.Exchange.String() + map[bool]string{true: "resp", false: "req"}[h.IsResponse()]
		if h.Exchange == wire.ExchangeIKEAuth && !lost[key] {
			lost[key] = true
			return iketest.Drop
		}
		return iketest.Deliver
	}
	p.Start()
	for i := 0; i < 10 && !p.Init.Established(); i++ {
		p.Run()
		p.AdvanceToTimer()
	}
	p.Run()
	if !p.Init.Established() || !p.R.SA().Established() {
		t.Fatalf("not established: %v", p.Init.Err())
	}
	if n := len(iketest.Find[ike.InstallChild](p.R.Events())); n != 1 {
		t.Errorf("responder installed %d Child SAs, want 1", n)
	}
}

// TestDuplicates delivers every datagram twice: duplicate requests are
// answered from the cache, duplicate responses ignored, nothing happens
// twice.
func TestDuplicates(t *testing.T) {
	icfg, rcfg := pskConfigs()
	p := iketest.NewPair(t, icfg, rcfg, ike.DispatcherConfig{})
	p.Filter = func(iketest.Datagram) iketest.Verdict { return iketest.Duplicate }
	p.Handshake()
	ie, re := p.I.Events(), p.R.Events()
	if a, b := len(iketest.Find[ike.Established](ie)), len(iketest.Find[ike.Established](re)); a != 1 || b != 1 {
		t.Fatalf("Established %d and %d times", a, b)
	}
	if a, b := len(iketest.Find[ike.InstallChild](ie)), len(iketest.Find[ike.InstallChild](re)); a != 1 || b != 1 {
		t.Fatalf("InstallChild %d and %d times", a, b)
	}
	// The responder answered each duplicated request again, byte for byte.
	sent := p.R.Sent()
	if len(sent) != 4 || string(sent[0].Data) != string(sent[1].Data) || string(sent[2].Data) != string(sent[3].Data) {
		t.Fatalf("responder sent %d datagrams, want 2 pairs of identical ones", len(sent))
	}
	for _, err := range p.I.Errors() {
		if !errors.Is(err, ike.ErrMessageID) && !errors.Is(err, ike.ErrUnexpected) {
			t.Errorf("duplicate response error %v", err)
		}
	}
	// A duplicated rekey is also done once.
	sa := p.Init
	c := sa.Children()[0]
	p.I.Do(sa, func(now time.Time) ([]ike.Action, error) { return sa.RekeyChild(now, c.InboundSPI) })
	p.Run()
	if a, b := len(iketest.Find[ike.InstallChild](p.I.Events())), len(iketest.Find[ike.InstallChild](p.R.Events())); a != 1 || b != 1 {
		t.Fatalf("rekey InstallChild %d and %d times", a, b)
	}
	if len(sa.Children()) != 1 || len(p.R.SA().Children()) != 1 {
		t.Fatalf("children %d and %d", len(sa.Children()), len(p.R.SA().Children()))
	}
}

// TestCookie makes the responder always demand a cookie: one extra round
// trip, then the handshake completes with AUTH over the second request.
func TestCookie(t *testing.T) {
	icfg, rcfg := pskConfigs()
	p := iketest.NewPair(t, icfg, rcfg, ike.DispatcherConfig{CookieThreshold: -1})
	p.Start()
	p.Step()
	if errs := p.R.Errors(); len(errs) != 1 || !errors.Is(errs[0], ike.ErrCookieRequired) {
		t.Fatalf("first request: %v, want ErrCookieRequired", errs)
	}
	if s := p.R.D.Stats(); s.SAs != 0 || s.DHComputations != 0 || s.CookiesSent != 1 {
		t.Fatalf("state after cookie: %+v", s)
	}
	p.Run()
	if !p.Init.Established() {
		t.Fatalf("not established: %v", p.Init.Err())
	}
	sent := p.I.Sent()
	m, err := wire.Decode(sent[1].Data)
	if err != nil {
		t.Fatal(err)
	}
	if n, ok := m.Payloads[0].(*wire.Notify); !ok || n.NotifyType != wire.NotifyCookie {
		t.Errorf("second IKE_SA_INIT starts with %v, want N(COOKIE)", m.Payloads[0])
	}
}

// TestInvalidKE: the initiator's KE is in a group the responder does not
// take; it answers INVALID_KE_PAYLOAD without keeping state, and the
// initiator retries with the requested group.
func TestInvalidKE(t *testing.T) {
	icfg, rcfg := pskConfigs()
	icfg.IKEProposals = []ike.IKEProposal{{Encr: wire.EncrAESGCM16, KeyBits: 256, PRF: wire.PRFHMACSHA2_256, DH: []wire.DHGroup{wire.DHCurve25519, wire.DHECP384}}}
	rcfg.IKEProposals = []ike.IKEProposal{{Encr: wire.EncrAESGCM16, KeyBits: 256, PRF: wire.PRFHMACSHA2_256, DH: []wire.DHGroup{wire.DHECP384}}}
	p := iketest.NewPair(t, icfg, rcfg, ike.DispatcherConfig{})
	p.Start()
	p.Step()
	if errs := p.R.Errors(); len(errs) != 1 || !errors.Is(errs[0], ike.ErrInvalidKEPayload) {
		t.Fatalf("responder: %v, want INVALID_KE_PAYLOAD", errs)
	}
	if s := p.R.D.Stats(); s.SAs != 0 || s.DHComputations != 0 {
		t.Fatalf("responder kept state: %+v", s)
	}
	p.Run()
	if !p.Init.Established() {
		t.Fatalf("not established: %v", p.Init.Err())
	}
	m, _ := wire.Decode(p.I.Sent()[1].Data)
	if ke := wire.Find(m.Payloads, wire.PayloadKE).(*wire.KE); ke.Group != wire.DHECP384 {
		t.Errorf("retry KE group %v", ke.Group)
	}
}

func TestNoProposalChosen(t *testing.T) {
	icfg, rcfg := pskConfigs()
	icfg.IKEProposals = []ike.IKEProposal{{Encr: wire.EncrChaCha20Poly1305, PRF: wire.PRFHMACSHA2_256, DH: []wire.DHGroup{wire.DHCurve25519}}}
	rcfg.IKEProposals = []ike.IKEProposal{{Encr: wire.EncrAESGCM16, KeyBits: 256, PRF: wire.PRFHMACSHA2_256, DH: []wire.DHGroup{wire.DHCurve25519}}}
	p := iketest.NewPair(t, icfg, rcfg, ike.DispatcherConfig{})
	p.Start()
	p.Run()
	if !errors.Is(p.Init.Err(), ike.ErrNoProposalChosen) {
		t.Fatalf("initiator: %v, want NO_PROPOSAL_CHOSEN", p.Init.Err())
	}
	if s := p.R.D.Stats(); s.SAs != 0 || s.DHComputations != 0 {
		t.Fatalf("responder kept state: %+v", s)
	}
}

// TestChildNoProposal: the IKE SA comes up but the Child SA proposal is
// refused (RFC 7296 §2.21.3).
func TestChildNoProposal(t *testing.T) {
	icfg, rcfg := pskConfigs()
	icfg.ChildProposals = []ike.ChildProposal{{Encr: wire.EncrChaCha20Poly1305}}
	rcfg.ChildProposals = []ike.ChildProposal{{Encr: wire.EncrAESGCM16, KeyBits: 128}}
	p := iketest.NewPair(t, icfg, rcfg, ike.DispatcherConfig{})
	p.Handshake()
	f := iketest.Find[ike.ChildFailed](p.I.Events())
	if len(f) != 1 || !errors.Is(f[0].Err, ike.ErrNoProposalChosen) {
		t.Fatalf("ChildFailed %v", f)
	}
	if len(p.Init.Children()) != 0 || len(p.R.SA().Children()) != 0 {
		t.Fatal("Child SA installed")
	}
}

// TestNarrowing: the responder narrows the initiator's subnets to its own
// policy (RFC 7296 §2.9); disjoint selectors give TS_UNACCEPTABLE.
func TestNarrowing(t *testing.T) {
	pfx := func(s string, proto uint8) ike.TrafficSelector {
		return wire.TSFromPrefix(netip.MustParsePrefix(s), proto)
	}
	icfg, rcfg := pskConfigs()
	icfg.LocalTS = []ike.TrafficSelector{pfx("192.0.2.0/24", 0)}
	icfg.RemoteTS = []ike.TrafficSelector{pfx("198.51.100.0/24", 0)}
	rcfg.LocalTS = []ike.TrafficSelector{pfx("198.51.100.0/25", 6)}
	rcfg.RemoteTS = []ike.TrafficSelector{pfx("192.0.2.0/28", 0)}
	p := iketest.NewPair(t, icfg, rcfg, ike.DispatcherConfig{})
	p.Handshake()
	ic := iketest.Find[ike.InstallChild](p.I.Events())
	if len(ic) != 1 {
		t.Fatal("no Child SA")
	}
	c := ic[0].Child
	if got := c.LocalTS[0].String(); got != "192.0.2.0-192.0.2.15[proto=0,ports=0-65535]" {
		t.Errorf("local TS %s", got)
	}
	if got := c.RemoteTS[0].String(); got != "198.51.100.0-198.51.100.127[proto=6,ports=0-65535]" {
		t.Errorf("remote TS %s", got)
	}

	rcfg.RemoteTS = []ike.TrafficSelector{pfx("203.0.113.0/24", 0)}
	p = iketest.NewPair(t, icfg, rcfg, ike.DispatcherConfig{})
	p.Handshake()
	f := iketest.Find[ike.ChildFailed](p.I.Events())
	if len(f) != 1 || !errors.Is(f[0].Err, ike.ErrTSUnacceptable) {
		t.Fatalf("ChildFailed %v, want TS_UNACCEPTABLE", f)
	}
}

func TestTransportModeAndAH(t *testing.T) {
	icfg, rcfg := pskConfigs()
	for _, c := range []*ike.Config{icfg, rcfg} {
		c.Mode = ike.Transport
		c.ChildProposals = []ike.ChildProposal{{Protocol: wire.ProtocolAH, Integ: wire.IntegHMACSHA2_256_128, DH: []wire.DHGroup{wire.DHECP256}}}
	}
	p := iketest.NewPair(t, icfg, rcfg, ike.DispatcherConfig{})
	p.Handshake()
	ic, rc := iketest.Find[ike.InstallChild](p.I.Events()), iketest.Find[ike.InstallChild](p.R.Events())
	if len(ic) != 1 || len(rc) != 1 {
		t.Fatal("no Child SA")
	}
	checkChildPair(t, ic[0].Child, rc[0].Child)
	c := ic[0].Child
	if c.Protocol != wire.ProtocolAH || c.Mode != ike.Transport || len(c.Outbound.Integ) != 32 || len(c.Outbound.Encr) != 0 {
		t.Fatalf("child %v, integ key %d octets", c, len(c.Outbound.Integ))
	}
	lifecycle(t, p, true, wire.DHECP256)
}

// TestDPD checks liveness: a quiet but present peer answers the check; a
// vanished one is declared dead after the retransmissions.
func TestDPD(t *testing.T) {
	icfg, rcfg := pskConfigs()
	icfg.DPDInterval = 30 * time.Second
	p := iketest.NewPair(t, icfg, rcfg, ike.DispatcherConfig{})
	p.Handshake()
	p.I.Sent()
	p.Advance(31 * time.Second)
	sent := p.I.Sent()
	if len(sent) != 1 || sent[0].Header(t).Exchange != wire.ExchangeInformational {
		t.Fatalf("liveness check: sent %v", sent)
	}
	if !p.Init.Established() {
		t.Fatal("closed after a successful check")
	}
	p.Filter = func(iketest.Datagram) iketest.Verdict { return iketest.Drop }
	p.Advance(2 * time.Minute)
	if !errors.Is(p.Init.Err(), ike.ErrTimeout) {
		t.Fatalf("dead peer: %v, want ErrTimeout", p.Init.Err())
	}
	if d := iketest.Find[ike.DeleteChild](p.I.Events()); len(d) != 1 || !errors.Is(d[0].Err, ike.ErrTimeout) {
		t.Errorf("DeleteChild on dead peer: %v", d)
	}
}

// TestLifetimes lets the timers rekey the Child SA and the IKE SA on
// their own.
func TestLifetimes(t *testing.T) {
	icfg, rcfg := pskConfigs()
	icfg.ChildLifetime, icfg.RekeyMargin, icfg.IKELifetime, icfg.RekeyJitter = time.Hour, 10*time.Minute, 3*time.Hour, time.Minute
	p := iketest.NewPair(t, icfg, rcfg, ike.DispatcherConfig{})
	p.Handshake()
	ic := iketest.Find[ike.InstallChild](p.I.Events())
	if c := ic[0].Child; c.SoftLifetime > time.Hour || c.SoftLifetime <= 59*time.Minute || c.HardLifetime != 70*time.Minute {
		t.Fatalf("lifetimes soft %v hard %v", c.SoftLifetime, c.HardLifetime)
	}
	p.R.Events()
	p.Advance(time.Hour)
	if n := len(iketest.Find[ike.InstallChild](p.R.Events())); n != 1 {
		t.Fatalf("Child SA rekeys after 1h: %d", n)
	}
	p.Advance(2 * time.Hour)
	if n := len(iketest.Find[ike.IKERekeyed](p.R.Events())); n != 1 {
		t.Fatalf("IKE rekeys after 3h: %d", n)
	}
	if len(p.Init.Children()) != 1 || len(p.R.SA().Children()) != 1 {
		t.Fatalf("children %d/%d", len(p.Init.Children()), len(p.R.SA().Children()))
	}
}

// TestPFSInvalidKE: the initiator's PFS KE is in a group the responder
// does not take for Child SAs; it retries with the group asked for.
func TestPFSInvalidKE(t *testing.T) {
	icfg, rcfg := pskConfigs()
	icfg.ChildProposals = []ike.ChildProposal{{Encr: wire.EncrAESGCM16, KeyBits: 256, DH: []wire.DHGroup{wire.DHCurve25519, wire.DHECP256}}}
	rcfg.ChildProposals = []ike.ChildProposal{{Encr: wire.EncrAESGCM16, KeyBits: 256, DH: []wire.DHGroup{wire.DHECP256}}}
	p := iketest.NewPair(t, icfg, rcfg, ike.DispatcherConfig{})
	p.Handshake()
	p.I.Events()
	sa := p.Init
	p.I.Do(sa, sa.CreateChild)
	p.Run()
	ic := iketest.Find[ike.InstallChild](p.I.Events())
	if len(ic) != 1 || ic[0].Child.PFS != wire.DHECP256 {
		t.Fatalf("InstallChild %v, want one with PFS ECP_256", ic)
	}
	c := sa.Children()[0]
	p.I.Do(sa, func(now time.Time) ([]ike.Action, error) { return sa.RekeyChild(now, c.InboundSPI) })
	p.Run()
	ic = iketest.Find[ike.InstallChild](p.I.Events())
	if len(ic) != 1 || ic[0].Child.PFS != wire.DHECP256 || ic[0].Replaces != c.InboundSPI {
		t.Fatalf("rekey InstallChild %v", ic)
	}
	if len(sa.Children()) != 2 || len(p.R.SA().Children()) != 2 {
		t.Fatalf("children %d/%d", len(sa.Children()), len(p.R.SA().Children()))
	}
}

// TestResponderFor picks the responder policy per peer; a peer without
// policy is refused without state.
func TestResponderFor(t *testing.T) {
	icfg, rcfg := pskConfigs()
	p := iketest.NewPair(t, icfg, nil, ike.DispatcherConfig{ResponderFor: func(_, remote netip.AddrPort) *ike.Config {
		if remote.Addr() == iketest.InitiatorAddr.Addr() {
			return rcfg
		}
		return nil
	}})
	p.Handshake()
	other := p.AddEnd("stranger", netip.MustParseAddrPort("192.0.2.99:500"), ike.DispatcherConfig{})
	sa := other.Initiate(icfg, iketest.ResponderAddr)
	p.Run()
	if errs := p.R.Errors(); len(errs) != 1 || !errors.Is(errs[0], ike.ErrRefused) {
		t.Fatalf("stranger: %v, want ErrRefused", errs)
	}
	if sa.Established() || p.R.D.Stats().SAs != 1 {
		t.Fatal("stranger got state")
	}
}

// TestExternalRekey: with ExternalRekey the SA reports RekeyDue and waits;
// an unanswered Child SA is deleted at its hard lifetime.
func TestExternalRekey(t *testing.T) {
	icfg, rcfg := pskConfigs()
	icfg.ExternalRekey, icfg.ChildLifetime, icfg.RekeyMargin, icfg.IKELifetime = true, time.Hour, 5*time.Minute, 2*time.Hour
	p := iketest.NewPair(t, icfg, rcfg, ike.DispatcherConfig{})
	p.Handshake()
	spi := p.Init.Children()[0].InboundSPI
	p.I.Events()
	p.I.Sent()
	p.Advance(time.Hour)
	due := iketest.Find[ike.RekeyDue](p.I.Events())
	if len(due) != 1 || due[0].ChildSPI != spi || due[0].IKE {
		t.Fatalf("RekeyDue %v", due)
	}
	if len(p.I.Sent()) != 0 || len(p.Init.Children()) != 1 {
		t.Fatal("rekeyed on its own")
	}
	p.Advance(5 * time.Minute)
	if d := iketest.Find[ike.DeleteChild](p.I.Events()); len(d) != 1 || len(p.R.SA().Children()) != 0 {
		t.Fatalf("expired Child SA: %v, responder has %d", d, len(p.R.SA().Children()))
	}
	p.Advance(time.Hour)
	if due := iketest.Find[ike.RekeyDue](p.I.Events()); len(due) != 1 || !due[0].IKE {
		t.Fatalf("IKE RekeyDue %v", due)
	}
}

func TestInitialContact(t *testing.T) {
	icfg, rcfg := pskConfigs()
	icfg.InitialContact = true
	p := iketest.NewPair(t, icfg, rcfg, ike.DispatcherConfig{})
	p.Handshake()
	if re := iketest.Find[ike.Established](p.R.Events()); !re[0].InitialContact {
		t.Error("INITIAL_CONTACT not reported")
	}
}

func TestConfigValidation(t *testing.T) {
	for name, edit := range map[string]func(c *ike.Config){
		"no IKE proposals": func(c *ike.Config) { c.IKEProposals = nil },
		"no DH":            func(c *ike.Config) { c.IKEProposals[0].DH = nil },
		"SHA-1 PRF":        func(c *ike.Config) { c.IKEProposals[0].PRF = wire.PRFHMACSHA1 },
		"unknown group":    func(c *ike.Config) { c.IKEProposals[0].DH = []wire.DHGroup{wire.DHModP1024} },
		"AEAD with integ":  func(c *ike.Config) { c.IKEProposals[0].Integ = wire.IntegHMACSHA2_256_128 },
		"AES-CBC without": func(c *ike.Config) {
			c.IKEProposals = []ike.IKEProposal{{Encr: wire.EncrAESCBC, KeyBits: 256, PRF: wire.PRFHMACSHA2_256, DH: []wire.DHGroup{wire.DHECP256}}}
		},
		"3DES child": func(c *ike.Config) {
			c.ChildProposals = []ike.ChildProposal{{Encr: wire.Encr3DES, Integ: wire.IntegHMACSHA2_256_128}}
		},
		"AH with encr": func(c *ike.Config) {
			c.ChildProposals = []ike.ChildProposal{{Protocol: wire.ProtocolAH, Encr: wire.EncrAESGCM16}}
		},
		"PSK without key":   func(c *ike.Config) { c.LocalAuth.PSK = nil },
		"signature no key":  func(c *ike.Config) { c.LocalAuth = ike.LocalAuth{Method: ike.AuthSignature} },
		"bad identity type": func(c *ike.Config) { c.LocalID = ike.Identity{Type: wire.IDDERASN1GN, Data: []byte{1}} },
	} {
		icfg, _ := pskConfigs()
		edit(icfg)
		if _, err := ike.NewInitiator(icfg, iketest.InitiatorAddr, iketest.ResponderAddr, time.Unix(0, 0)); !errors.Is(err, ike.ErrConfig) {
			t.Errorf("%s: %v, want ErrConfig", name, err)
		}
	}
}

// TestCookieThenInvalidKE: under load and with a KE in the wrong group,
// the initiator needs three IKE_SA_INIT requests; the last carries the
// cookie and the corrected KE (RFC 7296 §2.6, §1.3).
func TestCookieThenInvalidKE(t *testing.T) {
	icfg, rcfg := pskConfigs()
	icfg.IKEProposals[0].DH = []wire.DHGroup{wire.DHCurve25519, wire.DHModP2048}
	for i := range rcfg.IKEProposals {
		rcfg.IKEProposals[i].DH = []wire.DHGroup{wire.DHModP2048}
	}
	p := iketest.NewPair(t, icfg, rcfg, ike.DispatcherConfig{CookieThreshold: -1})
	p.Handshake()
	var inits []wire.Header
	var last []wire.Payload
	for _, d := range p.I.Sent() {
		if h := d.Header(t); h.Exchange == wire.ExchangeIKESAInit {
			inits = append(inits, h)
			_, last = p.Payloads(d)
		}
	}
	if len(inits) != 3 {
		t.Fatalf("%d IKE_SA_INIT requests, want 3", len(inits))
	}
	if inits[0].SPIi != inits[2].SPIi {
		t.Error("SPIi changed between retries")
	}
	if n, ok := last[0].(*wire.Notify); !ok || n.NotifyType != wire.NotifyCookie {
		t.Errorf("last request starts with %v", last[0])
	}
	if ke := wire.Find(last, wire.PayloadKE).(*wire.KE); ke.Group != wire.DHModP2048 {
		t.Errorf("last KE group %v", ke.Group)
	}
	if s := p.R.D.Stats(); s.CookiesSent != 1 || s.HalfOpenCreated != 1 {
		t.Errorf("responder stats %+v", s)
	}
}

// TestNullEncryption: ENCR_NULL Child SAs only when both ends allow them.
func TestNullEncryption(t *testing.T) {
	null := []ike.ChildProposal{{Encr: wire.EncrNull, Integ: wire.IntegHMACSHA2_256_128}}
	icfg, rcfg := pskConfigs()
	icfg.ChildProposals, rcfg.ChildProposals = null, null
	icfg.AllowNullEncryption, rcfg.AllowNullEncryption = true, true
	p := iketest.NewPair(t, icfg, rcfg, ike.DispatcherConfig{})
	p.Handshake()
	ic := iketest.Find[ike.InstallChild](p.I.Events())
	if len(ic) != 1 || ic[0].Child.Encr != wire.EncrNull || len(ic[0].Child.Outbound.Integ) != 32 {
		t.Fatalf("InstallChild %v", ic)
	}
	// The responder does not allow it: refused, IKE SA up.
	rcfg2 := *rcfg
	rcfg2.AllowNullEncryption = false
	rcfg2.ChildProposals = append(null, ike.DefaultChildProposals()...)
	p = iketest.NewPair(t, icfg, &rcfg2, ike.DispatcherConfig{})
	p.Handshake()
	if f := iketest.Find[ike.ChildFailed](p.I.Events()); len(f) != 1 || !errors.Is(f[0].Err, ike.ErrNoProposalChosen) {
		t.Fatalf("ChildFailed %v", f)
	}
}
