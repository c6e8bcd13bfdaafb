package ike

import (
	"errors"
	"net/netip"
	"testing"
	"time"

	"github.com/oe-agent/oe-agent/ike/crypto"
	"github.com/oe-agent/oe-agent/ike/wire"
)

var (
	addrI = netip.MustParseAddrPort("192.0.2.1:500")
	addrR = netip.MustParseAddrPort("192.0.2.2:500")
)

func testConfig() *Config {
	psk := []byte("internal test key, long enough")
	return &Config{
		LocalAuth:      LocalAuth{Method: AuthPSK, PSK: psk},
		Peer:           PeerAuth{PSK: psk},
		IKEProposals:   DefaultIKEProposals(),
		ChildProposals: DefaultChildProposals(),
	}
}

// establish runs a handshake between two SAs by hand (the iketest harness
// cannot be used inside the package).
func establish(t testing.TB) (i, r *SA, dr *Dispatcher) {
	t.Helper()
	now := time.Unix(0, 0)
	di, _ := NewDispatcher(DispatcherConfig{})
	dr, err := NewDispatcher(DispatcherConfig{Responder: testConfig()})
	if err != nil {
		t.Fatal(err)
	}
	i, acts, err := di.Initiate(now, testConfig(), addrI, addrR)
	if err != nil {
		t.Fatal(err)
	}
	for len(acts) > 0 {
		var next []Action
		for _, a := range acts {
			s, ok := a.(Send)
			if !ok {
				continue
			}
			d, from := dr, addrI
			if s.Remote == addrI {
				d, from = di, addrR
			}
			sa, out, err := d.Handle(now, s.Remote, from, s.Data)
			if err != nil {
				t.Fatal(err)
			}
			if d == dr {
				r = sa
			}
			next = append(next, out...)
		}
		acts = next
	}
	if !i.Established() || !r.Established() {
		t.Fatal("not established")
	}
	return i, r, dr
}

// sealRaw encrypts arbitrary inner octets as an INFORMATIONAL request
// from i.
func sealRaw(t testing.TB, i *SA, first wire.PayloadType, plain []byte) []byte {
	return sealRawAs(t, i, wire.ExchangeInformational, i.cur.nextID, first, plain)
}

// sealRawAs encrypts arbitrary inner octets as request id of exchange ex
// from i.
func sealRawAs(t testing.TB, i *SA, ex wire.ExchangeType, id uint32, first wire.PayloadType, plain []byte) []byte {
	t.Helper()
	g := i.cur
	h := wire.Header{SPIi: g.spiI, SPIr: g.spiR, Exchange: ex, MessageID: id, Flags: wire.FlagInitiator}
	msg, l, err := wire.EncodeSK(h, nil, first, 0, g.out.SealedLen(len(plain)), 0)
	if err != nil {
		t.Fatal(err)
	}
	out, err := g.out.Seal(msg[:l.IV], msg[:l.IV], plain, i.rand)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestInnerErrorsAnswered: payload errors inside an authenticated message
// are answered with INVALID_SYNTAX or UNSUPPORTED_CRITICAL_PAYLOAD (RFC
// 7296 §2.21.2, §2.5), unlike errors before the integrity check.
func TestInnerErrorsAnswered(t *testing.T) {
	for _, tc := range []struct {
		name  string
		first wire.PayloadType
		plain []byte
		want  wire.NotifyType
		data  []byte
	}{
		{"short nonce", wire.PayloadNonce, []byte{0, 0, 0, 8, 1, 2, 3, 4}, wire.NotifyInvalidSyntax, nil},
		{"unknown critical", 200, []byte{0, 0x80, 0, 5, 9}, wire.NotifyUnsupportedCriticalPayload, []byte{200}},
		{"two nonces", wire.PayloadNonce, append(append([]byte{40, 0, 0, 20}, make([]byte, 16)...), append([]byte{0, 0, 0, 20}, make([]byte, 16)...)...), wire.NotifyInvalidSyntax, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			i, r, dr := establish(t)
			now := time.Unix(1, 0)
			msg := sealRaw(t, i, tc.first, tc.plain)
			_, acts, err := dr.Handle(now, addrR, addrI, msg)
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v, want ErrMalformed", err)
			}
			if len(acts) != 1 {
				t.Fatalf("%d actions, want the error response", len(acts))
			}
			ps, err := i.open(i.cur, acts[0].(Send).Data)
			if err != nil {
				t.Fatal(err)
			}
			n, ok := ps[0].(*wire.Notify)
			if len(ps) != 1 || !ok || n.NotifyType != tc.want || string(n.Data) != string(tc.data) {
				t.Fatalf("response %v, want N(%v)", ps, tc.want)
			}
			if !r.Established() {
				t.Error("INFORMATIONAL error closed the IKE SA")
			}
		})
	}
}

