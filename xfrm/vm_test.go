package xfrm

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/vishvananda/netlink/nl"
	"golang.org/x/sys/unix"

	"github.com/oe-agent/oe-agent/internal/testenv"
)

// vmCase is one SA pair configuration for TestVMESP.
type vmCase struct {
	name      string
	proto     Proto
	mode      Mode
	cipher    Cipher
	integrity Integrity
	v6        bool
	encap     bool
}

// endpoints returns the SA endpoints (west, east) and the traffic
// endpoints behind them.
func (c vmCase) endpoints() (wSA, eSA, wHost, eHost netip.Addr) {
	switch {
	case c.v6:
		return west6, east6, west6, east6
	case c.mode == ModeTunnel:
		return west4, east4, westNet, eastNet
	}
	return west4, east4, west4, east4
}

func (c vmCase) sa(src, dst netip.Addr, spi, reqid uint32, t *testing.T) SA {
	sa := SA{
		Src: src, Dst: dst, Proto: c.proto, SPI: spi, Mode: c.mode, Reqid: reqid,
		Cipher: c.cipher, CipherKey: randomKey(t, c.cipher.KeyLen()),
		Integrity: c.integrity, IntegrityKey: randomKey(t, c.integrity.KeyLen()),
		ReplayWindow: 32,
		Lifetime:     Lifetime{SoftAdd: 50 * time.Minute, HardAdd: time.Hour, HardBytes: 1 << 40},
	}
	if c.encap {
		sa.Encap = &Encap{SrcPort: 4500, DstPort: 4500}
	}
	return sa
}

// policies returns one side's out and in policies for traffic local ->
// remote protected by SAs between saLocal and saRemote.
func (c vmCase) policies(local, remote, saLocal, saRemote netip.Addr, reqid uint32) []Policy {
	tmpl := func(src, dst netip.Addr) []Template {
		t := Template{Proto: c.proto, Mode: c.mode, Reqid: reqid}
		if c.mode == ModeTunnel {
			t.Src, t.Dst = src, dst
		}
		return []Template{t}
	}
	sel := func(s, d netip.Addr) Selector {
		if c.mode == ModeTunnel {
			return Selector{Src: netip.PrefixFrom(s, 24).Masked(), Dst: netip.PrefixFrom(d, 24).Masked()}
		}
		return Selector{Src: host(s), Dst: host(d)}
	}
	return []Policy{
		{Selector: sel(local, remote), Dir: DirOut, Priority: prioTrap, Templates: tmpl(saLocal, saRemote)},
		{Selector: sel(remote, local), Dir: DirIn, Priority: prioTrap, Templates: tmpl(saRemote, saLocal)},
	}
}

// encapSocket opens the UDP 4500 socket that makes the kernel decapsulate
// ESP in UDP (RFC 3948) arriving on it. As in an IKE daemon it is also the
// IKE socket and has the per-socket bypass: without it the kernel checks the
// inbound policy against the UDP datagram itself and drops it
// (XfrmInTmplMismatch), as measured on the guest's 6.1 kernel.
func encapSocket(t *testing.T, ns *testenv.Netns, addr netip.Addr) {
	t.Helper()
	c := listenUDP(t, ns, netip.AddrPortFrom(addr, 4500))
	rc, err := c.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var serr error
	rc.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_UDP, unix.UDP_ENCAP, unix.UDP_ENCAP_ESPINUDP)
	})
	if serr != nil {
		t.Fatal(serr)
	}
	if err := BypassSocket(rc); err != nil {
		t.Fatal(err)
	}
}

