package xfrmtest

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/oe-agent/oe-agent/xfrm"
)

var update = flag.Bool("update", false, "rewrite golden files")

var (
	bg    = context.Background()
	west  = netip.MustParseAddr("192.0.2.1")
	east  = netip.MustParseAddr("192.0.2.2")
	reqid = xfrm.ReqidMin + 1
)

func pfx(s string) netip.Prefix { return netip.MustParsePrefix(s) }

func trap() xfrm.Policy {
	return xfrm.Policy{
		Selector:  xfrm.Selector{Src: pfx("192.0.2.1/32"), Dst: pfx("192.0.2.0/24")},
		Dir:       xfrm.DirOut,
		Priority:  xfrm.PriorityMin + 0x1000,
		Templates: []xfrm.Template{{Proto: xfrm.ProtoESP, Mode: xfrm.ModeTransport, Reqid: reqid}},
	}
}

func gcmSA(src, dst netip.Addr, spi uint32) xfrm.SA {
	return xfrm.SA{Src: src, Dst: dst, Proto: xfrm.ProtoESP, SPI: spi, Mode: xfrm.ModeTransport, Reqid: reqid,
		Cipher: xfrm.CipherAESGCM128, CipherKey: bytes.Repeat([]byte{0xaa}, 20), ReplayWindow: 32,
		Lifetime: xfrm.Lifetime{SoftAdd: 50 * time.Minute, HardAdd: time.Hour}}
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create)", err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("%s mismatch (-want +got):\n%s", path, diff)
	}
}

func recv(t *testing.T, ch <-chan xfrm.Event) xfrm.Event {
	t.Helper()
	select {
	case ev := <-ch:
		return ev
	case <-time.After(time.Second):
		t.Fatal("no event")
		return nil
	}
}

// TestOESequence plays the kernel side of one opportunistic connection and
// compares the tables with a golden file at each step.
func TestOESequence(t *testing.T) {
	k := New()
	k.SetClock(func() time.Time { return time.Unix(1_800_000_000, 0) })
	ctx, cancel := context.WithCancel(bg)
	defer cancel()
	events, err := k.Subscribe(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// Another daemon's static tunnel shares the kernel.
	k.AddForeignPolicy(xfrm.Policy{Selector: xfrm.Selector{Src: pfx("198.51.100.0/24"), Dst: pfx("203.0.113.0/24")},
		Dir: xfrm.DirOut, Priority: 2000, Templates: []xfrm.Template{{Src: west, Dst: netip.MustParseAddr("203.0.113.1"),
			Proto: xfrm.ProtoESP, Mode: xfrm.ModeTunnel, Reqid: 16384}}})
	k.AddForeignState(xfrm.SA{Src: west, Dst: netip.MustParseAddr("203.0.113.1"), Proto: xfrm.ProtoESP, SPI: 0x5000,
		Mode: xfrm.ModeTunnel, Reqid: 16384, Cipher: xfrm.CipherAESCBC128, CipherKey: make([]byte, 16),
		Integrity: xfrm.IntegrityHMACSHA256_128, IntegrityKey: make([]byte, 32)})

	for _, p := range []xfrm.Policy{
		trap(),
		{Selector: xfrm.Selector{Src: pfx("192.0.2.1/32"), Dst: pfx("192.0.2.53/32"), Proto: 17, DstPort: 53},
			Dir: xfrm.DirOut, Priority: xfrm.PriorityMin + 0x100},
		{Selector: xfrm.Selector{Src: pfx("192.0.2.1/32"), Dst: pfx("192.0.2.66/32")},
			Dir: xfrm.DirOut, Action: xfrm.ActionBlock, Priority: xfrm.PriorityMin + 0x100},
	} {
		if err := k.AddPolicy(bg, p); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		dst  string
		port uint16
		want Verdict
	}{{"192.0.2.53", 53, Clear}, {"192.0.2.66", 80, Blocked}, {"203.0.113.9", 80, Clear}} {
		if got := k.Packet(west, netip.MustParseAddr(tc.dst), 17, 40000, tc.port); got != tc.want {
			t.Errorf("packet to %s:%d: %s, want %s", tc.dst, tc.port, got, tc.want)
		}
	}
	if got := k.Packet(west, east, 6, 40000, 443); got != Trapped {
		t.Fatalf("first packet to east: %s, want trapped", got)
	}
	acq, ok := recv(t, events).(*xfrm.Acquire)
	if !ok || acq.Dst != east || acq.Selector.DstPort != 443 || acq.Templates[0].Reqid != reqid || acq.Seq != 1 {
		t.Fatalf("ACQUIRE %+v", acq)
	}
	if got := k.Packet(west, east, 6, 40000, 443); got != Trapped {
		t.Errorf("second packet: %s, want trapped", got)
	}
	select {
	case ev := <-events:
		t.Errorf("second ACQUIRE %v while one is pending", ev)
	default:
	}
	golden(t, "acquired", k.Text())

	// The IKE layer negotiates: an inbound SPI, then both SAs.
	spi, err := k.AllocSPI(bg, xfrm.SPIRequest{Src: east, Dst: west, Proto: xfrm.ProtoESP, Mode: xfrm.ModeTransport,
		Reqid: reqid, Seq: acq.Seq})
	if err != nil {
		t.Fatal(err)
	}
	if err := k.UpdateState(bg, gcmSA(east, west, spi)); err != nil {
		t.Fatal(err)
	}
	if err := k.AddState(bg, gcmSA(west, east, 0xc1000001)); err != nil {
		t.Fatal(err)
	}
	// The outbound SA replaced the larval state.
	if got := k.Packet(west, east, 6, 40000, 443); got != Protected {
		t.Errorf("packet after SA install: %s, want protected", got)
	}
	if err := k.AddTraffic(xfrm.SAID{Dst: east, Proto: xfrm.ProtoESP, SPI: 0xc1000001}, 1500, 3); err != nil {
		t.Fatal(err)
	}
	sas, _ := k.States(bg)
	var counted bool
	for _, sa := range sas {
		if sa.SPI == 0xc1000001 && sa.Stats.Bytes == 1500 && sa.Stats.Packets == 3 && !sa.Stats.UseTime.IsZero() {
			counted = true
		}
	}
	if !counted {
		t.Errorf("traffic not counted: %+v", sas)
	}
	out := xfrm.SAID{Dst: east, Proto: xfrm.ProtoESP, SPI: 0xc1000001}
	if err := k.Expire(out, false); err != nil {
		t.Fatal(err)
	}
	exp, ok := recv(t, events).(*xfrm.Expire)
	if !ok || exp.Hard || exp.SA.SPI != 0xc1000001 || exp.SA.CipherKey != nil {
		t.Errorf("soft EXPIRE %+v", exp)
	}
	golden(t, "established", k.Text())
	if err := k.Expire(out, true); err != nil {
		t.Fatal(err)
	}
	if exp, ok := recv(t, events).(*xfrm.Expire); !ok || !exp.Hard {
		t.Errorf("hard EXPIRE %+v", exp)
	}
	if err := k.DeleteState(bg, out); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("SA still there after a hard expire: %v", err)
	}

	if err := k.Cleanup(bg); err != nil {
		t.Fatal(err)
	}
	golden(t, "cleaned", k.Text())
	cancel()
	for range events { // closes after cancel
	}
}

