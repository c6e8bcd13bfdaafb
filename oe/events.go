package oe

import (
	"crypto"
	"net/netip"
	"time"

	"github.com/oe-agent/oe-agent/trap"
)

// An Event is something the engine reacts to. The agent turns kernel
// ACQUIREs, DNS answers and IKE outcomes into events and feeds them to
// Engine.Handle with the current time.
type Event interface{ event() }

// Acquire is a kernel ACQUIRE: a packet from Local to Remote hit the trap
// of Group (known from the template's reqid, trap.GroupOfReqid).
type Acquire struct {
	Local, Remote netip.Addr
	Group         trap.Group
	Seq           uint32 // the kernel's sequence number, for ALLOCSPI
}

// Inbound is an IKE_SA_INIT from Remote, which has no IKE SA with us yet.
// The engine answers with Accept or Refuse.
type Inbound struct {
	Local, Remote netip.Addr
	// Group is the group covering Remote, or 0 if none does.
	Group trap.Group
}

// KeyOutcome is the DNSSEC verdict on a peer's key lookup.
type KeyOutcome uint8

// Key lookup outcomes. Only KeySecure yields a key; KeyDenied is a Secure
// proof that the peer publishes none (RFC 4035 §5.4).
const (
	KeySecure KeyOutcome = iota + 1
	KeyDenied
	KeyInsecure
	KeyBogus
	KeyIndeterminate
)

func (o KeyOutcome) String() string {
	return [...]string{"?", "secure", "denied", "insecure", "bogus", "indeterminate"}[o]
}

// KeyResult is the answer to a Lookup action.
type KeyResult struct {
	Remote  netip.Addr
	Outcome KeyOutcome
	Key     crypto.PublicKey // KeySecure only
	// Detail says where the verdict comes from ("dns secure (., in-addr.arpa.)",
	// the validator's reason for Bogus).
	Detail string
}

// Negotiated reports that the IKE SA between Local and Remote is up and
// its Child SA installed with Reqid.
type Negotiated struct {
	Local     netip.Addr
	Remote    netip.Addr
	Reqid     uint32
	Anonymous bool // NULL authentication (RFC 7619)
	Initiator bool
}

// Failed reports that negotiation between Local and Remote failed before
// an SA came up.
type Failed struct {
	Local  netip.Addr
	Remote netip.Addr
	Err    error
}

// Closed reports that the SA between Local and Remote is gone: deleted by
// the peer, by us, or declared dead (liveness check, INVALID_SPI).
type Closed struct {
	Local  netip.Addr
	Remote netip.Addr
	Err    error
}

// Activity reports when the SA between Local and Remote last carried
// traffic (from the kernel's counters), for idle expiry.
type Activity struct {
	Local    netip.Addr
	Remote   netip.Addr
	LastUsed time.Time
}

func (Acquire) event()    {}
func (Inbound) event()    {}
func (KeyResult) event()  {}
func (Negotiated) event() {}
func (Failed) event()     {}
func (Closed) event()     {}
func (Activity) event()   {}

// An Action is something the engine asks the agent to do.
type Action interface{ action() }

// Lookup asks for Remote's key in DNS (its reverse zone); answer with a
// KeyResult.
type Lookup struct{ Remote netip.Addr }

// Initiate asks the agent to start IKE with Remote now, in parallel with
// the key lookup: the key is needed only to verify IKE_AUTH (it is handed
// over with Supply). AllowNull permits NULL authentication.
type Initiate struct {
	Local, Remote netip.Addr
	Seq           uint32
	Reqid         uint32
	AllowNull     bool
}

// Supply hands the looked-up key (or, with Key nil and Anonymous set, the
// permission to fall back to NULL authentication) to the IKE SA with Remote.
type Supply struct {
	Remote    netip.Addr
	Key       crypto.PublicKey
	Anonymous bool
}

// Accept lets the IKE responder answer Remote; the peer's key comes from
// a Lookup issued with it.
type Accept struct {
	Remote    netip.Addr
	Reqid     uint32
	AllowNull bool
}

// Refuse tells the IKE responder to ignore Remote.
type Refuse struct {
	Remote netip.Addr
	Reason string
}

// Abort asks the agent to stop negotiating between Local and Remote (no
// SA installed).
type Abort struct {
	Local  netip.Addr
	Remote netip.Addr
	Reason string
}

// Teardown asks the agent to delete the SA between Local and Remote
// (idle, or replaced).
type Teardown struct {
	Local  netip.Addr
	Remote netip.Addr
	Reqid  uint32
	Reason string
}

// PoliciesChanged tells the agent to recompute the kernel policy set:
// Engine.Entries has changed.
type PoliciesChanged struct{}

func (Lookup) action()          {}
func (Initiate) action()        {}
func (Supply) action()          {}
func (Accept) action()          {}
func (Refuse) action()          {}
func (Abort) action()           {}
func (Teardown) action()        {}
func (PoliciesChanged) action() {}
