package xfrm

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"strings"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/vishvananda/netlink/nl"

	"github.com/oe-agent/oe-agent/internal/testenv"
)

// TestNetnsPolicyCRUD adds, lists, updates and deletes policies of every
// kind in a fresh namespace, and reads them back exactly.
func TestNetnsPolicyCRUD(t *testing.T) {
	testenv.RequireNetns(t)
	ns := testenv.NewNetns(t)
	k := openNS(t, ns)

	policies := []Policy{
		trapPolicy(),
		{ // inbound IPsec, transport, level use (accept clear too)
			Selector:  Selector{Src: pfx("192.0.2.0/24"), Dst: host(west4)},
			Dir:       DirIn,
			Priority:  prioTrap,
			Templates: []Template{{Proto: ProtoESP, Mode: ModeTransport, Reqid: testReqid, Level: LevelUse}},
		},
		{ // tunnel between two subnets, forward, with endpoints and SPI
			Selector: Selector{Src: pfx("203.0.113.0/24"), Dst: pfx("198.51.100.0/24")},
			Dir:      DirFwd,
			Priority: prioTrap + 1,
			Templates: []Template{{Src: east4, Dst: west4, Proto: ProtoESP, Mode: ModeTunnel,
				Reqid: testReqid + 1, SPI: 0x4242}},
		},
		{ // bypass: allow without template, port-specific
			Selector: Selector{Src: host(west4), Dst: host(east4), Proto: 17, DstPort: 53},
			Dir:      DirOut,
			Priority: prioClear,
		},
		{ // block
			Selector: Selector{Src: pfx("0.0.0.0/0"), Dst: pfx("198.51.100.7/32"), Proto: 6, SrcPort: 1234},
			Dir:      DirOut,
			Action:   ActionBlock,
			Priority: prioClear + 1,
		},
		{ // IPv6 trap on a /48 (netlink v1.3.1 would read this back as IPv4)
			Selector:  Selector{Src: host(west6), Dst: pfx("2001:db8::/48")},
			Dir:       DirOut,
			Priority:  prioTrap,
			Templates: []Template{{Proto: ProtoAH, Mode: ModeTransport, Reqid: testReqid + 2}},
		},
		{ // IPv6 block with a mark
			Selector: Selector{Src: pfx("2001:db8:1::/64"), Dst: pfx("::/0")},
			Dir:      DirIn,
			Action:   ActionBlock,
			Priority: prioClear,
			Mark:     Mark{Value: 0x10, Mask: 0xff},
		},
	}
	for _, p := range policies {
		if err := k.AddPolicy(bg, p); err != nil {
			t.Fatal(err)
		}
	}
	wantKinds := []PolicyKind{KindIPsec, KindIPsec, KindIPsec, KindBypass, KindBlock, KindIPsec, KindBlock}
	for i, p := range policies {
		if p.Kind() != wantKinds[i] {
			t.Errorf("policy %d kind %s, want %s", i, p.Kind(), wantKinds[i])
		}
	}

	got, err := k.Policies(bg)
	if err != nil {
		t.Fatal(err)
	}
	sortOpt := cmpopts.SortSlices(func(a, b Policy) bool { return FormatPolicies([]Policy{a}) < FormatPolicies([]Policy{b}) })
	ignoreIndex := cmpopts.IgnoreFields(Policy{}, "Index")
	if diff := cmp.Diff(policies, got, sortOpt, ignoreIndex, cmpopts.EquateComparable(netip.Addr{}, netip.Prefix{})); diff != "" {
		t.Errorf("Policies() mismatch (-want +got):\n%s", diff)
	}
	t.Logf("policies read back:\n%s", FormatPolicies(got))
	for i, b := range rawDump(t, k, nl.XFRM_MSG_GETPOLICY, nl.XFRM_MSG_NEWPOLICY) {
		saveSeed(t, "FuzzDecodePolicyMsg", fmt.Sprintf("kernel-%d", i), b)
	}
	for _, p := range got {
		if p.Index == 0 {
			t.Errorf("policy %s read back without index", p)
		}
	}
	// ip xfrm agrees on what the kernel holds.
	out := ns.Run(t, "ip", "xfrm", "policy", "list")
	for _, want := range []string{"src 2001:db8::1/128 dst 2001:db8::/48", "proto ah reqid 234881042 mode transport",
		"src 192.0.2.1/32 dst 192.0.2.2/32 proto udp dport 53", "action block", "level use"} {
		if !strings.Contains(out, want) {
			t.Errorf("ip xfrm policy list lacks %q:\n%s", want, out)
		}
	}

	// Adding a policy again fails with EEXIST and names it.
	err = k.AddPolicy(bg, policies[0])
	if !errors.Is(err, os.ErrExist) {
		t.Errorf("duplicate add: %v, want EEXIST", err)
	}
	if want := "xfrm: add policy out src 192.0.2.1/32 dst 192.0.2.0/24 priority 0x0e001000: file exists"; err == nil || err.Error() != want {
		t.Errorf("duplicate add error %q, want %q", err, want)
	}

	// Update turns the trap into a block in place (same selector, dir).
	blk := policies[0]
	blk.Action, blk.Templates = ActionBlock, nil
	if err := k.UpdatePolicy(bg, blk); err != nil {
		t.Fatal(err)
	}
	got, _ = k.Policies(bg)
	if n := countKind(got, KindBlock); n != 3 {
		t.Errorf("after update %d block policies, want 3:\n%s", n, FormatPolicies(got))
	}
	if len(got) != len(policies) {
		t.Errorf("after update %d policies, want %d", len(got), len(policies))
	}

	// Delete all; a second delete reports not-exist.
	for _, p := range policies {
		if err := k.DeletePolicy(bg, p); err != nil {
			t.Fatal(err)
		}
	}
	if err := k.DeletePolicy(bg, policies[1]); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("delete of a missing policy: %v, want ErrNotExist", err)
	}
	if got, _ := k.Policies(bg); len(got) != 0 {
		t.Errorf("policies left after delete:\n%s", FormatPolicies(got))
	}

	// Policies outside oe-agent's band are refused before the kernel.
	bad := policies[3]
	bad.Priority = 100
	if err := k.AddPolicy(bg, bad); !errors.Is(err, syscall.EINVAL) {
		t.Errorf("add outside the band: %v, want EINVAL", err)
	}
}

