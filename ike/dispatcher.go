package ike

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/oe-agent/oe-agent/ike/wire"
)

// DispatcherConfig configures a Dispatcher.
type DispatcherConfig struct {
	// Responder is the policy for IKE SAs the peer initiates; nil makes a
	// Dispatcher that only initiates.
	Responder *Config
	// ResponderFor, when set, chooses the policy per peer instead of
	// Responder, after the cookie check (so a spoofed flood does not
	// reach it); nil refuses the peer. It is called from the goroutine
	// that calls Route and must not block.
	ResponderFor func(local, remote netip.AddrPort) *Config
	// CookieThreshold is the number of half-open responder SAs from which
	// on IKE_SA_INIT requests must carry a valid cookie (RFC 7296 §2.6).
	// Zero means 32; negative means always.
	CookieThreshold int
	// MaxHalfOpen is the most half-open responder SAs kept; requests
	// beyond it are dropped. Zero means 4096.
	MaxHalfOpen int
	// CookieSecretLifetime is how often the cookie secret changes. Zero
	// means 2 minutes.
	CookieSecretLifetime time.Duration
	// Rand supplies cookie secrets; nil means crypto/rand.Reader.
	Rand io.Reader
}

// counters are the statistics of a Dispatcher and its SAs, updated
// atomically by SAs on their own goroutines.
type counters struct {
	dhOps           atomic.Uint64
	halfOpenCreated atomic.Uint64
	cookiesSent     atomic.Uint64
}

// StatsSnapshot is a copy of the counters.
type StatsSnapshot struct {
	// DHComputations counts Diffie-Hellman key generations and shared
	// secret computations, by every SA of the Dispatcher.
	DHComputations uint64
	// HalfOpenCreated counts responder SAs created from IKE_SA_INIT.
	HalfOpenCreated uint64
	// HalfOpen is the number of responder SAs not yet authenticated.
	HalfOpen int
	// CookiesSent counts COOKIE notifications sent instead of state.
	CookiesSent uint64
	// SAs is the number of IKE SAs known.
	SAs int
}

// A Dispatcher owns the IKE SPI table: it routes datagrams to SAs by SPI,
// creates responder SAs for IKE_SA_INIT requests only after the cookie
// check (RFC 7296 §2.6), counts half-open SAs and answers under load with
// stateless COOKIE notifications. It does no I/O.
//
// A Dispatcher is safe for concurrent use: a driver calls Route from its
// receive loop while each SA, on its own goroutine, updates the table
// through the Dispatcher as its SPIs change.
type Dispatcher struct {
	cfg   DispatcherConfig
	rand  io.Reader
	stats counters

	mu       sync.Mutex
	bySPI    map[uint64]*SA   // guarded by mu; our SPI -> SA
	byInit   map[initKey]*SA  // guarded by mu; responder SAs by initiator
	halfOpen int              // guarded by mu
	cookies  cookieJar        // guarded by mu
	all      map[*SA]struct{} // guarded by mu
}

type initKey struct {
	remote netip.AddrPort
	spiI   uint64
}

// NewDispatcher returns a Dispatcher.
func NewDispatcher(cfg DispatcherConfig) (*Dispatcher, error) {
	if cfg.Responder != nil {
		if err := cfg.Responder.validate(); err != nil {
			return nil, err
		}
	}
	if cfg.CookieThreshold == 0 {
		cfg.CookieThreshold = 32
	}
	if cfg.MaxHalfOpen <= 0 {
		cfg.MaxHalfOpen = 4096
	}
	if cfg.CookieSecretLifetime <= 0 {
		cfg.CookieSecretLifetime = 2 * time.Minute
	}
	d := &Dispatcher{cfg: cfg, rand: cfg.Rand, bySPI: map[uint64]*SA{}, byInit: map[initKey]*SA{}, all: map[*SA]struct{}{}}
	if d.rand == nil {
		d.rand = rand.Reader
	}
	d.cookies.lifetime = cfg.CookieSecretLifetime
	return d, nil
}

// Stats returns the counters.
func (d *Dispatcher) Stats() StatsSnapshot {
	d.mu.Lock()
	defer d.mu.Unlock()
	return StatsSnapshot{
		DHComputations:  d.stats.dhOps.Load(),
		HalfOpenCreated: d.stats.halfOpenCreated.Load(),
		HalfOpen:        d.halfOpen,
		CookiesSent:     d.stats.cookiesSent.Load(),
		SAs:             len(d.all),
	}
}

