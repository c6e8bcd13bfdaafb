package xfrmtest

import (
	"context"
	"syscall"

	"github.com/oe-agent/oe-agent/xfrm"
)

// AddPolicy installs p after the checks xfrm.Netlink makes; EEXIST if a
// policy with the same selector, direction and mark exists (whatever its
// priority, as in the kernel).
func (k *Kernel) AddPolicy(ctx context.Context, p xfrm.Policy) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	obj := policyObject(p)
	if err := k.failLocked("add", obj); err != nil {
		return err
	}
	if err := firstErr(ctx.Err(), p.Validate()); err != nil {
		return opErr("add", obj, err)
	}
	if _, ok := k.policies[keyOf(p)]; ok {
		return opErr("add", obj, syscall.EEXIST)
	}
	k.installPolicyLocked(p, 0)
	return nil
}

func (k *Kernel) installPolicyLocked(p xfrm.Policy, index uint32) {
	if index == 0 {
		// The kernel's indexes encode the direction in the low 3 bits.
		k.nextIdx += 8
		index = k.nextIdx | uint32(p.Dir)
	}
	p.Index = index
	p.Selector.Src, p.Selector.Dst = p.Selector.Src.Masked(), p.Selector.Dst.Masked()
	p.Templates = append([]xfrm.Template(nil), p.Templates...)
	k.policies[keyOf(p)] = p
}

// UpdatePolicy installs p or replaces oe-agent's policy with its key,
// keeping the index as the kernel does.
func (k *Kernel) UpdatePolicy(ctx context.Context, p xfrm.Policy) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	obj := policyObject(p)
	if err := k.failLocked("update", obj); err != nil {
		return err
	}
	if err := firstErr(ctx.Err(), p.Validate()); err != nil {
		return opErr("update", obj, err)
	}
	var index uint32
	if old, ok := k.policies[keyOf(p)]; ok {
		if !xfrm.OwnedPolicy(old) {
			return opErr("update", obj, xfrm.ErrNotOwned)
		}
		index = old.Index
	}
	k.installPolicyLocked(p, index)
	return nil
}

// DeletePolicy removes oe-agent's policy with p's key; ENOENT if none.
func (k *Kernel) DeletePolicy(ctx context.Context, p xfrm.Policy) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	obj := policyObject(p)
	if err := k.failLocked("delete", obj); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return opErr("delete", obj, err)
	}
	old, ok := k.policies[keyOf(p)]
	if !ok {
		return opErr("delete", obj, syscall.ENOENT)
	}
	if !xfrm.OwnedPolicy(old) {
		return opErr("delete", obj, xfrm.ErrNotOwned)
	}
	delete(k.policies, keyOf(p))
	return nil
}

// Policies lists oe-agent's policies, in no particular order.
func (k *Kernel) Policies(ctx context.Context) ([]xfrm.Policy, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if err := k.failLocked("list", "policies"); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, opErr("list", "policies", err)
	}
	var out []xfrm.Policy
	for _, p := range k.policies {
		if xfrm.OwnedPolicy(p) {
			out = append(out, p)
		}
	}
	return out, nil
}

// Cleanup removes oe-agent's policies and SAs (not larval ones with SPI 0)
// and nothing else.
func (k *Kernel) Cleanup(ctx context.Context) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if err := k.failLocked("cleanup", ""); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return opErr("cleanup", "", err)
	}
	for key, p := range k.policies {
		if xfrm.OwnedPolicy(p) {
			delete(k.policies, key)
		}
	}
	for id, sa := range k.states {
		if xfrm.OwnedSA(sa) && sa.SPI != 0 {
			delete(k.states, id)
		}
	}
	return nil
}

// AddForeignPolicy installs a policy as another IPsec daemon would, without
// oe-agent's checks, so that tests can verify it is left alone.
func (k *Kernel) AddForeignPolicy(p xfrm.Policy) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.installPolicyLocked(p, 0)
}

// AddForeignState installs an SA as another IPsec daemon would.
func (k *Kernel) AddForeignState(sa xfrm.SA) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.installLocked(sa)
}
