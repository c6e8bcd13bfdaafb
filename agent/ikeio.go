package agent

import (
	"context"
	"errors"
	"net/netip"
	"os"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/oe-agent/oe-agent/ike"
	"github.com/oe-agent/oe-agent/ike/wire"
	"github.com/oe-agent/oe-agent/oe"
	"github.com/oe-agent/oe-agent/xfrm"
)

// ikeIO adapts the IKE engine's UDP driver to the agent. The driver runs
// one goroutine per IKE SA and calls handle on it for every action but
// Send, in the engine's order: Child SAs are installed and removed right
// there, so the responder's inbound SA is in the kernel before its
// IKE_AUTH answer leaves. Everything is then reported to the agent's loop,
// which keeps the books.
type ikeIO struct {
	drv    *ike.Driver
	kernel xfrm.Kernel
	log    *zap.Logger
	events chan<- ikeEvent
	// classify asks the loop, synchronously, whom a peer-initiated SA
	// serves, the first time one of its actions needs to know.
	classify func(*saRunner)

	mu  sync.Mutex
	sas map[*ike.SA]*saRunner // guarded by mu
	// initAt is when the last IKE_SA_INIT from each address arrived;
	// guarded by mu.
	initAt map[netip.Addr]time.Time
	// authenticated are the OE peers whose current SA authenticated them
	// by a key (not NULL), kept by the loop; guarded by mu.
	authenticated map[netip.Addr]bool
}

// ikeEvent is an SA's action (other than Send) after the SA's goroutine
// did its part.
type ikeEvent struct {
	r   *saRunner
	act ike.Action
	err error // install failure, for InstallChild
}

// saRunner is the agent's record of one IKE SA: whom it serves and the
// kernel parameters of its Child SAs.
type saRunner struct {
	io *ikeIO
	sa *ike.SA

	mu      sync.Mutex
	params  *childParams // guarded by mu; nil until the owner is known
	refused bool         // guarded by mu
	// ownRekeys are the inbound SPIs of Child SAs this end is rekeying;
	// pendingOut the outbound SAs of Child SAs the peer rekeyed, by the
	// replaced Child SA's inbound SPI. Both guarded by mu.
	ownRekeys  map[uint32]bool
	pendingOut map[uint32]pendingOut
	// heldOut is the outbound SA of the first Child SA, kept out of the
	// kernel while another IKE SA with the peer exists (HoldFirstOut).
	// Guarded by mu.
	heldOut *xfrm.SA
	// lingerIn makes remove keep inbound SAs for lingerInbound
	// (deleteDuplicate). Guarded by mu.
	lingerIn bool

	// Loop only.
	owner       ikeOwner
	initiator   bool
	established bool
	classified  bool
	spiI        uint64 // the IKE SA's initiator SPI, once established
	// dropAfterInstall is the duplicate IKE SA to delete once this one's
	// first Child SA is in the kernel (settleDuplicate).
	dropAfterInstall *saRunner
	// created is when the agent first saw the IKE SA (IKE_SA_INIT sent
	// or received), establishedAt when IKE_AUTH completed.
	created, establishedAt time.Time
}

// pendingOut is the outbound SA of a Child SA the peer rekeyed, waiting
// for the replaced one to be deleted.
type pendingOut struct {
	newInbound uint32 // the new Child SA's inbound SPI
	sa         xfrm.SA
}

// ikeOwner says whom an IKE SA serves.
type ikeOwner struct {
	conn string // a static connection, or
	peer bool   // an OE peer (the SA's remote address)
}

func (io *ikeIO) runner(sa *ike.SA) *saRunner {
	io.mu.Lock()
	defer io.mu.Unlock()
	r := io.sas[sa]
	if r == nil {
		r = &saRunner{io: io, sa: sa, created: time.Now()}
		io.sas[sa] = r
	}
	return r
}

// runnersFor lists the IKE SAs with a peer address.
func (io *ikeIO) runnersFor(remote netip.Addr) []*saRunner {
	io.mu.Lock()
	defer io.mu.Unlock()
	var out []*saRunner
	for sa, r := range io.sas {
		if sa.Remote().Addr().Unmap() == remote {
			out = append(out, r)
		}
	}
	return out
}

// noteInit records that an IKE_SA_INIT from remote arrives now.
func (io *ikeIO) noteInit(remote netip.Addr) {
	io.mu.Lock()
	defer io.mu.Unlock()
	if io.initAt == nil {
		io.initAt = map[netip.Addr]time.Time{}
	}
	io.initAt[remote] = time.Now()
}

// initSeen is when the last IKE_SA_INIT from remote arrived, or zero.
func (io *ikeIO) initSeen(remote netip.Addr) time.Time {
	io.mu.Lock()
	defer io.mu.Unlock()
	return io.initAt[remote]
}

func (io *ikeIO) forget(sa *ike.SA) {
	io.mu.Lock()
	delete(io.sas, sa)
	io.mu.Unlock()
}