// TestVMESP installs SA pairs and policies with the xfrm package on both
// sides of a veth, runs a TCP round trip, and checks on the wire that only
// ESP (never the cleartext) crossed, and in the kernel that the SA counters
// grew. The inbound SPIs come from AllocSPI, filled in with UpdateState, as
// the IKE layer will do.
func TestVMESP(t *testing.T) {
	testenv.RequireVM(t)
	cases := []vmCase{
		{name: "transport-aes-gcm-128", proto: ProtoESP, mode: ModeTransport, cipher: CipherAESGCM128},
		{name: "transport-aes-gcm-256", proto: ProtoESP, mode: ModeTransport, cipher: CipherAESGCM256},
		{name: "transport-chacha20-poly1305", proto: ProtoESP, mode: ModeTransport, cipher: CipherChaCha20Poly1305},
		{name: "transport-aes-cbc-hmac-sha256", proto: ProtoESP, mode: ModeTransport, cipher: CipherAESCBC128, integrity: IntegrityHMACSHA256_128},
		{name: "transport-aes-cbc256-hmac-sha512", proto: ProtoESP, mode: ModeTransport, cipher: CipherAESCBC256, integrity: IntegrityHMACSHA512_256},
		{name: "tunnel-aes-gcm-128", proto: ProtoESP, mode: ModeTunnel, cipher: CipherAESGCM128},
		{name: "tunnel-chacha20-poly1305", proto: ProtoESP, mode: ModeTunnel, cipher: CipherChaCha20Poly1305},
		{name: "tunnel-aes-cbc-hmac-sha256", proto: ProtoESP, mode: ModeTunnel, cipher: CipherAESCBC128, integrity: IntegrityHMACSHA256_128},
		{name: "transport-ipv6-aes-gcm-128", proto: ProtoESP, mode: ModeTransport, cipher: CipherAESGCM128, v6: true},
		{name: "transport-ipv6-aes-cbc-hmac-sha384", proto: ProtoESP, mode: ModeTransport, cipher: CipherAESCBC192, integrity: IntegrityHMACSHA384_192, v6: true},
		{name: "transport-udp-encap-aes-gcm-128", proto: ProtoESP, mode: ModeTransport, cipher: CipherAESGCM128, encap: true},
		{name: "transport-ah-hmac-sha256", proto: ProtoAH, mode: ModeTransport, integrity: IntegrityHMACSHA256_128},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			runVMCase(t, c)
		})
	}
}

func runVMCase(t *testing.T, c vmCase) {
	west, east := vmPair(t)
	kw, ke := openNS(t, west), openNS(t, east)
	wSA, eSA, wHost, eHost := c.endpoints()
	reqid := testReqid + 0x100

	// Inbound SPIs are chosen by their receiver.
	spiIntoEast, err := ke.AllocSPI(bg, SPIRequest{Src: wSA, Dst: eSA, Proto: c.proto, Mode: c.mode, Reqid: reqid})
	if err != nil {
		t.Fatal(err)
	}
	spiIntoWest, err := kw.AllocSPI(bg, SPIRequest{Src: eSA, Dst: wSA, Proto: c.proto, Mode: c.mode, Reqid: reqid})
	if err != nil {
		t.Fatal(err)
	}
	w2e := c.sa(wSA, eSA, spiIntoEast, reqid, t)
	e2w := c.sa(eSA, wSA, spiIntoWest, reqid, t)
	mustDo(t, kw.AddState(bg, w2e), ke.UpdateState(bg, w2e), ke.AddState(bg, e2w), kw.UpdateState(bg, e2w))
	for _, p := range c.policies(wHost, eHost, wSA, eSA, reqid) {
		mustDo(t, kw.AddPolicy(bg, p))
	}
	for _, p := range c.policies(eHost, wHost, eSA, wSA, reqid) {
		mustDo(t, ke.AddPolicy(bg, p))
	}
	if c.encap {
		encapSocket(t, west, wSA)
		encapSocket(t, east, eSA)
	}
	before := counters(t, kw)

	payload := canary(c.name)
	tapW, tapE := startCapture(t, west, "veth0"), startCapture(t, east, "veth0")
	rtErr := tcpRoundTrip(west, wHost, east, eHost, payload)
	esp, ah, espInUDP, leaks, total := summary(t, payload, c.proto != ProtoAH, tapW, tapE)
	t.Logf("sent on the veth: %d frames, %d ESP, %d AH, %d ESP-in-UDP, %d with cleartext", total, esp, ah, espInUDP, leaks)
	if rtErr != nil {
		for _, ns := range []*testenv.Netns{west, east} {
			t.Logf("%s:\n%s\n%s\n%s\n%s", ns.Name, ns.Run(t, "ip", "-s", "xfrm", "state"), ns.Run(t, "ip", "xfrm", "policy"),
				ns.Run(t, "cat", "/proc/net/xfrm_stat"), ns.Run(t, "ss", "-uan"))
		}
		t.Fatal(rtErr)
	}
	switch {
	case c.proto == ProtoAH:
		// AH authenticates but does not encrypt (RFC 4302 §1).
		if ah < 4 || leaks == 0 {
			t.Errorf("AH: saw %d AH packets and %d with the payload, want the whole exchange in AH, readable", ah, leaks)
		}
	case leaks != 0:
		t.Errorf("%d frames carried the cleartext payload", leaks)
	case c.encap && espInUDP < 4:
		t.Errorf("saw %d ESP-in-UDP packets, want the whole TCP exchange", espInUDP)
	case !c.encap && esp < 4:
		t.Errorf("saw %d ESP packets, want the whole TCP exchange", esp)
	}

	after := counters(t, kw)
	for _, id := range []SAID{w2e.ID(), e2w.ID()} {
		b, a := before[id], after[id]
		if a.Bytes <= b.Bytes || a.Packets <= b.Packets || a.UseTime.IsZero() {
			t.Errorf("SA %s counters did not grow: before %+v after %+v", id, b, a)
		}
	}
	// Cleanup removes everything of ours.
	if err := kw.Cleanup(bg); err != nil {
		t.Fatal(err)
	}
	if out := west.Run(t, "ip", "xfrm", "state"); strings.TrimSpace(out) != "" {
		t.Errorf("states left after Cleanup:\n%s", out)
	}
}

