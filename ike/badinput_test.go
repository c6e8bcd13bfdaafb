package ike_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	mrand "math/rand/v2"
	"testing"
	"time"

	"github.com/oe-agent/oe-agent/ike"
	"github.com/oe-agent/oe-agent/ike/iketest"
	"github.com/oe-agent/oe-agent/ike/wire"
)

// initRequest returns a valid IKE_SA_INIT request from a real initiator.
func initRequest(t testing.TB) []byte {
	icfg, rcfg := pskConfigs()
	p := iketest.NewPair(t, icfg, rcfg, ike.DispatcherConfig{})
	p.Start()
	return p.TakeInFlight()[0].Data
}

// reencode decodes b, lets edit change the message, and encodes it again.
func reencode(t testing.TB, b []byte, edit func(m *wire.Message)) []byte {
	t.Helper()
	m, err := wire.Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	edit(m)
	out, err := m.Encode()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestBadInitRequests feeds malformed and hostile IKE_SA_INIT requests to
// a responder: each is refused with a specific error and leaves no state
// and no Diffie-Hellman work behind.
func TestBadInitRequests(t *testing.T) {
	good := initRequest(t)
	// Garbage behind a plausible IKE_SA_INIT header (fixed seed, so the
	// test is deterministic), and garbage with a bad version.
	garbage := make([]byte, 300)
	mrand.NewChaCha8([32]byte{9}).Read(garbage)
	garbage[0] |= 1
	copy(garbage[8:16], make([]byte, 8))
	garbage[17], garbage[18], garbage[19] = 0x20, byte(wire.ExchangeIKESAInit), byte(wire.FlagInitiator)
	binary.BigEndian.PutUint32(garbage[24:], uint32(len(garbage)))
	badVersion := bytes.Clone(garbage)
	badVersion[17] = 0x10
	noKE := reencode(t, good, func(m *wire.Message) {
		var ps []wire.Payload
		for _, p := range m.Payloads {
			if p.Type() != wire.PayloadKE {
				ps = append(ps, p)
			}
		}
		m.Payloads = ps
	})
	tests := []struct {
		name string
		data []byte
		want error
		// wantAlso is a second error the result must wrap.
		wantAlso error
	}{
		{"empty", nil, ike.ErrMalformed, wire.ErrTruncated},
		{"truncated header", good[:20], ike.ErrMalformed, wire.ErrTruncated},
		{"truncated payload", good[:len(good)-10], ike.ErrMalformed, wire.ErrInvalid},
		{"oversized datagram", make([]byte, ike.MaxDatagram+1), ike.ErrOversized, nil},
		{"length beyond datagram", func() []byte {
			b := bytes.Clone(good)
			b[26], b[27] = 0xff, 0xff
			return b
		}(), ike.ErrMalformed, wire.ErrInvalid},
		{"garbage", garbage, ike.ErrMalformed, nil},
		{"garbage, version 1", badVersion, ike.ErrMalformed, wire.ErrMajorVersion},
		{"duplicated nonce", reencode(t, good, func(m *wire.Message) {
			m.Payloads = append(m.Payloads, wire.Find(m.Payloads, wire.PayloadNonce))
		}), ike.ErrMalformed, wire.ErrDuplicate},
		{"duplicated SA", reencode(t, good, func(m *wire.Message) {
			m.Payloads = append([]wire.Payload{wire.Find(m.Payloads, wire.PayloadSA)}, m.Payloads...)
		}), ike.ErrMalformed, wire.ErrDuplicate},
		{"unknown critical payload", reencode(t, good, func(m *wire.Message) {
			m.Payloads = append(m.Payloads, &wire.Unknown{PayloadType: 200, Critical: true, Data: []byte{1}})
		}), ike.ErrMalformed, wire.ErrUnsupportedCritical},
		{"major version 3", func() []byte {
			b := bytes.Clone(good)
			b[17] = 0x30
			return b
		}(), ike.ErrMalformed, wire.ErrMajorVersion},
		{"responder SPI set", func() []byte {
			b := bytes.Clone(good)
			b[15] = 1
			return b
		}(), ike.ErrUnexpected, nil},
		{"no KE", noKE, ike.ErrInvalidSyntax, nil},
		{"short KE", reencode(t, good, func(m *wire.Message) {
			ke := wire.Find(m.Payloads, wire.PayloadKE).(*wire.KE)
			ke.Data = ke.Data[:16]
		}), ike.ErrInvalidSyntax, nil},
		{"no acceptable proposal", reencode(t, good, func(m *wire.Message) {
			sa := wire.Find(m.Payloads, wire.PayloadSA).(*wire.SA)
			sa.Proposals = []wire.Proposal{{Number: 1, Protocol: wire.ProtocolIKE, Transforms: []wire.Transform{
				wire.Encr3DES.Transform(0), wire.PRFHMACSHA1.Transform(), wire.IntegHMACSHA1_96.Transform(), wire.DHModP1024.Transform()}}}
		}), ike.ErrNoProposalChosen, nil},
		{"unknown SPI", func() []byte {
			b := reencode(t, good, func(m *wire.Message) { m.Exchange = wire.ExchangeInformational; m.SPIr = 42 })
			return b
		}(), ike.ErrUnknownSPI, nil},
	}
	_, rcfg := pskConfigs()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d, err := ike.NewDispatcher(ike.DispatcherConfig{Responder: rcfg})
			if err != nil {
				t.Fatal(err)
			}
			sa, acts, err := d.Handle(time.Unix(0, 0), iketest.ResponderAddr, iketest.InitiatorAddr, tc.data)
			if !errors.Is(err, tc.want) {
				t.Fatalf("error %v, want %v", err, tc.want)
			}
			if tc.wantAlso != nil && !errors.Is(err, tc.wantAlso) {
				t.Errorf("error %v does not wrap %v", err, tc.wantAlso)
			}
			if sa != nil {
				t.Error("SA returned")
			}
			// Only an unknown critical payload (RFC 7296 §2.5) and the
			// proposal/KE/syntax errors of IKE_SA_INIT get an answer.
			if len(acts) > 0 {
				m, err := wire.Decode(acts[0].(ike.Send).Data)
				if err != nil || len(m.Payloads) != 1 {
					t.Fatalf("reply %v, %v", m, err)
				}
				n := m.Payloads[0].(*wire.Notify)
				if tc.wantAlso == wire.ErrUnsupportedCritical && (n.NotifyType != wire.NotifyUnsupportedCriticalPayload || n.Data[0] != 200) {
					t.Errorf("reply %v", n)
				}
			} else if tc.wantAlso == wire.ErrUnsupportedCritical {
				t.Error("unknown critical payload not reported")
			}
			if s := d.Stats(); s.SAs != 0 || s.HalfOpen != 0 || s.DHComputations != 0 {
				t.Errorf("state left: %+v", s)
			}
		})
	}
}