// TestNetnsForeignPolicyUntouchable checks that Update and Delete refuse a
// policy another daemon installed with the same selector.
func TestNetnsForeignPolicyUntouchable(t *testing.T) {
	testenv.RequireNetns(t)
	ns := testenv.NewNetns(t)
	k := openNS(t, ns)
	ns.Run(t, "ip", "xfrm", "policy", "add", "src", "192.0.2.1/32", "dst", "192.0.2.0/24", "dir", "out",
		"priority", "1000", "tmpl", "proto", "esp", "reqid", "16384", "mode", "transport")
	p := trapPolicy()
	if err := k.UpdatePolicy(bg, p); !errors.Is(err, ErrNotOwned) {
		t.Errorf("update of a foreign policy: %v, want ErrNotOwned", err)
	}
	if err := k.DeletePolicy(bg, p); !errors.Is(err, ErrNotOwned) {
		t.Errorf("delete of a foreign policy: %v, want ErrNotOwned", err)
	}
	if got, _ := k.Policies(bg); len(got) != 0 {
		t.Errorf("foreign policy listed as ours:\n%s", FormatPolicies(got))
	}
	if out := ns.Run(t, "ip", "xfrm", "policy", "list"); !strings.Contains(out, "reqid 16384") {
		t.Errorf("foreign policy changed:\n%s", out)
	}
}

func countKind(ps []Policy, k PolicyKind) int {
	n := 0
	for _, p := range ps {
		if p.Kind() == k {
			n++
		}
	}
	return n
}
