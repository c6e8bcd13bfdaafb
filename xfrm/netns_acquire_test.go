package xfrm

import (
	"errors"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/vishvananda/netlink/nl"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/oe-agent/oe-agent/internal/testenv"
)

var captureSeeds = flag.Bool("capture", false, "write raw kernel messages seen by kernel-tier tests into testdata/fuzz as seeds")

// rawEvents captures the raw payloads of XFRM multicast messages of type
// typ in ns, for cross-checking the decoders and for fuzz seeds.
func rawEvents(t *testing.T, ns *testenv.Netns, group uint, typ uint16) <-chan []byte {
	t.Helper()
	s, err := nl.SubscribeAt(ns.Handle, netns.None(), unix.NETLINK_XFRM, group)
	if err != nil {
		t.Fatal(err)
	}
	ch := make(chan []byte, 16)
	done := make(chan struct{})
	t.Cleanup(func() { s.Close(); <-done })
	go func() {
		defer close(done)
		for {
			msgs, _, err := s.Receive()
			if err != nil {
				return
			}
			for _, m := range msgs {
				if m.Header.Type == typ {
					select {
					case ch <- m.Data:
					default:
					}
				}
			}
		}
	}()
	return ch
}

// saveSeed writes b as a seed of fuzz target fuzzName when -capture is set.
func saveSeed(t *testing.T, fuzzName, name string, b []byte) {
	t.Helper()
	if !*captureSeeds {
		return
	}
	dir := filepath.Join("testdata", "fuzz", fuzzName)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	body := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", b)
	if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote seed %s/%s", dir, name)
}

// sendUDP sends one datagram from ns (bound to src, port 0 if unset) to dst.
func sendUDP(t *testing.T, ns *testenv.Netns, src netip.AddrPort, dst netip.AddrPort, payload string) error {
	t.Helper()
	c := listenUDP(t, ns, src)
	_, err := c.WriteToUDPAddrPort([]byte(payload), dst)
	return err
}

