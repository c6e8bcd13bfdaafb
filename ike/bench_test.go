package ike_test

import (
	stdcrypto "crypto"
	"testing"

	"github.com/oe-agent/oe-agent/ike"
	"github.com/oe-agent/oe-agent/ike/iketest"
	"github.com/oe-agent/oe-agent/ike/wire"
)

// BenchmarkHandshake measures a full IKE_SA_INIT + IKE_AUTH (with the
// first Child SA) between two in-memory SAs: both ends' work, no I/O.
func BenchmarkHandshake(b *testing.B) {
	k := iketest.TestKeys()
	for _, bc := range []struct {
		name  string
		group wire.DHGroup
		key   stdcrypto.Signer
	}{
		{"curve25519-ed25519", wire.DHCurve25519, k.Ed25519},
		{"curve25519-rsa2048", wire.DHCurve25519, k.RSA},
		{"modp2048-rsa2048", wire.DHModP2048, k.RSA},
	} {
		b.Run(bc.name, func(b *testing.B) {
			cfg := func(id string) *ike.Config {
				return &ike.Config{
					LocalID:        ike.FQDNID(id),
					LocalAuth:      ike.LocalAuth{Method: ike.AuthSignature, Signer: bc.key},
					Peer:           ike.PeerAuth{PublicKey: bc.key.Public()},
					IKEProposals:   []ike.IKEProposal{{Encr: wire.EncrAESGCM16, KeyBits: 256, PRF: wire.PRFHMACSHA2_256, DH: []wire.DHGroup{bc.group}}},
					ChildProposals: ike.DefaultChildProposals(),
				}
			}
			icfg, rcfg := cfg("i.example"), cfg("r.example")
			b.ReportAllocs()
			for b.Loop() {
				p := iketest.NewPair(b, icfg, rcfg, ike.DispatcherConfig{})
				p.Start()
				for p.Step() {
				}
				if !p.Init.Established() {
					b.Fatal("not established")
				}
			}
		})
	}
}
