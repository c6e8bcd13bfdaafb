package ike

import (
	"fmt"
	"slices"
	"time"

	"github.com/oe-agent/oe-agent/ike/wire"
	"go.uber.org/zap"
)

// request is our outstanding request in one IKE SA generation: the window
// of 1 (RFC 7296 §2.3), retransmitted with exponential back-off until
// answered or Retransmit.Tries sends have gone unanswered (§2.1).
type request struct {
	id       uint32
	exchange wire.ExchangeType
	data     []byte
	tries    int       // transmissions so far
	next     time.Time // next retransmission
	// onResponse handles the decrypted response payloads.
	onResponse func(now time.Time, ps []wire.Payload) error
	// onTimeout runs when the retries are exhausted; nil closes the SA
	// with ErrTimeout.
	onTimeout func(now time.Time)
	// onCancel, if set, runs when the request is abandoned because its
	// IKE SA went away (replaced and deleted) before the answer came.
	onCancel func(now time.Time)
}

func (r *request) String() string {
	if r == nil {
		return "none"
	}
	return fmt.Sprintf("%v #%d", r.exchange, r.id)
}

// startRequest sends data as request id of g and arms retransmission.
func (s *SA) startRequest(now time.Time, g *ikeGen, r *request) {
	rt := s.cfg.Retransmit.withDefaults()
	r.tries = 1
	r.next = now.Add(rt.wait(1))
	g.req = r
	s.send(r.data)
}

// sendRequest encrypts ps as the next request of g in exchange ex and
// sends it; onResponse gets the response's payloads.
func (s *SA) sendRequest(now time.Time, g *ikeGen, ex wire.ExchangeType, ps []wire.Payload, onResponse func(time.Time, []wire.Payload) error) error {
	id := g.nextID
	data, err := s.seal(g, wire.Header{Exchange: ex, MessageID: id}, ps)
	if err != nil {
		return err
	}
	g.nextID++
	s.startRequest(now, g, &request{id: id, exchange: ex, data: data, onResponse: onResponse})
	return nil
}

// respond encrypts ps as the response to request h of g, caches it for
// retransmitted requests and sends it.
func (s *SA) respond(g *ikeGen, h wire.Header, ps []wire.Payload) {
	data, err := s.seal(g, wire.Header{Exchange: h.Exchange, MessageID: h.MessageID, Flags: wire.FlagResponse}, ps)
	if err != nil {
		// Only our own payloads are encoded here; failing means a bug.
		s.log.Error("encoding response", zap.Error(err))
		return
	}
	g.peerID = h.MessageID + 1
	g.resp = data
	s.sendTo(data, s.reqLocal, s.reqRemote)
}

// enqueue runs cmd now if the current generation's window is free, or
// after the outstanding request is answered.
func (s *SA) enqueue(now time.Time, cmd command) {
	s.queue = append(s.queue, cmd)
	s.runQueue(now)
}

// runQueue starts queued requests while the window is free.
func (s *SA) runQueue(now time.Time) {
	for len(s.queue) > 0 && s.state != stateClosed && s.cur != nil && s.cur.keys != nil && s.cur.req == nil && s.held == nil {
		cmd := s.queue[0]
		s.queue = s.queue[1:]
		cmd(now)
	}
}

// tick runs the timers.
func (s *SA) tick(now time.Time) {
	if !s.halfOpenExpiry.IsZero() && !now.Before(s.halfOpenExpiry) {
		s.close(ErrHalfOpenExpired)
		return
	}
	for _, g := range s.gens() {
		if g.req != nil && !now.Before(g.req.next) {
			s.retransmit(now, g)
			if s.state == stateClosed {
				return
			}
		}
	}
	for _, g := range slices.Clone(s.retired) {
		if !now.Before(g.expires) {
			s.dropGen(now, g)
		}
	}
	if !s.Established() {
		return
	}
	s.tickChildren(now)
	if !s.rekeyAt.IsZero() && !now.Before(s.rekeyAt) {
		s.rekeyAt = time.Time{}
		if s.cfg.ExternalRekey {
			s.emit(RekeyDue{IKE: true})
		} else {
			s.enqueue(now, s.rekeyIKECmd)
		}
	}
	if !s.keepaliveAt.IsZero() && !now.Before(s.keepaliveAt) {
		if !s.sentAny {
			s.emit(NATKeepalive{Local: s.local, Remote: s.remote})
		}
		s.sentAny = false
		s.keepaliveAt = now.Add(s.cfg.keepaliveInterval())
	}
	if s.cfg.DPDInterval > 0 && !s.dpdAt.IsZero() && !now.Before(s.dpdAt) {
		s.dpdAt = time.Time{}
		if now.Sub(s.lastRecv) >= s.cfg.DPDInterval {
			s.enqueue(now, s.dpdCmd)
		} else {
			s.dpdAt = s.lastRecv.Add(s.cfg.DPDInterval)
		}
	}
}

// retransmit resends g's outstanding request, or gives up after the
// configured number of tries.
func (s *SA) retransmit(now time.Time, g *ikeGen) {
	r := g.req
	rt := s.cfg.Retransmit.withDefaults()
	if r.tries >= rt.Tries {
		g.req = nil
		if s.isRetired(g) {
			// A replaced IKE SA that stopped answering: give up on it
			// alone, not on the IKE SA that replaced it.
			if r.onCancel != nil {
				r.onCancel(now)
			} else if r.onTimeout != nil {
				r.onTimeout(now)
			}
			s.dropGen(now, g)
			return
		}
		if r.onTimeout != nil {
			r.onTimeout(now)
			return
		}
		s.close(fmt.Errorf("%w: %v unanswered after %d transmissions", ErrTimeout, r, r.tries))
		return
	}
	r.tries++
	r.next = now.Add(rt.wait(r.tries))
	s.send(r.data)
}