func ts(a, b string, proto uint8, lo, hi uint16) TrafficSelector {
	s, e := netip.MustParseAddr(a), netip.MustParseAddr(b)
	t := wire.TSIPv4AddrRange
	if s.Is6() {
		t = wire.TSIPv6AddrRange
	}
	return TrafficSelector{Type: t, IPProtocol: proto, StartAddr: s, EndAddr: e, StartPort: lo, EndPort: hi}
}

// TestNarrow checks RFC 7296 §2.9 narrowing case by case.
func TestNarrow(t *testing.T) {
	tests := []struct {
		name       string
		peer, ours []TrafficSelector
		want       []string
	}{
		{"identical", []TrafficSelector{ts("192.0.2.1", "192.0.2.1", 0, 0, 65535)}, []TrafficSelector{ts("192.0.2.1", "192.0.2.1", 0, 0, 65535)},
			[]string{"192.0.2.1-192.0.2.1[proto=0,ports=0-65535]"}},
		{"subnet to host", []TrafficSelector{ts("192.0.2.0", "192.0.2.255", 0, 0, 65535)}, []TrafficSelector{ts("192.0.2.7", "192.0.2.7", 0, 0, 65535)},
			[]string{"192.0.2.7-192.0.2.7[proto=0,ports=0-65535]"}},
		{"protocol and ports", []TrafficSelector{ts("192.0.2.0", "192.0.2.255", 6, 0, 65535)}, []TrafficSelector{ts("192.0.2.0", "192.0.2.127", 0, 80, 443)},
			[]string{"192.0.2.0-192.0.2.127[proto=6,ports=80-443]"}},
		{"protocol mismatch", []TrafficSelector{ts("192.0.2.0", "192.0.2.255", 6, 0, 65535)}, []TrafficSelector{ts("192.0.2.0", "192.0.2.255", 17, 0, 65535)}, nil},
		{"disjoint", []TrafficSelector{ts("192.0.2.0", "192.0.2.127", 0, 0, 65535)}, []TrafficSelector{ts("192.0.2.128", "192.0.2.255", 0, 0, 65535)}, nil},
		{"families", []TrafficSelector{ts("192.0.2.0", "192.0.2.255", 0, 0, 65535)}, []TrafficSelector{ts("2001:db8::", "2001:db8::ffff", 0, 0, 65535)}, nil},
		{"opaque ports", []TrafficSelector{ts("192.0.2.1", "192.0.2.1", 17, 65535, 0)}, []TrafficSelector{ts("192.0.2.1", "192.0.2.1", 0, 0, 65535)},
			[]string{"192.0.2.1-192.0.2.1[proto=17,ports=65535-0]"}},
		{"opaque vs range", []TrafficSelector{ts("192.0.2.1", "192.0.2.1", 17, 65535, 0)}, []TrafficSelector{ts("192.0.2.1", "192.0.2.1", 0, 53, 53)}, nil},
		{"two of ours", []TrafficSelector{ts("2001:db8::", "2001:db8::ffff", 0, 0, 65535)},
			[]TrafficSelector{ts("2001:db8::1", "2001:db8::1", 0, 0, 65535), ts("2001:db8::100", "2001:db8::1ff", 58, 0, 65535)},
			[]string{"2001:db8::1-2001:db8::1[proto=0,ports=0-65535]", "2001:db8::100-2001:db8::1ff[proto=58,ports=0-65535]"}},
		{"reversed range", []TrafficSelector{ts("192.0.2.9", "192.0.2.1", 0, 0, 65535)}, []TrafficSelector{ts("192.0.2.0", "192.0.2.255", 0, 0, 65535)}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := narrow(tc.peer, tc.ours)
			if len(got) != len(tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
			for i := range got {
				if got[i].String() != tc.want[i] {
					t.Errorf("selector %d: %s, want %s", i, got[i], tc.want[i])
				}
			}
			if len(got) > 0 && !coveredBy(got, tc.peer) {
				t.Error("narrowed result not within the peer's proposal")
			}
		})
	}
	if coveredBy([]TrafficSelector{ts("192.0.2.0", "192.0.2.255", 0, 0, 65535)}, []TrafficSelector{ts("192.0.2.0", "192.0.2.127", 0, 0, 65535)}) {
		t.Error("a widened selector counts as covered")
	}
}

