package ike

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"io"
	"net/netip"
	"time"
)

// cookieJar makes and checks IKE_SA_INIT cookies (RFC 7296 §2.6):
//
//	Cookie = <VersionIDofSecret> | Hash(Ni | IPi | SPIi | <secret>)
//
// with HMAC-SHA-256 keyed by the secret as the hash. The secret changes
// every lifetime; cookies made with the previous secret stay valid for one
// more period, so that initiators caught by a rotation still get in.
type cookieJar struct {
	lifetime time.Duration
	version  byte
	cur      []byte
	prev     []byte
	rotated  time.Time
}

const cookieLen = 1 + sha256.Size

// refresh rotates the secret if it is older than the lifetime.
func (j *cookieJar) refresh(now time.Time, rand io.Reader) error {
	if j.cur != nil && now.Sub(j.rotated) < j.lifetime {
		return nil
	}
	s := make([]byte, 32)
	if _, err := io.ReadFull(rand, s); err != nil {
		return fmt.Errorf("ike: cookie secret: %w", err)
	}
	j.prev, j.cur = j.cur, s
	j.version++
	j.rotated = now
	return nil
}

func cookieMAC(secret []byte, version byte, ni []byte, ip netip.Addr, spiI uint64) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write(ni)
	m.Write(ip.Unmap().AsSlice())
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], spiI)
	m.Write(b[:])
	return m.Sum([]byte{version})
}

// make returns the cookie for an initiator.
func (j *cookieJar) make(ni []byte, ip netip.Addr, spiI uint64) []byte {
	return cookieMAC(j.cur, j.version, ni, ip, spiI)
}

// valid reports whether c is a cookie we issued to this initiator under
// the current or the previous secret.
func (j *cookieJar) valid(c, ni []byte, ip netip.Addr, spiI uint64) bool {
	if len(c) != cookieLen {
		return false
	}
	switch {
	case c[0] == j.version && j.cur != nil:
		return hmac.Equal(c, cookieMAC(j.cur, j.version, ni, ip, spiI))
	case c[0] == j.version-1 && j.prev != nil:
		return hmac.Equal(c, cookieMAC(j.prev, j.version-1, ni, ip, spiI))
	}
	return false
}

// sameButCookie reports whether IKE_SA_INIT requests a and b are the same
// request apart from a leading COOKIE notification: the retry an initiator
// sends when told to (RFC 7296 §2.6: "with all other payloads unchanged").
// It compares raw octets, so a re-encoding peer is never mistaken for a
// retry.
//
// A responder needs this when one copy of a request was answered with a
// COOKIE and a retransmitted copy, arriving after the half-open count fell,
// created the SA: the initiator then signs the retry (its last
// IKE_SA_INIT) in IKE_AUTH, not the copy the SA was made from.
func sameButCookie(a, b []byte) bool {
	na, ra, ok := withoutCookie(a)
	if !ok {
		return false
	}
	nb, rb, ok := withoutCookie(b)
	if !ok {
		return false
	}
	// SPIs (0–15) and version, exchange, flags and message ID (17–23);
	// the next-payload octet (16) and the length (24–27) differ by the
	// cookie.
	return na == nb && string(a[:16]) == string(b[:16]) && string(a[17:24]) == string(b[17:24]) && string(ra) == string(rb)
}

// withoutCookie returns the first payload type and the payload octets of
// the IKE message b after a leading COOKIE notification, if any.
func withoutCookie(b []byte) (next byte, rest []byte, ok bool) {
	const hdr, notify, cookie = 28, 41, 16390
	if len(b) < hdr {
		return 0, nil, false
	}
	next, rest = b[16], b[hdr:]
	if next != notify || len(rest) < 8 || binary.BigEndian.Uint16(rest[6:8]) != cookie {
		return next, rest, true
	}
	l := int(binary.BigEndian.Uint16(rest[2:4]))
	if l < 8 || l > len(rest) {
		return 0, nil, false
	}
	return rest[0], rest[l:], true
}
