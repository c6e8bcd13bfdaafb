package wire

// Find returns the first payload of type t in ps, or nil.
func Find(ps []Payload, t PayloadType) Payload {
	for _, p := range ps {
		if p != nil && p.Type() == t {
			return p
		}
	}
	return nil
}

// FindNotify returns the first notification of type t in ps, or nil.
func FindNotify(ps []Payload, t NotifyType) *Notify {
	for _, p := range ps {
		if n, ok := p.(*Notify); ok && n.NotifyType == t {
			return n
		}
	}
	return nil
}

// uniquePayloads are the payload types that may appear at most once in a
// message or an SK payload's inner chain. RFC 7296 §1.2-§1.5 and §2.19 define
// each exchange with at most one of these; CERT, CERTREQ, N, D, V and CP may
// repeat (and a second AUTH only comes in a separate exchange, RFC 4739).
var uniquePayloads = [...]PayloadType{
	PayloadSA, PayloadKE, PayloadNonce, PayloadIDi, PayloadIDr,
	PayloadAuth, PayloadTSi, PayloadTSr, PayloadSK, PayloadSKF,
}

// CheckUnique returns an ErrDuplicate *Error naming the first payload type
// that appears more than once in ps among SA, KE, Ni/Nr, IDi, IDr, AUTH,
// TSi, TSr, SK and SKF. Decode does not call it, so that the exchange
// handlers decide which message needs the check; they normally all do.
func CheckUnique(ps []Payload) error {
	var seen [256]bool
	for i, p := range ps {
		if p == nil {
			continue
		}
		t := p.Type()
		for _, u := range uniquePayloads {
			if t != u {
				continue
			}
			if seen[t] {
				return &Error{Payload: t, Offset: -1, Field: "payload", Reason: errReason("repeated (number %d in the chain)", i+1), Err: ErrDuplicate}
			}
			seen[t] = true
		}
	}
	return nil
}
