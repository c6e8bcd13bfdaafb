package config

import (
	"encoding/hex"
	"fmt"
)

// redacted is what every printing method writes in place of key material.
const redacted = "<redacted>"

// Bytes returns the key material.
func (k Key) Bytes() []byte { return []byte(k) }

// Hex returns the key as "0x..." as ipsec.conf writes it. Only the
// configuration writer (Format) should call it.
func (k Key) Hex() string {
	if len(k) == 0 {
		return ""
	}
	return "0x" + hex.EncodeToString(k)
}

func (k Key) String() string   { return keySummary(len(k)) }
func (k Key) GoString() string { return "config.Key(" + keySummary(len(k)) + ")" }

// Format makes every fmt verb (%v, %s, %x, %q, %#v ...) print the summary,
// so key bytes cannot reach a log by accident.
func (k Key) Format(f fmt.State, verb rune) {
	if verb == 'v' && f.Flag('#') {
		fmt.Fprint(f, k.GoString())
		return
	}
	fmt.Fprint(f, k.String())
}

func keySummary(n int) string {
	if n == 0 {
		return "<none>"
	}
	return fmt.Sprintf("%s %d bytes", redacted, n)
}
