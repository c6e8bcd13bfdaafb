package ike_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/oe-agent/oe-agent/ike"
	"github.com/oe-agent/oe-agent/ike/iketest"
	"github.com/oe-agent/oe-agent/ike/wire"
)

var ikeSuites = []struct {
	name string
	p    ike.IKEProposal
}{
	{"aes-gcm16-128", ike.IKEProposal{Encr: wire.EncrAESGCM16, KeyBits: 128, PRF: wire.PRFHMACSHA2_256}},
	{"aes-gcm16-256", ike.IKEProposal{Encr: wire.EncrAESGCM16, KeyBits: 256, PRF: wire.PRFHMACSHA2_384}},
	{"chacha20-poly1305", ike.IKEProposal{Encr: wire.EncrChaCha20Poly1305, PRF: wire.PRFHMACSHA2_256}},
	{"aes-cbc-256-sha256", ike.IKEProposal{Encr: wire.EncrAESCBC, KeyBits: 256, Integ: wire.IntegHMACSHA2_256_128, PRF: wire.PRFHMACSHA2_256}},
	{"aes-cbc-256-sha384", ike.IKEProposal{Encr: wire.EncrAESCBC, KeyBits: 256, Integ: wire.IntegHMACSHA2_384_192, PRF: wire.PRFHMACSHA2_384}},
	{"aes-cbc-256-sha512", ike.IKEProposal{Encr: wire.EncrAESCBC, KeyBits: 256, Integ: wire.IntegHMACSHA2_512_256, PRF: wire.PRFHMACSHA2_512}},
}

var childSuites = []ike.ChildProposal{
	{Encr: wire.EncrAESGCM16, KeyBits: 128},
	{Encr: wire.EncrAESGCM16, KeyBits: 256},
	{Encr: wire.EncrChaCha20Poly1305},
	{Encr: wire.EncrAESCBC, KeyBits: 256, Integ: wire.IntegHMACSHA2_256_128},
	{Encr: wire.EncrAESCBC, KeyBits: 256, Integ: wire.IntegHMACSHA2_384_192},
	{Encr: wire.EncrAESCBC, KeyBits: 256, Integ: wire.IntegHMACSHA2_512_256, ESN: true},
}

var dhGroups = []wire.DHGroup{wire.DHCurve25519, wire.DHECP256, wire.DHECP384, wire.DHModP2048, wire.DHModP3072}

// encrKeyLen is the key length the kernel needs for a Child SA suite.
func encrKeyLen(c ike.ChildProposal) int {
	switch c.Encr {
	case wire.EncrAESGCM16:
		return int(c.KeyBits)/8 + 4
	case wire.EncrChaCha20Poly1305:
		return 36
	}
	return int(c.KeyBits) / 8
}