// TestReplayedInit replays the initiator's IKE_SA_INIT after the IKE SA
// is up: refused, no new state. While the SA is still half-open, the same
// request is a retransmission and gets the cached response.
func TestReplayedInit(t *testing.T) {
	icfg, rcfg := pskConfigs()
	p := iketest.NewPair(t, icfg, rcfg, ike.DispatcherConfig{})
	p.Start()
	req := p.InFlight()[0]
	p.Step() // responder answers
	resp := p.R.Sent()
	if err := p.Deliver(req); err != nil {
		t.Fatalf("retransmitted IKE_SA_INIT: %v", err)
	}
	if again := p.R.Sent(); len(again) != 1 || !bytes.Equal(again[0].Data, resp[0].Data) {
		t.Fatal("retransmission not answered from the cache")
	}
	p.TakeInFlight()
	p.Deliver(iketest.Datagram{From: resp[0].From, To: resp[0].To, Data: resp[0].Data})
	p.Run()
	if !p.Init.Established() {
		t.Fatal("not established")
	}
	before := p.R.D.Stats()
	p.R.Sent()
	err := p.Deliver(req)
	if !errors.Is(err, ike.ErrReplayedInit) {
		t.Fatalf("replay: %v, want ErrReplayedInit", err)
	}
	if after := p.R.D.Stats(); after != before {
		t.Errorf("stats changed: %+v -> %+v", before, after)
	}
	if len(p.R.Sent()) != 0 {
		t.Error("replay answered")
	}
}

// TestBadProtectedMessages corrupts and replays protected messages: a
// flipped bit fails the integrity check and changes nothing; a stale
// request is outside the window; a response with no request is dropped.
func TestBadProtectedMessages(t *testing.T) {
	icfg, rcfg := pskConfigs()
	p := iketest.NewPair(t, icfg, rcfg, ike.DispatcherConfig{})
	p.Start()
	p.Step() // IKE_SA_INIT request
	p.Step() // IKE_SA_INIT response
	auth := p.TakeInFlight()[0]
	p.R.Sent()
	bad := bytes.Clone(auth.Data)
	bad[len(bad)-5] ^= 1
	if err := p.Deliver(iketest.Datagram{From: auth.From, To: auth.To, Data: bad}); !errors.Is(err, ike.ErrIntegrity) {
		t.Fatalf("corrupted IKE_AUTH: %v, want ErrIntegrity", err)
	}
	if len(p.R.Sent()) != 0 || p.R.SA().Established() {
		t.Fatal("responder acted on a corrupted message")
	}
	truncated := auth.Data[:len(auth.Data)-1]
	if err := p.Deliver(iketest.Datagram{From: auth.From, To: auth.To, Data: truncated}); !errors.Is(err, ike.ErrMalformed) {
		t.Fatalf("truncated IKE_AUTH: %v, want ErrMalformed", err)
	}
	p.Deliver(auth)
	p.Run()
	if !p.Init.Established() {
		t.Fatal("not established after the good copy")
	}
	// The IKE_AUTH request again, now that #2 is expected: answered from
	// the cache. Message #0 (a protected one with ID 0) is stale.
	p.R.Sent()
	if err := p.Deliver(auth); err != nil {
		t.Fatalf("IKE_AUTH retransmission: %v", err)
	}
	if len(p.R.Sent()) != 1 {
		t.Fatal("IKE_AUTH retransmission not answered")
	}
	stale := reencode(t, auth.Data, func(m *wire.Message) { m.MessageID = 7 })
	if err := p.Deliver(iketest.Datagram{From: auth.From, To: auth.To, Data: stale}); !errors.Is(err, ike.ErrMessageID) {
		t.Fatalf("message 7: %v, want ErrMessageID", err)
	}
	p.TakeInFlight()
	unsolicited := reencode(t, auth.Data, func(m *wire.Message) { m.Flags = wire.FlagResponse })
	if err := p.Deliver(iketest.Datagram{From: auth.To, To: auth.From, Data: unsolicited}); err == nil {
		t.Fatal("unsolicited response accepted")
	}
	if !p.Init.Established() || !p.R.SA().Established() {
		t.Fatal("bad input broke the SA")
	}
}
