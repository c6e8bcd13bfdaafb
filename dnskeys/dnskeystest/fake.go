package dnskeystest

import (
	"context"
	"crypto"
	"encoding/base64"
	"fmt"
	"net/netip"
	"sync"
	"time"

	"github.com/miekg/dns"
	"github.com/oe-agent/oe-agent/dnskeys"
)

// Resolver is a fake dnskeys.KeyFinder returning configured results. Names
// are matched in canonical form; an address is looked up by its reverse
// name, as the real Resolver does. Unconfigured names give an Indeterminate
// result. It is safe for concurrent use.
type Resolver struct {
	// Delay, if set, is waited (or the context's end) before answering.
	Delay time.Duration

	mu      sync.Mutex // guards results and calls
	results map[string]*dnskeys.KeyResult
	calls   []string
}

var _ dnskeys.KeyFinder = (*Resolver)(nil)

// NewResolver returns an empty fake.
func NewResolver() *Resolver { return &Resolver{results: map[string]*dnskeys.KeyResult{}} }

// SetName configures the result for a name.
func (r *Resolver) SetName(name string, kr *dnskeys.KeyResult) {
	n, err := dnskeys.NormalizeName(name)
	if err != nil {
		panic(err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.results[n] = kr
}

// SetAddr configures the result for an address.
func (r *Resolver) SetAddr(addr netip.Addr, kr *dnskeys.KeyResult) {
	n, err := dnskeys.ReverseName(addr)
	if err != nil {
		panic(err)
	}
	r.SetName(n, kr)
}

// Calls returns the names looked up so far, in order.
func (r *Resolver) Calls() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.calls...)
}

// LookupAddr implements dnskeys.KeyFinder.
func (r *Resolver) LookupAddr(ctx context.Context, addr netip.Addr) (*dnskeys.KeyResult, error) {
	n, err := dnskeys.ReverseName(addr)
	if err != nil {
		return nil, err
	}
	return r.LookupName(ctx, n)
}

// LookupName implements dnskeys.KeyFinder.
func (r *Resolver) LookupName(ctx context.Context, name string) (*dnskeys.KeyResult, error) {
	n, err := dnskeys.NormalizeName(name)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	r.calls = append(r.calls, n)
	kr := r.results[n]
	r.mu.Unlock()
	if r.Delay > 0 {
		select {
		case <-time.After(r.Delay):
		case <-ctx.Done():
			return &dnskeys.KeyResult{Name: n, State: dnskeys.Indeterminate,
				Reason: "indeterminate: " + ctx.Err().Error()}, nil
		}
	}
	if kr == nil {
		return &dnskeys.KeyResult{Name: n, State: dnskeys.Indeterminate,
			Reason: "indeterminate: dnskeystest: no result configured for " + n}, nil
	}
	return kr, nil
}

// SecureKey builds the KeyResult of a name that publishes one IPSECKEY
// (precedence 10, no gateway) for pub, proven Secure.
func SecureKey(name string, pub crypto.PublicKey) *dnskeys.KeyResult {
	n, err := dnskeys.NormalizeName(name)
	if err != nil {
		panic(err)
	}
	alg, b64, err := dnskeys.PublicKeyBase64(pub)
	if err != nil {
		panic(err)
	}
	raw, _ := base64.StdEncoding.DecodeString(b64)
	k, err := dnskeys.ParseIPSECKEY(append([]byte{10, 0, byte(alg)}, raw...))
	if err != nil {
		panic(err)
	}
	k.Owner = n
	res := &dnskeys.Result{Name: n, Type: dns.TypeIPSECKEY, State: dnskeys.Secure,
		Reason: "secure: " + n + " IPSECKEY (dnskeystest)", Zones: []string{"."}}
	return &dnskeys.KeyResult{Name: n, State: dnskeys.Secure, Reason: res.Reason, Keys: []dnskeys.Key{k}, IPSECKEY: res}
}

// Failed builds a KeyResult in the given non-secure state with a reason.
func Failed(name string, state dnskeys.State, reason string) *dnskeys.KeyResult {
	n, err := dnskeys.NormalizeName(name)
	if err != nil {
		panic(err)
	}
	r := fmt.Sprintf("%s: %s", state, reason)
	return &dnskeys.KeyResult{Name: n, State: state, Reason: r,
		IPSECKEY: &dnskeys.Result{Name: n, Type: dns.TypeIPSECKEY, State: state, Reason: r}}
}
