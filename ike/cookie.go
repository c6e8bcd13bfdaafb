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