// setAuthenticated records whether the OE peer remote's current SA
// authenticated it by a key.
func (io *ikeIO) setAuthenticated(remote netip.Addr, yes bool) {
	io.mu.Lock()
	defer io.mu.Unlock()
	if !yes {
		delete(io.authenticated, remote)
		return
	}
	if io.authenticated == nil {
		io.authenticated = map[netip.Addr]bool{}
	}
	io.authenticated[remote] = true
}

func (io *ikeIO) isAuthenticated(remote netip.Addr) bool {
	if io == nil {
		return false
	}
	io.mu.Lock()
	defer io.mu.Unlock()
	return io.authenticated[remote]
}

// handle runs on the SA's goroutine.
func (io *ikeIO) handle(sa *ike.SA, a ike.Action) {
	r := io.runner(sa)
	if r.isRefused() {
		if _, ok := a.(ike.Closed); ok {
			io.forget(sa)
		}
		return
	}
	if est, ok := a.(ike.Established); ok && est.PeerAuth == ike.AuthNull && io.isAuthenticated(sa.Remote().Addr().Unmap()) {
		// An anonymous IKE SA never replaces, or with INITIAL_CONTACT
		// removes, an authenticated one from the same address: anyone on
		// the path can authenticate with NULL (RFC 7619 protects against
		// passive attackers only). The responder already refuses NULL from
		// such a peer (responderConfig); this catches an SA whose peer was
		// authenticated meanwhile. Refused before its Child SA reaches the
		// kernel, and deleted.
		r.refuse()
		io.log.Warn("anonymous IKE SA refused: the peer has an authenticated SA",
			zap.Stringer("peer", sa.Remote().Addr().Unmap()), zap.Stringer("ike_sa", sa))
		go r.post(func(now time.Time) []ike.Action { return sa.Delete(now) })
		return
	}
	ev := ikeEvent{r: r, act: a}
	switch a := a.(type) {
	case ike.InstallChild:
		ev.err = r.install(a)
	case ike.DeleteChild:
		r.remove(a.Child)
	case ike.Closed:
		defer io.forget(sa)
	}
	io.events <- ev
}

// post runs f on the SA's goroutine and carries out its actions.
func (r *saRunner) post(f func(now time.Time) []ike.Action) {
	if err := r.io.drv.Do(r.sa, f); err != nil && !errors.Is(err, ike.ErrClosed) {
		r.io.log.Warn("IKE SA command", zap.Stringer("sa", r.sa), zap.Error(err))
	}
}

func (r *saRunner) setParams(p childParams) {
	r.mu.Lock()
	r.params = &p
	r.mu.Unlock()
}

func (r *saRunner) getParams() *childParams {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.params
}

// paramsReqid is the reqid the SA's children are installed with, or 0.
func (r *saRunner) paramsReqid() uint32 {
	if p := r.getParams(); p != nil {
		return p.Reqid
	}
	return 0
}

// refuse makes the agent ignore the SA: nothing of it is installed.
func (r *saRunner) refuse() {
	r.mu.Lock()
	r.refused = true
	r.mu.Unlock()
}

func (r *saRunner) isRefused() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.refused
}

// markOwnRekey notes that this end starts the rekey of the Child SA with
// inbound SPI spi.
func (r *saRunner) markOwnRekey(spi uint32) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ownRekeys == nil {
		r.ownRekeys = map[uint32]bool{}
	}
	r.ownRekeys[spi] = true
}

// install puts both SAs of a Child SA into the kernel, inbound first so
// the peer's first packet finds it.
//
// When the peer rekeyed the Child SA (and DelayRekeyOut is set), the
// outbound SA waits until the peer deletes the old Child SA: the peer
// installs its inbound SA only when our CREATE_CHILD_SA answer arrives, and
// the kernel sends with the newest SA at once, so packets sent meanwhile
// would be lost. The peer deletes the old Child SA once the new one is in
// (RFC 7296 §1.3.3), and remove installs the waiting SA then, before
// removing the old one. strongSwan's responder does the same.
func (r *saRunner) install(ic ike.InstallChild) error {
	p := r.getParams()
	if p == nil {
		r.io.classify(r)
		if p = r.getParams(); p == nil {
			return errors.New("agent: the IKE SA was not accepted; its Child SA is not installed")
		}
	}
	kc, err := kernelChildOf(ic.Child, *p)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	sas := []xfrm.SA{kc.In, kc.Out}
	if p.HoldFirstOut && ic.Replaces == 0 && len(r.io.others(peerPair(r), r)) > 0 {
		// Both ends initiated (or the peer restarted): the kernel
		// would send with this newest outbound SA at once, before the
		// peer, which installs its inbound SA when our IKE_AUTH response
		// arrives, can take it. The packets wait in the kernel's hold
		// queue instead, or leave through our own IKE SA's Child SA.
		r.mu.Lock()
		out := kc.Out
		r.heldOut = &out
		r.mu.Unlock()
		sas = sas[:1]
		r.io.log.Debug("outbound SA held: another IKE SA with the peer exists", zap.Stringer("ike_sa", r.sa), zap.Stringer("sa", kc.Out))
	}
	if p.DelayRekeyOut && ic.Replaces != 0 {
		r.mu.Lock()
		own := r.ownRekeys[ic.Replaces]
		delete(r.ownRekeys, ic.Replaces)
		if !own {
			if r.pendingOut == nil {
				r.pendingOut = map[uint32]pendingOut{}
			}
			r.pendingOut[ic.Replaces] = pendingOut{newInbound: ic.Child.InboundSPI, sa: kc.Out}
			sas = sas[:1]
		}
		r.mu.Unlock()
	}
	for _, sa := range sas {
		if err := r.putState(ctx, sa); err != nil {
			return err
		}
	}
	return nil
}

