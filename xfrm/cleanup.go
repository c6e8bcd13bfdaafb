package xfrm

import (
	"context"
	"errors"
	"fmt"
	"os"

	"go.uber.org/zap"
)

// Cleanup removes every policy and SA oe-agent owns in the namespace, and
// nothing else: another IPsec daemon's objects (reqids outside ReqidMin-
// ReqidMax, policies outside PriorityMin-PriorityMax) are left alone, which
// `ip xfrm state flush` / `ip xfrm policy flush` would not do. Policies go
// first so that no trap fires for an SA being removed. Larval states (SPI
// 0, created by ACQUIRE) cannot be deleted by id; they expire by
// themselves. Objects that vanish meanwhile are not errors. Cleanup goes on
// after a failure and returns all failures joined.
//
// It is what `oe-agentd --cleanup` runs after a crash (ExecStopPost).
func (n *Netlink) Cleanup(ctx context.Context) error {
	if err := n.ready(ctx); err != nil {
		return newOpError("cleanup", "", err)
	}
	var errs []error
	pols, err := n.allPolicies(ctx)
	if err != nil {
		return newOpError("cleanup", "policies", err)
	}
	npol := 0
	for _, p := range pols {
		if !OwnedPolicy(p) {
			continue
		}
		if err := ctx.Err(); err != nil {
			return newOpError("cleanup", "", err)
		}
		// By index: the dump told us exactly which policy is ours.
		if err := n.deletePolicyIndex(p, p.Index); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, newOpError("delete", policyObject(p), err))
			continue
		}
		npol++
	}
	sas, err := n.allStates(ctx)
	if err != nil {
		errs = append(errs, newOpError("list", "states", err))
		return newOpError("cleanup", "", fmt.Errorf("%d failures: %w", len(errs), errors.Join(errs...)))
	}
	nsa := 0
	for _, sa := range sas {
		if !OwnedSA(sa) || sa.SPI == 0 {
			continue
		}
		if err := ctx.Err(); err != nil {
			return newOpError("cleanup", "", err)
		}
		err := stateErrno(n.h.XfrmStateDel(toNetlinkStateID(sa.ID())))
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, newOpError("delete", stateObject(sa), err))
			continue
		}
		nsa++
	}
	n.log.Info("removed oe-agent's XFRM objects", zap.Int("policies", npol), zap.Int("states", nsa))
	if len(errs) > 0 {
		return newOpError("cleanup", "", fmt.Errorf("%d failures: %w", len(errs), errors.Join(errs...)))
	}
	return nil
}
