package wire

import (
	"errors"
	"fmt"
)

// Sentinel errors. Every error this package returns is an *Error wrapping one
// of these, so callers can branch with errors.Is and read the details with
// errors.As.
var (
	// ErrTruncated: a length field points past the end of the available octets.
	ErrTruncated = errors.New("ike/wire: truncated")
	// ErrTrailingData: octets follow the last payload or structure.
	ErrTrailingData = errors.New("ike/wire: trailing data")
	// ErrInvalid: a field holds a value the RFCs forbid (bad length, bad
	// substructure marker, count mismatch...).
	ErrInvalid = errors.New("ike/wire: invalid field")
	// ErrUnsupportedCritical: a payload of a type this package does not know
	// has the critical bit set (RFC 7296 §2.5); *Error.Payload carries the
	// type, which the caller returns in UNSUPPORTED_CRITICAL_PAYLOAD.
	ErrUnsupportedCritical = errors.New("ike/wire: unsupported critical payload")
	// ErrMajorVersion: the header's major version is not 2 (RFC 7296 §2.5);
	// the caller may answer INVALID_MAJOR_VERSION.
	ErrMajorVersion = errors.New("ike/wire: unsupported major version")
	// ErrDuplicate: a payload appears more than once where RFC 7296 allows
	// at most one (see CheckUnique).
	ErrDuplicate = errors.New("ike/wire: duplicate payload")
)

// Error describes a malformed message or payload. Error texts look like
// "ike/wire: Nonce payload at offset 60: nonce length 8 outside 16..256".
type Error struct {
	// Payload is the payload being decoded or encoded, or PayloadNone for
	// the IKE header and the payload chain itself. For ErrUnsupportedCritical
	// it is the unknown payload type.
	Payload PayloadType
	// Offset is the position in the decoded buffer (the datagram for Decode,
	// the plaintext for DecodePayloads) where the bad field starts, or -1
	// for errors found without a buffer (encoding, CheckUnique, accessors).
	Offset int
	// Field names the offending field, e.g. "nonce length".
	Field string
	// Reason says what is wrong with it, e.g. "8 outside 16..256".
	Reason string
	// Err is one of the package's sentinel errors.
	Err error
}

func (e *Error) Error() string {
	where := "message"
	if e.Payload != PayloadNone {
		where = e.Payload.String() + " payload"
	}
	if e.Offset < 0 {
		return fmt.Sprintf("ike/wire: %s: %s %s", where, e.Field, e.Reason)
	}
	return fmt.Sprintf("ike/wire: %s at offset %d: %s %s", where, e.Offset, e.Field, e.Reason)
}

// Unwrap returns the sentinel error.
func (e *Error) Unwrap() error { return e.Err }

// NotifyType returns the error notification a responder would send for this
// error (RFC 7296 §2.21.1, §3.10.1): UNSUPPORTED_CRITICAL_PAYLOAD (whose
// notification data is the one-octet e.Payload), INVALID_MAJOR_VERSION, or
// INVALID_SYNTAX for everything else. Whether to send it at all (only after
// the message authenticated, except in IKE_SA_INIT) is the caller's decision.
func (e *Error) NotifyType() NotifyType {
	switch {
	case errors.Is(e.Err, ErrUnsupportedCritical):
		return NotifyUnsupportedCriticalPayload
	case errors.Is(e.Err, ErrMajorVersion):
		return NotifyInvalidMajorVersion
	}
	return NotifyInvalidSyntax
}

// decodeErr builds a decoding *Error.
func decodeErr(sentinel error, pt PayloadType, off int, field, format string, args ...any) *Error {
	return &Error{Payload: pt, Offset: off, Field: field, Reason: fmt.Sprintf(format, args...), Err: sentinel}
}

// encodeErr builds an encoding *Error; encoding errors are always ErrInvalid.
func encodeErr(pt PayloadType, field, format string, args ...any) *Error {
	return &Error{Payload: pt, Offset: -1, Field: field, Reason: fmt.Sprintf(format, args...), Err: ErrInvalid}
}

func errReason(format string, args ...any) string { return fmt.Sprintf(format, args...) }
