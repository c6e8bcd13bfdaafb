package agent

import (
	"context"
	"errors"
	"os"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/oe-agent/oe-agent/ike"
	"github.com/oe-agent/oe-agent/xfrm"
)

// saRunner is the goroutine that owns one IKE SA. Work arrives as closures
// that take the current time and return the SA's actions; the runner also
// ticks the SA at its deadline.
type saRunner struct {
	io *ikeIO
	sa *ike.SA

	mu     sync.Mutex
	queue  []func(now time.Time) []ike.Action // guarded by mu
	wake   chan struct{}
	params *childParams // guarded by mu; set by the loop before the first Child SA
	// owner is set by the loop only: the conn name or OE peer this SA
	// serves; refused SAs drop everything.
	owner       ikeOwner
	initiator   bool // loop only: this end initiated
	established bool // loop only: IKE_AUTH completed
	refused     bool // guarded by mu
}

// ikeOwner says whom an IKE SA serves.
type ikeOwner struct {
	conn string // static connection name, or
	peer bool   // an OE peer (the SA's remote address)
}

func (io *ikeIO) start(ctx context.Context, sa *ike.SA, params *childParams) *saRunner {
	r := &saRunner{io: io, sa: sa, wake: make(chan struct{}, 1), params: params}
	io.mu.Lock()
	io.runners[sa] = r
	io.mu.Unlock()
	go r.run(ctx)
	return r
}

// post queues work for the SA's goroutine.
func (r *saRunner) post(f func(now time.Time) []ike.Action) {
	r.mu.Lock()
	r.queue = append(r.queue, f)
	r.mu.Unlock()
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// paramsReqid is the reqid the SA's children are installed with, or 0.
func (r *saRunner) paramsReqid() uint32 {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.params == nil {
		return 0
	}
	return r.params.Reqid
}

func (r *saRunner) setParams(p childParams) {
	r.mu.Lock()
	r.params = &p
	r.mu.Unlock()
}

// refuse makes the runner ignore the SA's traffic: the peer gets no
// answer and the half-open SA times out in the dispatcher.
func (r *saRunner) refuse() {
	r.mu.Lock()
	r.refused = true
	r.queue = nil
	r.mu.Unlock()
}

func (r *saRunner) run(ctx context.Context) {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	defer func() {
		r.io.mu.Lock()
		delete(r.io.runners, r.sa)
		r.io.mu.Unlock()
	}()
	for {
		if d := r.sa.Deadline(); !d.IsZero() {
			timer.Reset(max(time.Until(d), 0))
		} else {
			timer.Reset(time.Hour)
		}
		select {
		case <-ctx.Done():
			return
		case <-r.wake:
			r.mu.Lock()
			q, refused := r.queue, r.refused
			r.queue = nil
			r.mu.Unlock()
			for _, f := range q {
				if refused {
					break
				}
				r.execute(ctx, f(time.Now()))
			}
		case <-timer.C:
			r.execute(ctx, r.sa.Tick(time.Now()))
		}
		if r.sa.IsClosed() {
			return
		}
	}
}

// execute carries out actions in order: sends and kernel changes here,
// the rest reported to the loop.
func (r *saRunner) execute(ctx context.Context, acts []ike.Action) {
	for _, a := range acts {
		switch a := a.(type) {
		case ike.Send:
			r.io.write(a)
			continue
		case ike.InstallChild:
			err := r.install(ctx, a)
			r.io.events <- ikeEvent{r: r, act: a, err: err}
			continue
		case ike.DeleteChild:
			r.remove(ctx, a.Child)
		}
		r.io.events <- ikeEvent{r: r, act: a}
	}
}

// install puts both SAs of a Child SA into the kernel, inbound first so
// the peer's first packet finds it.
func (r *saRunner) install(ctx context.Context, ic ike.InstallChild) error {
	r.mu.Lock()
	p := r.params
	r.mu.Unlock()
	if p == nil {
		return errors.New("agent: no kernel parameters for this IKE SA (not accepted)")
	}
	kc, err := kernelChildOf(ic.Child, *p)
	if err != nil {
		return err
	}
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
func (r *saRunner) remove(ctx context.Context, ch ike.ChildSA) {
	r.mu.Lock()
	p := r.params
	r.mu.Unlock()
	if p == nil {
		return
	}
	proto := xfrm.ProtoESP
	if ch.Protocol == 2 {
		proto = xfrm.ProtoAH
	}
	for _, id := range []xfrm.SAID{
		{Dst: ch.Local, Proto: proto, SPI: ch.InboundSPI, Mark: p.Mark},
		{Dst: ch.Remote, Proto: proto, SPI: ch.OutboundSPI, Mark: p.Mark},
	} {
		if err := r.io.kernel.DeleteState(ctx, id); err != nil && !errors.Is(err, os.ErrNotExist) {
			r.io.log.Warn("cannot delete SA", zap.Stringer("sa", id), zap.Error(err))
		}
	}
}
