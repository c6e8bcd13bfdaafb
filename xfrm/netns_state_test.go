package xfrm

import (
	"errors"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/oe-agent/oe-agent/internal/testenv"
)

// cbcSA is an ESP transport SA with AES-CBC and HMAC-SHA-256, algorithms
// the host kernel has even without ESP.
func cbcSA() SA {
	return SA{
		Src: west4, Dst: east4, Proto: ProtoESP, SPI: 0x1234, Mode: ModeTransport, Reqid: testReqid,
		Cipher: CipherAESCBC128, CipherKey: make([]byte, 16),
		Integrity: IntegrityHMACSHA256_128, IntegrityKey: make([]byte, 32),
		ReplayWindow: 32,
	}
}

// TestNetnsStateAddNoESP: on a kernel without ESP, adding an SA fails with
// an error that says so in plain words and unwraps to EPROTONOSUPPORT.
func TestNetnsStateAddNoESP(t *testing.T) {
	testenv.RequireNetns(t)
	ns := testenv.NewNetns(t)
	k := openNS(t, ns)
	err := k.AddState(bg, cbcSA())
	if err == nil {
		t.Skip("this kernel has ESP: the no-ESP error cannot be seen here")
	}
	t.Log(err)
	if !errors.Is(err, syscall.EPROTONOSUPPORT) {
		t.Fatalf("AddState: %v, want EPROTONOSUPPORT", err)
	}
	want := "xfrm: add state esp spi 0x00001234 192.0.2.1->192.0.2.2: the kernel has no ESP support (module esp4/esp6 missing)"
	if !strings.HasPrefix(err.Error(), want) {
		t.Errorf("error %q, want prefix %q", err, want)
	}
	var op *OpError
	if !errors.As(err, &op) || op.Op != "add" || !strings.HasPrefix(op.Object, "state esp spi 0x00001234") {
		t.Errorf("error is not an *OpError naming the SA: %#v", err)
	}
	ah := cbcSA()
	ah.Proto, ah.Cipher, ah.CipherKey = ProtoAH, CipherNone, nil
	if err := k.AddState(bg, ah); err == nil || !strings.Contains(err.Error(), "no AH support (module ah4/ah6 missing)") {
		t.Errorf("AH add: %v, want the no-AH error", err)
	}
}

// TestNetnsAllocSPI reserves SPIs, lists the larval states with our reqid,
// and deletes them; a foreign one is refused.
func TestNetnsAllocSPI(t *testing.T) {
	testenv.RequireNetns(t)
	ns := testenv.NewNetns(t)
	k := openNS(t, ns)
	req := SPIRequest{Src: east4, Dst: west4, Proto: ProtoESP, Mode: ModeTransport, Reqid: testReqid,
		Min: 0xc0000000, Max: 0xc00000ff}
	spi, err := k.AllocSPI(bg, req)
	if err != nil {
		t.Fatal(err)
	}
	if spi < req.Min || spi > req.Max {
		t.Fatalf("SPI 0x%x outside 0x%x-0x%x", spi, req.Min, req.Max)
	}
	req6 := SPIRequest{Src: east6, Dst: west6, Proto: ProtoESP, Mode: ModeTunnel, Reqid: testReqid + 1}
	spi6, err := k.AllocSPI(bg, req6)
	if err != nil {
		t.Fatal(err)
	}
	states, err := k.States(bg)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("states:\n%s", FormatStates(states))
	found := map[uint32]SA{}
	for _, sa := range states {
		found[sa.SPI] = sa
	}
	if sa, ok := found[spi]; !ok || sa.Src != east4 || sa.Dst != west4 || sa.Reqid != testReqid || sa.Mode != ModeTransport {
		t.Errorf("allocated SA 0x%x not listed as asked: %+v", spi, sa)
	}
	if sa, ok := found[spi6]; !ok || sa.Src != east6 || sa.Dst != west6 || sa.Mode != ModeTunnel {
		t.Errorf("allocated IPv6 SA 0x%x not listed as asked: %+v", spi6, sa)
	}

	// A foreign larval SA (reqid 5) is neither listed nor deletable.
	out := ns.Run(t, "ip", "xfrm", "state", "allocspi", "src", "192.0.2.9", "dst", "192.0.2.1",
		"proto", "esp", "mode", "transport", "reqid", "5")
	foreign := parseSPI(t, out)
	if _, ok := found[foreign]; ok {
		t.Errorf("foreign SA listed as ours")
	}
	err = k.DeleteState(bg, SAID{Dst: west4, Proto: ProtoESP, SPI: foreign})
	if !errors.Is(err, ErrNotOwned) {
		t.Errorf("delete of a foreign SA: %v, want ErrNotOwned", err)
	}

	if err := k.DeleteState(bg, SAID{Dst: west4, Proto: ProtoESP, SPI: spi}); err != nil {
		t.Fatal(err)
	}
	err = k.DeleteState(bg, SAID{Dst: west4, Proto: ProtoESP, SPI: spi})
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("second delete: %v, want ErrNotExist", err)
	}
	if !strings.HasPrefix(err.Error(), "xfrm: delete state esp spi 0x") {
		t.Errorf("error %q does not name the SA", err)
	}
	// Foreign reqids are refused before the kernel.
	bad := req
	bad.Reqid = 5
	if _, err := k.AllocSPI(bg, bad); !errors.Is(err, syscall.EINVAL) {
		t.Errorf("AllocSPI with a foreign reqid: %v, want EINVAL", err)
	}
}

