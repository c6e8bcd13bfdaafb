package trap

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
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
	if desired == nil {
		desired = &Set{}
	}
	cur, err := r.k.Policies(ctx)
	if err != nil {
		return res, fmt.Errorf("trap: read the kernel's policies: %w", err)
	}
	have := make(map[policyKey]xfrm.Policy, len(cur))
	for _, p := range cur {
		have[keyOf(p)] = p
	}
	want := make(map[policyKey]bool, len(desired.Entries))
	var writes []xfrm.Policy
	for _, e := range desired.Entries {
		k := keyOf(e.Policy)
		want[k] = true
		if old, ok := have[k]; ok && samePolicy(old, e.Policy) {
			res.Unchanged++
			continue
		}
		writes = append(writes, e.Policy)
	}
	slices.SortStableFunc(writes, byPrecedence)
	for _, p := range writes {
		if err := ctx.Err(); err != nil {
			res.Failed = append(res.Failed, Failure{Op: OpAdd, Policy: p, Err: err})
			continue
		}
		if _, ok := have[keyOf(p)]; ok {
			r.update(ctx, p, &res)
			continue
		}
		err := r.k.AddPolicy(ctx, p)
		if errors.Is(err, os.ErrExist) {
			// Installed since the dump (ours or another daemon's): replace
			// it; xfrm refuses if it is not ours.
			r.update(ctx, p, &res)
			continue
		}
		if err != nil {
			res.Failed = append(res.Failed, Failure{Op: OpAdd, Policy: p, Err: err})
			continue
		}
		r.log.Debug("policy added", zap.Stringer("policy", p))
		res.Added = append(res.Added, p)
	}
	var dels []xfrm.Policy
	for _, p := range cur {
		if !want[keyOf(p)] {
			dels = append(dels, p)
		}
	}
	slices.SortStableFunc(dels, func(a, b xfrm.Policy) int { return byPrecedence(b, a) })
	for _, p := range dels {
		if err := ctx.Err(); err != nil {
			res.Failed = append(res.Failed, Failure{Op: OpDelete, Policy: p, Err: err})
			continue
		}
		err := r.k.DeletePolicy(ctx, p)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			res.Failed = append(res.Failed, Failure{Op: OpDelete, Policy: p, Err: err})
			continue
		}
		r.log.Debug("policy deleted", zap.Stringer("policy", p))
		res.Deleted = append(res.Deleted, p)
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

func (r *Reconciler) update(ctx context.Context, p xfrm.Policy, res *Result) {
	if err := r.k.UpdatePolicy(ctx, p); err != nil {
		res.Failed = append(res.Failed, Failure{Op: OpUpdate, Policy: p, Err: err})
		return
	}
	r.log.Debug("policy updated", zap.Stringer("policy", p))
	res.Updated = append(res.Updated, p)
}

// byPrecedence orders policies by priority (the kernel's precedence), then
// by direction and selector for a stable order.
func byPrecedence(a, b xfrm.Policy) int {
	return cmp.Or(cmp.Compare(a.Priority, b.Priority), cmp.Compare(a.Dir, b.Dir), compareSelectors(a.Selector, b.Selector))
}

// samePolicy reports whether the kernel's policy have already is want: same
// action, priority and templates (the key is equal by construction; the
// kernel-assigned index does not count).
func samePolicy(have, want xfrm.Policy) bool {
	return have.Action == want.Action && have.Priority == want.Priority &&
		slices.Equal(have.Templates, want.Templates)
}
