package trap

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/oe-agent/oe-agent/xfrm"
)

// Change is one kernel write.
type Change struct {
	Op     Op
	Policy xfrm.Policy
}

func (c Change) String() string { return fmt.Sprintf("%s %s", c.Op, c.Policy) }

// Plan is the list of writes that turns the kernel's oe-agent policies
// into a desired set, in the order Apply makes them: adds and updates
// first, highest precedence (lowest priority) first; then deletes, lowest
// precedence first. It is what `oectl reload --dry-run` can show.
type Plan struct {
	Changes   []Change
	Unchanged int
}

func (p Plan) String() string {
	var sb strings.Builder
	for _, c := range p.Changes {
		sb.WriteString(c.String())
		sb.WriteByte('\n')
	}
	return sb.String()
}

// Diff computes the Plan from what the kernel has (oe-agent's policies, as
// xfrm.Kernel.Policies lists them) to want (nil means no policies). A
// policy whose key (selector, direction, mark) the kernel already has is
// updated in place, atomically, if its action, priority or templates
// differ; one the kernel lacks is added; one the kernel has and want does
// not is deleted. Diff is pure.
func Diff(have []xfrm.Policy, want *Set) Plan {
	var plan Plan
	cur := make(map[policyKey]xfrm.Policy, len(have))
	for _, p := range have {
		cur[keyOf(p)] = p
	}
	var wanted map[policyKey]bool
	var writes, dels []Change
	if want != nil {
		wanted = make(map[policyKey]bool, len(want.Entries))
		for _, e := range want.Entries {
			k := keyOf(e.Policy)
			wanted[k] = true
			old, ok := cur[k]
			switch {
			case !ok:
				writes = append(writes, Change{Op: OpAdd, Policy: e.Policy})
			case samePolicy(old, e.Policy):
				plan.Unchanged++
			default:
				writes = append(writes, Change{Op: OpUpdate, Policy: e.Policy})
			}
		}
	}
	for _, p := range have {
		if !wanted[keyOf(p)] {
			dels = append(dels, Change{Op: OpDelete, Policy: p})
		}
	}
	slices.SortStableFunc(writes, func(a, b Change) int { return byPrecedence(a.Policy, b.Policy) })
	slices.SortStableFunc(dels, func(a, b Change) int { return byPrecedence(b.Policy, a.Policy) })
	plan.Changes = append(writes, dels...)
	return plan
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