// SAs returns the IKE SAs the Dispatcher knows.
func (d *Dispatcher) SAs() []*SA {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make([]*SA, 0, len(d.all))
	for sa := range d.all {
		out = append(out, sa)
	}
	return out
}

// Initiate creates an initiator SA for cfg and starts IKE_SA_INIT.
func (d *Dispatcher) Initiate(now time.Time, cfg *Config, local, remote netip.AddrPort) (*SA, []Action, error) {
	if err := cfg.validate(); err != nil {
		return nil, nil, err
	}
	sa := newSA(cfg, local, remote, true, now, d)
	d.mu.Lock()
	d.all[sa] = struct{}{}
	d.mu.Unlock()
	acts, err := sa.Initiate(now)
	if err != nil {
		d.forget(sa, false)
		return nil, nil, err
	}
	return sa, acts, nil
}

// Route finds the SA for a datagram. For an existing SA it returns the SA
// and no actions: the caller passes the datagram to SA.Handle on the SA's
// goroutine. For a new IKE_SA_INIT request it creates the responder SA,
// which has already answered (the actions), or it answers statelessly
// (COOKIE, INVALID_KE_PAYLOAD, NO_PROPOSAL_CHOSEN) and returns a nil SA
// with the reason. Nothing is created for a datagram that is not a valid
// IKE_SA_INIT request.
func (d *Dispatcher) Route(now time.Time, local, remote netip.AddrPort, b []byte) (sa *SA, created []Action, err error) {
	if len(b) > MaxDatagram {
		return nil, nil, fmt.Errorf("%w: %d octets", ErrOversized, len(b))
	}
	h, _, _, err := wire.ParseHeader(b)
	if err != nil {
		return nil, nil, malformed("header", err)
	}
	d.mu.Lock()
	switch {
	case h.IsInitiator() && h.Exchange == wire.ExchangeIKESAInit && !h.IsResponse():
		if h.SPIr != 0 {
			d.mu.Unlock()
			return nil, nil, fmt.Errorf("%w: IKE_SA_INIT request with responder SPI %016x", ErrUnexpected, h.SPIr)
		}
		sa = d.byInit[initKey{remote, h.SPIi}]
		d.mu.Unlock()
		if sa != nil {
			return sa, nil, nil
		}
		return d.newResponder(now, local, remote, h, b)
	case h.IsInitiator():
		sa = d.bySPI[h.SPIr]
	default:
		sa = d.bySPI[h.SPIi]
	}
	d.mu.Unlock()
	if sa == nil {
		return nil, nil, fmt.Errorf("%w: %016x/%016x %v", ErrUnknownSPI, h.SPIi, h.SPIr, h.Exchange)
	}
	return sa, nil, nil
}

// Handle is Route followed by SA.Handle, for callers that run every SA on
// one goroutine (tests, fuzzing, small tools).
func (d *Dispatcher) Handle(now time.Time, local, remote netip.AddrPort, b []byte) (*SA, []Action, error) {
	sa, acts, err := d.Route(now, local, remote, b)
	if err != nil || sa == nil || acts != nil {
		return sa, acts, err
	}
	acts, err = sa.Handle(now, local, remote, b)
	return sa, acts, err
}

