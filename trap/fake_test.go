package trap

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"syscall"

	"github.com/oe-agent/oe-agent/xfrm"
)

// fakeKernel is an in-memory SPD with the kernel's policy semantics as
// xfrm.Kernel documents them: one policy per selector, direction and mark;
// AddPolicy fails with EEXIST on a taken key; UpdatePolicy replaces or
// creates; DeletePolicy fails with ENOENT on a missing key; listing shows
// only oe-agent's policies; Update and Delete refuse other daemons'
// policies. It logs every call, for asserting order and counting writes.
type fakeKernel struct {
	mu    sync.Mutex
	pols  map[policyKey]xfrm.Policy
	index uint32
	calls []string
	// fail makes the next call "OP SELECTOR dir DIR" fail with the error
	// (once).
	fail map[string]error
	// listErr makes Policies fail.
	listErr error
}

var _ xfrm.Kernel = (*fakeKernel)(nil)

func newFakeKernel() *fakeKernel {
	return &fakeKernel{pols: make(map[policyKey]xfrm.Policy), fail: make(map[string]error)}
}

func callName(op string, p xfrm.Policy) string {
	return fmt.Sprintf("%s %s dir %s", op, p.Selector, p.Dir)
}

// call logs a call and returns an injected failure, if any.
func (k *fakeKernel) call(op string, p xfrm.Policy) error {
	name := callName(op, p)
	k.calls = append(k.calls, fmt.Sprintf("%s priority 0x%08x", name, p.Priority))
	if err, ok := k.fail[name]; ok {
		delete(k.fail, name)
		return err
	}
	return nil
}

func opErr(op string, p xfrm.Policy, err error) error {
	return &xfrm.OpError{Op: op, Object: "policy " + p.String(), Err: err}
}

// install puts a policy in directly, as `ip xfrm policy add` by another
// program would: no ownership checks.
func (k *fakeKernel) install(p xfrm.Policy) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.index += 8
	p.Index = k.index
	k.pols[keyOf(p)] = p
}

func (k *fakeKernel) AddPolicy(ctx context.Context, p xfrm.Policy) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if err := k.call("add", p); err != nil {
		return opErr("add", p, err)
	}
	if err := p.Validate(); err != nil {
		return opErr("add", p, err)
	}
	if _, ok := k.pols[keyOf(p)]; ok {
		return opErr("add", p, syscall.EEXIST)
	}
	k.index += 8
	p.Index = k.index
	k.pols[keyOf(p)] = p
	return nil
}

func (k *fakeKernel) UpdatePolicy(ctx context.Context, p xfrm.Policy) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if err := k.call("update", p); err != nil {
		return opErr("update", p, err)
	}
	if err := p.Validate(); err != nil {
		return opErr("update", p, err)
	}
	old, ok := k.pols[keyOf(p)]
	if ok && !xfrm.OwnedPolicy(old) {
		return opErr("update", p, xfrm.ErrNotOwned)
	}
	k.index += 8
	p.Index = k.index
	k.pols[keyOf(p)] = p
	return nil
}

func (k *fakeKernel) DeletePolicy(ctx context.Context, p xfrm.Policy) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if err := k.call("delete", p); err != nil {
		return opErr("delete", p, err)
	}
	old, ok := k.pols[keyOf(p)]
	if !ok {
		return opErr("delete", p, syscall.ENOENT)
	}
	if !xfrm.OwnedPolicy(old) {
		return opErr("delete", p, xfrm.ErrNotOwned)
	}
	delete(k.pols, keyOf(p))
	return nil
}

func (k *fakeKernel) Policies(ctx context.Context) ([]xfrm.Policy, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.calls = append(k.calls, "list")
	if k.listErr != nil {
		return nil, &xfrm.OpError{Op: "list", Object: "policies", Err: k.listErr}
	}
	var out []xfrm.Policy
	for _, p := range k.pols {
		if xfrm.OwnedPolicy(p) {
			out = append(out, p)
		}
	}
	return out, nil
}

// all returns every policy, foreign ones included.
func (k *fakeKernel) all() []xfrm.Policy {
	k.mu.Lock()
	defer k.mu.Unlock()
	var out []xfrm.Policy
	for _, p := range k.pols {
		out = append(out, p)
	}
	return out
}

// render shows every policy as `ip xfrm policy` would.
func (k *fakeKernel) render() string { return xfrm.FormatPolicies(k.all()) }

// takeCalls returns and clears the call log.
func (k *fakeKernel) takeCalls() []string {
	k.mu.Lock()
	defer k.mu.Unlock()
	c := k.calls
	k.calls = nil
	return c
}

// writes counts the calls that change the SPD.
func writes(calls []string) int {
	n := 0
	for _, c := range calls {
		if !strings.HasPrefix(c, "list") {
			n++
		}
	}
	return n
}

var errNoStates = errors.New("fake kernel: SAs are not modelled")

func (k *fakeKernel) AddState(context.Context, xfrm.SA) error      { return errNoStates }
func (k *fakeKernel) UpdateState(context.Context, xfrm.SA) error   { return errNoStates }
func (k *fakeKernel) DeleteState(context.Context, xfrm.SAID) error { return errNoStates }
func (k *fakeKernel) States(context.Context) ([]xfrm.SA, error)    { return nil, nil }
func (k *fakeKernel) AllocSPI(context.Context, xfrm.SPIRequest) (uint32, error) {
	return 0, errNoStates
}
func (k *fakeKernel) Subscribe(context.Context) (<-chan xfrm.Event, error) { return nil, errNoStates }

func (k *fakeKernel) Cleanup(ctx context.Context) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	for key, p := range k.pols {
		if xfrm.OwnedPolicy(p) {
			delete(k.pols, key)
		}
	}
	return nil
}
