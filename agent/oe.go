package agent

import (
	"context"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/oe-agent/oe-agent/agent/api"
	"github.com/oe-agent/oe-agent/agent/config"
	"github.com/oe-agent/oe-agent/dnskeys"
	"github.com/oe-agent/oe-agent/ike"
	"github.com/oe-agent/oe-agent/ike/wire"
	"github.com/oe-agent/oe-agent/oe"
	"github.com/oe-agent/oe-agent/trap"
	"github.com/oe-agent/oe-agent/xfrm"
)

// oeConfigOf maps config setup to the OE engine's settings.
func oeConfigOf(s config.Setup) oe.Config {
	idle := s.OEIdleTimeout
	if idle == 0 {
		idle = -1 // oe-idle-timeout=0: never
	}
	return oe.Config{
		ShuntLifetime:        s.OEShuntLifetime,
		AcquireExpires:       acquireExpires(),
		IdleTimeout:          idle,
		AuthNull:             s.OEAuthNull,
		PassWhileNegotiating: s.OENegotiationShunt == config.ShuntPass,
		MaxNegotiations:      s.OEMaxNegotiations,
		MaxPeers:             s.OEMaxPeers,
	}
}

// acquireExpires reads net.core.xfrm_acq_expires of the agent's network
// namespace: how long the kernel keeps an ACQUIRE's larval state; 0 (the
// engine's default, the kernel's 30 s) when it cannot be read.
func acquireExpires() time.Duration {
	b, err := os.ReadFile("/proc/sys/net/core/xfrm_acq_expires")
	if err != nil {
		return 0
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || n <= 0 {
		return 0
	}
	return time.Duration(n) * time.Second
}

// peerUse is what the last activity poll saw of an OE peer's SAs.
type peerUse struct {
	bytes map[xfrm.SAID]uint64
}

// activityInterval is how often the SA counters are read for idle expiry:
// a quarter of oe-idle-timeout, between 1 s and 30 s.
func activityInterval(s config.Setup) time.Duration {
	if s.OEIdleTimeout <= 0 {
		return 30 * time.Second
	}
	return min(max(s.OEIdleTimeout/4, time.Second), 30*time.Second)
}

// pollActivity reads the kernel's counters of the OE peers' SAs and tells
// the engine when each peer last had traffic, for idle expiry. The kernel
// records only an SA's first use, so an SA whose byte count grew since the
// previous poll (or a new SA that carried anything) counts as used now.
func (a *Agent) pollActivity(ctx context.Context) {
	if a.oe == nil {
		return
	}
	if a.peerUse == nil {
		a.peerUse = map[oe.Pair]*peerUse{}
	}
	for k := range a.peerUse {
		if len(a.peerChildren[k]) == 0 {
			delete(a.peerUse, k)
		}
	}
	if len(a.peerChildren) == 0 {
		return
	}
	counters := a.saCounters(ctx)
	now := a.now()
	var acts []oe.Action
	for k, children := range a.peerChildren {
		if len(children) == 0 {
			continue
		}
		prev := a.peerUse[k]
		cur := &peerUse{bytes: map[xfrm.SAID]uint64{}}
		used := false
		for _, c := range children {
			for _, id := range childSAIDs(c.child) {
				b := counters[id].Bytes
				cur.bytes[id] = b
				var before uint64 // a new SA (first poll, rekey) starts at 0
				if prev != nil {
					before = prev.bytes[id]
				}
				used = used || b > before
			}
		}
		a.peerUse[k] = cur
		ev := oe.Activity{Local: k.Local, Remote: k.Remote}
		if used {
			ev.LastUsed = now
		}
		acts = append(acts, a.oe.Handle(now, ev)...)
	}
	if len(acts) > 0 {
		a.runOE(ctx, acts)
	}
}

// childSAIDs are the kernel IDs of a Child SA's inbound and outbound SAs,
// as saCounters keys them.
func childSAIDs(ch ike.ChildSA) [2]xfrm.SAID {
	proto := xfrm.ProtoESP
	if ch.Protocol == wire.ProtocolAH {
		proto = xfrm.ProtoAH
	}
	return [2]xfrm.SAID{
		{Dst: ch.Local, Proto: proto, SPI: ch.InboundSPI},
		{Dst: ch.Remote, Proto: proto, SPI: ch.OutboundSPI},
	}
}

// handleKernelEvent turns an ACQUIRE or EXPIRE into OE or conn work.
func (a *Agent) handleKernelEvent(ctx context.Context, ev xfrm.Event) {
	switch ev := ev.(type) {
	case *xfrm.Acquire:
		a.counters.Acquires++
		a.acquire(ctx, ev)
	case *xfrm.Expire:
		if ev.Hard {
			a.log.Info("SA expired", zap.Stringer("sa", ev.SA))
		}
	case *xfrm.Lost:
		a.log.Warn("kernel events lost; re-reading kernel state", zap.Error(ev.Err), zap.Bool("fatal", ev.Fatal))
		if set, err := a.desiredPolicies(a.bundle); err == nil {
			a.applyPolicies(ctx, set)
		}
	}
}

// acquire routes an ACQUIRE by the reqid of the trap that fired: a group
// trap goes to the OE engine, a conn's trap (auto=route) to the conn.
func (a *Agent) acquire(ctx context.Context, acq *xfrm.Acquire) {
	var reqid uint32
	if len(acq.Templates) > 0 {
		reqid = acq.Templates[0].Reqid
	}
	local, remote := acq.Selector.Src.Addr(), acq.Selector.Dst.Addr()
	if g, ok := trap.GroupOfReqid(reqid); ok {
		if a.oe == nil {
			return
		}
		a.log.Debug("acquire", zap.Stringer("remote", remote), zap.Stringer("group", g), zap.Uint32("seq", acq.Seq))
		a.runOE(ctx, a.oe.Handle(a.now(), oe.Acquire{Local: local, Remote: remote, Group: g, Seq: acq.Seq}))
		return
	}
	for _, name := range a.order {
		if cs := a.conns[name]; cs.reqid == reqid && cs.reqid != 0 {
			a.connAcquired(ctx, cs, acq)
			return
		}
	}
	a.log.Debug("acquire for a trap that is gone", zap.Uint32("reqid", reqid), zap.Stringer("remote", remote))
}

// runOE carries out the OE engine's actions. DNS lookups run on their own
// goroutines and report back to the loop; nothing here waits on the
// network.
func (a *Agent) runOE(ctx context.Context, acts []oe.Action) {
	changed := false
	for _, act := range acts {
		switch act := act.(type) {
		case oe.Lookup:
			a.counters.DNSLookups++
			a.lookupPeerKey(ctx, act.Remote)
		case oe.PoliciesChanged:
			changed = true
		default:
			a.oeIKE(ctx, act)
		}
	}
	if changed {
		a.policiesDirty = true
		if !a.deferPolicies {
			a.flushPolicies(ctx)
		}
	}
}

// maxBatch bounds the events one batch handles before the policy set is
// applied (inBatch).
const maxBatch = 64

// inBatch runs handle, then the IKE and kernel events already waiting (at
// most maxBatch in all), with the OE engine's policy changes and trap kicks
// deferred; then it applies the policy set once and releases held packets.
// A reconcile reads and diffs every policy, and trap.Compute grows with
// the peers: under a burst of negotiations (200 new peers at once) one
// reconcile per peer change kept the loop busy for minutes, while IKE
// events queued and negotiations timed out. A lone event is applied at
// once, as before: the batch ends when nothing else waits.
func (a *Agent) inBatch(ctx context.Context, events *<-chan xfrm.Event, handle func()) {
	a.deferPolicies = true
	handle()
drain:
	for n := 1; n < maxBatch; n++ {
		select {
		case ev := <-a.ikeEvents:
			a.handleIKE(ctx, ev)
		case ev, ok := <-*events:
			if !ok {
				*events = nil
				continue
			}
			a.handleKernelEvent(ctx, ev)
		default:
			break drain
		}
	}
	a.deferPolicies = false
	a.flushPolicies(ctx)
}

// flushPolicies applies the policy set if the OE engine changed it, then
// releases the held packets of the peers whose SA came up (kickTrap),
// which needs their SA's policy in place.
func (a *Agent) flushPolicies(ctx context.Context) {
	if a.policiesDirty {
		a.policiesDirty = false
		set, err := a.desiredPolicies(a.bundle)
		if err != nil {
			a.log.Error("OE policies cannot be computed", zap.Error(err))
		} else {
			a.applyPolicies(ctx, set)
		}
	}
	for remote := range a.kicks {
		a.kickTrap(ctx, remote)
	}
	clear(a.kicks)
}

// releaseHeld releases the packets held for remote now, or, in a batch,
// once the batch's policies are applied.
func (a *Agent) releaseHeld(ctx context.Context, remote netip.Addr) {
	if !a.deferPolicies {
		a.kickTrap(ctx, remote)
		return
	}
	if a.kicks == nil {
		a.kicks = map[netip.Addr]bool{}
	}
	a.kicks[remote] = true
}

// otherPeerSA returns another IKE SA than r with the OE peer pk,
// preferring an established one, or nil.
func (a *Agent) otherPeerSA(pk oe.Pair, r *saRunner) *saRunner {
	var found *saRunner
	for _, x := range a.ikeio.others(pk, r) {
		if !x.owner.peer {
			continue
		}
		if x.established {
			return x
		}
		found = x
	}
	return found
}

// installSurvivorOut installs the held outbound SA (HoldFirstOut) of the
// one IKE SA with the OE peer pk left once closing is gone, and reports
// whether it did.
func (a *Agent) installSurvivorOut(ctx context.Context, pk oe.Pair, closing *saRunner) bool {
	left := a.ikeio.others(pk, closing)
	return len(left) == 1 && left[0].installHeldOut(ctx)
}

// kickTrap re-installs, unchanged, the group trap that holds remote's
// first packets and the per-peer policy that holds the next ones (its
// hold entry becomes the SA's policy with the same template, which the
// reconciler leaves alone). The kernel re-queues a replaced policy's held
// packets and retries them at once (xfrm_policy_requeue), so they leave
// through the new SA now instead of at the hold queue's next back-off
// retry (which doubles from 100 ms).
func (a *Agent) kickTrap(ctx context.Context, remote netip.Addr) {
	if a.set == nil {
		return
	}
	for _, e := range a.set.Entries {
		if e.Policy.Dir != xfrm.DirOut || e.Policy.Selector.Proto != 0 || !e.Policy.Selector.Dst.Contains(remote) {
			continue
		}
		if e.Verdict == trap.VerdictTrap || (e.Layer == trap.LayerPeer && len(e.Policy.Templates) > 0) {
			if err := a.kernel.UpdatePolicy(ctx, e.Policy); err != nil {
				a.log.Debug("cannot kick trap", zap.Stringer("policy", e.Policy), zap.Error(err))
			}
		}
	}
}

// replayPendingAcquires starts OE for the flows whose ACQUIRE an earlier
// run received and never answered (it was killed): the kernel keeps the
// larval state of that ACQUIRE for net.core.xfrm_acq_expires (30 s by
// default) and sends no new ACQUIRE for the flow meanwhile, so its packets
// would wait, or be dropped, until then. Each larval state of a group trap
// is handled as the ACQUIRE it stands for. It runs once, at start, once
// IKE is up.
func (a *Agent) replayPendingAcquires(ctx context.Context) {
	if a.oe == nil {
		return
	}
	sas, err := a.kernel.States(ctx)
	if err != nil {
		a.log.Warn("cannot list pending acquires", zap.Error(err))
		return
	}
	for _, sa := range sas {
		if sa.SPI != 0 || !sa.Src.IsValid() || !sa.Dst.IsValid() {
			continue
		}
		if _, ok := trap.GroupOfReqid(sa.Reqid); !ok {
			continue
		}
		sel := sa.Selector
		if !sel.Src.IsValid() || !sel.Dst.IsValid() {
			sel = hostSelector(sa.Src, sa.Dst)
		}
		a.log.Info("ACQUIRE left pending by an earlier run: negotiating", zap.Stringer("remote", sel.Dst.Addr()))
		a.counters.Acquires++
		a.acquire(ctx, &xfrm.Acquire{Src: sa.Src, Dst: sa.Dst, Proto: sa.Proto, Selector: sel,
			Templates: []xfrm.Template{{Src: sa.Src, Dst: sa.Dst, Proto: sa.Proto, Reqid: sa.Reqid}}})
	}
}

// lookupPeerKey finds remote's key off the loop and hands the verdict to
// the engine on the loop.
func (a *Agent) lookupPeerKey(ctx context.Context, remote netip.Addr) {
	if a.dns == nil {
		a.runOE(ctx, a.oe.Handle(a.now(), oe.KeyResult{Remote: remote, Outcome: oe.KeyIndeterminate, Detail: "no DNSSEC trust anchors configured"}))
		return
	}
	go func() {
		lctx, cancel := context.WithTimeout(ctx, 15*time.Second)
		defer cancel()
		kr, err := a.dns.LookupAddr(lctx, remote)
		ev := keyEventOf(remote, kr, err)
		a.runOnLoop(ctx, func() { a.runOE(ctx, a.oe.Handle(a.now(), ev)) })
	}()
}

// keyEventOf classifies a key lookup for the engine. Only a usable key in
// a Secure answer counts as found; a Secure answer without one is a
// denial (no record, or only unusable records).
func keyEventOf(remote netip.Addr, kr *dnskeys.KeyResult, err error) oe.KeyResult {
	ev := oe.KeyResult{Remote: remote}
	switch {
	case err != nil:
		ev.Outcome, ev.Detail = oe.KeyIndeterminate, err.Error()
	case kr.State == dnskeys.Secure && kr.Best() != nil:
		ev.Outcome, ev.Key = oe.KeySecure, kr.Best().PublicKey
		ev.Detail = "dns secure (" + strings.Join(kr.Zones(), ", ") + ")"
	case kr.State == dnskeys.Secure:
		ev.Outcome, ev.Detail = oe.KeyDenied, kr.Reason
	case kr.State == dnskeys.Insecure:
		ev.Outcome, ev.Detail = oe.KeyInsecure, kr.Reason
	case kr.State == dnskeys.Bogus:
		ev.Outcome, ev.Detail = oe.KeyBogus, kr.Reason
	default:
		ev.Outcome, ev.Detail = oe.KeyIndeterminate, kr.Reason
	}
	return ev
}

// oeTick expires shunts and stuck negotiations.
func (a *Agent) oeTick(ctx context.Context) {
	if a.oe != nil {
		a.runOE(ctx, a.oe.Tick(a.now()))
	}
}

// peersStatus renders the OE peers for oectl status.
func (a *Agent) peersStatus() []api.Peer {
	if a.oe == nil {
		return nil
	}
	var out []api.Peer
	for _, p := range a.oe.Peers() {
		ap := api.Peer{
			Addr: p.Remote.String(), Group: p.Group.String(), Anonymous: p.Anonymous, Since: p.Since,
			Local: api.End{ID: p.Local.String()}, Remote: api.End{ID: p.Remote.String(), KeySource: p.KeyDetail},
			LastError: p.LastError,
		}
		switch p.State {
		case oe.Negotiating:
			ap.State = api.StateConnecting
		case oe.Up:
			ap.State = api.StateUp
		case oe.Shunted:
			ap.State = api.StateDrop
			if p.Shunt == trap.PeerPass {
				ap.State = api.StatePassthrough
			}
			ap.ShuntExpires = p.Expires
		}
		out = append(out, ap)
	}
	return out
}