// TestNetnsAcquireOnTrap: a trap policy plus one UDP datagram yields exactly
// one ACQUIRE, within a second, whose selector is the datagram's flow and
// whose template is the trap's.
func TestNetnsAcquireOnTrap(t *testing.T) {
	testenv.RequireNetns(t)
	for _, tc := range []struct {
		name     string
		src, dst netip.Addr
		trap     Policy
	}{
		{"ipv4", west4, east4, trapPolicy()},
		{"ipv6", west6, east6, Policy{
			Selector: Selector{Src: host(west6), Dst: pfx("2001:db8::/32"), Proto: 17},
			Dir:      DirOut, Priority: prioTrap,
			Templates: []Template{{Proto: ProtoESP, Mode: ModeTransport, Reqid: testReqid + 6}},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			west, _ := pair(t)
			k := openNS(t, west)
			events := subscribe(t, k)
			raw := rawEvents(t, west, nl.XFRMNLGRP_ACQUIRE, nl.XFRM_MSG_ACQUIRE)
			if err := k.AddPolicy(bg, tc.trap); err != nil {
				t.Fatal(err)
			}
			src := netip.AddrPortFrom(tc.src, 40001)
			dst := netip.AddrPortFrom(tc.dst, 4242)
			start := time.Now()
			// With net.core.xfrm_larval_drop=1 the datagram is dropped
			// silently; the send itself succeeds.
			tx := listenUDP(t, west, src)
			if _, err := tx.WriteToUDPAddrPort([]byte("trap me"), dst); err != nil {
				t.Logf("send through the trap: %v", err)
			}
			ev := nextEvent(t, events, time.Second)
			if ev == nil {
				t.Fatal("no ACQUIRE within a second")
			}
			t.Logf("ACQUIRE after %v: %v", time.Since(start), ev)
			acq, ok := ev.(*Acquire)
			if !ok {
				t.Fatalf("got %T, want *Acquire", ev)
			}
			want := &Acquire{
				Src: tc.src, Dst: tc.dst, Proto: ProtoESP,
				Selector:  Selector{Src: host(tc.src), Dst: host(tc.dst), Proto: 17, SrcPort: 40001, DstPort: 4242},
				Policy:    Policy{Selector: tc.trap.Selector, Dir: DirOut, Priority: tc.trap.Priority},
				Templates: tc.trap.Templates,
				AAlgos:    ^uint32(0), EAlgos: ^uint32(0), CAlgos: ^uint32(0),
			}
			opts := []cmp.Option{cmpopts.IgnoreFields(Acquire{}, "Seq"), cmpopts.IgnoreFields(Policy{}, "Index"),
				cmpopts.EquateComparable(netip.Addr{}, netip.Prefix{})}
			if diff := cmp.Diff(want, acq, opts...); diff != "" {
				t.Errorf("ACQUIRE mismatch (-want +got):\n%s", diff)
			}
			if acq.Seq == 0 || acq.Policy.Index == 0 {
				t.Errorf("ACQUIRE without seq (%d) or policy index (%d)", acq.Seq, acq.Policy.Index)
			}
			// The raw message decodes to the same event.
			select {
			case b := <-raw:
				again, err := decodeAcquire(b)
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(acq, again, cmpopts.EquateComparable(netip.Addr{}, netip.Prefix{})); diff != "" {
					t.Errorf("raw ACQUIRE decodes differently (-sub +raw):\n%s", diff)
				}
				saveSeed(t, "FuzzDecodeAcquire", "kernel-"+tc.name, b)
			case <-time.After(time.Second):
				t.Error("raw subscriber saw no ACQUIRE")
			}
			// Exactly one: the larval state suppresses further ACQUIREs
			// for the flow (net.core.xfrm_acq_expires).
			tx.WriteToUDPAddrPort([]byte("again"), dst)
			if ev := nextEvent(t, events, 500*time.Millisecond); ev != nil {
				t.Errorf("second event %v, want exactly one ACQUIRE", ev)
			}
			// The larval state carries our reqid and SPI 0.
			states, err := k.States(bg)
			if err != nil {
				t.Fatal(err)
			}
			if len(states) != 1 || states[0].SPI != 0 || states[0].Reqid != tc.trap.Templates[0].Reqid {
				t.Errorf("larval states:\n%s", FormatStates(states))
			}
		})
	}
}

// TestNetnsBypassBeatsTrap: a clear (bypass) policy of a better priority
// than an overlapping trap lets the datagram through to east and no
// ACQUIRE fires.
func TestNetnsBypassBeatsTrap(t *testing.T) {
	testenv.RequireNetns(t)
	west, east := pair(t)
	k := openNS(t, west)
	events := subscribe(t, k)
	if err := k.AddPolicy(bg, trapPolicy()); err != nil {
		t.Fatal(err)
	}
	clear := Policy{
		Selector: Selector{Src: host(west4), Dst: host(east4), Proto: 17, DstPort: 5353},
		Dir:      DirOut,
		Priority: prioClear,
	}
	if err := k.AddPolicy(bg, clear); err != nil {
		t.Fatal(err)
	}
	rx := listenUDP(t, east, netip.AddrPortFrom(east4, 5353))
	if err := sendUDP(t, west, netip.AddrPortFrom(west4, 0), netip.AddrPortFrom(east4, 5353), "in the clear"); err != nil {
		t.Fatal(err)
	}
	if got := recvUDP(t, rx, 2*time.Second); string(got) != "in the clear" {
		t.Fatalf("east received %q, want the datagram", got)
	}
	if ev := nextEvent(t, events, 300*time.Millisecond); ev != nil {
		t.Errorf("event %v, want none (bypass wins)", ev)
	}
	// The same datagram to another port hits the trap.
	sendUDP(t, west, netip.AddrPortFrom(west4, 0), netip.AddrPortFrom(east4, 5354), "trapped")
	if _, ok := nextEvent(t, events, time.Second).(*Acquire); !ok {
		t.Error("no ACQUIRE for the trapped port")
	}
}

