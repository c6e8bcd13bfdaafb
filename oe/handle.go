package oe

import (
	"errors"
	"fmt"
	"time"

	"github.com/oe-agent/oe-agent/trap"
)

// Handle applies one event at time now and returns what the agent must do,
// in order. Events about unknown peers are ignored (they may refer to a
// peer already expired or torn down).
func (e *Engine) Handle(now time.Time, ev Event) []Action {
	switch ev := ev.(type) {
	case Acquire:
		return e.acquire(now, ev)
	case Inbound:
		return e.inbound(now, ev)
	case KeyResult:
		return e.keyResult(now, ev)
	case Negotiated:
		return e.negotiated(now, ev)
	case Failed:
		return e.failed(now, ev)
	case Closed:
		return e.closed(now, ev)
	case Activity:
		k := Pair{ev.Local, ev.Remote}
		if p := e.peers[k]; p != nil && ev.LastUsed.After(p.lastUsed) {
			p.lastUsed = ev.LastUsed
		}
		return e.idleCheck(now, k)
	}
	return nil
}

// acquire starts OE with a peer on the first packet. The key lookup and
// IKE_SA_INIT start together: the key is needed only for IKE_AUTH.
func (e *Engine) acquire(now time.Time, ev Acquire) []Action {
	e.counters.Acquires++
	if !ev.Group.Traps() {
		return nil // a stale ACQUIRE from a trap that is gone
	}
	k := Pair{ev.Local, ev.Remote}
	if p := e.peers[k]; p != nil {
		// Negotiating: the kernel queues the flow's packets already.
		// Up or shunted: a late ACQUIRE for a flow the per-peer policy now
		// covers. Nothing to do either way.
		return nil
	}
	if len(e.peers) >= e.cfg.MaxPeers || e.negotiating() >= e.cfg.MaxNegotiations {
		e.counters.Overflows++
		p := &Peer{Remote: ev.Remote, Local: ev.Local, Group: ev.Group}
		e.peers[k] = p
		e.shunt(now, p, failureShunt(ev.Group), e.cfg.RetryLifetime,
			fmt.Sprintf("overflow: %d negotiations, %d peers at their limits", e.negotiating(), len(e.peers)-1))
		return []Action{PoliciesChanged{}}
	}
	p := &Peer{Remote: ev.Remote, Local: ev.Local, Group: ev.Group, State: Negotiating, Since: now, Initiator: true}
	p.Reqid = e.allocReqid()
	e.peers[k] = p
	e.counters.Negotiations++
	e.counters.Lookups++
	return []Action{
		Lookup{Remote: ev.Remote},
		Initiate{Local: ev.Local, Remote: ev.Remote, Seq: ev.Seq, Reqid: p.Reqid, AllowNull: e.cfg.AuthNull},
		PoliciesChanged{},
	}
}

