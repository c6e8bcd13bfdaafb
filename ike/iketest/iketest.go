// Package iketest is a harness for the ike state machines: IKE endpoints
// (each an ike.Dispatcher with its SAs) joined by an in-memory link with a
// fake clock. Tests drop, duplicate or reorder datagrams, advance time to
// the next timer, inject raw datagrams and assert on what the SAs send and
// do. Everything runs on the test goroutine; nothing sleeps.
package iketest

import (
	stdcrypto "crypto"
	"fmt"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/oe-agent/oe-agent/ike"
	"github.com/oe-agent/oe-agent/ike/wire"
)

// Datagram is one UDP datagram on the link.
type Datagram struct {
	From, To netip.AddrPort
	Data     []byte
}

// String summarises the datagram's IKE header.
func (d Datagram) String() string {
	h, _, _, err := wire.ParseHeader(d.Data)
	if err != nil {
		return fmt.Sprintf("%v->%v %d octets (%v)", d.From, d.To, len(d.Data), err)
	}
	kind := "request"
	if h.IsResponse() {
		kind = "response"
	}
	return fmt.Sprintf("%v->%v %v %s #%d %d octets", d.From, d.To, h.Exchange, kind, h.MessageID, len(d.Data))
}

// Header decodes the datagram's IKE header, failing the test if it does
// not parse.
func (d Datagram) Header(t testing.TB) wire.Header {
	t.Helper()
	h, _, _, err := wire.ParseHeader(d.Data)
	if err != nil {
		t.Fatalf("datagram %v: %v", d, err)
	}
	return h
}

// Verdict is what a Filter decides about a datagram.
type Verdict int

// Filter verdicts.
const (
	Deliver   Verdict = iota
	Drop              // lose it
	Duplicate         // deliver it twice
)

// Net is a set of endpoints joined by an in-memory link, with a fake
// clock.
type Net struct {
	T   testing.TB
	Now time.Time
	// Filter, if set, decides the fate of each datagram as it is
	// delivered.
	Filter func(Datagram) Verdict
	// Rewrite, if set, changes each datagram before delivery, e.g. its
	// addresses to play a NAT.
	Rewrite func(Datagram) Datagram
	// Verbose logs every datagram and action.
	Verbose bool

	ends     []*End
	inFlight []Datagram
}

// End is one IKE endpoint on a Net.
type End struct {
	Name string
	Addr netip.AddrPort
	D    *ike.Dispatcher
	// PeerKey, if set, answers NeedPeerKey immediately. Otherwise the
	// NeedPeerKey action is recorded and the test answers it.
	PeerKey func(ike.Identity) (stdcrypto.PublicKey, error)

	net     *Net
	actions []Event
	errs    []error
	sent    []Datagram
}

// Event is an action with the SA that produced it.
type Event struct {
	SA     *ike.SA
	Action ike.Action
}