// mustDo fails the test on the first error.
func mustDo(t *testing.T, errs ...error) {
	t.Helper()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
}

func counters(t *testing.T, k Kernel) map[SAID]SAStats {
	t.Helper()
	sas, err := k.States(bg)
	if err != nil {
		t.Fatal(err)
	}
	m := map[SAID]SAStats{}
	for _, sa := range sas {
		m[sa.ID()] = sa.Stats
	}
	return m
}

// TestVMExpire: an SA with a 2 s soft and 3 s hard lifetime yields a soft
// and then a hard EXPIRE, after which the kernel has removed it.
func TestVMExpire(t *testing.T) {
	testenv.RequireVM(t)
	t.Parallel()
	west, _ := pair(t)
	k := openNS(t, west)
	events := subscribe(t, k)
	raw := rawEvents(t, west, nl.XFRMNLGRP_EXPIRE, nl.XFRM_MSG_EXPIRE)
	sa := cbcSA()
	sa.Lifetime = Lifetime{SoftAdd: 2 * time.Second, HardAdd: 3 * time.Second}
	if err := k.AddState(bg, sa); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	for _, hard := range []bool{false, true} {
		ev := nextEvent(t, events, 15*time.Second)
		exp, ok := ev.(*Expire)
		if !ok {
			t.Fatalf("got %v, want an EXPIRE", ev)
		}
		t.Logf("after %v: %v", time.Since(start).Round(100*time.Millisecond), exp)
		if exp.Hard != hard || exp.SA.SPI != sa.SPI || exp.SA.Reqid != sa.Reqid || exp.SA.Dst != sa.Dst ||
			exp.SA.Src != sa.Src || exp.SA.Lifetime.HardAdd != 3*time.Second || exp.SA.CipherKey != nil {
			t.Errorf("EXPIRE %+v, want hard=%v for %s", exp, hard, sa)
		}
		select {
		case b := <-raw:
			again, err := decodeExpire(b)
			if err != nil || again.Hard != hard {
				t.Errorf("raw EXPIRE: %v %+v", err, again)
			}
			saveGuestSeed(t, "FuzzDecodeExpire", fmt.Sprintf("kernel-hard-%v", hard), b)
		case <-time.After(time.Second):
			t.Error("raw subscriber saw no EXPIRE")
		}
	}
	if d := time.Since(start); d < 2*time.Second {
		t.Errorf("hard EXPIRE after %v, before the hard lifetime", d)
	}
	if err := k.DeleteState(bg, sa.ID()); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("SA after hard expire: %v, want gone", err)
	}
}

