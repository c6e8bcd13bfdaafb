package trap

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"

	"go.uber.org/zap"

	"github.com/oe-agent/oe-agent/xfrm"
)

// Reconciler makes the kernel's oe-agent policies equal a desired Set. It
// is the thin I/O shell around Compute: it reads what the kernel really
// has, diffs, and writes the difference through an xfrm.Kernel.
//
// Apply calls are serialised; a Reconciler is safe for concurrent use.
type Reconciler struct {
	k   xfrm.Kernel
	log *zap.Logger
	mu  sync.Mutex // serialises Apply: each diff must see the previous one's writes
}

// NewReconciler returns a Reconciler writing through k. log may be nil.
func NewReconciler(k xfrm.Kernel, log *zap.Logger) *Reconciler {
	if log == nil {
		log = zap.NewNop()
	}
	return &Reconciler{k: k, log: log.Named("trap")}
}

// Op is a kind of kernel change.
type Op uint8

// Kernel changes, in the order Apply makes them.
const (
	OpAdd Op = iota + 1
	OpUpdate
	OpDelete
)

func (o Op) String() string {
	switch o {
	case OpAdd:
		return "add"
	case OpUpdate:
		return "update"
	case OpDelete:
		return "delete"
	}
	return fmt.Sprintf("op-%d", uint8(o))
}

// Failure is one change Apply could not make.
type Failure struct {
	Op     Op
	Policy xfrm.Policy
	Err    error
}

func (f Failure) Error() string {
	var oe *xfrm.OpError
	if errors.As(f.Err, &oe) {
		return f.Err.Error() // it names the operation and the policy
	}
	return fmt.Sprintf("%s policy %s: %v", f.Op, f.Policy, f.Err)
}
func (f Failure) Unwrap() error { return f.Err }

// Result is what one Apply achieved.
type Result struct {
	// Added, Updated and Deleted are the changes made.
	Added, Updated, Deleted []xfrm.Policy
	// Unchanged counts desired policies the kernel already had.
	Unchanged int
	// Failed are the changes that failed; the kernel keeps the old policy
	// (or none) for those keys.
	Failed []Failure
}

// Changed reports whether Apply changed the kernel.
func (r Result) Changed() bool { return len(r.Added)+len(r.Updated)+len(r.Deleted) > 0 }

func (r Result) String() string {
	return fmt.Sprintf("%d added, %d updated, %d deleted, %d unchanged, %d failed",
		len(r.Added), len(r.Updated), len(r.Deleted), r.Unchanged, len(r.Failed))
}

// Apply makes the kernel's oe-agent policies equal desired (nil means
// none). It lists what the kernel has (xfrm retries interrupted dumps),
// then:
//
//  1. adds the missing policies and updates the changed ones, highest
//     precedence first, so a clear /32 is in place before the trap /24
//     around it and a resolver's bypass before any trap. A trap that turns
//     into a block (or back) for the same selector is replaced atomically
//     with UpdatePolicy: no packet sees neither.
//  2. deletes the policies no longer wanted, lowest precedence first, so a
//     trap /24 goes before the clear /32 inside it.
//
// Adding before deleting means traffic never falls through to a wider
// policy (or to no policy) during a reload. Failures do not stop Apply: it
// goes on and reports each in Result.Failed, and returns an error joining
// them. Policies of other daemons are invisible to it (see xfrm's
// ownership tags) and never touched. A second Apply of the same set reads
// the kernel once and changes nothing.
func (r *Reconciler) Apply(ctx context.Context, desired *Set) (Result, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var res Result
	cur, err := r.k.Policies(ctx)
	if err != nil {
		return res, fmt.Errorf("trap: read the kernel's policies: %w", err)
	}
	plan := Diff(cur, desired)
	res.Unchanged = plan.Unchanged
	for _, c := range plan.Changes {
		if err := ctx.Err(); err != nil {
			res.Failed = append(res.Failed, Failure{Op: c.Op, Policy: c.Policy, Err: err})
			continue
		}
		r.apply(ctx, c, &res)
	}
	logf := r.log.Debug // an unchanged set is routine (oe reapplies on every peer change)
	if res.Changed() || len(res.Failed) > 0 {
		logf = r.log.Info
	}
	logf("policies reconciled", zap.Int("added", len(res.Added)), zap.Int("updated", len(res.Updated)),
		zap.Int("deleted", len(res.Deleted)), zap.Int("unchanged", res.Unchanged), zap.Int("failed", len(res.Failed)))
	if len(res.Failed) == 0 {
		return res, nil
	}
	errs := make([]error, len(res.Failed))
	for i, f := range res.Failed {
		errs[i] = f
		r.log.Warn("policy change failed", zap.Stringer("op", f.Op), zap.Stringer("policy", f.Policy), zap.Error(f.Err))
	}
	return res, fmt.Errorf("trap: %d of %d policy changes failed: %w", len(res.Failed),
		len(res.Failed)+len(res.Added)+len(res.Updated)+len(res.Deleted), errors.Join(errs...))
}

// apply makes one change and records the outcome in res.
func (r *Reconciler) apply(ctx context.Context, c Change, res *Result) {
	var err error
	switch c.Op {
	case OpAdd:
		err = r.k.AddPolicy(ctx, c.Policy)
		if errors.Is(err, os.ErrExist) {
			// Installed since the dump (ours or another daemon's):
			// replace it; xfrm refuses if it is not ours.
			c.Op = OpUpdate
			err = r.k.UpdatePolicy(ctx, c.Policy)
		}
	case OpUpdate:
		err = r.k.UpdatePolicy(ctx, c.Policy)
	case OpDelete:
		err = r.k.DeletePolicy(ctx, c.Policy)
		if errors.Is(err, os.ErrNotExist) {
			err = nil // gone meanwhile: the goal is reached
		}
	}
	if err != nil {
		res.Failed = append(res.Failed, Failure{Op: c.Op, Policy: c.Policy, Err: err})
		return
	}
	r.log.Debug("policy changed", zap.Stringer("op", c.Op), zap.Stringer("policy", c.Policy))
	switch c.Op {
	case OpAdd:
		res.Added = append(res.Added, c.Policy)
	case OpUpdate:
		res.Updated = append(res.Updated, c.Policy)
	case OpDelete:
		res.Deleted = append(res.Deleted, c.Policy)
	}
}
