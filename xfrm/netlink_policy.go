package xfrm

import (
	"context"
	"errors"
	"os"

	"github.com/vishvananda/netlink/nl"
)

// AddPolicy installs p. Equivalent to, for a trap (template, no SA yet):
//
//	ip xfrm policy add src 192.0.2.1/32 dst 192.0.2.0/24 dir out priority PRIO \
//	    tmpl proto esp reqid REQID mode transport level required
//
// for a bypass `ip xfrm policy add SELECTOR dir DIR priority PRIO` (no
// template), and for a block `... action block`.
func (n *Netlink) AddPolicy(ctx context.Context, p Policy) error {
	return newOpError("add", policyObject(p), n.writePolicy(ctx, p, false))
}

// UpdatePolicy installs p, replacing atomically the policy with the same
// selector, direction and mark if there is one and it is oe-agent's.
// Equivalent to `ip xfrm policy update ...`.
func (n *Netlink) UpdatePolicy(ctx context.Context, p Policy) error {
	return newOpError("update", policyObject(p), n.writePolicy(ctx, p, true))
}

func (n *Netlink) writePolicy(ctx context.Context, p Policy, update bool) error {
	if err := n.ready(ctx); err != nil {
		return err
	}
	if err := p.Validate(); err != nil {
		return err
	}
	p.Index = 0 // the kernel assigns it
	if !update {
		return n.h.XfrmPolicyAdd(toNetlinkPolicy(p))
	}
	if _, err := n.ownedPolicy(p); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return n.h.XfrmPolicyUpdate(toNetlinkPolicy(p))
}

// ownedPolicy looks up the policy with p's key and returns its index if it
// is oe-agent's, ErrNotOwned if not, or ENOENT.
func (n *Netlink) ownedPolicy(p Policy) (uint32, error) {
	got, err := n.h.XfrmPolicyGet(toNetlinkPolicy(policyKey(p)))
	if err != nil {
		return 0, err
	}
	owned := fromNetlinkPolicyOwnership(got)
	if !OwnedPolicy(owned) {
		return 0, ErrNotOwned
	}
	return owned.Index, nil
}

// DeletePolicy removes the policy with p's selector, direction and mark if
// it is oe-agent's; templates and priority in p are ignored. Equivalent to
// `ip xfrm policy delete SELECTOR dir DIR`. The policy is deleted by the
// index it was found under, so a policy installed in between by someone
// else is never removed.
func (n *Netlink) DeletePolicy(ctx context.Context, p Policy) error {
	return newOpError("delete", policyObject(p), n.deletePolicy(ctx, p))
}

func (n *Netlink) deletePolicy(ctx context.Context, p Policy) error {
	if err := n.ready(ctx); err != nil {
		return err
	}
	if err := p.Selector.validate(); err != nil {
		return err
	}
	idx, err := n.ownedPolicy(p)
	if err != nil {
		return err
	}
	return n.deletePolicyIndex(p, idx)
}

func (n *Netlink) deletePolicyIndex(p Policy, idx uint32) error {
	key := policyKey(p)
	key.Index = idx
	return n.h.XfrmPolicyDel(toNetlinkPolicy(key))
}

// Policies lists oe-agent's policies (all directions). Equivalent to
// `ip xfrm policy list`, keeping the policies in oe-agent's priority band
// whose templates all carry its reqids. Per-socket policies are not listed
// (the kernel does not dump them).
func (n *Netlink) Policies(ctx context.Context) ([]Policy, error) {
	all, err := n.allPolicies(ctx)
	if err != nil {
		return nil, newOpError("list", "policies", err)
	}
	var own []Policy
	for _, p := range all {
		if OwnedPolicy(p) {
			own = append(own, p)
		}
	}
	return own, nil
}

func (n *Netlink) allPolicies(ctx context.Context) ([]Policy, error) {
	var out []Policy
	err := n.dump(ctx, nl.XFRM_MSG_GETPOLICY, nl.XFRM_MSG_NEWPOLICY, func(b []byte) error {
		p, ok, err := decodePolicyMsg(b)
		if err != nil {
			return err
		}
		if ok {
			out = append(out, p)
		}
		return nil
	}, func() { out = out[:0] })
	return out, err
}
