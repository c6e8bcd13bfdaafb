package oetest

import (
	"net/netip"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/oe-agent/oe-agent/internal/testenv"
)

// TestNetnsWorld checks the rig itself on the host kernel: every host
// reaches every other over IPv4 and IPv6, and the resolver in the dns
// namespace answers the signed tree's reverse names with DNSSEC records.
func TestNetnsWorld(t *testing.T) {
	testenv.RequireNetns(t)
	t.Parallel()
	w := NewWorld(t, Options{})

	t.Run("ping", func(t *testing.T) {
		hosts := w.Hosts()
		for _, from := range hosts {
			for _, to := range hosts {
				if from == to {
					continue
				}
				for _, dst := range []netip.Addr{to.Addr4, to.Addr6} {
					if _, err := from.Ping(dst, 3*time.Second); err != nil {
						t.Errorf("%s -> %s (%s): %v", from, to, dst, err)
					}
				}
			}
		}
	})

	t.Run("resolver", func(t *testing.T) {
		for _, r := range w.Server.Resolvers {
			for _, h := range []*Host{w.West, w.East} {
				for _, a := range []netip.Addr{h.Addr4, h.Addr6} {
					m, err := w.West.Query(r, ReverseName(t, a), dns.TypeIPSECKEY, true)
					if err != nil {
						t.Fatal(err)
					}
					var key *dns.IPSECKEY
					sigs := 0
					for _, rr := range m.Answer {
						switch rr := rr.(type) {
						case *dns.IPSECKEY:
							key = rr
						case *dns.RRSIG:
							sigs++
						}
					}
					if m.Rcode != dns.RcodeSuccess || key == nil || sigs == 0 {
						t.Errorf("%s IPSECKEY at %s: want the key and its RRSIG, got\n%s", a, r, m)
						continue
					}
					if key.PublicKey != h.Key.PublicBase64(t) || key.Algorithm != 4 {
						t.Errorf("%s IPSECKEY: %s, want %s's Ed25519 key", a, key, h)
					}
				}
			}
			// nokey: the name exists (PTR) with no IPSECKEY: NODATA with
			// its signed NSEC.
			m, err := w.West.Query(r, ReverseName(t, w.NoKey.Addr4), dns.TypeIPSECKEY, true)
			if err != nil {
				t.Fatal(err)
			}
			if m.Rcode != dns.RcodeSuccess || len(m.Answer) != 0 || !hasType(m.Ns, dns.TypeNSEC) {
				t.Errorf("nokey IPSECKEY at %s: want NODATA with NSEC, got\n%s", r, m)
			}
			// bogus: served, with a signature that does not verify.
			m, err = w.West.Query(r, ReverseName(t, w.Bogus.Addr4), dns.TypeIPSECKEY, true)
			if err != nil {
				t.Fatal(err)
			}
			if !hasType(m.Answer, dns.TypeIPSECKEY) || !hasType(m.Answer, dns.TypeRRSIG) {
				t.Errorf("bogus IPSECKEY at %s: want the record and its (broken) RRSIG, got\n%s", r, m)
			}
		}
	})
}

func hasType(rrs []dns.RR, t uint16) bool {
	for _, rr := range rrs {
		if rr.Header().Rrtype == t {
			return true
		}
	}
	return false
}