// NewNet returns an empty Net whose clock starts at a fixed instant.
func NewNet(t testing.TB) *Net {
	return &Net{T: t, Now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
}

// AddEnd adds an endpoint at addr with a Dispatcher made from dc.
func (n *Net) AddEnd(name string, addr netip.AddrPort, dc ike.DispatcherConfig) *End {
	n.T.Helper()
	d, err := ike.NewDispatcher(dc)
	if err != nil {
		n.T.Fatalf("%s: NewDispatcher: %v", name, err)
	}
	e := &End{Name: name, Addr: addr, D: d, net: n}
	n.ends = append(n.ends, e)
	return e
}

// Initiate starts an IKE SA from e to the endpoint at remote.
func (e *End) Initiate(cfg *ike.Config, remote netip.AddrPort) *ike.SA {
	e.net.T.Helper()
	sa, acts, err := e.D.Initiate(e.net.Now, cfg, e.Addr, remote)
	if err != nil {
		e.net.T.Fatalf("%s: Initiate: %v", e.Name, err)
	}
	e.process(sa, acts)
	return sa
}

// Do runs a command on sa (e.g. sa.RekeyChild) and processes its actions.
func (e *End) Do(sa *ike.SA, cmd func(now time.Time) ([]ike.Action, error)) error {
	acts, err := cmd(e.net.Now)
	e.process(sa, acts)
	return err
}

// Supply answers a NeedPeerKey for sa.
func (e *End) Supply(sa *ike.SA, pub stdcrypto.PublicKey, err error) {
	e.process(sa, sa.SupplyPeerKey(e.net.Now, pub, err))
}

// process records actions and puts sent datagrams on the link.
func (e *End) process(sa *ike.SA, acts []ike.Action) {
	for _, a := range acts {
		if e.net.Verbose {
			e.net.T.Logf("%v %s: %T %+v", e.net.Now.Format("15:04:05.000"), e.Name, a, short(a))
		}
		switch a := a.(type) {
		case ike.Send:
			d := Datagram{From: a.Local, To: a.Remote, Data: a.Data}
			e.sent = append(e.sent, d)
			e.net.inFlight = append(e.net.inFlight, d)
			continue
		case ike.NeedPeerKey:
			if e.PeerKey != nil {
				pub, err := e.PeerKey(a.ID)
				e.actions = append(e.actions, Event{sa, a})
				e.process(sa, sa.SupplyPeerKey(e.net.Now, pub, err))
				continue
			}
		}
		e.actions = append(e.actions, Event{sa, a})
	}
}

func short(a ike.Action) any {
	if s, ok := a.(ike.Send); ok {
		return Datagram{From: s.Local, To: s.Remote, Data: s.Data}.String()
	}
	if c, ok := a.(ike.InstallChild); ok {
		return c.Child.String()
	}
	if c, ok := a.(ike.DeleteChild); ok {
		return c.Child.String()
	}
	return a
}

// Events returns and clears the non-Send actions recorded so far.
func (e *End) Events() []Event {
	a := e.actions
	e.actions = nil
	return a
}

// Errors returns and clears the errors Handle returned for datagrams
// delivered to e.
func (e *End) Errors() []error {
	x := e.errs
	e.errs = nil
	return x
}

// Sent returns and clears the datagrams e sent.
func (e *End) Sent() []Datagram {
	s := e.sent
	e.sent = nil
	return s
}

// SA returns e's only IKE SA, failing the test if it has none or several.
func (e *End) SA() *ike.SA {
	e.net.T.Helper()
	sas := e.D.SAs()
	if len(sas) != 1 {
		e.net.T.Fatalf("%s has %d IKE SAs, want 1", e.Name, len(sas))
	}
	return sas[0]
}

// Deliver hands d to the endpoint whose IP address it is addressed to (an
// endpoint listens on every port), recording the result. Datagrams to
// unknown addresses vanish.
func (n *Net) Deliver(d Datagram) error {
	for _, e := range n.ends {
		if e.Addr.Addr() == d.To.Addr() {
			sa, acts, err := e.D.Handle(n.Now, d.To, d.From, d.Data)
			if err != nil {
				if n.Verbose {
					n.T.Logf("%v %s: %v: %v", n.Now.Format("15:04:05.000"), e.Name, d, err)
				}
				e.errs = append(e.errs, err)
			}
			e.process(sa, acts)
			return err
		}
	}
	return nil
}

// InFlight returns the datagrams on the link, oldest first.
func (n *Net) InFlight() []Datagram { return slices.Clone(n.inFlight) }

// TakeInFlight removes and returns the datagrams on the link, so that the
// test can reorder, corrupt or replay them with Deliver.
func (n *Net) TakeInFlight() []Datagram {
	d := n.inFlight
	n.inFlight = nil
	return d
}

// Step delivers the oldest datagram on the link, applying Filter. It
// reports whether there was one.
func (n *Net) Step() bool {
	if len(n.inFlight) == 0 {
		return false
	}
	d := n.inFlight[0]
	n.inFlight = n.inFlight[1:]
	if n.Rewrite != nil {
		d = n.Rewrite(d)
	}
	v := Deliver
	if n.Filter != nil {
		v = n.Filter(d)
	}
	switch v {
	case Drop:
		if n.Verbose {
			n.T.Logf("%v dropped %v", n.Now.Format("15:04:05.000"), d)
		}
	case Duplicate:
		n.Deliver(d)
		n.Deliver(d)
	default:
		n.Deliver(d)
	}
	return true
}

// Run delivers datagrams until the link is empty, failing the test after
// 10000 steps (a message loop).
func (n *Net) Run() {
	n.T.Helper()
	for i := 0; n.Step(); i++ {
		if i > 10000 {
			n.T.Fatal("iketest: message loop: link never went quiet")
		}
	}
}

// NextDeadline returns the earliest timer of any SA, or the zero time.
func (n *Net) NextDeadline() time.Time {
	var d time.Time
	for _, e := range n.ends {
		for _, sa := range e.D.SAs() {
			if t := sa.Deadline(); !t.IsZero() && (d.IsZero() || t.Before(d)) {
				d = t
			}
		}
	}
	return d
}

// AdvanceToTimer moves the clock to the next timer, runs every SA's Tick
// that is due, and reports whether there was a timer.
func (n *Net) AdvanceToTimer() bool {
	d := n.NextDeadline()
	if d.IsZero() {
		return false
	}
	if d.After(n.Now) {
		n.Now = d
	}
	n.tick()
	return true
}

// Advance moves the clock forward by dt, firing timers in order and
// delivering what they send as it goes.
func (n *Net) Advance(dt time.Duration) {
	end := n.Now.Add(dt)
	for {
		n.Run()
		d := n.NextDeadline()
		if d.IsZero() || d.After(end) {
			break
		}
		if d.After(n.Now) {
			n.Now = d
		}
		n.tick()
	}
	n.Now = end
	n.Run()
}

func (n *Net) tick() {
	for _, e := range n.ends {
		for _, sa := range e.D.SAs() {
			if t := sa.Deadline(); !t.IsZero() && !t.After(n.Now) {
				e.process(sa, sa.Tick(n.Now))
			}
		}
	}
}

// Payloads decodes d for assertions: IKE_SA_INIT messages as they are,
// protected messages by decrypting them with the keys of the SA they are
// addressed to. It fails the test if that is impossible.
func (n *Net) Payloads(d Datagram) (wire.Header, []wire.Payload) {
	n.T.Helper()
	m, err := wire.Decode(d.Data)
	if err != nil {
		n.T.Fatalf("%v: %v", d, err)
	}
	if m.Exchange == wire.ExchangeIKESAInit {
		return m.Header, m.Payloads
	}
	for _, e := range n.ends {
		if e.Addr.Addr() != d.To.Addr() {
			continue
		}
		for _, sa := range e.D.SAs() {
			if h, ps, err := sa.Decrypt(d.Data); err == nil {
				return h, ps
			}
		}
	}
	n.T.Fatalf("%v: no SA at the destination can decrypt it", d)
	return wire.Header{}, nil
}

// Find returns the actions of type T among events.
func Find[T ike.Action](events []Event) []T {
	var out []T
	for _, ev := range events {
		if a, ok := ev.Action.(T); ok {
			out = append(out, a)
		}
	}
	return out
}
