package crypto

import (
	"crypto/subtle"
	"fmt"
	"log/slog"
	"strconv"
)

// Key is secret key material: SKEYSEED, an SK_* key, a KEYMAT slice, a
// shared secret. It is a []byte that refuses to print itself: String,
// GoString, Format (every verb, so also %x and %v), MarshalJSON and
// LogValue all give "[redacted N bytes]". Use the bytes only where a
// primitive or the kernel needs them.
type Key []byte

func (k Key) redacted() string { return "[redacted " + strconv.Itoa(len(k)) + " bytes]" }

// String implements fmt.Stringer without revealing the key.
func (k Key) String() string { return k.redacted() }

// GoString implements fmt.GoStringer without revealing the key.
func (k Key) GoString() string { return "crypto.Key" + k.redacted() }

// Format implements fmt.Formatter: every verb prints the redacted form.
func (k Key) Format(f fmt.State, verb rune) {
	if verb == 'v' && f.Flag('#') {
		_, _ = f.Write([]byte(k.GoString()))
		return
	}
	_, _ = f.Write([]byte(k.redacted()))
}

// MarshalJSON keeps keys out of JSON dumps and reflection-based loggers.
func (k Key) MarshalJSON() ([]byte, error) { return []byte(strconv.Quote(k.redacted())), nil }

// LogValue implements slog.LogValuer.
func (k Key) LogValue() slog.Value { return slog.StringValue(k.redacted()) }

// Equal reports whether k and o hold the same bytes, in constant time.
func (k Key) Equal(o Key) bool { return subtle.ConstantTimeCompare(k, o) == 1 }

// Clone returns a copy of k that shares no memory with it.
func (k Key) Clone() Key {
	if k == nil {
		return nil
	}
	return append(Key(nil), k...)
}

// Wipe overwrites k with zeros. Go gives no guarantee that no other copy
// exists, so this is hygiene, not a security boundary.
func (k Key) Wipe() { clear(k) }
