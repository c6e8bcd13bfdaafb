package dnskeys

import (
	"fmt"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// State is the DNSSEC security state of a result (RFC 4035 §4.3).
type State uint8

// Security states. The zero value is Indeterminate so that a Result nobody
// filled in is never mistaken for a proof.
const (
	// Indeterminate: no trust anchor covers the name, or the records needed
	// to decide could not be fetched (timeout, server failure).
	Indeterminate State = iota
	// Insecure: a validated chain proves that the name lies below an
	// unsigned delegation (no DS), or the zone uses only algorithms or
	// parameters this validator does not support.
	Insecure
	// Bogus: a signature, key or denial that should be there is missing or
	// does not verify. The answer may be under attack.
	Bogus
	// Secure: a chain of signatures from a trust anchor proves the answer,
	// positive or negative.
	Secure
)

func (s State) String() string {
	switch s {
	case Secure:
		return "secure"
	case Insecure:
		return "insecure"
	case Bogus:
		return "bogus"
	case Indeterminate:
		return "indeterminate"
	}
	return fmt.Sprintf("state-%d", uint8(s))
}

// MarshalText renders the state by name, for JSON status output.
func (s State) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// worse reports whether a is a worse outcome than b when results combine:
// Bogus > Indeterminate > Insecure > Secure.
func worse(a, b State) bool { return rank(a) > rank(b) }

func rank(s State) int {
	switch s {
	case Secure:
		return 0
	case Insecure:
		return 1
	case Indeterminate:
		return 2
	}
	return 3
}

// Denial says what a negative answer proved.
type Denial uint8

// Denial kinds.
const (
	DenialNone     Denial = iota // a positive answer
	DenialNXDomain               // the name does not exist (RFC 2308 §2.1)
	DenialNoData                 // the name exists but has no record of the type (RFC 2308 §2.2)
)

func (d Denial) String() string {
	switch d {
	case DenialNXDomain:
		return "nxdomain"
	case DenialNoData:
		return "nodata"
	}
	return "none"
}

// MarshalText renders the denial kind by name.
func (d Denial) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// Result is the outcome of validating one lookup: its security state, a
// reason a person can read, and the evidence trail.
type Result struct {
	// Name and Type are the question.
	Name string
	Type uint16
	// State is the DNSSEC state (RFC 4035 §4.3).
	State State
	// Reason explains State in one line, naming the zone that decided it,
	// e.g. "bogus: RRSIG over 1.2.0.192.in-addr.arpa. IPSECKEY expired
	// 2026-11-01T00:00:00Z (zone 2.0.192.in-addr.arpa.)".
	Reason string
	// Zone is the zone that decided the outcome (the failing zone for
	// Bogus, the unsigned delegation for Insecure, the answer's zone for
	// Secure).
	Zone string
	// Zones lists the zones whose keys were walked, trust anchor first.
	Zones []string
	// Denial is set for negative answers. A Secure result with a Denial is
	// an authenticated "no such record".
	Denial Denial
	// Answer holds the final RRset (after any CNAME chain) when the answer
	// is positive; CNAMEs lists the chain's links.
	Answer []dns.RR
	CNAMEs []string
	// TTL bounds how long the result may be cached: the smallest TTL of the
	// records it rests on, capped by their signatures' expiry.
	TTL time.Duration
}

// Secure reports whether the result is Secure.
func (r *Result) Secure() bool { return r != nil && r.State == Secure }

func (r *Result) String() string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "%s %s: %s", r.Name, dns.TypeToString[r.Type], r.Reason)
	if len(r.Zones) > 0 {
		fmt.Fprintf(&sb, " [zones %s]", strings.Join(r.Zones, " -> "))
	}
	return sb.String()
}

// outcome is an intermediate verdict inside the validator.
type outcome struct {
	state  State
	reason string
	zone   string
	ttl    uint32
}

func secureOutcome(zone string, ttl uint32, format string, args ...any) outcome {
	return outcome{state: Secure, zone: zone, ttl: ttl, reason: "secure: " + fmt.Sprintf(format, args...)}
}

func insecureOutcome(zone string, format string, args ...any) outcome {
	return outcome{state: Insecure, zone: zone, reason: "insecure: " + fmt.Sprintf(format, args...) + zoneSuffix(zone)}
}

func bogusOutcome(zone string, format string, args ...any) outcome {
	return outcome{state: Bogus, zone: zone, reason: "bogus: " + fmt.Sprintf(format, args...) + zoneSuffix(zone)}
}

func indeterminateOutcome(zone string, format string, args ...any) outcome {
	return outcome{state: Indeterminate, zone: zone, reason: "indeterminate: " + fmt.Sprintf(format, args...) + zoneSuffix(zone)}
}

func zoneSuffix(zone string) string {
	if zone == "" {
		return ""
	}
	return " (zone " + zone + ")"
}

func minTTL(a, b uint32) uint32 {
	if a < b {
		return a
	}
	return b
}

func typeName(t uint16) string {
	if s, ok := dns.TypeToString[t]; ok {
		return s
	}
	return fmt.Sprintf("TYPE%d", t)
}
