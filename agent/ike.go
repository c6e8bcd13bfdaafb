package agent

import (
	"context"
	"crypto"
	"errors"
	"fmt"
	"net/netip"
	"time"

	"go.uber.org/zap"

	"github.com/oe-agent/oe-agent/agent/api"
	"github.com/oe-agent/oe-agent/agent/config"
	"github.com/oe-agent/oe-agent/agent/localapi"
	"github.com/oe-agent/oe-agent/ike"
	"github.com/oe-agent/oe-agent/oe"
	"github.com/oe-agent/oe-agent/trap"
	"github.com/oe-agent/oe-agent/xfrm"
)

// childInfo is the loop's copy of an installed Child SA, for status.
type childInfo struct {
	child       ike.ChildSA
	established time.Time
	owner       *saRunner // the IKE SA that negotiated it
}

// startIKE creates the dispatcher and the UDP driver and starts serving.
func (a *Agent) startIKE(ctx context.Context) error {
	disp, err := ike.NewDispatcher(ike.DispatcherConfig{ResponderFor: a.responderConfig})
	if err != nil {
		return fmt.Errorf("agent: %w", err)
	}
	a.ikeEvents = make(chan ikeEvent, 256)
	ports := a.opts.IKEPorts
	if len(ports) == 0 {
		ports = []uint16{ike.PortIKE, ike.PortNATT}
	}
	io := &ikeIO{kernel: a.kernel, log: a.log.Named("ike"), events: a.ikeEvents, sas: map[*ike.SA]*saRunner{}}
	io.classify = func(r *saRunner) {
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		a.runOnLoop(cctx, func() { a.classifyResponder(ctx, r) })
	}
	drv, err := ike.NewDriver(ike.DriverConfig{
		Dispatcher: disp, Listen: listenAddrs(ports), NATTPort: ike.PortNATT,
		Bypass: xfrm.BypassSocket, Handler: io.handle, Logger: a.log.Named("ike"),
	})
	if err != nil {
		return fmt.Errorf("agent: %w", err)
	}
	io.drv = drv
	go drv.Run(ctx)
	a.disp, a.ikeio, a.ikePort = disp, io, ports[0]
	return nil
}

// start runs a new IKE SA on the driver, initiator side.
func (a *Agent) initiateSA(cfg *ike.Config, local, remote netip.Addr, p childParams, owner ikeOwner) (*saRunner, error) {
	sa, err := a.ikeio.drv.Initiate(cfg, netip.AddrPortFrom(local, a.ikePort), netip.AddrPortFrom(remote, a.ikePort))
	if err != nil {
		return nil, err
	}
	r := a.ikeio.runner(sa)
	r.setParams(p)
	r.owner, r.initiator, r.classified = owner, true, true
	return r, nil
}

// responderConfig chooses the policy for an IKE SA a peer initiates: the
// static connection whose right= is the peer, else opportunistic
// encryption. It runs on the receive goroutine, so it reads only the
// snapshot the loop publishes.
func (a *Agent) responderConfig(local, remote netip.AddrPort) *ike.Config {
	snap := a.respSnap.Load()
	if snap == nil {
		return nil
	}
	a.ikeio.noteInit(remote.Addr().Unmap())
	if cfg := snap.conns[remote.Addr().Unmap()]; cfg != nil {
		return cfg
	}
	if snap.oe == nil {
		return nil
	}
	// Only peers in a group that accepts OE get an answer (RFC 4322
	// §3.2); the rest are refused before any Diffie-Hellman.
	if set := a.respSet.Load(); set != nil {
		// The group beneath any per-peer entry: a peer with an SA or a
		// shunt that initiates again (it restarted) is answered too.
		switch set.GroupOf(remote.Addr().Unmap()) {
		case trap.GroupPrivate, trap.GroupPrivateOrClear, trap.GroupClearOrPrivate:
		default:
			return nil
		}
	}
	// The initiator's key is needed only at IKE_AUTH, one round trip
	// from now: look it up meanwhile.
	a.prefetchKey(a.runCtx, remote.Addr().Unmap())
	cfg := snap.oeConfig(local.Addr().Unmap(), snap.oe.Peer.Methods)
	if a.ikeio.isAuthenticated(remote.Addr().Unmap()) {
		// A peer we hold an authenticated SA with must authenticate by
		// its key again: NULL authentication proves nothing about who
		// sends from its address, and an anonymous SA must never replace
		// an authenticated one.
		var methods []ike.AuthMethod
		for _, m := range cfg.Peer.Methods {
			if m != ike.AuthNull {
				methods = append(methods, m)
			}
		}
		cfg.Peer.Methods = methods
	}
	return cfg
}