// TestVMCleanupLeavesForeignState: SAs of every kind read back exactly as
// added; Cleanup removes them and leaves another daemon's SAs, installed
// with ip xfrm, unchanged.
func TestVMCleanupLeavesForeignState(t *testing.T) {
	testenv.RequireVM(t)
	t.Parallel()
	ns := testenv.NewNetns(t)
	k := openNS(t, ns)
	ns.Run(t, "ip", "xfrm", "state", "add", "src", "192.0.2.1", "dst", "192.0.2.9", "proto", "esp",
		"spi", "0x5000", "reqid", "16384", "mode", "transport",
		"aead", "rfc4106(gcm(aes))", "0x"+strings.Repeat("ab", 20), "128")
	ns.Run(t, "ip", "xfrm", "state", "add", "src", "192.0.2.1", "dst", "192.0.2.9", "proto", "esp",
		"spi", "0x5001", "reqid", fmt.Sprint(ReqidMax+1), "mode", "tunnel",
		"enc", "cbc(aes)", "0x"+strings.Repeat("cd", 16), "auth-trunc", "hmac(sha256)", "0x"+strings.Repeat("ef", 32), "128")
	foreign := ns.Run(t, "ip", "xfrm", "state", "list")

	// Ours, with every field that reads back: they must list exactly.
	gcm := sampleOwnedGCM()
	gcm.Mark = Mark{Value: 0x10, Mask: 0xff}
	gcm.Encap = &Encap{SrcPort: 4500, DstPort: 4501}
	gcm.ESN, gcm.ReplayWindow = true, 128
	gcm.Lifetime = Lifetime{SoftBytes: 1 << 30, HardBytes: 1 << 31, SoftPackets: 1000, HardPackets: 2000,
		SoftAdd: time.Hour, HardAdd: 2 * time.Hour, SoftUse: 30 * time.Minute, HardUse: time.Hour}
	ah := cbcSA()
	ah.SPI, ah.Proto, ah.Cipher, ah.CipherKey = 0x1235, ProtoAH, CipherNone, nil
	ah.Integrity, ah.IntegrityKey = IntegrityHMACSHA512_256, randomKey(t, 64)
	tun := cbcSA()
	tun.SPI, tun.Mode, tun.Reqid = 0x1236, ModeTunnel, testReqid+1
	tun.Selector = Selector{Src: pfx("198.51.100.0/24"), Dst: pfx("203.0.113.0/24"), Proto: 6, DstPort: 443}
	ours := []SA{cbcSA(), gcm, ah, tun}
	for _, sa := range ours {
		if err := k.AddState(bg, sa); err != nil {
			t.Fatal(err)
		}
	}
	got, err := k.States(bg)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(ours) {
		t.Errorf("States() lists %d SAs, want %d:\n%s", len(got), len(ours), FormatStates(got))
	}
	for _, want := range ours {
		for _, sa := range got {
			if sa.ID() != want.ID() {
				continue
			}
			sa.Stats = SAStats{}
			if !cmp.Equal(want, sa, addrOpts) {
				t.Errorf("SA %s reads back as\n%+v\nwant\n%+v", want, sa, want)
			}
		}
	}
	for i, b := range rawDump(t, k, nl.XFRM_MSG_GETSA, nl.XFRM_MSG_NEWSA) {
		saveGuestSeed(t, "FuzzDecodeStateMsg", fmt.Sprintf("kernel-%d", i), b)
	}
	ctx, cancel := context.WithTimeout(bg, 30*time.Second)
	defer cancel()
	if err := k.Cleanup(ctx); err != nil {
		t.Fatal(err)
	}
	if got := ns.Run(t, "ip", "xfrm", "state", "list"); got != foreign {
		t.Errorf("foreign states changed:\nbefore:\n%s\nafter:\n%s", foreign, got)
	}
	if sas, _ := k.States(bg); len(sas) != 0 {
		t.Errorf("our SAs left:\n%s", FormatStates(sas))
	}
}

func sampleOwnedGCM() SA {
	sa := cbcSA()
	sa.Dst = netip.MustParseAddr("192.0.2.9")
	sa.Cipher, sa.CipherKey, sa.Integrity, sa.IntegrityKey = CipherAESGCM256, make([]byte, 36), IntegrityNone, nil
	return sa
}
