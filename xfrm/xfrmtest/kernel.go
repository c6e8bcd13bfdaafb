// Package xfrmtest provides an in-memory xfrm.Kernel for the unit tests of
// higher layers (trap reconcile, oe, agent). It enforces what the real
// kernel and xfrm.Netlink enforce — validation, ownership, EEXIST and
// not-exist errors as *xfrm.OpError — and renders its tables as
// `ip xfrm state` / `ip xfrm policy` text for golden comparisons. Tests
// drive the kernel side by hand: Packet for a packet that meets the SPD
// (which may raise an ACQUIRE), Expire, AddTraffic, and AddForeign* for
// another daemon's objects.
package xfrmtest

import (
	"context"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/oe-agent/oe-agent/xfrm"
)

// Kernel is a fake xfrm.Kernel. The zero value is not usable: call New.
// It is safe for concurrent use.
type Kernel struct {
	mu       sync.Mutex
	states   map[xfrm.SAID]xfrm.SA     // guarded by mu
	policies map[policyKey]xfrm.Policy // guarded by mu
	subs     []*subscriber             // guarded by mu
	nextSPI  uint32                    // guarded by mu
	nextIdx  uint32                    // guarded by mu
	seq      uint32                    // guarded by mu
	fault    func(op, object string) error
	now      func() time.Time
}

var _ xfrm.Kernel = (*Kernel)(nil)

type policyKey struct {
	sel  xfrm.Selector
	dir  xfrm.Dir
	mark xfrm.Mark
}

func keyOf(p xfrm.Policy) policyKey {
	s := p.Selector
	s.Src, s.Dst = s.Src.Masked(), s.Dst.Masked()
	return policyKey{sel: s, dir: p.Dir, mark: p.Mark}
}

// New returns an empty fake kernel whose clock is time.Now.
func New() *Kernel {
	return &Kernel{
		states:   make(map[xfrm.SAID]xfrm.SA),
		policies: make(map[policyKey]xfrm.Policy),
		nextSPI:  0xc0000100,
		nextIdx:  8,
		now:      time.Now,
	}
}

// SetClock sets the clock used for SA add and use times.
func (k *Kernel) SetClock(now func() time.Time) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.now = now
}

// SetFault installs f, called before every operation with its op ("add",
// "update", "delete", "list", "allocspi", "subscribe", "cleanup") and object
// name; a non-nil result fails the operation with that cause. nil removes it.
func (k *Kernel) SetFault(f func(op, object string) error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.fault = f
}

// failLocked returns the injected fault for op on object, as an *OpError.
func (k *Kernel) failLocked(op, object string) error {
	if k.fault == nil {
		return nil
	}
	if err := k.fault(op, object); err != nil {
		return &xfrm.OpError{Op: op, Object: object, Err: err}
	}
	return nil
}

func opErr(op, object string, err error) error {
	if err == nil {
		return nil
	}
	return &xfrm.OpError{Op: op, Object: object, Err: err}
}

// errNoSA is what the kernel answers for a missing SA (ESRCH), made to
// match os.ErrNotExist as xfrm.Netlink does.
var errNoSA = &notExist{syscall.ESRCH}

type notExist struct{ errno syscall.Errno }

func (e *notExist) Error() string        { return "no such SA: " + e.errno.Error() }
func (e *notExist) Unwrap() error        { return e.errno }
func (e *notExist) Is(target error) bool { return target == os.ErrNotExist }

func stateObject(sa xfrm.SA) string     { return "state " + sa.String() }
func policyObject(p xfrm.Policy) string { return "policy " + p.String() }

// AddState installs sa after the checks xfrm.Netlink makes.
func (k *Kernel) AddState(ctx context.Context, sa xfrm.SA) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	obj := stateObject(sa)
	if err := k.failLocked("add", obj); err != nil {
		return err
	}
	if err := firstErr(ctx.Err(), sa.Validate()); err != nil {
		return opErr("add", obj, err)
	}
	if _, ok := k.states[sa.ID()]; ok {
		return opErr("add", obj, syscall.EEXIST)
	}
	k.installLocked(sa)
	return nil
}