// responderSnapshot is what the receive goroutine may read: rebuilt by the
// loop whenever connections or settings change.
type responderSnapshot struct {
	conns map[netip.Addr]*ike.Config
	oe    *ike.Config // template for OE peers; nil when OE is off
}

// oeConfig is the OE template with this host's address as identity.
func (s *responderSnapshot) oeConfig(local netip.Addr, methods []ike.AuthMethod) *ike.Config {
	cfg := *s.oe
	if cfg.LocalAuth.Method != ike.AuthNull {
		cfg.LocalID = ike.AddrID(local)
	}
	return &cfg
}

// publishResponders rebuilds the responder snapshot.
func (a *Agent) publishResponders() {
	snap := &responderSnapshot{conns: map[netip.Addr]*ike.Config{}}
	for _, name := range a.order {
		cs := a.conns[name]
		if !cs.ipsec() || !cs.local.IsValid() || !cs.remote.IsValid() {
			continue
		}
		cfg, err := ikeConfigOf(cs.cfg, a.bundle, cs.local, cs.remote)
		if err != nil {
			cs.lastErr = err.Error()
			continue
		}
		snap.conns[cs.remote] = cfg
	}
	if a.oe != nil {
		snap.oe = a.oeTemplate(false)
	}
	a.respSnap.Store(snap)
}

// oeTemplate is the IKE policy of opportunistic encryption: transport
// mode, host to host, authenticated by this host's key (or NULL when it
// has none and anonymous OE is allowed), the peer by the key DNS proves
// for its address (asked for with NeedPeerKey) or, if allowed, NULL.
func (a *Agent) oeTemplate(allowNull bool) *ike.Config {
	s := a.bundle.Config.Setup
	cfg := &ike.Config{
		Mode:           ike.Transport,
		IKEProposals:   ike.DefaultIKEProposals(),
		ChildProposals: ike.DefaultChildProposals(),
		IKELifetime:    4 * time.Hour,
		ChildLifetime:  s.OESALifetime,
		RekeyMargin:    min(5*time.Minute, s.OESALifetime/3),
		DPDInterval:    30 * time.Second,
		Retransmit:     ike.Retransmit{Initial: 500 * time.Millisecond, Tries: 5},
		// The agent starts rekeys itself (RekeyDue), so that it knows
		// which rekeys the peer started: their outbound SA waits for the
		// old one's deletion (childParams.DelayRekeyOut).
		ExternalRekey: true,
		Logger:        a.log.Named("ike"),
	}
	if hk := a.bundle.HostKey; hk != nil && hk.Signer != nil {
		cfg.LocalAuth = ike.LocalAuth{Method: ike.AuthSignature, Signer: hk.Signer}
	} else {
		cfg.LocalAuth = ike.LocalAuth{Method: ike.AuthNull}
		cfg.LocalID = ike.NullID()
	}
	cfg.Peer.Methods = []ike.AuthMethod{ike.AuthSignature, ike.AuthRSA}
	if allowNull || s.OEAuthNull {
		cfg.Peer.Methods = append(cfg.Peer.Methods, ike.AuthNull)
	}
	return cfg
}