// TestChooseProposal checks responder proposal selection.
func TestChooseProposal(t *testing.T) {
	ours := ourIKEProposals(&Config{IKEProposals: []IKEProposal{
		{Encr: wire.EncrAESGCM16, KeyBits: 256, PRF: wire.PRFHMACSHA2_256, DH: []wire.DHGroup{wire.DHECP256, wire.DHCurve25519}},
	}})
	peer := ikeSA([]IKEProposal{
		{Encr: wire.EncrAESGCM16, KeyBits: 128, PRF: wire.PRFHMACSHA2_256, DH: []wire.DHGroup{wire.DHCurve25519}},
		{Encr: wire.EncrAESGCM16, KeyBits: 256, PRF: wire.PRFHMACSHA2_512, DH: []wire.DHGroup{wire.DHCurve25519}},
		{Encr: wire.EncrAESGCM16, KeyBits: 256, PRF: wire.PRFHMACSHA2_256, DH: []wire.DHGroup{wire.DHModP2048, wire.DHCurve25519, wire.DHECP256}},
	}, nil)
	p, ok := chooseProposal(ours, peer, wire.DHECP256, false)
	if !ok || p.Number != 3 {
		t.Fatalf("chose %v %v, want proposal 3", p, ok)
	}
	s, _ := ikeSuiteOf(p)
	if s.DH != wire.DHECP256 {
		t.Errorf("DH %v, want the KE's group ECP_256", s.DH)
	}
	p, _ = chooseProposal(ours, peer, wire.DHModP2048, false)
	if s, _ := ikeSuiteOf(p); s.DH != wire.DHCurve25519 {
		t.Errorf("DH %v, want the peer's first acceptable group", s.DH)
	}
	// An AEAD proposal carrying an integrity algorithm does not match.
	bad := ikeSA([]IKEProposal{{Encr: wire.EncrAESGCM16, KeyBits: 256, Integ: wire.IntegHMACSHA2_256_128, PRF: wire.PRFHMACSHA2_256, DH: []wire.DHGroup{wire.DHECP256}}}, nil)
	if p, ok := chooseProposal(ours, bad, 0, false); ok {
		t.Errorf("chose %v", p)
	}
	// The initiator checks that the answer was offered.
	resp := &wire.SA{Proposals: []wire.Proposal{{Number: 1, Protocol: wire.ProtocolIKE, Transforms: []wire.Transform{
		wire.EncrAESGCM16.Transform(256), wire.PRFHMACSHA2_256.Transform(), wire.DHModP2048.Transform()}}}}
	if _, err := checkAccepted(&wire.SA{Proposals: ours}, resp, false); !errors.Is(err, ErrUnexpected) {
		t.Errorf("unoffered DH accepted: %v", err)
	}
}

// TestChildlessAuth: an IKE_AUTH request without SA, TSi and TSr (RFC
// 6023) establishes the IKE SA alone.
func TestChildlessAuth(t *testing.T) {
	now := time.Unix(0, 0)
	di, _ := NewDispatcher(DispatcherConfig{})
	dr, _ := NewDispatcher(DispatcherConfig{Responder: testConfig()})
	i, acts, err := di.Initiate(now, testConfig(), addrI, addrR)
	if err != nil {
		t.Fatal(err)
	}
	r, acts, err := dr.Handle(now, addrR, addrI, acts[0].(Send).Data)
	if err != nil {
		t.Fatal(err)
	}
	// Let the initiator process the IKE_SA_INIT response, then replace
	// its IKE_AUTH request by a childless one.
	if _, err := i.Handle(now, addrI, addrR, acts[0].(Send).Data); err != nil {
		t.Fatal(err)
	}
	g := i.cur
	idi := i.cfg.LocalID.payload(false)
	signed := crypto.SignedOctets(g.keys.PRF, g.keys.PI, i.initI, i.nr, restOfIDPayload(idi))
	auth, err := i.makeAuth(g.keys.PRF, g.keys.PI, signed)
	if err != nil {
		t.Fatal(err)
	}
	msg, err := i.seal(g, wire.Header{Exchange: wire.ExchangeIKEAuth, MessageID: 1}, []wire.Payload{idi, auth})
	if err != nil {
		t.Fatal(err)
	}
	out, err := r.Handle(now, addrR, addrI, msg)
	if err != nil || !r.Established() || len(r.children) != 0 {
		t.Fatalf("childless IKE_AUTH: %v, established %v, %d children", err, r.Established(), len(r.children))
	}
	_, ps, err := i.Decrypt(out[len(out)-1].(Send).Data)
	if err != nil || len(ps) != 2 {
		t.Fatalf("response %v %v", ps, err)
	}
}