// installLocked stores sa. Like xfrm_state_add, installing a complete SA
// removes the larval state (SPI 0) of the same flow and reqid.
func (k *Kernel) installLocked(sa xfrm.SA) {
	if sa.SPI != 0 {
		for id, old := range k.states {
			if old.SPI == 0 && old.Src == sa.Src && old.Dst == sa.Dst && old.Proto == sa.Proto &&
				old.Mode == sa.Mode && old.Reqid == sa.Reqid {
				delete(k.states, id)
			}
		}
	}
	sa.Stats = xfrm.SAStats{AddTime: k.now().Truncate(time.Second)}
	sa.CipherKey = append(xfrm.Key(nil), sa.CipherKey...)
	sa.IntegrityKey = append(xfrm.Key(nil), sa.IntegrityKey...)
	k.states[sa.ID()] = sa
}

// UpdateState replaces an existing SA of oe-agent's.
func (k *Kernel) UpdateState(ctx context.Context, sa xfrm.SA) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	obj := stateObject(sa)
	if err := k.failLocked("update", obj); err != nil {
		return err
	}
	if err := firstErr(ctx.Err(), sa.Validate()); err != nil {
		return opErr("update", obj, err)
	}
	old, ok := k.states[sa.ID()]
	if !ok {
		return opErr("update", obj, errNoSA)
	}
	if !xfrm.OwnedSA(old) {
		return opErr("update", obj, xfrm.ErrNotOwned)
	}
	k.installLocked(sa)
	return nil
}

// DeleteState removes an SA of oe-agent's.
func (k *Kernel) DeleteState(ctx context.Context, id xfrm.SAID) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	obj := "state " + id.String()
	if err := k.failLocked("delete", obj); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return opErr("delete", obj, err)
	}
	sa, ok := k.states[id]
	if !ok {
		return opErr("delete", obj, errNoSA)
	}
	if !xfrm.OwnedSA(sa) {
		return opErr("delete", obj, xfrm.ErrNotOwned)
	}
	delete(k.states, id)
	return nil
}

// States lists oe-agent's SAs, in no particular order (as the kernel).
func (k *Kernel) States(ctx context.Context) ([]xfrm.SA, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if err := k.failLocked("list", "states"); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, opErr("list", "states", err)
	}
	var out []xfrm.SA
	for _, sa := range k.states {
		if xfrm.OwnedSA(sa) {
			out = append(out, sa)
		}
	}
	return out, nil
}

// AllocSPI hands out SPIs in sequence within the requested range and
// installs a larval SA, as the kernel does.
func (k *Kernel) AllocSPI(ctx context.Context, req xfrm.SPIRequest) (uint32, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	obj := "state " + req.String()
	if err := k.failLocked("allocspi", obj); err != nil {
		return 0, err
	}
	if err := firstErr(ctx.Err(), req.Validate()); err != nil {
		return 0, opErr("allocspi", obj, err)
	}
	lo, hi := req.Min, req.Max
	if lo == 0 {
		lo = 0x100
	}
	if hi == 0 {
		hi = 0xffffffff
	}
	for range 1 << 16 {
		spi := k.nextSPI
		k.nextSPI++
		if spi < lo || spi > hi {
			spi = lo + spi%(hi-lo+1)
		}
		id := xfrm.SAID{Dst: req.Dst, Proto: req.Proto, SPI: spi, Mark: req.Mark}
		if _, used := k.states[id]; used {
			continue
		}
		k.installLocked(xfrm.SA{Src: req.Src, Dst: req.Dst, Proto: req.Proto, SPI: spi, Mode: req.Mode,
			Reqid: req.Reqid, Mark: req.Mark, Lifetime: xfrm.Lifetime{HardAdd: 30 * time.Second}})
		return spi, nil
	}
	return 0, opErr("allocspi", obj, syscall.ENOENT)
}

func firstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