func TestErrors(t *testing.T) {
	k := New()
	p := trap()
	if err := k.AddPolicy(bg, p); err != nil {
		t.Fatal(err)
	}
	err := k.AddPolicy(bg, p)
	if !errors.Is(err, os.ErrExist) || err.Error() != "xfrm: add policy out src 192.0.2.1/32 dst 192.0.2.0/24 priority 0x0e001000: file exists" {
		t.Errorf("duplicate add: %v", err)
	}
	if err := k.DeleteState(bg, xfrm.SAID{Dst: east, Proto: xfrm.ProtoESP, SPI: 0x999}); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("delete missing SA: %v", err)
	}
	p.Selector.Dst = pfx("192.0.2.128/25")
	if err := k.DeletePolicy(bg, p); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("delete missing policy: %v", err)
	}
	bad := trap()
	bad.Priority = 5
	if err := k.AddPolicy(bg, bad); !errors.Is(err, syscall.EINVAL) {
		t.Errorf("priority outside band: %v", err)
	}
	k.AddForeignState(xfrm.SA{Src: west, Dst: east, Proto: xfrm.ProtoESP, SPI: 0x4444, Reqid: 7})
	if err := k.DeleteState(bg, xfrm.SAID{Dst: east, Proto: xfrm.ProtoESP, SPI: 0x4444}); !errors.Is(err, xfrm.ErrNotOwned) {
		t.Errorf("delete foreign SA: %v", err)
	}
	foreign := gcmSA(west, east, 0x4444)
	if err := k.UpdateState(bg, foreign); !errors.Is(err, xfrm.ErrNotOwned) {
		t.Errorf("update foreign SA: %v", err)
	}
	k.SetFault(func(op, object string) error {
		if op == "add" && strings.HasPrefix(object, "state") {
			return syscall.EPROTONOSUPPORT
		}
		return nil
	})
	err = k.AddState(bg, gcmSA(west, east, 0x1234))
	var op *xfrm.OpError
	if !errors.As(err, &op) || !errors.Is(err, syscall.EPROTONOSUPPORT) || op.Object != "state esp spi 0x00001234 192.0.2.1->192.0.2.2" {
		t.Errorf("injected fault: %v", err)
	}
	k.SetFault(nil)
	if err := k.AddState(bg, gcmSA(west, east, 0x1234)); err != nil {
		t.Errorf("after clearing the fault: %v", err)
	}
	ctx, cancel := context.WithCancel(bg)
	cancel()
	if _, err := k.States(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled context: %v", err)
	}
}

func TestAllocSPIRange(t *testing.T) {
	k := New()
	seen := map[uint32]bool{}
	for range 20 {
		spi, err := k.AllocSPI(bg, xfrm.SPIRequest{Src: east, Dst: west, Proto: xfrm.ProtoESP, Reqid: reqid,
			Min: 0x1000, Max: 0x100f})
		if i := len(seen); i >= 16 {
			if err == nil {
				t.Fatalf("SPI 0x%x handed out beyond a range of 16", spi)
			}
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if spi < 0x1000 || spi > 0x100f || seen[spi] {
			t.Fatalf("SPI 0x%x out of range or reused", spi)
		}
		seen[spi] = true
	}
}
