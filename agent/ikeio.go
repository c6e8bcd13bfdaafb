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

	// Loop only.
	owner       ikeOwner
	initiator   bool
	established bool
	classified  bool
	spiI        uint64 // the IKE SA's initiator SPI, once established
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
		r = &saRunner{io: io, sa: sa}
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

func (io *ikeIO) forget(sa *ike.SA) {
	io.mu.Lock()
	delete(io.sas, sa)
	io.mu.Unlock()
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

// install puts both SAs of a Child SA into the kernel, inbound first so
// the peer's first packet finds it.
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
	for _, sa := range []xfrm.SA{kc.In, kc.Out} {
		if err := r.io.kernel.AddState(ctx, sa); err != nil {
			if errors.Is(err, os.ErrExist) {
				err = r.io.kernel.UpdateState(ctx, sa)
			}
			if err != nil {
				return err
			}
		}
	}
	return nil
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
	for _, id := range []xfrm.SAID{
		{Dst: ch.Local, Proto: proto, SPI: ch.InboundSPI, Mark: p.Mark},
		{Dst: ch.Remote, Proto: proto, SPI: ch.OutboundSPI, Mark: p.Mark},
	} {
		if err := r.io.kernel.DeleteState(ctx, id); err != nil && !errors.Is(err, os.ErrNotExist) {
			r.io.log.Warn("cannot delete SA", zap.Stringer("sa", id), zap.Error(err))
		}
	}
}

// listenAddrs are the wildcard addresses of both families on each port.
func listenAddrs(ports []uint16) []netip.AddrPort {
	var out []netip.AddrPort
	for _, p := range ports {
		out = append(out, netip.AddrPortFrom(netip.IPv4Unspecified(), p), netip.AddrPortFrom(netip.IPv6Unspecified(), p))
	}
	return out
}
