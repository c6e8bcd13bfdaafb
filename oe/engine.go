package oe

import (
	"fmt"
	"net/netip"
	"sort"
	"time"

	"github.com/oe-agent/oe-agent/trap"
)

// Config sets the engine's policy. Zero fields take the defaults noted.
type Config struct {
	// ShuntLifetime is how long a failure shunt (pass or drop) stays before
	// the trap is back and OE is tried again (default 15 minutes, as
	// libreswan's shuntlifetime).
	ShuntLifetime time.Duration
	// RetryLifetime is how long a drop shunt installed because the DNS
	// answer was Bogus or Indeterminate stays: shorter than ShuntLifetime,
	// since the cause may be transient (default 1 minute).
	RetryLifetime time.Duration
	// AcquireExpires is how long the kernel keeps the larval state of an
	// ACQUIRE (net.core.xfrm_acq_expires, default 30 s). While it lives the
	// kernel sends no new ACQUIRE for the flow and queues or drops its
	// packets, so a shunt never ends sooner: the trap would be back with
	// nobody told of the packets that hit it.
	AcquireExpires time.Duration
	// NegotiationTimeout bounds a negotiation that neither succeeds nor
	// fails (default 30 seconds).
	NegotiationTimeout time.Duration
	// IdleTimeout deletes an SA that carried no traffic for this long and
	// puts the trap back (default 10 minutes; negative disables).
	IdleTimeout time.Duration
	// PassWhileNegotiating lets packets through in clear while a
	// private-or-clear peer is negotiated, instead of holding them in the
	// kernel's queue (oe-negotiation-shunt=pass). private never passes.
	PassWhileNegotiating bool
	// AuthNull allows anonymous OE (RFC 7619) with peers that publish no key.
	AuthNull bool
	// MaxNegotiations and MaxPeers bound concurrent negotiations and known
	// peers (defaults 64 and 4096). Overflow is handled per group:
	// private drops, private-or-clear passes, both for RetryLifetime.
	MaxNegotiations, MaxPeers int
	// ReqidMin and ReqidMax bound the reqids the engine gives peer SAs
	// (defaults: the upper half of trap's conn range).
	ReqidMin, ReqidMax uint32
}

func (c Config) withDefaults() Config {
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&c.ShuntLifetime, 15*time.Minute)
	def(&c.RetryLifetime, time.Minute)
	def(&c.AcquireExpires, 30*time.Second)
	def(&c.NegotiationTimeout, 30*time.Second)
	def(&c.IdleTimeout, 10*time.Minute)
	if c.MaxNegotiations <= 0 {
		c.MaxNegotiations = 64
	}
	if c.MaxPeers <= 0 {
		c.MaxPeers = 4096
	}
	if c.ReqidMin == 0 {
		c.ReqidMin = trap.ReqidConnMin + 0x100000
	}
	if c.ReqidMax == 0 {
		c.ReqidMax = c.ReqidMin + 0x0fffff
	}
	return c
}

// State is where a peer stands.
type State uint8

// Peer states.
const (
	// Negotiating: key lookup and IKE run; packets wait in the kernel's
	// queue on the trap (or pass, with PassWhileNegotiating).
	Negotiating State = iota + 1
	// Up: the SA is installed; a per-peer IPsec policy sits above the trap.
	Up
	// Shunted: a pass or drop shunt sits above the trap until it expires.
	Shunted
)

func (s State) String() string { return [...]string{"?", "negotiating", "up", "shunted"}[s] }

// Counters count what the engine did since it started.
type Counters struct {
	Acquires, Negotiations, Failures, Overflows, Lookups, Refused uint64
}

// Pair names an OE peer: this host's address and the remote one. The
// IKE identities of OE are the addresses (RFC 4322 §3.1), so each pair is
// negotiated, authenticated, shunted and expired on its own: a host with
// many addresses has one peer per address a remote host reaches it on.
type Pair struct{ Local, Remote netip.Addr }

func (p Pair) String() string { return p.Local.String() + "<->" + p.Remote.String() }

// Engine is the per-peer opportunistic encryption state machine. It is
// pure: it takes events and the current time and returns actions; it never
// blocks, sleeps or does I/O. It is not safe for concurrent use: the
// agent's loop goroutine owns it.
type Engine struct {
	cfg       Config
	peers     map[Pair]*Peer
	nextReqid uint32
	counters  Counters
}

