package ike

import (
	"cmp"
	stdcrypto "crypto"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"slices"
	"time"

	"github.com/oe-agent/oe-agent/ike/crypto"
	"github.com/oe-agent/oe-agent/ike/wire"
	"go.uber.org/zap"
)

// MaxDatagram is the largest IKE message an SA or Dispatcher accepts.
const MaxDatagram = wire.MaxMessageLen

// saState is where an IKE SA is in its life.
type saState uint8

const (
	stateIdle        saState = iota // initiator before Initiate
	stateInitSent                   // initiator: IKE_SA_INIT request sent
	stateInitDone                   // responder: IKE_SA_INIT answered, waiting for IKE_AUTH
	stateAuthSent                   // initiator: IKE_AUTH request sent
	stateEstablished                // authenticated
	stateDeleting                   // our Delete of the IKE SA is outstanding
	stateClosed
)

var stateNames = [...]string{"idle", "init-sent", "init-done", "auth-sent", "established", "deleting", "closed"}

func (s saState) String() string { return stateNames[s] }

// An SA is one IKE SA (RFC 7296) with its Child SAs: a pure state machine.
// It takes received datagrams (Handle), timer events (Tick) and commands,
// each with the current time, and returns Actions. It never blocks, sleeps
// or does I/O, and draws all randomness from Config.Rand.
//
// An SA is not safe for concurrent use: one goroutine owns it (the driver's
// loop for that SA). Deadline says when Tick must next be called.
type SA struct {
	cfg     *Config
	log     *zap.Logger
	rand    io.Reader
	disp    *Dispatcher // nil for a standalone SA
	initKey initKey     // the Dispatcher's key for a responder SA
	stats   *counters

	local, remote netip.AddrPort
	// reqLocal and reqRemote are the addresses the request being answered
	// came on; responses go back there (RFC 7296 §2.11).
	reqLocal, reqRemote netip.AddrPort
	initiator           bool // this end sent the first IKE_SA_INIT
	state               saState
	created             time.Time

	// IKE_SA_INIT material.
	ni, nr       []byte
	initI, initR []byte // RealMessage1 and RealMessage2 (RFC 7296 §2.15)
	// initIRetry is, on a responder, the initiator's cookie retry of
	// initI that arrived after the SA was made (see sameButCookie).
	initIRetry     []byte
	dh             *crypto.DHKey
	dhGroup        wire.DHGroup // group of our KE payload
	cookie         []byte
	cookieRounds   int
	keRounds       int
	initOffer      *wire.SA
	peerHashes     []wire.HashAlgorithm
	natLocal       bool
	natRemote      bool
	halfOpenExpiry time.Time

	cur     *ikeGen   // the IKE SA in use
	retired []*ikeGen // replaced or redundant IKE SAs, until their Delete completes
	// ikeRekey is our outstanding IKE SA rekey, and collision the IKE SA
	// the peer created by rekeying at the same time (RFC 7296 §2.8.2).
	ikeRekey  *ikeRekeyState
	collision *collided

	peerID     Identity
	peerMethod AuthMethod
	peerKey    stdcrypto.PublicKey
	peerKeyErr error
	// held is an IKE_AUTH message waiting for SupplyPeerKey.
	held *heldAuth

	children map[uint32]*child // by inbound SPI
	// peerDeleted lists peer SPIs deleted before their Child SA completed
	// here.
	peerDeleted []uint32
	queue       []command // requests waiting for the window

	lastRecv      time.Time
	establishedAt time.Time
	// keepaliveAt is the next NAT keepalive (RFC 3948 §4); sentAny
	// records a send since the last one.
	keepaliveAt time.Time
	sentAny     bool
	dpdAt       time.Time
	rekeyAt     time.Time // IKE SA rekey time
	closeErr    error

	actions []Action // collected during one call
}

// command is a request waiting for the message window; it returns false
// if it no longer applies and sent nothing.
type command func(now time.Time) bool

// ikeGen is the keyed part of an IKE SA: SPIs, keys and message windows.
// An IKE rekey (RFC 7296 §2.18) replaces it while the SA object, its
// identity and its Child SAs carry on.
type ikeGen struct {
	spiI, spiR uint64
	initiator  bool // we were the initiator of the exchange that created it
	suite      ikeSuite
	keys       *crypto.IKEKeys
	out, in    crypto.Cipher

	nextID  uint32   // next request Message ID we send
	req     *request // outstanding request (window of 1)
	peerID  uint32   // next request Message ID expected from the peer
	resp    []byte   // cached response to request peerID-1
	expires time.Time
}