// inbound decides whether to answer an IKE_SA_INIT from an unknown peer:
// yes from an address in private, private-or-clear or clear-or-private;
// no from clear, block or outside every group.
func (e *Engine) inbound(now time.Time, ev Inbound) []Action {
	switch ev.Group {
	case trap.GroupPrivate, trap.GroupPrivateOrClear, trap.GroupClearOrPrivate:
	default:
		e.counters.Refused++
		why := "not covered by any OE policy group"
		if ev.Group != 0 {
			why = "in group " + ev.Group.String()
		}
		return []Action{Refuse{Remote: ev.Remote, Reason: why}}
	}
	k := Pair{ev.Local, ev.Remote}
	if p := e.peers[k]; p != nil {
		switch p.State {
		case Negotiating:
			// Both sides initiated at once: answer too; the IKE layer keeps
			// one pair of SAs (RFC 7296 §2.8.1) and reports it.
			return []Action{Accept{Remote: ev.Remote, Reqid: p.Reqid, AllowNull: e.cfg.AuthNull}}
		case Shunted:
			// The peer can do OE after all (it initiates): let it replace
			// the shunt, as libreswan does for a bare pass shunt.
		case Up:
			// A restarted peer starts over; its new SA replaces the old.
		}
	}
	if len(e.peers) >= e.cfg.MaxPeers || e.negotiating() >= e.cfg.MaxNegotiations {
		e.counters.Overflows++
		e.counters.Refused++
		return []Action{Refuse{Remote: ev.Remote, Reason: "overflow: too many negotiations or peers"}}
	}
	old := e.peers[k]
	p := &Peer{Remote: ev.Remote, Local: ev.Local, Group: ev.Group, State: Negotiating, Since: now}
	if old != nil {
		// Keep the old record's SA facts until the new SA is up: an
		// authenticated SA must not be replaced by an anonymous one.
		p.Anonymous, p.KeyDetail = old.Anonymous, old.KeyDetail
		if old.State == Up {
			p.Reqid = old.Reqid
			p.State = Up
			p.Since = old.Since
		}
	}
	if p.Reqid == 0 {
		p.Reqid = e.allocReqid()
	}
	e.peers[k] = p
	e.counters.Negotiations++
	e.counters.Lookups++
	acts := []Action{Lookup{Remote: ev.Remote}, Accept{Remote: ev.Remote, Reqid: p.Reqid, AllowNull: e.cfg.AuthNull}}
	if old != nil && old.State == Shunted {
		acts = append(acts, PoliciesChanged{})
	}
	return acts
}

// keyResult hands the DNS verdict to the negotiation. Only a Secure key
// authenticates. A Secure denial, or an Insecure answer (the reverse zone is
// provably unsigned, so no key can be authenticated: the negotiation cannot
// succeed, as with libreswan), falls back to NULL authentication if allowed,
// else to the group's failure shunt. Bogus and Indeterminate answers may be
// an attack or an outage: they never lead to clear, they drop for
// RetryLifetime.
func (e *Engine) keyResult(now time.Time, ev KeyResult) []Action {
	// The key is the remote host's: the verdict serves every pair with it
	// that waits for one.
	var acts []Action
	supplied := false
	for _, p := range e.Peers() {
		q := e.peers[p.pair()]
		if q.Remote != ev.Remote || q.keyDone {
			continue
		}
		a := e.keyResultFor(now, q, ev)
		if len(a) > 0 {
			if _, ok := a[0].(Supply); ok {
				if supplied {
					continue // one Supply reaches every IKE SA with Remote
				}
				supplied = true
			}
		}
		acts = append(acts, a...)
	}
	return dedupePolicies(acts)
}

// keyResultFor applies a key verdict to one pair.
func (e *Engine) keyResultFor(now time.Time, p *Peer, ev KeyResult) []Action {
	p.keyDone = true
	p.KeyDetail = ev.Detail
	switch ev.Outcome {
	case KeySecure:
		return []Action{Supply{Remote: ev.Remote, Key: ev.Key}}
	case KeyDenied, KeyInsecure:
		if e.cfg.AuthNull {
			return []Action{Supply{Remote: ev.Remote, Anonymous: true}}
		}
		if p.State == Up {
			return nil // an existing SA stays; only the new attempt ends
		}
		why := "no key in DNS (authenticated denial): "
		if ev.Outcome == KeyInsecure {
			why = "no key can be authenticated (reverse zone unsigned): "
		}
		return e.fail(now, p, failureShunt(p.Group), e.cfg.ShuntLifetime, why+ev.Detail)
	default:
		if p.State == Up {
			return nil
		}
		return e.fail(now, p, trap.PeerDrop, e.cfg.RetryLifetime, fmt.Sprintf("DNS answer %s: %s", ev.Outcome, ev.Detail))
	}
}

// dedupePolicies keeps one PoliciesChanged, at the end.
func dedupePolicies(acts []Action) []Action {
	out := acts[:0:0]
	changed := false
	for _, a := range acts {
		if _, ok := a.(PoliciesChanged); ok {
			changed = true
			continue
		}
		out = append(out, a)
	}
	if changed {
		out = append(out, PoliciesChanged{})
	}
	return out
}