// handleIKE updates the loop's state from an SA's action.
func (a *Agent) handleIKE(ctx context.Context, ev ikeEvent) {
	r := ev.r
	a.classifyResponder(ctx, r)
	remote := r.sa.Remote().Addr().Unmap()
	pk := peerPair(r)
	cs := a.conns[r.owner.conn]
	switch act := ev.act.(type) {
	case ike.Established:
		a.log.Info("IKE SA established", zap.Stringer("peer", remote), zap.String("conn", r.owner.conn),
			zap.Stringer("auth", act.PeerAuth), zap.Stringer("id", act.PeerID))
		r.established, r.spiI, r.establishedAt = true, act.SPIi, time.Now()
		if r.owner.peer {
			a.peerAuth[pk] = act.PeerAuth
		}
		a.settleDuplicate(r, cs, pk, act.InitialContact)
	case ike.InstallChild:
		if ev.err != nil {
			a.log.Error("cannot install Child SA", zap.Stringer("peer", remote), zap.Error(ev.err))
			if cs != nil {
				cs.lastErr = ev.err.Error()
			}
			r.post(func(now time.Time) []ike.Action { return r.sa.Delete(now) })
			return
		}
		a.log.Info("Child SA installed", zap.Stringer("peer", remote), zap.String("conn", r.owner.conn), zap.Stringer("child", act.Child))
		if drop := r.dropAfterInstall; drop != nil {
			r.dropAfterInstall = nil
			drop.deleteDuplicate()
		}
		info := childInfo{child: act.Child, established: a.now(), owner: r}
		switch {
		case cs != nil:
			cs.children = replaceChild(cs.children, info, act.Replaces)
			if cs.state != api.StateUp {
				cs.state, cs.lastErr = api.StateUp, ""
				a.reapplyPolicies(ctx)
			}
		case r.owner.peer:
			a.peerChildren[pk] = replaceChild(a.peerChildren[pk], info, act.Replaces)
			if cur := a.peerSA[pk]; cur == nil || cur.isRefused() {
				// Not over another live IKE SA: when two met, settleDuplicate
				// chose, and the one it deletes may report its Child SA
				// after that; taking it back would make its deletion look
				// like the peer's end (the engine forgot the peer).
				a.peerSA[pk] = r
			}
			reqid := r.paramsReqid()
			anon := a.peerAuth[pk] == ike.AuthNull
			a.runOE(ctx, a.oe.Handle(a.now(), oe.Negotiated{Local: pk.Local, Remote: remote, Reqid: reqid, Anonymous: anon, Initiator: r.initiator}))
			if !anon {
				a.ikeio.setAuthenticated(remote, true)
			}
			a.releaseHeld(ctx, remote)
		}
	case ike.DeleteChild:
		if cs != nil {
			cs.children = dropChild(cs.children, act.Child.InboundSPI)
		} else if r.owner.peer {
			a.peerChildren[pk] = dropChild(a.peerChildren[pk], act.Child.InboundSPI)
		}
	case ike.ChildFailed:
		a.log.Warn("Child SA refused", zap.Stringer("peer", remote), zap.Error(act.Err))
		r.dropAfterInstall = nil // the duplicate's Child SA is the one left
		if cs != nil {
			cs.lastErr = act.Err.Error()
		}
		if cs == nil && r.owner.peer && a.peerSA[pk] == r && len(a.peerChildren[pk]) == 0 {
			// An OE IKE SA exists for its Child SA: without one it
			// protects nothing. Deleting it ends the negotiation as a
			// failure (the group's failure shunt) instead of leaving the
			// packets held until the negotiation times out.
			r.post(func(now time.Time) []ike.Action { return r.sa.Delete(now) })
		}
	case ike.RekeyDue:
		a.rekeyDue(r, act)
	case ike.NeedPeerKey:
		if cs != nil {
			a.connPeerKey(ctx, r, cs, act.ID)
		} else if sup, ok := a.peerKeys[remote]; ok {
			supplyKey(r, sup.Key)
		}
		// Otherwise the engine's Lookup, issued with the negotiation,
		// answers through Supply.
	case ike.Closed:
		a.ikeClosed(ctx, r, cs, pk, act.Err)
	}
}

// rekeyDue starts the rekey an SA with ExternalRekey asks for, noting a
// Child SA's as this end's own (see saRunner.install).
func (a *Agent) rekeyDue(r *saRunner, due ike.RekeyDue) {
	if !due.IKE {
		r.markOwnRekey(due.ChildSPI)
	}
	r.post(func(now time.Time) []ike.Action {
		var acts []ike.Action
		var err error
		if due.IKE {
			acts, err = r.sa.RekeyIKE(now)
		} else {
			acts, err = r.sa.RekeyChild(now, due.ChildSPI)
		}
		if err != nil {
			r.io.log.Info("rekey not started", zap.Stringer("ike_sa", r.sa), zap.Uint32("child", due.ChildSPI), zap.Error(err))
		}
		return acts
	})
}

