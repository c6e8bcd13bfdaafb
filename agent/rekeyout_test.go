package agent

import (
	"context"
	"net/netip"
	"sort"
	"testing"

	"go.uber.org/zap"

	"github.com/oe-agent/oe-agent/ike"
	ikecrypto "github.com/oe-agent/oe-agent/ike/crypto"
	"github.com/oe-agent/oe-agent/ike/wire"
	"github.com/oe-agent/oe-agent/trap"
	"github.com/oe-agent/oe-agent/xfrm/xfrmtest"
)

func gcmChild(in, out uint32) ike.ChildSA {
	return ike.ChildSA{
		Protocol: wire.ProtocolESP, Mode: ike.Transport, InboundSPI: in, OutboundSPI: out,
		Local: netip.MustParseAddr("192.0.2.1"), Remote: netip.MustParseAddr("192.0.2.2"),
		Encr: wire.EncrAESGCM16, EncrKeyBits: 128,
		Inbound:  ikecrypto.DirKeys{Encr: make(ikecrypto.Key, 20)},
		Outbound: ikecrypto.DirKeys{Encr: make(ikecrypto.Key, 20)},
		LocalTS:  []ike.TrafficSelector{hostTS("192.0.2.1")}, RemoteTS: []ike.TrafficSelector{hostTS("192.0.2.2")},
	}
}

// spisIn lists the SPIs of the fake kernel's SAs, sorted.
func spisIn(t *testing.T, k *xfrmtest.Kernel) []uint32 {
	t.Helper()
	sas, err := k.States(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var out []uint32
	for _, sa := range sas {
		out = append(out, sa.SPI)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

func sameSPIs(got []uint32, want ...uint32) bool {
	sort.Slice(want, func(i, j int) bool { return want[i] < want[j] })
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		if got[i] != want[i] {
			return false
		}
	}
	return true
}

// TestRekeyByPeerDelaysOutbound: when the peer rekeys a Child SA, the new
// outbound SA goes into the kernel only when the old Child SA is deleted
// (the peer installs its new inbound SA after our answer); a rekey of our
// own installs both at once.
func TestRekeyByPeerDelaysOutbound(t *testing.T) {
	k := xfrmtest.New()
	io := &ikeIO{kernel: k, log: zap.NewNop()}
	r := &saRunner{io: io}
	r.setParams(childParams{Reqid: trap.ReqidConnMin + 0x100000, ReplayWindow: 32, DelayRekeyOut: true})

	old := gcmChild(0x1000, 0x2000)
	if err := r.install(ike.InstallChild{Child: old}); err != nil {
		t.Fatal(err)
	}
	// The peer rekeys: only the new inbound SA goes in.
	peers := gcmChild(0x1001, 0x2001)
	if err := r.install(ike.InstallChild{Child: peers, Replaces: old.InboundSPI}); err != nil {
		t.Fatal(err)
	}
	if got := spisIn(t, k); !sameSPIs(got, 0x1000, 0x2000, 0x1001) {
		t.Fatalf("after the peer's rekey: SPIs %#x, want the old pair and the new inbound SA", got)
	}
	// The peer deletes the old Child SA: the new outbound SA replaces it.
	r.remove(old)
	if got := spisIn(t, k); !sameSPIs(got, 0x1001, 0x2001) {
		t.Fatalf("after the old Child SA's deletion: SPIs %#x, want the new pair", got)
	}

	// Our own rekey: both at once.
	r.markOwnRekey(peers.InboundSPI)
	ours := gcmChild(0x1002, 0x2002)
	if err := r.install(ike.InstallChild{Child: ours, Replaces: peers.InboundSPI}); err != nil {
		t.Fatal(err)
	}
	if got := spisIn(t, k); !sameSPIs(got, 0x1001, 0x2001, 0x1002, 0x2002) {
		t.Fatalf("after our rekey: SPIs %#x, want both pairs", got)
	}
	r.remove(peers)

	// A peer's rekey whose new Child SA is deleted first (a rekey
	// collision it lost): its outbound SA never goes in.
	lost := gcmChild(0x1003, 0x2003)
	if err := r.install(ike.InstallChild{Child: lost, Replaces: ours.InboundSPI}); err != nil {
		t.Fatal(err)
	}
	r.remove(lost)
	r.remove(ours)
	if got := spisIn(t, k); len(got) != 0 {
		t.Fatalf("after deleting everything: SPIs %#x left", got)
	}
}
