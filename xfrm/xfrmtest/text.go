package xfrmtest

import (
	"github.com/oe-agent/oe-agent/xfrm"
)

// StateText renders every SA, oe-agent's and foreign ones, like
// `ip xfrm state` (see xfrm.FormatStates: sorted, keys hidden).
func (k *Kernel) StateText() string {
	k.mu.Lock()
	defer k.mu.Unlock()
	sas := make([]xfrm.SA, 0, len(k.states))
	for _, sa := range k.states {
		sas = append(sas, sa)
	}
	return xfrm.FormatStates(sas)
}

// PolicyText renders every policy like `ip xfrm policy` (see
// xfrm.FormatPolicies: sorted by direction, priority and selector).
func (k *Kernel) PolicyText() string {
	k.mu.Lock()
	defer k.mu.Unlock()
	ps := make([]xfrm.Policy, 0, len(k.policies))
	for _, p := range k.policies {
		ps = append(ps, p)
	}
	return xfrm.FormatPolicies(ps)
}

// Text renders both tables, states first, under "# ip xfrm state" and
// "# ip xfrm policy" headers: the form golden files hold.
func (k *Kernel) Text() string {
	return "# ip xfrm state\n" + k.StateText() + "# ip xfrm policy\n" + k.PolicyText()
}