// ikeClosed updates a conn or peer whose IKE SA is gone.
func (a *Agent) ikeClosed(ctx context.Context, r *saRunner, cs *connState, pk oe.Pair, err error) {
	remote := pk.Remote
	if errors.Is(err, ike.ErrPeerDeleted) {
		a.log.Info("IKE SA deleted by the peer", zap.Stringer("peer", remote), zap.String("conn", r.owner.conn))
		err = nil
	} else if err != nil {
		a.log.Info("IKE SA closed", zap.Stringer("peer", remote), zap.String("conn", r.owner.conn), zap.Error(err))
	} else {
		a.log.Info("IKE SA deleted", zap.Stringer("peer", remote), zap.String("conn", r.owner.conn))
	}
	var other *saRunner
	if r.owner.peer {
		if a.installSurvivorOut(ctx, pk, r) {
			a.releaseHeld(ctx, remote)
		}
		if a.peerSA[pk] == r {
			other = a.otherPeerSA(pk, r)
		}
	}
	switch {
	case cs != nil && cs.sa == r:
		cs.sa, cs.children = nil, nil
		if err != nil {
			cs.lastErr = err.Error()
		}
		newState := api.StateDown
		if cs.cfg.Auto == config.AutoRoute {
			newState = api.StateTrapped
		}
		if err != nil && cs.cfg.Auto != config.AutoRoute {
			newState = api.StateFailed
		}
		if cs.state != newState {
			cs.state = newState
			a.reapplyPolicies(ctx)
		}
	case other != nil:
		// Both ends initiated and this one, which served the peer so
		// far, is gone (settleDuplicate deletes the same one at both
		// ends): the other carries on, and the engine sees no change.
		// Telling it the peer's SA closed would restore the trap and make
		// it tear down the other as unexpected, losing both.
		a.peerSA[pk] = other
		var keep []childInfo
		for _, c := range a.peerChildren[pk] {
			if c.owner != r {
				keep = append(keep, c)
			}
		}
		a.peerChildren[pk] = keep
		a.log.Debug("the other IKE SA with the peer takes over", zap.Stringer("peer", remote), zap.Stringer("ike_sa", other.sa))
	case r.owner.peer && a.peerSA[pk] == r:
		delete(a.peerSA, pk)
		delete(a.peerChildren, pk)
		delete(a.peerAuth, pk)
		a.ikeio.setAuthenticated(remote, a.authenticatedWith(remote))
		a.forgetKey(remote)
		if !r.established && err == nil {
			err = errors.New("negotiation ended")
		}
		// Closed, not Failed, also for an IKE SA that never came up: it
		// may have taken over from one that did (see above), and the
		// engine then has the peer up; Closed ends a negotiation as
		// Failed does.
		a.runOE(ctx, a.oe.Handle(a.now(), oe.Closed{Local: pk.Local, Remote: remote, Err: err}))
	}
}

// duplicateGrace is how long this end leaves the deletion of a duplicate
// IKE SA it initiated to the peer, which initiated the one both keep (see
// settleDuplicate), before deleting it itself.
const duplicateGrace = 5 * time.Second