// lifecycle runs a full life on an established pair: Child SA rekey (with
// PFS in group pfs if non-zero), a new Child SA, an IKE SA rekey, a Child
// SA rekey under the new IKE SA, a Child SA delete, and the IKE SA delete,
// checking both ends agree at each step. initiatorDrives picks which end
// issues the commands.
func lifecycle(t *testing.T, p *iketest.Pair, initiatorDrives bool, pfs wire.DHGroup) {
	t.Helper()
	drv, oth := p.I, p.R
	if !initiatorDrives {
		drv, oth = p.R, p.I
	}
	sa, peer := drv.SA(), oth.SA()
	drv.Events()
	oth.Events()

	// Child SA rekey.
	old := sa.Children()[0]
	if err := drv.Do(sa, func(now time.Time) ([]ike.Action, error) { return sa.RekeyChild(now, old.InboundSPI) }); err != nil {
		t.Fatalf("RekeyChild: %v", err)
	}
	p.Run()
	de, oe := drv.Events(), oth.Events()
	di, oi := iketest.Find[ike.InstallChild](de), iketest.Find[ike.InstallChild](oe)
	if len(di) != 1 || len(oi) != 1 {
		t.Fatalf("rekey installs: %d and %d", len(di), len(oi))
	}
	checkChildPair(t, di[0].Child, oi[0].Child)
	if di[0].Child.PFS != pfs || oi[0].Child.PFS != pfs {
		t.Errorf("rekey PFS %v/%v, want %v", di[0].Child.PFS, oi[0].Child.PFS, pfs)
	}
	if di[0].Replaces != old.InboundSPI || oi[0].Replaces != old.OutboundSPI {
		t.Errorf("Replaces %#x/%#x, want %#x/%#x", di[0].Replaces, oi[0].Replaces, old.InboundSPI, old.OutboundSPI)
	}
	if dd, od := iketest.Find[ike.DeleteChild](de), iketest.Find[ike.DeleteChild](oe); len(dd) != 1 || len(od) != 1 ||
		dd[0].Child.InboundSPI != old.InboundSPI || od[0].Child.InboundSPI != old.OutboundSPI {
		t.Fatalf("old Child SA not deleted on both ends: %v / %v", dd, od)
	}
	if n, m := len(sa.Children()), len(peer.Children()); n != 1 || m != 1 {
		t.Fatalf("children after rekey: %d and %d", n, m)
	}

	// A second Child SA.
	if err := drv.Do(sa, sa.CreateChild); err != nil {
		t.Fatalf("CreateChild: %v", err)
	}
	p.Run()
	de, oe = drv.Events(), oth.Events()
	di, oi = iketest.Find[ike.InstallChild](de), iketest.Find[ike.InstallChild](oe)
	if len(di) != 1 || len(oi) != 1 || di[0].Replaces != 0 {
		t.Fatalf("CreateChild installs: %v and %v (failed: %v)", di, oi, iketest.Find[ike.ChildFailed](de))
	}
	checkChildPair(t, di[0].Child, oi[0].Child)

	// IKE SA rekey.
	oldI, oldR := sa.SPIs()
	if err := drv.Do(sa, sa.RekeyIKE); err != nil {
		t.Fatalf("RekeyIKE: %v", err)
	}
	p.Run()
	de, oe = drv.Events(), oth.Events()
	dr, or := iketest.Find[ike.IKERekeyed](de), iketest.Find[ike.IKERekeyed](oe)
	if len(dr) != 1 || len(or) != 1 || dr[0].SPIi != or[0].SPIi || dr[0].SPIr != or[0].SPIr || dr[0].OldSPIi != oldI || dr[0].OldSPIr != oldR {
		t.Fatalf("IKERekeyed: %+v / %+v", dr, or)
	}
	if ni, nr := sa.SPIs(); ni == oldI || nr == oldR || ni == 0 || nr == 0 {
		t.Fatalf("SPIs after rekey: %x/%x", ni, nr)
	}
	if n, m := len(sa.Children()), len(peer.Children()); n != 2 || m != 2 {
		t.Fatalf("children after IKE rekey: %d and %d", n, m)
	}
	if len(drv.D.SAs()) != 1 || len(oth.D.SAs()) != 1 {
		t.Fatalf("IKE SAs after rekey: %d and %d", len(drv.D.SAs()), len(oth.D.SAs()))
	}

	// Child SA rekey from the other end, under the new IKE SA.
	c := peer.Children()[0]
	if err := oth.Do(peer, func(now time.Time) ([]ike.Action, error) { return peer.RekeyChild(now, c.InboundSPI) }); err != nil {
		t.Fatalf("RekeyChild: %v", err)
	}
	p.Run()
	de, oe = drv.Events(), oth.Events()
	if di, oi = iketest.Find[ike.InstallChild](de), iketest.Find[ike.InstallChild](oe); len(di) != 1 || len(oi) != 1 {
		t.Fatalf("rekey after IKE rekey: %d and %d installs", len(di), len(oi))
	}
	checkChildPair(t, di[0].Child, oi[0].Child)

	// Delete one Child SA.
	c = sa.Children()[0]
	if err := drv.Do(sa, func(now time.Time) ([]ike.Action, error) { return sa.DeleteChild(now, c.InboundSPI) }); err != nil {
		t.Fatalf("DeleteChild: %v", err)
	}
	p.Run()
	de, oe = drv.Events(), oth.Events()
	if dd, od := iketest.Find[ike.DeleteChild](de), iketest.Find[ike.DeleteChild](oe); len(dd) != 1 || len(od) != 1 || dd[0].Child.InboundSPI != od[0].Child.OutboundSPI {
		t.Fatalf("DeleteChild: %v / %v", dd, od)
	}

	// Delete the IKE SA.
	drv.Do(sa, func(now time.Time) ([]ike.Action, error) { return sa.Delete(now), nil })
	p.Run()
	de, oe = drv.Events(), oth.Events()
	dc, oc := iketest.Find[ike.Closed](de), iketest.Find[ike.Closed](oe)
	if len(dc) != 1 || dc[0].Err != nil || len(oc) != 1 || oc[0].Err != ike.ErrPeerDeleted {
		t.Fatalf("Closed: %v / %v", dc, oc)
	}
	if n, m := len(iketest.Find[ike.DeleteChild](de)), len(iketest.Find[ike.DeleteChild](oe)); n != 1 || m != 1 {
		t.Fatalf("DeleteChild on close: %d and %d", n, m)
	}
	if len(drv.D.SAs()) != 0 || len(oth.D.SAs()) != 0 {
		t.Fatalf("SAs left: %d and %d", len(drv.D.SAs()), len(oth.D.SAs()))
	}
}

// TestSuites completes a handshake and a full lifecycle (rekeys with PFS,
// new Child SA, IKE rekey, deletes) for every IKE suite with every DH
// group, with the Child SA suites rotating, each end driving in turn.
func TestSuites(t *testing.T) {
	n := 0
	for _, s := range ikeSuites {
		for _, g := range dhGroups {
			cs := childSuites[n%len(childSuites)]
			cs.DH = []wire.DHGroup{g}
			initiatorDrives := n%2 == 0
			n++
			t.Run(fmt.Sprintf("%s/%v/%v", s.name, g, cs.Encr.Transform(cs.KeyBits)), func(t *testing.T) {
				icfg, rcfg := pskConfigs()
				prop := s.p
				prop.DH = []wire.DHGroup{g}
				icfg.IKEProposals = []ike.IKEProposal{prop}
				rcfg.IKEProposals = []ike.IKEProposal{prop}
				icfg.ChildProposals = []ike.ChildProposal{cs}
				rcfg.ChildProposals = []ike.ChildProposal{cs}
				p := iketest.NewPair(t, icfg, rcfg, ike.DispatcherConfig{})
				p.Handshake()
				ic := iketest.Find[ike.InstallChild](p.I.Events())
				rc := iketest.Find[ike.InstallChild](p.R.Events())
				if len(ic) != 1 || len(rc) != 1 {
					t.Fatalf("InstallChild: %d and %d", len(ic), len(rc))
				}
				checkChildPair(t, ic[0].Child, rc[0].Child)
				if got := len(ic[0].Child.Outbound.Encr); got != encrKeyLen(cs) {
					t.Errorf("encryption key %d octets, want %d", got, encrKeyLen(cs))
				}
				if ic[0].Child.ESN != cs.ESN {
					t.Errorf("ESN %v, want %v", ic[0].Child.ESN, cs.ESN)
				}
				lifecycle(t, p, initiatorDrives, g)
			})
		}
	}
}
