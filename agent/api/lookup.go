package api

import "time"

// Lookup is a DNS key lookup with its DNSSEC evidence, as `oectl lookup`
// shows it.
type Lookup struct {
	Target string `json:"target"` // the address or name asked about
	Name   string `json:"name"`   // the owner name queried (reverse name for an address)
	// State is secure, insecure, bogus or indeterminate (RFC 4035 §4.3).
	State  string `json:"state"`
	Reason string `json:"reason"`
	// Denial is set when the answer is an authenticated "no such record".
	Denial bool        `json:"denial,omitempty"`
	Keys   []DNSKey    `json:"keys,omitempty"`
	Chain  []ChainLink `json:"chain,omitempty"`
	TTL    uint32      `json:"ttl,omitempty"`
	At     time.Time   `json:"at"`
}

// DNSKey is one IPSECKEY or KEY record found, usable or not.
type DNSKey struct {
	Record     string `json:"record"`    // presentation format
	Algorithm  string `json:"algorithm"` // rsa, ecdsa, ed25519, dsa, unknown(N)
	Precedence uint8  `json:"precedence"`
	Gateway    string `json:"gateway,omitempty"`
	Usable     bool   `json:"usable"`
	Selected   bool   `json:"selected,omitempty"`
	Reason     string `json:"reason,omitempty"` // why not usable
}

// ChainLink is one zone of the DNSSEC chain walked, anchor first.
type ChainLink struct {
	Zone   string `json:"zone"`
	State  string `json:"state"`
	Detail string `json:"detail"` // e.g. "DS 2371 alg 13 digest 2 -> DNSKEY 2371 (KSK)"
}

// Trace explains what happens to a packet to an address now.
type Trace struct {
	Addr string `json:"addr"`
	// Source is what covers the address: "conn NAME", "group NAME (PREFIX)",
	// or "none".
	Source string `json:"source"`
	// Action is what a packet meets in the kernel now: encrypt, trap
	// (negotiate on first packet), pass, drop, hold (negotiating), clear
	// (no policy).
	Action string `json:"action"`
	// Explanation is a sentence for a person.
	Explanation string `json:"explanation"`
	Peer        *Peer  `json:"peer,omitempty"`
}

// HostKey is this host's public key and the records to publish for it.
type HostKey struct {
	Algorithm string `json:"algorithm"` // ed25519, rsa
	// PublicKey is the key in IPSECKEY public-key field form (base64).
	PublicKey string `json:"public_key"`
	// IPSECKEY is the full record with its reverse owner name, when an
	// address was given.
	IPSECKEY string `json:"ipseckey,omitempty"`
}
