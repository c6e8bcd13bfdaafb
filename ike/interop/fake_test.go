package interop

import (
	"context"
	"fmt"
	"os"
	"sync"

	"github.com/oe-agent/oe-agent/xfrm"
)

// fakeKernel records SAs and policies like the kernel's tables would, with
// the kernel's duplicate and missing-object errors, for driver tests on a
// host kernel without ESP.
type fakeKernel struct {
	mu       sync.Mutex
	states   map[xfrm.SAID]xfrm.SA
	policies map[string]xfrm.Policy
}

func newFakeKernel() *fakeKernel {
	return &fakeKernel{states: map[xfrm.SAID]xfrm.SA{}, policies: map[string]xfrm.Policy{}}
}

var _ kernel = (*fakeKernel)(nil)
var _ kernel = (*xfrm.Netlink)(nil)

func policyKey(p xfrm.Policy) string { return fmt.Sprintf("%v %v %v", p.Dir, p.Selector, p.Mark) }

func (k *fakeKernel) AddState(_ context.Context, sa xfrm.SA) error {
	if err := sa.Validate(); err != nil {
		return err
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if _, ok := k.states[sa.ID()]; ok {
		return fmt.Errorf("fake: add state %v: %w", sa, os.ErrExist)
	}
	k.states[sa.ID()] = sa
	return nil
}

func (k *fakeKernel) DeleteState(_ context.Context, id xfrm.SAID) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if _, ok := k.states[id]; !ok {
		return fmt.Errorf("fake: delete state %v: %w", id, os.ErrNotExist)
	}
	delete(k.states, id)
	return nil
}

func (k *fakeKernel) UpdatePolicy(_ context.Context, p xfrm.Policy) error {
	if err := p.Validate(); err != nil {
		return err
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	k.policies[policyKey(p)] = p
	return nil
}

func (k *fakeKernel) DeletePolicy(_ context.Context, p xfrm.Policy) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if _, ok := k.policies[policyKey(p)]; !ok {
		return fmt.Errorf("fake: delete policy %v: %w", p, os.ErrNotExist)
	}
	delete(k.policies, policyKey(p))
	return nil
}

// counts returns the number of SAs and policies installed.
func (k *fakeKernel) counts() (states, policies int) {
	k.mu.Lock()
	defer k.mu.Unlock()
	return len(k.states), len(k.policies)
}

// hasSPI reports whether an SA with spi is installed.
func (k *fakeKernel) hasSPI(spi uint32) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	for id := range k.states {
		if id.SPI == spi {
			return true
		}
	}
	return false
}