// TestNetnsBlockDrops: a block policy makes the send fail with EPERM or
// the datagram never arrive.
func TestNetnsBlockDrops(t *testing.T) {
	testenv.RequireNetns(t)
	west, east := pair(t)
	k := openNS(t, west)
	if err := k.AddPolicy(bg, Policy{
		Selector: Selector{Src: host(west4), Dst: host(east4)},
		Dir:      DirOut, Action: ActionBlock, Priority: prioClear,
	}); err != nil {
		t.Fatal(err)
	}
	rx := listenUDP(t, east, netip.AddrPortFrom(east4, 5353))
	err := sendUDP(t, west, netip.AddrPortFrom(west4, 0), netip.AddrPortFrom(east4, 5353), "blocked")
	if err != nil && !errors.Is(err, syscall.EPERM) {
		t.Fatalf("send: %v, want EPERM or success", err)
	}
	t.Logf("send through block policy: %v", err)
	if got := recvUDP(t, rx, 500*time.Millisecond); got != nil {
		t.Errorf("east received %q through a block policy", got)
	}
}

// TestNetnsSocketBypass: a socket with BypassSocket sends through a block
// policy and through a trap (without ACQUIRE); a socket without it cannot.
func TestNetnsSocketBypass(t *testing.T) {
	testenv.RequireNetns(t)
	for _, tc := range []struct {
		name     string
		src, dst netip.Addr
		policy   Policy
	}{
		{"block-v4", west4, east4, Policy{Selector: Selector{Src: host(west4), Dst: host(east4)},
			Dir: DirOut, Action: ActionBlock, Priority: prioClear}},
		{"trap-v4", west4, east4, trapPolicy()},
		{"block-v6", west6, east6, Policy{Selector: Selector{Src: host(west6), Dst: host(east6)},
			Dir: DirOut, Action: ActionBlock, Priority: prioClear}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			west, east := pair(t)
			k := openNS(t, west)
			events := subscribe(t, k)
			if err := k.AddPolicy(bg, tc.policy); err != nil {
				t.Fatal(err)
			}
			// Inbound block on east too: the bypass is per direction.
			ke := openNS(t, east)
			if err := ke.AddPolicy(bg, Policy{Selector: Selector{Src: host(tc.src), Dst: host(tc.dst)},
				Dir: DirIn, Action: ActionBlock, Priority: prioClear}); err != nil {
				t.Fatal(err)
			}
			rx := listenUDP(t, east, netip.AddrPortFrom(tc.dst, 500))
			rc, err := rx.SyscallConn()
			if err != nil {
				t.Fatal(err)
			}
			if err := BypassSocket(rc); err != nil {
				t.Fatal(err)
			}
			ike := listenUDP(t, west, netip.AddrPortFrom(tc.src, 500))
			rc, err = ike.SyscallConn()
			if err != nil {
				t.Fatal(err)
			}
			if err := BypassSocket(rc); err != nil {
				t.Fatal(err)
			}
			if _, err := ike.WriteToUDPAddrPort([]byte("IKE_SA_INIT"), netip.AddrPortFrom(tc.dst, 500)); err != nil {
				t.Fatalf("send from the bypass socket: %v", err)
			}
			if got := recvUDP(t, rx, 2*time.Second); string(got) != "IKE_SA_INIT" {
				t.Fatalf("east received %q, want the datagram", got)
			}
			if ev := nextEvent(t, events, 300*time.Millisecond); ev != nil {
				t.Errorf("event %v for a bypass socket", ev)
			}
			// A plain socket is subject to the policy.
			plain := listenUDP(t, west, netip.AddrPortFrom(tc.src, 0))
			plain.WriteToUDPAddrPort([]byte("plain"), netip.AddrPortFrom(tc.dst, 500))
			if got := recvUDP(t, rx, 300*time.Millisecond); got != nil {
				t.Errorf("plain socket got %q through the policy", got)
			}
		})
	}
}