// settleDuplicate keeps one IKE SA per conn or OE peer when a second one
// is established. With INITIAL_CONTACT (RFC 7296 §2.4) on an IKE SA that
// began after the current one was established, the peer restarted and
// knows no other IKE SA with us: the older one and its Child SAs go at
// once, without waiting for a delete exchange the peer cannot answer.
// Otherwise both ends initiated at once (each sends INITIAL_CONTACT then,
// and honouring it would make each end delete the SA the other keeps):
// both keep the IKE SA with the lower initiator SPI, which each side
// computes alike, and delete the other with an ordinary exchange, so one
// pair of SAs remains.
func (a *Agent) settleDuplicate(r *saRunner, cs *connState, pk oe.Pair, initialContact bool) {
	remote := pk.Remote
	cur := a.peerSA[pk]
	if cs != nil {
		cur = cs.sa
	} else if !r.owner.peer {
		return
	}
	set := func(x *saRunner) {
		if cs != nil {
			cs.sa = x
		} else {
			a.peerSA[pk] = x
		}
	}
	switch {
	case cur == nil || cur == r || cur.isRefused():
		set(r)
	case initialContact && cur.established && cur.establishedAt.Before(r.created):
		set(r)
		if cs != nil {
			cs.children = a.dropOwned(cs.children, cur)
		} else {
			a.peerChildren[pk] = a.dropOwned(a.peerChildren[pk], cur)
		}
		a.log.Info("peer restarted (INITIAL_CONTACT): old SAs removed", zap.Stringer("peer", remote), zap.String("conn", r.owner.conn))
		cur.refuse()
		// The peer knows only r: its outbound SA, held while cur
		// existed, is the one to use now.
		ictx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		if r.installHeldOut(ictx) {
			a.releaseHeld(ictx, remote)
		}
		cancel()
		cur.post(func(now time.Time) []ike.Action { return cur.sa.Delete(now) })
	case cur.established:
		keep, drop := cur, r
		if r.spiI < cur.spiI {
			keep, drop = r, cur
		}
		set(keep)
		if !keep.initiator && drop.initiator {
			// The peer initiated the one kept: it deletes ours once both
			// are up at its end, so its Child SA of keep is in by then.
			// Deleting ours here could complete first, and our held
			// outbound SA of keep (HoldFirstOut), installed when ours
			// is gone, would send to an SA the peer does not have yet.
			// A peer that keeps both is left to it for duplicateGrace.
			a.log.Info("two IKE SAs with one peer: keeping the one with the lower initiator SPI (the peer's); the peer deletes ours",
				zap.Stringer("peer", remote), zap.String("conn", r.owner.conn))
			time.AfterFunc(duplicateGrace, drop.deleteDuplicate)
			return
		}
		a.log.Info("two IKE SAs with one peer: keeping the one with the lower initiator SPI", zap.Stringer("peer", remote), zap.String("conn", r.owner.conn))
		if !a.hasChild(cs, pk, keep) {
			// Established reaches the loop before the SA's goroutine has
			// installed the Child SA. The peer installs keep's held
			// outbound SA as soon as our Delete of drop arrives, and its
			// first packets would find no inbound SA here yet.
			keep.dropAfterInstall = drop
			return
		}
		drop.deleteDuplicate()
	default:
		// The current one is still negotiating: the established one wins;
		// the other is settled when (if) it completes.
		set(r)
	}
}

// hasChild reports whether r has a Child SA in the kernel for the conn cs
// or, without one, for the OE peer pk.
func (a *Agent) hasChild(cs *connState, pk oe.Pair, r *saRunner) bool {
	list := a.peerChildren[pk]
	if cs != nil {
		list = cs.children
	}
	for _, c := range list {
		if c.owner == r {
			return true
		}
	}
	return false
}

// supplyKey hands the DNS key (nil: none published) to an IKE SA waiting
// for it. Without a key only a peer that authenticates with NULL can still
// succeed: a signature then fails for want of a key.
func supplyKey(r *saRunner, key crypto.PublicKey) {
	r.post(func(now time.Time) []ike.Action {
		if key == nil {
			return r.sa.SupplyPeerKey(now, nil, errors.New("the peer publishes no key in DNS"))
		}
		return r.sa.SupplyPeerKey(now, key, nil)
	})
}

// peerPair is the OE peer an IKE SA serves: this host's address and the
// remote one (one peer per pair, see oe.Pair).
func peerPair(r *saRunner) oe.Pair {
	return oe.Pair{Local: r.sa.Local().Addr().Unmap(), Remote: r.sa.Remote().Addr().Unmap()}
}

// forgetKey drops the key verdict for remote once no IKE SA with it is
// left: another of this host's addresses may still negotiate with it.
func (a *Agent) forgetKey(remote netip.Addr) {
	for k := range a.peerSA {
		if k.Remote == remote {
			return
		}
	}
	delete(a.peerKeys, remote)
}

// authenticatedWith reports whether an SA that authenticated remote by its
// key is still installed, for another of this host's addresses.
func (a *Agent) authenticatedWith(remote netip.Addr) bool {
	for k, m := range a.peerAuth {
		if k.Remote == remote && m != ike.AuthNull && len(a.peerChildren[k]) > 0 {
			return true
		}
	}
	return false
}

