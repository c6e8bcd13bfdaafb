package ike

import (
	"errors"
	"fmt"

	"github.com/oe-agent/oe-agent/ike/wire"
)

// NotifyError is an error notification (RFC 7296 §3.10.1): one the peer sent
// us, reported in Closed or ChildFailed, or one this end answered with.
// Callers branch on it with errors.As or errors.Is(err, NotifyError(n)).
type NotifyError wire.NotifyType

func (e NotifyError) Error() string { return "ike: " + wire.NotifyType(e).String() }

// Notify errors callers commonly branch on.
const (
	ErrNoProposalChosen    = NotifyError(wire.NotifyNoProposalChosen)
	ErrAuthenticationFail  = NotifyError(wire.NotifyAuthenticationFailed)
	ErrTSUnacceptable      = NotifyError(wire.NotifyTSUnacceptable)
	ErrInvalidKEPayload    = NotifyError(wire.NotifyInvalidKEPayload)
	ErrTemporaryFailure    = NotifyError(wire.NotifyTemporaryFailure)
	ErrChildSANotFound     = NotifyError(wire.NotifyChildSANotFound)
	ErrInvalidSyntax       = NotifyError(wire.NotifyInvalidSyntax)
	ErrNoAdditionalSAs     = NotifyError(wire.NotifyNoAdditionalSAs)
	ErrSinglePairRequired  = NotifyError(wire.NotifySinglePairRequired)
	ErrUnsupportedCritical = NotifyError(wire.NotifyUnsupportedCriticalPayload)
)

// Sentinel errors. Errors returned by this package wrap one of these (or a
// NotifyError, or an *wire.Error for malformed input) with context.
var (
	// ErrMalformed: the datagram does not parse (it also wraps the
	// *wire.Error saying why).
	ErrMalformed = errors.New("ike: malformed message")
	// ErrOversized: the datagram is longer than MaxDatagram.
	ErrOversized = errors.New("ike: message too large")
	// ErrIntegrity: the SK payload did not authenticate (RFC 7296 §2.21.1:
	// dropped silently).
	ErrIntegrity = errors.New("ike: integrity check failed")
	// ErrUnknownSPI: no IKE SA has the message's SPIs.
	ErrUnknownSPI = errors.New("ike: unknown IKE SPI")
	// ErrCookieRequired: an IKE_SA_INIT request came without a valid
	// cookie while the responder is under load (RFC 7296 §2.6); it was
	// answered with a COOKIE notification and no state was kept.
	ErrCookieRequired = errors.New("ike: cookie required")
	// ErrInvalidCookie: the request carried a cookie we did not issue, or
	// one made with an expired secret; it was answered with a fresh one.
	ErrInvalidCookie = errors.New("ike: invalid cookie")
	// ErrReplayedInit: an IKE_SA_INIT request repeats one whose IKE SA is
	// past the initial exchange.
	ErrReplayedInit = errors.New("ike: replayed IKE_SA_INIT")
	// ErrMessageID: the Message ID is outside the window (RFC 7296 §2.3).
	ErrMessageID = errors.New("ike: message ID outside the window")
	// ErrUnexpected: the message is valid but not expected in this state
	// (wrong exchange, response without request, missing payloads).
	ErrUnexpected = errors.New("ike: unexpected message")
	// ErrAuth: the peer failed authentication (wrong AUTH, unexpected
	// identity or method, unusable key).
	ErrAuth = errors.New("ike: peer authentication failed")
	// ErrTimeout: a request was sent Retransmit.Tries times unanswered.
	ErrTimeout = errors.New("ike: peer not responding")
	// ErrPeerDeleted: the peer deleted the IKE SA.
	ErrPeerDeleted = errors.New("ike: IKE SA deleted by peer")
	// ErrClosed: the SA is closed; commands are refused.
	ErrClosed = errors.New("ike: IKE SA closed")
	// ErrBusy: a command cannot run now (e.g. a rekey of something that is
	// already being rekeyed or deleted).
	ErrBusy = errors.New("ike: operation already in progress")
	// ErrRefused: the Dispatcher's ResponderFor has no policy for the peer.
	ErrRefused = errors.New("ike: peer refused by policy")
	// ErrNoChild: no Child SA has the given SPI.
	ErrNoChild = errors.New("ike: no such Child SA")
	// ErrHalfOpenExpired: a responder IKE SA did not complete IKE_AUTH in
	// time.
	ErrHalfOpenExpired = errors.New("ike: half-open IKE SA expired")
)

// malformed wraps a codec error so that both ErrMalformed and the *wire.Error
// are visible to errors.Is / errors.As.
func malformed(what string, err error) error {
	return fmt.Errorf("%w: %s: %w", ErrMalformed, what, err)
}

// notifyOf returns the first error notification (type < 16384) in ps.
func notifyOf(ps []wire.Payload) (*wire.Notify, bool) {
	for _, p := range ps {
		if n, ok := p.(*wire.Notify); ok && n.NotifyType < 16384 {
			return n, true
		}
	}
	return nil, false
}