// parseSPI finds "spi 0x..." in ip xfrm output.
func parseSPI(t *testing.T, out string) uint32 {
	t.Helper()
	for _, f := range strings.Fields(out) {
		if strings.HasPrefix(f, "0x") {
			if spi, err := strconv.ParseUint(f[2:], 16, 32); err == nil && spi != 0 {
				return uint32(spi)
			}
		}
	}
	t.Fatalf("no SPI in %q", out)
	return 0
}

// TestNetnsCleanupOwnedOnly installs oe-agent's policies and states next to
// a foreign daemon's (installed with ip xfrm), runs Cleanup, and finds only
// the foreign ones left, unchanged.
func TestNetnsCleanupOwnedOnly(t *testing.T) {
	testenv.RequireNetns(t)
	ns := testenv.NewNetns(t)
	k := openNS(t, ns)

	// The foreign daemon: a trap and a bypass outside our priority band, a
	// templated policy inside the band but with a foreign reqid, and a
	// larval SA with a foreign reqid.
	ns.Run(t, "ip", "xfrm", "policy", "add", "src", "198.51.100.0/24", "dst", "203.0.113.0/24", "dir", "out",
		"priority", "2000", "tmpl", "proto", "esp", "reqid", "16384", "mode", "transport")
	ns.Run(t, "ip", "xfrm", "policy", "add", "src", "192.0.2.1/32", "dst", "192.0.2.53/32", "dir", "out",
		"priority", "1000")
	ns.Run(t, "ip", "xfrm", "policy", "add", "src", "192.0.2.1/32", "dst", "192.0.2.77/32", "dir", "in",
		"priority", "234881025", "tmpl", "proto", "esp", "reqid", "7", "mode", "transport")
	ns.Run(t, "ip", "xfrm", "state", "allocspi", "src", "192.0.2.9", "dst", "192.0.2.1",
		"proto", "esp", "mode", "transport", "reqid", "16384")
	foreignPolicies := ns.Run(t, "ip", "xfrm", "policy", "list")
	foreignStates := ns.Run(t, "ip", "xfrm", "state", "list")

	// Ours: every kind of policy and two larval SAs.
	ours := []Policy{
		trapPolicy(),
		{Selector: Selector{Src: host(west4), Dst: host(east4), Proto: 17, DstPort: 53}, Dir: DirOut, Priority: prioClear},
		{Selector: Selector{Src: host(west4), Dst: pfx("198.51.100.0/24")}, Dir: DirOut, Action: ActionBlock, Priority: prioClear},
		{Selector: Selector{Src: pfx("192.0.2.0/24"), Dst: host(west4)}, Dir: DirIn, Priority: prioTrap,
			Templates: []Template{{Proto: ProtoESP, Mode: ModeTransport, Reqid: testReqid}}},
	}
	for _, p := range ours {
		if err := k.AddPolicy(bg, p); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 2 {
		if _, err := k.AllocSPI(bg, SPIRequest{Src: east4, Dst: west4, Proto: ProtoESP, Mode: ModeTransport,
			Reqid: testReqid + uint32(i)}); err != nil {
			t.Fatal(err)
		}
	}
	if ps, _ := k.Policies(bg); len(ps) != len(ours) {
		t.Fatalf("listed %d policies as ours, want %d:\n%s", len(ps), len(ours), FormatPolicies(ps))
	}
	if sas, _ := k.States(bg); len(sas) != 2 {
		t.Fatalf("listed %d states as ours, want 2:\n%s", len(sas), FormatStates(sas))
	}

	if err := k.Cleanup(bg); err != nil {
		t.Fatal(err)
	}
	if ps, _ := k.Policies(bg); len(ps) != 0 {
		t.Errorf("policies left after Cleanup:\n%s", FormatPolicies(ps))
	}
	if sas, _ := k.States(bg); len(sas) != 0 {
		t.Errorf("states left after Cleanup:\n%s", FormatStates(sas))
	}
	if got := ns.Run(t, "ip", "xfrm", "policy", "list"); got != foreignPolicies {
		t.Errorf("foreign policies changed by Cleanup:\nbefore:\n%s\nafter:\n%s", foreignPolicies, got)
	}
	if got := ns.Run(t, "ip", "xfrm", "state", "list"); got != foreignStates {
		t.Errorf("foreign states changed by Cleanup:\nbefore:\n%s\nafter:\n%s", foreignStates, got)
	}
	// Idempotent.
	if err := k.Cleanup(bg); err != nil {
		t.Errorf("second Cleanup: %v", err)
	}
}

// TestNetnsClosed: after Close every operation fails with ErrClosed rather
// than reaching another namespace.
func TestNetnsClosed(t *testing.T) {
	testenv.RequireNetns(t)
	ns := testenv.NewNetns(t)
	k, err := OpenAt(ns.Handle, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := k.Close(); err != nil {
		t.Fatal(err)
	}
	_, errList := k.Policies(bg)
	_, errSPI := k.AllocSPI(bg, SPIRequest{Src: east4, Dst: west4, Proto: ProtoESP, Reqid: testReqid})
	_, errSub := k.Subscribe(bg)
	for _, err := range []error{errList, errSPI, errSub, k.AddPolicy(bg, trapPolicy()), k.Cleanup(bg),
		k.DeleteState(bg, SAID{Dst: west4, Proto: ProtoESP, SPI: 0x1000})} {
		if !errors.Is(err, ErrClosed) {
			t.Errorf("after Close: %v, want ErrClosed", err)
		}
	}
	if err := k.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}