// localSPI returns this end's SPI in g.
func (g *ikeGen) localSPI() uint64 {
	if g.initiator {
		return g.spiI
	}
	return g.spiR
}

// newSA returns an SA with its fields initialised from cfg.
func newSA(cfg *Config, local, remote netip.AddrPort, initiator bool, now time.Time, d *Dispatcher) *SA {
	s := &SA{cfg: cfg, local: local, remote: remote, initiator: initiator, created: now, disp: d,
		children: map[uint32]*child{}, lastRecv: now}
	s.rand = cfg.Rand
	if s.rand == nil {
		s.rand = rand.Reader
	}
	s.log = cfg.Logger
	if s.log == nil {
		s.log = zap.NewNop()
	}
	if d != nil {
		s.stats = &d.stats
	}
	return s
}

// NewInitiator returns an initiator SA for the given endpoints, not yet
// started; call Initiate. SAs made this way are not known to any
// Dispatcher; see Dispatcher.Initiate for that.
func NewInitiator(cfg *Config, local, remote netip.AddrPort, now time.Time) (*SA, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	return newSA(cfg, local, remote, true, now, nil), nil
}

// SPIs returns the current IKE SPIs (SPIr is zero until IKE_SA_INIT
// completes).
func (s *SA) SPIs() (spiI, spiR uint64) {
	if s.cur == nil {
		return 0, 0
	}
	return s.cur.spiI, s.cur.spiR
}

// Established reports whether IKE_AUTH has completed and the SA is not
// closed.
func (s *SA) Established() bool { return s.state == stateEstablished || s.state == stateDeleting }

// IsClosed reports whether the SA is gone.
func (s *SA) IsClosed() bool { return s.state == stateClosed }

// Remote returns the peer's address.
func (s *SA) Remote() netip.AddrPort { return s.remote }

// Local returns our address.
func (s *SA) Local() netip.AddrPort { return s.local }

// PeerID returns the authenticated peer identity (zero before IKE_AUTH).
func (s *SA) PeerID() Identity { return s.peerID }

// Children returns the installed Child SAs, ordered by inbound SPI.
func (s *SA) Children() []ChildSA {
	out := make([]ChildSA, 0, len(s.children))
	for _, c := range s.sortedChildren() {
		out = append(out, c.sa)
	}
	return out
}

// sortedChildren returns the Child SAs ordered by inbound SPI, so that
// timers fire and commands queue in a reproducible order.
func (s *SA) sortedChildren() []*child {
	out := make([]*child, 0, len(s.children))
	for _, c := range s.children {
		out = append(out, c)
	}
	slices.SortFunc(out, func(a, b *child) int { return cmp.Compare(a.sa.InboundSPI, b.sa.InboundSPI) })
	return out
}

// String identifies the SA for logs.
func (s *SA) String() string {
	i, r := s.SPIs()
	return fmt.Sprintf("IKE SA %016x/%016x %v<->%v %v", i, r, s.local, s.remote, s.state)
}

// emit queues an action for the current call.
func (s *SA) emit(a Action) { s.actions = append(s.actions, a) }

// take returns and resets the collected actions.
func (s *SA) take() []Action {
	a := s.actions
	s.actions = nil
	return a
}

// send emits a Send of b to the peer.
func (s *SA) send(b []byte) {
	s.sentAny = true
	s.emit(Send{Local: s.local, Remote: s.remote, Data: b})
}

// sendTo sends a response to the addresses its request came from, or to
// the SA's when they are unknown.
func (s *SA) sendTo(b []byte, local, remote netip.AddrPort) {
	if !local.IsValid() || !remote.IsValid() {
		s.send(b)
		return
	}
	s.sentAny = true
	s.emit(Send{Local: local, Remote: remote, Data: b})
}

// randBytes reads n random octets.
func (s *SA) randBytes(n int) ([]byte, error) {
	b := make([]byte, n)
	if _, err := io.ReadFull(s.rand, b); err != nil {
		return nil, fmt.Errorf("ike: reading randomness: %w", err)
	}
	return b, nil
}

// newSPI64 returns a non-zero random IKE SPI.
func (s *SA) newSPI64() (uint64, error) {
	for {
		b, err := s.randBytes(8)
		if err != nil {
			return 0, err
		}
		if v := binary.BigEndian.Uint64(b); v != 0 {
			return v, nil
		}
	}
}

// newChildSPI returns a random inbound SPI outside the reserved range
// 1-255 (RFC 4303 §2.1) and not in use.
func (s *SA) newChildSPI() (uint32, error) {
	for {
		b, err := s.randBytes(4)
		if err != nil {
			return 0, err
		}
		v := binary.BigEndian.Uint32(b)
		if _, used := s.children[v]; v > 255 && !used {
			return v, nil
		}
	}
}