// dropOwned removes from the kernel, and from list, the Child SAs that
// owner negotiated.
func (a *Agent) dropOwned(list []childInfo, owner *saRunner) []childInfo {
	var keep []childInfo
	for _, c := range list {
		if c.owner == owner {
			owner.remove(c.child)
			continue
		}
		keep = append(keep, c)
	}
	return keep
}

// classifyResponder decides, once, whom a peer-initiated IKE SA serves.
func (a *Agent) classifyResponder(ctx context.Context, r *saRunner) {
	if r.classified {
		return
	}
	r.classified = true
	local, remote := r.sa.Local().Addr().Unmap(), r.sa.Remote().Addr().Unmap()
	pk := oe.Pair{Local: local, Remote: remote}
	if t := a.ikeio.initSeen(remote); !t.IsZero() && t.Before(r.created) {
		r.created = t // when its IKE_SA_INIT arrived
	}
	for _, name := range a.order {
		cs := a.conns[name]
		if cs.ipsec() && cs.remote == remote {
			r.owner = ikeOwner{conn: name}
			r.setParams(cs.params())
			if cs.sa == nil {
				cs.sa = r
			}
			// Else both ends initiated, or the peer restarted: settled
			// when this SA is established (settleDuplicate).
			return
		}
	}
	if a.oe == nil {
		r.refuse()
		return
	}
	r.owner = ikeOwner{peer: true}
	g := a.groupFor(remote)
	for _, act := range a.oe.Handle(a.now(), oe.Inbound{Local: local, Remote: remote, Group: g}) {
		switch act := act.(type) {
		case oe.Accept:
			r.setParams(childParams{Reqid: act.Reqid, Priority: trap.LayerBase(trap.LayerPeer), ReplayWindow: 32, DelayRekeyOut: true, HoldFirstOut: true})
			if a.peerSA[pk] == nil {
				a.peerSA[pk] = r
				delete(a.peerKeys, remote) // a new negotiation: wait for a fresh lookup
			}
		case oe.Refuse:
			a.log.Info("IKE from peer refused", zap.Stringer("peer", remote), zap.String("reason", act.Reason))
			r.refuse()
		default:
			a.runOE(ctx, []oe.Action{act})
		}
	}
}

// groupFor is the OE group that covers traffic to remote beneath any
// per-peer entry (the peer's SA or shunt), or 0.
func (a *Agent) groupFor(remote netip.Addr) trap.Group {
	if a.set == nil {
		return 0
	}
	return a.set.GroupOf(remote)
}

// oeIKE carries out the OE engine's IKE actions.
func (a *Agent) oeIKE(ctx context.Context, act oe.Action) {
	switch act := act.(type) {
	case oe.Initiate:
		delete(a.peerKeys, act.Remote)
		cfg := a.oeTemplate(act.AllowNull)
		cfg.InitialContact = true
		if cfg.LocalAuth.Method != ike.AuthNull {
			cfg.LocalID = ike.AddrID(act.Local)
		}
		r, err := a.initiateSA(cfg, act.Local, act.Remote, childParams{Reqid: act.Reqid, Priority: trap.LayerBase(trap.LayerPeer), ReplayWindow: 32, DelayRekeyOut: true}, ikeOwner{peer: true})
		if err != nil {
			a.runOE(ctx, a.oe.Handle(a.now(), oe.Failed{Local: act.Local, Remote: act.Remote, Err: err}))
			return
		}
		a.peerSA[oe.Pair{Local: act.Local, Remote: act.Remote}] = r
	case oe.Supply:
		// Every IKE SA with the peer gets it: when both ends initiate at
		// once there are two until one is settled.
		a.peerKeys[act.Remote] = act
		for _, r := range a.ikeio.runnersFor(act.Remote) {
			if r.owner.peer {
				supplyKey(r, act.Key)
			}
		}
	case oe.Abort:
		k := oe.Pair{Local: act.Local, Remote: act.Remote}
		if r := a.peerSA[k]; r != nil {
			delete(a.peerSA, k)
			r.post(func(now time.Time) []ike.Action { return r.sa.Delete(now) })
		}
	case oe.Teardown:
		k := oe.Pair{Local: act.Local, Remote: act.Remote}
		if r := a.peerSA[k]; r != nil && r.paramsReqid() == act.Reqid {
			delete(a.peerSA, k)
			r.post(func(now time.Time) []ike.Action { return r.sa.Delete(now) })
		}
	case oe.Accept, oe.Refuse:
		// Handled where the responder SA is created.
	}
}

