package xfrmtest

import (
	"context"
	"fmt"
	"net/netip"
	"sync"
	"time"

	"github.com/oe-agent/oe-agent/xfrm"
)

// Subscribe returns a channel of the events Inject, Packet and Expire
// raise, closed when ctx is done.
func (k *Kernel) Subscribe(ctx context.Context) (<-chan xfrm.Event, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if err := k.failLocked("subscribe", "acquire expire"); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, opErr("subscribe", "acquire expire", err)
	}
	s := &subscriber{ctx: ctx, ch: make(chan xfrm.Event, 64)}
	k.subs = append(k.subs, s)
	context.AfterFunc(ctx, func() {
		k.mu.Lock()
		for i, x := range k.subs {
			if x == s {
				k.subs = append(k.subs[:i:i], k.subs[i+1:]...)
				break
			}
		}
		k.mu.Unlock()
		s.mu.Lock()
		s.closed = true
		close(s.ch)
		s.mu.Unlock()
	})
	return s.ch, nil
}

type subscriber struct {
	ctx    context.Context
	mu     sync.Mutex // held while sending, so that close never races a send
	closed bool
	ch     chan xfrm.Event
}

func (s *subscriber) send(ev xfrm.Event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	select {
	case s.ch <- ev:
	case <-s.ctx.Done():
	}
}

// Inject delivers ev to every current subscriber, waiting until each has
// room for it (or its context is done).
func (k *Kernel) Inject(ev xfrm.Event) {
	k.mu.Lock()
	subs := append([]*subscriber(nil), k.subs...)
	k.mu.Unlock()
	for _, s := range subs {
		s.send(ev)
	}
}

// Verdict is what the fake SPD did with an outbound packet.
type Verdict uint8

// Verdicts of Packet.
const (
	Clear     Verdict = iota // no policy, or a bypass policy
	Blocked                  // a block policy
	Protected                // an IPsec policy with a matching SA
	Trapped                  // an IPsec policy without SA: dropped, ACQUIRE raised unless one is pending
)

func (v Verdict) String() string {
	switch v {
	case Clear:
		return "clear"
	case Blocked:
		return "blocked"
	case Protected:
		return "protected"
	case Trapped:
		return "trapped"
	}
	return fmt.Sprintf("verdict-%d", uint8(v))
}

// Packet runs an outbound packet through the SPD as the kernel would: the
// matching out policy with the lowest priority decides. When it has a
// template and no SA satisfies it, Packet installs a larval SA (SPI 0,
// expiring in 30 s as with net.core.xfrm_acq_expires) and raises one
// *xfrm.Acquire; while that larval SA exists further packets of the flow
// are trapped silently. Another daemon's policies take part too.
func (k *Kernel) Packet(src, dst netip.Addr, proto uint8, sport, dport uint16) Verdict {
	k.mu.Lock()
	var best *xfrm.Policy
	for _, p := range k.policies {
		if p.Dir != xfrm.DirOut || !matches(p.Selector, src, dst, proto, sport, dport) {
			continue
		}
		if best == nil || p.Priority < best.Priority || (p.Priority == best.Priority && p.Index < best.Index) {
			p := p
			best = &p
		}
	}
	switch {
	case best == nil:
		k.mu.Unlock()
		return Clear
	case best.Action == xfrm.ActionBlock:
		k.mu.Unlock()
		return Blocked
	case len(best.Templates) == 0:
		k.mu.Unlock()
		return Clear
	}
	var acq *xfrm.Acquire
	verdict := Protected
	for _, t := range best.Templates {
		tsrc, tdst := src, dst
		if t.Mode == xfrm.ModeTunnel {
			tsrc, tdst = t.Src, t.Dst
		}
		sa, found := k.findStateLocked(t, tsrc, tdst)
		if found && sa.SPI != 0 && (sa.Cipher != xfrm.CipherNone || sa.Integrity != xfrm.IntegrityNone) {
			continue // a complete SA (not larval, not just an allocated SPI)
		}
		if t.Level == xfrm.LevelUse {
			continue
		}
		verdict = Trapped
		if found {
			break // larval: an ACQUIRE is pending
		}
		k.seq++
		k.installLocked(xfrm.SA{Src: tsrc, Dst: tdst, Proto: t.Proto, Mode: t.Mode, Reqid: t.Reqid,
			Lifetime: xfrm.Lifetime{HardAdd: 30 * time.Second}})
		pol := *best
		pol.Templates = nil
		acq = &xfrm.Acquire{
			Src: tsrc, Dst: tdst, Proto: t.Proto,
			Selector: xfrm.Selector{Src: netip.PrefixFrom(src, src.BitLen()), Dst: netip.PrefixFrom(dst, dst.BitLen()),
				Proto: proto, SrcPort: sport, DstPort: dport},
			Policy:    pol,
			Templates: append([]xfrm.Template(nil), best.Templates...),
			Seq:       k.seq,
			AAlgos:    ^uint32(0), EAlgos: ^uint32(0), CAlgos: ^uint32(0),
		}
		break
	}
	k.mu.Unlock()
	if acq != nil {
		k.Inject(acq)
	}
	return verdict
}

// findStateLocked finds an SA (or larval state) satisfying template t for
// the given endpoints.
func (k *Kernel) findStateLocked(t xfrm.Template, src, dst netip.Addr) (xfrm.SA, bool) {
	for _, sa := range k.states {
		if sa.Dst == dst && sa.Src == src && sa.Proto == t.Proto && sa.Mode == t.Mode &&
			(t.Reqid == 0 || sa.Reqid == t.Reqid) && (t.SPI == 0 || sa.SPI == t.SPI || sa.SPI == 0) {
			return sa, true
		}
	}
	return xfrm.SA{}, false
}

func matches(s xfrm.Selector, src, dst netip.Addr, proto uint8, sport, dport uint16) bool {
	return s.Src.Contains(src) && s.Dst.Contains(dst) &&
		(s.Proto == 0 || s.Proto == proto) &&
		(s.SrcPort == 0 || s.SrcPort == sport) && (s.DstPort == 0 || s.DstPort == dport)
}

// Expire raises a soft or hard EXPIRE for SA id, as the kernel does when a
// lifetime runs out; a hard one deletes the SA.
func (k *Kernel) Expire(id xfrm.SAID, hard bool) error {
	k.mu.Lock()
	sa, ok := k.states[id]
	if ok && hard {
		delete(k.states, id)
	}
	k.mu.Unlock()
	if !ok {
		return fmt.Errorf("xfrmtest: expire: no SA %s", id)
	}
	sa.Cipher, sa.CipherKey, sa.Integrity, sa.IntegrityKey, sa.Encap = 0, nil, 0, nil, nil
	k.Inject(&xfrm.Expire{SA: sa, Hard: hard})
	return nil
}

// AddTraffic counts bytes and packets on SA id, setting its use time on
// first use.
func (k *Kernel) AddTraffic(id xfrm.SAID, bytes, packets uint64) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	sa, ok := k.states[id]
	if !ok {
		return fmt.Errorf("xfrmtest: traffic: no SA %s", id)
	}
	sa.Stats.Bytes += bytes
	sa.Stats.Packets += packets
	if sa.Stats.UseTime.IsZero() {
		sa.Stats.UseTime = k.now().Truncate(time.Second)
	}
	k.states[id] = sa
	return nil
}
