package crypto

import (
	"bytes"
	"crypto/hmac"
	"encoding/hex"
	"hash"
	"strings"
	"testing"
)

// unhex decodes hex written as in the RFCs: any case, with spaces and
// newlines between groups.
func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.Join(strings.Fields(s), ""))
	if err != nil {
		t.Fatalf("bad hex in test: %v", err)
	}
	return b
}

// fixedReader returns the given bytes, then fails: a deterministic "random"
// source for IVs in known-answer tests.
type fixedReader struct{ b []byte }

func (r *fixedReader) Read(p []byte) (int, error) {
	if len(r.b) == 0 {
		return 0, bytes.ErrTooLarge
	}
	n := copy(p, r.b)
	r.b = r.b[n:]
	return n, nil
}

// countingReader is an endless deterministic byte source for round trips.
type countingReader struct{ n byte }

func (r *countingReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = r.n
		r.n++
	}
	return len(p), nil
}

// refPRFPlus is prf+ of RFC 7296 §2.13 written out with crypto/hmac only,
// as an independent reference for the package's Expand.
func refPRFPlus(h func() hash.Hash, key, seed []byte, n int) []byte {
	var out, t []byte
	for i := byte(1); len(out) < n; i++ {
		m := hmac.New(h, key)
		m.Write(t)
		m.Write(seed)
		m.Write([]byte{i})
		t = m.Sum(nil)
		out = append(out, t...)
	}
	return out[:n]
}

func refHMAC(h func() hash.Hash, key []byte, data ...[]byte) []byte {
	m := hmac.New(h, key)
	for _, d := range data {
		m.Write(d)
	}
	return m.Sum(nil)
}