// connAcquired starts a routed connection's negotiation on its first
// packet.
func (a *Agent) connAcquired(ctx context.Context, cs *connState, acq *xfrm.Acquire) {
	if cs.sa != nil {
		return // already negotiating: the kernel holds the packets
	}
	if err := a.initiateConn(ctx, cs); err != nil {
		a.log.Warn("cannot negotiate routed conn", zap.String("conn", cs.cfg.Name), zap.Error(err))
	}
}

// initiateConn starts IKE for a static connection.
func (a *Agent) initiateConn(ctx context.Context, cs *connState) error {
	if !cs.ipsec() {
		return fmt.Errorf("agent: conn %s is type=%s: nothing to negotiate: %w", cs.cfg.Name, typeName(cs.cfg.Type), localapi.ErrBadRequest)
	}
	if !cs.local.IsValid() || !cs.remote.IsValid() {
		return fmt.Errorf("agent: conn %s: both ends need an address to initiate: %w", cs.cfg.Name, localapi.ErrBadRequest)
	}
	cfg, err := ikeConfigOf(cs.cfg, a.bundle, cs.local, cs.remote)
	if err != nil {
		cs.lastErr = err.Error()
		return fmt.Errorf("%w: %w", err, localapi.ErrBadRequest)
	}
	cfg.Logger = a.log.Named("ike")
	cfg.InitialContact = true // a conn has one IKE SA; any older one at the peer is stale
	r, err := a.initiateSA(cfg, cs.local, cs.remote, cs.params(), ikeOwner{conn: cs.cfg.Name})
	if err != nil {
		cs.lastErr = err.Error()
		return fmt.Errorf("agent: conn %s: %w", cs.cfg.Name, err)
	}
	cs.sa = r
	if cs.state != api.StateUp {
		cs.state = api.StateConnecting
	}
	return nil
}

// connPeerKey answers a static conn's NeedPeerKey for a %dns key: the
// peer's ID names the record (an address ID its reverse zone).
func (a *Agent) connPeerKey(ctx context.Context, r *saRunner, cs *connState, id ike.Identity) {
	if a.dns == nil {
		r.post(func(now time.Time) []ike.Action {
			return r.sa.SupplyPeerKey(now, nil, errors.New("no DNSSEC trust anchors configured"))
		})
		return
	}
	go func() {
		lctx, cancel := context.WithTimeout(ctx, 15*time.Second)
		defer cancel()
		kr, err := a.dns.LookupAddr(lctx, cs.remote)
		ev := keyEventOf(cs.remote, kr, err)
		r.post(func(now time.Time) []ike.Action {
			if ev.Outcome != oe.KeySecure {
				return r.sa.SupplyPeerKey(now, nil, fmt.Errorf("DNS key for %s: %s: %s", cs.remote, ev.Outcome, ev.Detail))
			}
			return r.sa.SupplyPeerKey(now, ev.Key, nil)
		})
	}()
}

// reapplyPolicies recomputes and applies the policy set after a state
// change.
func (a *Agent) reapplyPolicies(ctx context.Context) {
	set, err := a.desiredPolicies(a.bundle)
	if err != nil {
		a.log.Error("policies cannot be computed", zap.Error(err))
		return
	}
	a.applyPolicies(ctx, set)
}

func replaceChild(list []childInfo, c childInfo, replaces uint32) []childInfo {
	if replaces != 0 {
		list = dropChild(list, replaces)
	}
	return append([]childInfo{c}, list...)
}

func dropChild(list []childInfo, inboundSPI uint32) []childInfo {
	out := list[:0:0]
	for _, c := range list {
		if c.child.InboundSPI != inboundSPI {
			out = append(out, c)
		}
	}
	return out
}