// Peer is the engine's record of one pair of addresses.
type Peer struct {
	Remote, Local netip.Addr
	Group         trap.Group
	State         State
	Since         time.Time
	// Shunt is PeerPass or PeerDrop while Shunted; Expires when it ends.
	Shunt   trap.PeerAction
	Expires time.Time
	// Reqid is the SA's while Up (and reserved while Negotiating).
	Reqid     uint32
	Anonymous bool
	Initiator bool
	// KeyDetail is how the key was found (or why not); LastError the
	// latest failure.
	KeyDetail, LastError string
	lastUsed             time.Time
	keyDone              bool
}

// New returns an engine with no peers.
func New(cfg Config) *Engine {
	cfg = cfg.withDefaults()
	return &Engine{cfg: cfg, peers: map[Pair]*Peer{}, nextReqid: cfg.ReqidMin}
}

// Counters returns the event counts.
func (e *Engine) Counters() Counters { return e.counters }

// Peers returns a copy of every peer record, ordered by remote address,
// then local address.
func (e *Engine) Peers() []Peer {
	out := make([]Peer, 0, len(e.peers))
	for _, p := range e.peers {
		out = append(out, *p)
	}
	sort.Slice(out, func(i, j int) bool {
		if c := out[i].Remote.Compare(out[j].Remote); c != 0 {
			return c < 0
		}
		return out[i].Local.Less(out[j].Local)
	})
	return out
}

func (p *Peer) pair() Pair { return Pair{Local: p.Local, Remote: p.Remote} }

// Entries are the per-peer kernel policy entries the agent must install
// above the group traps (trap.Input.Peers).
func (e *Engine) Entries() []trap.Peer {
	var out []trap.Peer
	for _, p := range e.Peers() {
		switch {
		case p.State == Up:
			out = append(out, trap.Peer{Local: p.Local, Remote: p.Remote, Action: trap.PeerIPsec, Reqid: p.Reqid, Reason: "SA up"})
		case p.State == Shunted:
			out = append(out, trap.Peer{Local: p.Local, Remote: p.Remote, Action: p.Shunt, Reason: p.LastError, Expires: p.Expires})
		case p.State == Negotiating && e.cfg.PassWhileNegotiating && p.Group == trap.GroupPrivateOrClear:
			out = append(out, trap.Peer{Local: p.Local, Remote: p.Remote, Action: trap.PeerPass, Reason: "negotiating (pass)"})
		case p.State == Negotiating && p.Initiator:
			// The kernel holds at most 100 packets per policy: a per-peer
			// hold entry gives this peer's flow a queue of its own beside
			// the group trap's, shared by every peer being negotiated.
			out = append(out, trap.Peer{Local: p.Local, Remote: p.Remote, Action: trap.PeerHold, Reqid: p.Reqid, Reason: "negotiating (hold)"})
		}
	}
	return out
}

// Deadline is the earliest time Tick has something to do, or zero.
func (e *Engine) Deadline() time.Time {
	var d time.Time
	for _, p := range e.peers {
		var t time.Time
		switch p.State {
		case Shunted:
			t = p.Expires
		case Negotiating:
			t = p.Since.Add(e.cfg.NegotiationTimeout)
		}
		if !t.IsZero() && (d.IsZero() || t.Before(d)) {
			d = t
		}
	}
	return d
}

func (e *Engine) negotiating() int {
	n := 0
	for _, p := range e.peers {
		if p.State == Negotiating {
			n++
		}
	}
	return n
}

// allocReqid returns a reqid no current peer uses.
func (e *Engine) allocReqid() uint32 {
	used := map[uint32]bool{}
	for _, p := range e.peers {
		used[p.Reqid] = true
	}
	for {
		r := e.nextReqid
		e.nextReqid++
		if e.nextReqid > e.cfg.ReqidMax {
			e.nextReqid = e.cfg.ReqidMin
		}
		if !used[r] {
			return r
		}
	}
}

// shunt puts p behind a pass or drop shunt for d.
func (e *Engine) shunt(now time.Time, p *Peer, action trap.PeerAction, d time.Duration, reason string) {
	d = max(d, e.cfg.AcquireExpires)
	p.State, p.Shunt, p.Expires, p.LastError, p.Since = Shunted, action, now.Add(d), reason, now
}

// failureShunt is the group's answer to a failed negotiation: pass for
// private-or-clear, drop for private (RFC 4322 §3.2).
func failureShunt(g trap.Group) trap.PeerAction {
	if g == trap.GroupPrivate {
		return trap.PeerDrop
	}
	return trap.PeerPass
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func (p *Peer) String() string {
	return fmt.Sprintf("%s %s %s", p.Remote, p.Group, p.State)
}
