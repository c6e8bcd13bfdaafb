package dnskeys

import (
	"context"
	"fmt"
	"net/netip"
	"sort"
	"strings"
	"sync"

	"github.com/miekg/dns"
)

// KeyFinder is what the agent and oectl need from this package: the keys
// published for a peer, with DNSSEC evidence. *Resolver implements it;
// dnskeystest.Resolver is a fake.
type KeyFinder interface {
	LookupAddr(ctx context.Context, addr netip.Addr) (*KeyResult, error)
	LookupName(ctx context.Context, name string) (*KeyResult, error)
}

var _ KeyFinder = (*Resolver)(nil)

// KeyResult is the answer to "which key does this peer publish?". It is
// shared between callers while cached: treat it as read-only. Keys
// holds every key record found (IPSECKEY first, then legacy KEY), best
// first; only keys whose RRset is Secure and that are themselves acceptable
// are usable. State summarizes: Secure if a usable key exists or if DNSSEC
// proves there is none; otherwise the worst state of the lookups.
type KeyResult struct {
	// Name is the name looked up (the reverse name for an address).
	Name   string
	State  State
	Reason string
	// Keys are sorted best first; Keys[i].Refused says why a key may not
	// be used (including "not secure").
	Keys []Key
	// IPSECKEY and KEY are the underlying validated lookups (KEY is nil
	// when legacy KEY lookups are disabled).
	IPSECKEY *Result
	KEY      *Result
}

// Best returns the preferred usable key, or nil.
func (kr *KeyResult) Best() *Key {
	if kr == nil {
		return nil
	}
	for i := range kr.Keys {
		if kr.Keys[i].Usable() {
			return &kr.Keys[i]
		}
	}
	return nil
}

// Usable reports whether the result holds a key OE may use.
func (kr *KeyResult) Usable() bool { return kr.Best() != nil }

// Zones lists the zones walked by the IPSECKEY lookup.
func (kr *KeyResult) Zones() []string {
	if kr == nil || kr.IPSECKEY == nil {
		return nil
	}
	return kr.IPSECKEY.Zones
}

// LookupAddr finds the keys published in the reverse zone of addr
// (RFC 4025 §1.2).
func (r *Resolver) LookupAddr(ctx context.Context, addr netip.Addr) (*KeyResult, error) {
	name, err := ReverseName(addr)
	if err != nil {
		return nil, err
	}
	return r.LookupName(ctx, name)
}

// LookupName finds the keys published at name: IPSECKEY records and,
// unless disabled, legacy KEY records, asked in parallel within ctx.
func (r *Resolver) LookupName(ctx context.Context, name string) (*KeyResult, error) {
	cn, err := NormalizeName(name)
	if err != nil {
		return nil, err
	}
	var ipsec, key *Result
	var kerr error
	now := r.now()
	ipsec, iok := r.results.get(question{cn, dns.TypeIPSECKEY}, now)
	key, kok := r.results.get(question{cn, dns.TypeKEY}, now)
	if iok && (kok || r.noKEY) {
		// Both answers are cached: reuse the KeyResult built from them.
		if e, ok := r.keyResults.get(cn, now); ok && e.ipsec == ipsec && e.key == key {
			return e.kr, nil
		}
		kr := combineKeys(cn, ipsec, key)
		r.keyResults.put(cn, keyResultEntry{ipsec, key, kr}, r.ttls.max, now)
		return kr, nil
	}
	var wg sync.WaitGroup
	if !r.noKEY {
		wg.Add(1)
		go func() {
			defer wg.Done()
			key, kerr = r.Lookup(ctx, cn, dns.TypeKEY)
		}()
	}
	ipsec, err = r.Lookup(ctx, cn, dns.TypeIPSECKEY)
	wg.Wait()
	if err != nil {
		return nil, err
	}
	if kerr != nil {
		return nil, kerr
	}
	return combineKeys(cn, ipsec, key), nil
}

// keyResultEntry remembers the KeyResult built from two cached results; it
// is reused only while both are still the cached ones.
type keyResultEntry struct {
	ipsec, key *Result
	kr         *KeyResult
}

// combineKeys builds a KeyResult from the two lookups.
func combineKeys(name string, ipsec, key *Result) *KeyResult {
	kr := &KeyResult{Name: name, IPSECKEY: ipsec, KEY: key}
	for _, res := range []*Result{ipsec, key} {
		if res == nil {
			continue
		}
		for _, rr := range res.Answer {
			k, _ := KeyFromRR(rr)
			switch {
			case k.Refused != "":
			case res.State != Secure:
				k.Refused = fmt.Sprintf("DNSSEC state is %s, only secure keys are usable", res.State)
			case res == key && ipsec.State != Secure:
				// No downgrade: an attacker who breaks the IPSECKEY answer
				// must not push us onto the legacy record.
				k.Refused = fmt.Sprintf("legacy KEY is only a fallback when IPSECKEY is securely answered, and the IPSECKEY lookup is %s", ipsec.State)
			}
			kr.Keys = append(kr.Keys, k)
		}
	}
	SortKeys(kr.Keys)
	if best := kr.Best(); best != nil && ipsec.State == Secure {
		res := ipsec
		if best.Source == dns.TypeKEY {
			res = key
		}
		kr.State = Secure
		kr.Reason = fmt.Sprintf("%s; using %s", res.Reason, best.String())
		return kr
	}
	kr.State = Secure
	for _, res := range []*Result{ipsec, key} {
		if res != nil && res.State != Secure && (kr.State == Secure || worse(res.State, kr.State)) {
			kr.State = res.State
			kr.Reason = res.Reason
		}
	}
	if kr.State == Secure {
		var why []string
		for _, k := range kr.Keys {
			why = append(why, k.String())
		}
		switch {
		case len(kr.Keys) == 0:
			kr.Reason = ipsec.Reason
			if key != nil {
				kr.Reason += "; " + key.Reason
			}
		default:
			kr.Reason = "secure: no usable key: " + strings.Join(why, "; ")
		}
	}
	return kr
}

// SortKeys orders keys best first: usable keys before refused ones,
// IPSECKEY before legacy KEY, lower precedence first (RFC 4025 §2.2), then
// EdDSA, ECDSA, RSA; the order is otherwise stable.
func SortKeys(keys []Key) {
	pref := func(a Algorithm) int {
		switch a {
		case AlgEdDSA:
			return 0
		case AlgECDSA:
			return 1
		case AlgRSA:
			return 2
		}
		return 3
	}
	sort.SliceStable(keys, func(i, j int) bool {
		a, b := &keys[i], &keys[j]
		if a.Usable() != b.Usable() {
			return a.Usable()
		}
		if a.Source != b.Source {
			return a.Source == dns.TypeIPSECKEY
		}
		if a.Precedence != b.Precedence {
			return a.Precedence < b.Precedence
		}
		return pref(a.Algorithm) < pref(b.Algorithm)
	})
}
