package trap

import (
	"crypto/rand"
	"net/netip"
	"testing"
	"time"

	"github.com/oe-agent/oe-agent/internal/testenv"
	"github.com/oe-agent/oe-agent/xfrm"
)

const protoESP = 50

// TestVMHeldUntilSA proves on a kernel with ESP what the design relies
// on: with net.core.xfrm_larval_drop=0 the first datagram to an OE peer,
// caught by the group trap, waits in the kernel while the SA is
// negotiated, and leaves encrypted once the SA is installed: nothing is
// lost and nothing leaves in clear. oe can install the SA with its own
// reqid and a per-peer IPsec entry above the trap, or with the group's
// reqid and no per-peer policy at all.
func TestVMHeldUntilSA(t *testing.T) {
	testenv.RequireVM(t)
	for _, tc := range []struct {
		name      string
		peerEntry bool
	}{
		{"per-peer policy", true},
		{"group reqid", false},
	} {
		for _, f := range families {
			t.Run(tc.name+"/"+f.name, func(t *testing.T) {
				runHeldUntilSA(t, f, tc.peerEntry)
			})
		}
	}
}

func runHeldUntilSA(t *testing.T, f family, peerEntry bool) {
	west, east := testenv.NewNetns(t), testenv.NewNetns(t)
	testenv.Veth(t, west, "veth0", []string{"192.0.2.1/24", "2001:db8::1/64"},
		east, "veth0", []string{"192.0.2.2/24", "2001:db8::2/64"})
	east.Run(t, "ip", "addr", "add", hostPrefix(f.trapped).String(), "dev", "lo")
	west.Run(t, "ip", "route", "add", f.prefix.String(), "via", f.next.String())
	setLarvalDrop(t, west, false)

	kw, err := xfrm.OpenAt(west.Handle, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { kw.Close() })
	ke, err := xfrm.OpenAt(east.Handle, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ke.Close() })

	in := Input{Local: []netip.Addr{f.src}, Groups: map[Group][]Dest{GroupPrivateOrClear: {{Prefix: f.prefix}}}}
	r := NewReconciler(kw, nil)
	if _, err := r.Apply(bg, mustCompute(t, in)); err != nil {
		t.Fatal(err)
	}
	acq := collectAcquires(t, kw)
	wire := startCapture(t, east, "veth0")
	rx := listen(t, east, netip.AddrPortFrom(f.trapped, dataPort).String())

	if err := sendFrom(t, west, f.src, netip.AddrPortFrom(f.trapped, dataPort), "first packet"); err != nil {
		t.Fatalf("send into the trap: %v", err)
	}
	checkAcquireGroup(t, acq, f.trapped, GroupPrivateOrClear)
	if rx.waitFor("first packet", 300*time.Millisecond) {
		t.Fatal("the trapped datagram was delivered before any SA existed")
	}

	// "Negotiation" done: the SA west -> east, on both sides (east has no
	// policy, so it accepts what the transport-mode SA decrypts).
	reqid := GroupReqid(GroupPrivateOrClear)
	if peerEntry {
		reqid = ReqidConnMin + 0x77
	}
	key := make([]byte, xfrm.CipherAESGCM128.KeyLen())
	rand.Read(key)
	sa := xfrm.SA{Src: f.src, Dst: f.trapped, Proto: xfrm.ProtoESP, SPI: 0x1001, Mode: xfrm.ModeTransport,
		Reqid: reqid, Cipher: xfrm.CipherAESGCM128, CipherKey: key, ReplayWindow: 32}
	if err := ke.AddState(bg, sa); err != nil {
		t.Fatal(err)
	}
	if err := kw.AddState(bg, sa); err != nil {
		t.Fatal(err)
	}
	if peerEntry {
		in.Peers = []Peer{{Local: f.src, Remote: f.trapped, Action: PeerIPsec, Reqid: reqid, Reason: "SA up"}}
		if _, err := r.Apply(bg, mustCompute(t, in)); err != nil {
			t.Fatal(err)
		}
	}
	// The kernel retries the queue from 0.1 s, doubling: within a few
	// seconds the held datagram goes out through the SA.
	if !rx.waitFor("first packet", 10*time.Second) {
		t.Fatal("the held datagram never arrived after the SA was installed")
	}
	for _, p := range wire.to(f.trapped) {
		if p.proto != protoESP {
			t.Errorf("packet of protocol %d to %s on the wire, want only ESP", p.proto, f.trapped)
		}
	}
	if len(wire.to(f.trapped)) == 0 {
		t.Error("no ESP packet seen on the wire")
	}
	states, err := kw.States(bg)
	if err != nil {
		t.Fatal(err)
	}
	// With a per-peer reqid the ACQUIRE's larval state (SPI 0, the group's
	// reqid) stays until net.core.xfrm_acq_expires; the SA is the other.
	carried := false
	for _, st := range states {
		if st.SPI == sa.SPI && st.Stats.Packets > 0 {
			carried = true
		}
	}
	if !carried {
		t.Errorf("west's SA did not carry the datagram: %v", states)
	}
}