// putState adds sa to the kernel, or replaces the one with its ID.
func (r *saRunner) putState(ctx context.Context, sa xfrm.SA) error {
	err := r.io.kernel.AddState(ctx, sa)
	if errors.Is(err, os.ErrExist) {
		err = r.io.kernel.UpdateState(ctx, sa)
	}
	return err
}

// others lists the IKE SAs with the address pair pk other than except
// and not refused. An SA leaves ikeIO after its Closed event is queued, so
// one listed may be closing: its Closed event then follows.
func (io *ikeIO) others(pk oe.Pair, except *saRunner) []*saRunner {
	var out []*saRunner
	for _, x := range io.runnersFor(pk.Remote) {
		if x != except && peerPair(x) == pk && !x.isRefused() {
			out = append(out, x)
		}
	}
	return out
}

// installHeldOut puts r's held outbound SA (HoldFirstOut) into the kernel,
// if it has one. It reports whether it did.
func (r *saRunner) installHeldOut(ctx context.Context) bool {
	r.mu.Lock()
	out := r.heldOut
	r.heldOut = nil
	r.mu.Unlock()
	if out == nil {
		return false
	}
	if err := r.putState(ctx, *out); err != nil {
		r.io.log.Warn("cannot install a held outbound SA", zap.Stringer("sa", *out), zap.Error(err))
		return false
	}
	r.io.log.Debug("held outbound SA installed", zap.Stringer("ike_sa", r.sa), zap.Stringer("sa", *out))
	return true
}

// remove deletes both SAs of a Child SA; ones already gone are fine.
func (r *saRunner) remove(ch ike.ChildSA) {
	p := r.getParams()
	if p == nil {
		return
	}
	proto := xfrm.ProtoESP
	if ch.Protocol == wire.ProtocolAH {
		proto = xfrm.ProtoAH
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	r.mu.Lock()
	for old, po := range r.pendingOut {
		if po.newInbound == ch.InboundSPI {
			delete(r.pendingOut, old) // the new Child SA goes before it was used
		}
	}
	po, waiting := r.pendingOut[ch.InboundSPI]
	delete(r.pendingOut, ch.InboundSPI)
	delete(r.ownRekeys, ch.InboundSPI)
	r.mu.Unlock()
	if waiting {
		// The old Child SA is deleted: the new one's outbound SA takes
		// over, before the old one's goes.
		if err := r.io.kernel.AddState(ctx, po.sa); err != nil && !errors.Is(err, os.ErrExist) {
			r.io.log.Warn("cannot install the outbound SA of a rekeyed Child SA", zap.Stringer("sa", po.sa), zap.Error(err))
		}
	}
	in := xfrm.SAID{Dst: ch.Local, Proto: proto, SPI: ch.InboundSPI, Mark: p.Mark}
	out := xfrm.SAID{Dst: ch.Remote, Proto: proto, SPI: ch.OutboundSPI, Mark: p.Mark}
	r.deleteState(ctx, out)
	r.mu.Lock()
	linger := r.lingerIn
	r.mu.Unlock()
	if linger {
		// The peer sends on its outbound SA until it has processed our
		// Delete, a little after answering it.
		time.AfterFunc(lingerInbound, func() {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			r.deleteState(ctx, in)
		})
		return
	}
	r.deleteState(ctx, in)
}

// lingerInbound is how long the inbound SA of a Child SA outlives it when
// this end deleted a duplicate IKE SA (saRunner.lingerIn).
const lingerInbound = 2 * time.Second

// deleteState deletes one SA; one already gone is fine.
func (r *saRunner) deleteState(ctx context.Context, id xfrm.SAID) {
	if err := r.io.kernel.DeleteState(ctx, id); err != nil && !errors.Is(err, os.ErrNotExist) {
		r.io.log.Warn("cannot delete SA", zap.Stringer("sa", id), zap.Error(err))
	}
}

// deleteDuplicate deletes r, a duplicate of another IKE SA with the same
// peer that both ends keep (settleDuplicate), keeping its Child SAs'
// inbound SAs for lingerInbound: the peer's packets already on their way
// through them are not lost.
func (r *saRunner) deleteDuplicate() {
	r.mu.Lock()
	r.lingerIn = true
	r.mu.Unlock()
	r.post(func(now time.Time) []ike.Action { return r.sa.Delete(now) })
}

// listenAddrs are the wildcard addresses of both families on each port.
func listenAddrs(ports []uint16) []netip.AddrPort {
	var out []netip.AddrPort
	for _, p := range ports {
		out = append(out, netip.AddrPortFrom(netip.IPv4Unspecified(), p), netip.AddrPortFrom(netip.IPv6Unspecified(), p))
	}
	return out
}