// newResponder runs the cookie check and, if it passes, creates and
// registers a responder SA.
func (d *Dispatcher) newResponder(now time.Time, local, remote netip.AddrPort, h wire.Header, b []byte) (*SA, []Action, error) {
	if d.cfg.Responder == nil && d.cfg.ResponderFor == nil {
		return nil, nil, fmt.Errorf("%w: not accepting IKE SAs", ErrUnknownSPI)
	}
	m, err := wire.Decode(b)
	if err != nil {
		var we *wire.Error
		if errors.As(err, &we) && errors.Is(err, wire.ErrUnsupportedCritical) {
			// RFC 7296 §2.5: tell the initiator which payload we lack.
			reply := &wire.Message{Header: wire.Header{SPIi: h.SPIi, Exchange: wire.ExchangeIKESAInit, Flags: wire.FlagResponse},
				Payloads: []wire.Payload{wire.NewUnsupportedCritical(we.Payload)}}
			if data, eerr := reply.Encode(); eerr == nil {
				return nil, []Action{Send{Local: local, Remote: remote, Data: data}}, malformed("IKE_SA_INIT request", err)
			}
		}
		return nil, nil, malformed("IKE_SA_INIT request", err)
	}
	if err := wire.CheckUnique(m.Payloads); err != nil {
		return nil, nil, malformed("IKE_SA_INIT request", err)
	}
	ni, _ := wire.Find(m.Payloads, wire.PayloadNonce).(*wire.Nonce)
	if ni == nil {
		return nil, nil, fmt.Errorf("%w: IKE_SA_INIT request without a nonce", ErrInvalidSyntax)
	}
	d.mu.Lock()
	if err := d.cookies.refresh(now, d.rand); err != nil {
		d.mu.Unlock()
		return nil, nil, err
	}
	need := d.cfg.CookieThreshold < 0 || d.halfOpen >= d.cfg.CookieThreshold
	full := d.halfOpen >= d.cfg.MaxHalfOpen
	var cookieErr error
	if need {
		switch n := wire.FindNotify(m.Payloads, wire.NotifyCookie); {
		case n == nil:
			cookieErr = ErrCookieRequired
		case !d.cookies.valid(n.Data, ni.Data, remote.Addr(), h.SPIi):
			cookieErr = ErrInvalidCookie
		}
	}
	var cookie []byte
	if cookieErr != nil {
		cookie = d.cookies.make(ni.Data, remote.Addr(), h.SPIi)
	}
	d.mu.Unlock()
	if cookieErr != nil {
		d.stats.cookiesSent.Add(1)
		reply := &wire.Message{Header: wire.Header{SPIi: h.SPIi, Exchange: wire.ExchangeIKESAInit, Flags: wire.FlagResponse},
			Payloads: []wire.Payload{wire.NewNotify(wire.NotifyCookie, cookie)}}
		data, err := reply.Encode()
		if err != nil {
			return nil, nil, err
		}
		return nil, []Action{Send{Local: local, Remote: remote, Data: data}}, cookieErr
	}
	if full {
		return nil, nil, fmt.Errorf("%w: %d half-open IKE SAs", ErrBusy, d.cfg.MaxHalfOpen)
	}
	cfg := d.cfg.Responder
	if d.cfg.ResponderFor != nil {
		if cfg = d.cfg.ResponderFor(local, remote); cfg == nil {
			return nil, nil, fmt.Errorf("%w: no policy for %v", ErrRefused, remote)
		}
		if err := cfg.validate(); err != nil {
			return nil, nil, err
		}
	}
	sa := newSA(cfg, local, remote, false, now, d)
	if err := sa.respondInit(now, h, m.Payloads, b); err != nil {
		return nil, sa.take(), err
	}
	d.mu.Lock()
	d.bySPI[sa.cur.spiR] = sa
	sa.initKey = initKey{remote, h.SPIi}
	d.byInit[sa.initKey] = sa
	d.all[sa] = struct{}{}
	d.halfOpen++
	d.mu.Unlock()
	d.stats.halfOpenCreated.Add(1)
	return sa, sa.take(), nil
}

// register maps our SPI spi to sa.
func (d *Dispatcher) register(spi uint64, sa *SA) {
	d.mu.Lock()
	d.bySPI[spi] = sa
	d.all[sa] = struct{}{}
	d.mu.Unlock()
}

// unregister forgets spi.
func (d *Dispatcher) unregister(spi uint64) {
	d.mu.Lock()
	delete(d.bySPI, spi)
	d.mu.Unlock()
}

// established notes that responder SA sa is no longer half-open.
func (d *Dispatcher) established(sa *SA) {
	if sa.initiator {
		return
	}
	d.mu.Lock()
	d.halfOpen--
	d.mu.Unlock()
}

// forget removes every trace of sa.
func (d *Dispatcher) forget(sa *SA, wasHalfOpen bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, ok := d.all[sa]; !ok {
		return
	}
	delete(d.all, sa)
	for _, g := range sa.gens() {
		if d.bySPI[g.localSPI()] == sa {
			delete(d.bySPI, g.localSPI())
		}
	}
	if c := sa.collision; c != nil && d.bySPI[c.g.localSPI()] == sa {
		delete(d.bySPI, c.g.localSPI())
	}
	if d.byInit[sa.initKey] == sa {
		delete(d.byInit, sa.initKey)
	}
	if wasHalfOpen {
		d.halfOpen--
	}
}