// nonce returns a fresh nonce of 32 octets (at least half the largest PRF
// key, RFC 7296 §2.10).
func (s *SA) nonce() ([]byte, error) { return s.randBytes(32) }

// generateDH makes our key pair for group g, counting it.
func (s *SA) generateDH(g wire.DHGroup) (*crypto.DHKey, error) {
	if s.stats != nil {
		s.stats.dhOps.Add(1)
	}
	return crypto.GenerateDH(crypto.Group(g), s.rand)
}

// sharedSecret completes a key exchange, counting it.
func (s *SA) sharedSecret(k *crypto.DHKey, peer []byte) (crypto.Key, error) {
	if s.stats != nil {
		s.stats.dhOps.Add(1)
	}
	return k.SharedSecret(peer)
}

// close tears the SA down: DeleteChild for every Child SA, then Closed.
func (s *SA) close(err error) {
	if s.state == stateClosed {
		return
	}
	for spi, c := range s.children {
		s.emit(DeleteChild{Child: c.sa, Err: err})
		delete(s.children, spi)
	}
	wasHalfOpen := !s.initiator && !s.Established()
	s.state = stateClosed
	s.closeErr = err
	s.held = nil
	s.queue = nil
	if s.cur != nil {
		s.cur.req = nil
	}
	if s.disp != nil {
		s.disp.forget(s, wasHalfOpen)
	}
	if err != nil {
		s.log.Info("IKE SA failed", zap.Stringer("ike_sa", s), zap.Error(err))
	} else {
		s.log.Info("IKE SA closed", zap.Stringer("ike_sa", s))
	}
	s.emit(Closed{Err: err})
}

// Err returns why the SA closed (nil while open or after an orderly
// delete).
func (s *SA) Err() error { return s.closeErr }

// Tick runs the timers due at now: retransmissions, liveness checks,
// rekeys, expiries. Call it at Deadline (calling it early is harmless).
func (s *SA) Tick(now time.Time) []Action {
	if s.state == stateClosed {
		return nil
	}
	s.tick(now)
	if s.state != stateClosed {
		s.runQueue(now)
	}
	return s.take()
}

// Deadline returns when Tick must next be called, or the zero time if no
// timer is pending.
func (s *SA) Deadline() time.Time {
	if s.state == stateClosed {
		return time.Time{}
	}
	var d time.Time
	at := func(t time.Time) {
		if !t.IsZero() && (d.IsZero() || t.Before(d)) {
			d = t
		}
	}
	for _, g := range s.gens() {
		if g.req != nil {
			at(g.req.next)
		}
		at(g.expires)
	}
	at(s.halfOpenExpiry)
	if s.Established() {
		at(s.dpdAt)
		at(s.keepaliveAt)
		at(s.rekeyAt)
		for _, c := range s.children {
			at(c.rekeyAt)
			at(c.expireAt)
		}
	}
	return d
}

// Decrypt authenticates and decrypts a protected message sent to this SA
// by its peer, and returns its header and inner payloads, without changing
// any state: for tests and debugging tools (iketest uses it to assert on
// what an SA sends).
func (s *SA) Decrypt(b []byte) (wire.Header, []wire.Payload, error) {
	h, _, _, err := wire.ParseHeader(b)
	if err != nil {
		return h, nil, malformed("header", err)
	}
	g := s.genFor(h)
	if g == nil || g.keys == nil {
		return h, nil, fmt.Errorf("%w: %016x/%016x", ErrUnknownSPI, h.SPIi, h.SPIr)
	}
	ps, err := s.open(g, b)
	return h, ps, err
}

// SupplyPeerKey answers NeedPeerKey: pub verifies the peer's signature, or
// err (e.g. the DNS lookup failed) fails authentication. It may be called
// before NeedPeerKey too, e.g. when a lookup running in parallel with
// IKE_SA_INIT finishes first.
func (s *SA) SupplyPeerKey(now time.Time, pub stdcrypto.PublicKey, err error) []Action {
	if s.state == stateClosed {
		return nil
	}
	if err == nil && pub == nil {
		err = errors.New("no key")
	}
	if err == nil {
		s.peerKey = pub
	} else {
		s.peerKeyErr = err
	}
	if h := s.held; h != nil {
		s.held = nil
		if err != nil {
			h.fail(now, fmt.Errorf("%w: peer key lookup: %w", ErrAuth, err))
		} else {
			h.resume(now)
		}
		s.runQueue(now)
	}
	return s.take()
}