// fail ends a negotiation with a shunt.
func (e *Engine) fail(now time.Time, p *Peer, action trap.PeerAction, d time.Duration, reason string) []Action {
	e.counters.Failures++
	e.shunt(now, p, action, d, reason)
	return []Action{Abort{Local: p.Local, Remote: p.Remote, Reason: reason}, PoliciesChanged{}}
}

// negotiated records an SA that came up. An anonymous SA never replaces an
// authenticated one with the same peer.
func (e *Engine) negotiated(now time.Time, ev Negotiated) []Action {
	p := e.peers[Pair{ev.Local, ev.Remote}]
	if p == nil {
		return []Action{Teardown{Local: ev.Local, Remote: ev.Remote, Reqid: ev.Reqid, Reason: "no negotiation was expected with this peer"}}
	}
	if p.State == Up && !p.Anonymous && ev.Anonymous {
		return []Action{Teardown{Local: ev.Local, Remote: ev.Remote, Reqid: ev.Reqid, Reason: "an anonymous SA may not replace an authenticated one"}}
	}
	p.State, p.Since, p.lastUsed = Up, now, now
	p.Reqid, p.Anonymous, p.Initiator = ev.Reqid, ev.Anonymous, ev.Initiator
	p.LastError, p.Shunt, p.Expires = "", 0, time.Time{}
	p.keyDone = true
	return []Action{PoliciesChanged{}}
}

func (e *Engine) failed(now time.Time, ev Failed) []Action {
	p := e.peers[Pair{ev.Local, ev.Remote}]
	if p == nil || p.State != Negotiating {
		return nil
	}
	e.counters.Failures++
	e.shunt(now, p, failureShunt(p.Group), e.cfg.ShuntLifetime, "negotiation failed: "+errText(ev.Err))
	return []Action{PoliciesChanged{}}
}

// closed forgets a peer whose SA is gone; its group's trap takes over
// again, so the next packet renegotiates (a restarted peer recovers). An
// IKE SA that closes while its peer is still negotiating (the peer
// authenticated but refused or failed the Child SA, then deleted the IKE
// SA) ends that negotiation as a failure, at once rather than at the
// negotiation timeout.
func (e *Engine) closed(now time.Time, ev Closed) []Action {
	k := Pair{ev.Local, ev.Remote}
	p := e.peers[k]
	if p != nil && p.State == Negotiating {
		err := ev.Err
		if err == nil {
			err = errors.New("IKE SA closed before a Child SA was installed")
		}
		return e.failed(now, Failed{Local: ev.Local, Remote: ev.Remote, Err: err})
	}
	if p == nil || p.State != Up {
		return nil
	}
	delete(e.peers, k)
	return []Action{PoliciesChanged{}}
}

// Tick expires shunts and stuck negotiations at now.
func (e *Engine) Tick(now time.Time) []Action {
	var acts []Action
	changed := false
	for _, p := range e.Peers() {
		q := e.peers[p.pair()]
		switch {
		case q.State == Shunted && !now.Before(q.Expires):
			delete(e.peers, p.pair())
			changed = true
		case q.State == Negotiating && !now.Before(q.Since.Add(e.cfg.NegotiationTimeout)):
			acts = append(acts, e.fail(now, q, failureShunt(q.Group), e.cfg.ShuntLifetime, "negotiation timed out")...)
		}
	}
	if changed {
		acts = append(acts, PoliciesChanged{})
	}
	return acts
}

// idleCheck tears down an SA that carried no traffic for IdleTimeout.
func (e *Engine) idleCheck(now time.Time, k Pair) []Action {
	p := e.peers[k]
	if p == nil || p.State != Up || e.cfg.IdleTimeout < 0 || now.Sub(p.lastUsed) < e.cfg.IdleTimeout {
		return nil
	}
	delete(e.peers, k)
	return []Action{Teardown{Local: k.Local, Remote: k.Remote, Reqid: p.Reqid, Reason: "idle"}, PoliciesChanged{}}
}
