package oetest

import (
	"fmt"
	"net/netip"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/oe-agent/oe-agent/internal/testenv"
)

// The test link: every host of a Net sits on one Ethernet segment (a bridge
// in the switch namespace) with these prefixes, documentation ranges only
// (RFC 5737, RFC 3849).
var (
	Prefix4 = netip.MustParsePrefix("192.0.2.0/24")
	Prefix6 = netip.MustParsePrefix("2001:db8::/64")
)

// Net is a switched test network: a "switch" namespace holding a bridge, and
// hosts (namespaces) plugged into it by veth pairs. Everything is deleted
// when the test ends.
type Net struct {
	// Switch holds the bridge "br0" and one port per host; it has no
	// addresses and IPv6 is disabled there, so it never sends anything.
	Switch *testenv.Netns

	mu    sync.Mutex
	hosts []*Host
	ports map[int]*Host // switch-side ifindex -> host
}

// Host is one namespace on a Net.
type Host struct {
	Name string
	NS   *testenv.Netns
	// Link is the host's interface on the test link ("eth0"), Port its
	// peer in the switch namespace.
	Link, Port string
	// Addr4 and Addr6 are the host's main addresses; Extra are further
	// addresses on the same link (AddAddrs), for many-peer tests.
	Addr4, Addr6 netip.Addr
	Extra        []netip.Addr

	// Key is the host's Ed25519 host key; KeyFile holds it as PKCS#8 PEM
	// (mode 0600), as oe-agentd's hostkey= reads it.
	Key     *HostKey
	KeyFile string

	net *Net
}

// NewNet creates the switch namespace and its bridge.
func NewNet(t testing.TB) *Net {
	t.Helper()
	n := &Net{Switch: newNetns(t), ports: map[int]*Host{}}
	// No IPv6 on the switch: no RS, MLD or DAD of its own on the capture.
	for _, k := range []string{"net/ipv6/conf/all/disable_ipv6", "net/ipv6/conf/default/disable_ipv6"} {
		SetSysctl(t, n.Switch, k, "1")
	}
	sw, err := netlink.NewHandleAt(n.Switch.Handle)
	if err != nil {
		t.Fatalf("oetest: netlink in the switch: %v", err)
	}
	defer sw.Close()
	// No STP (ports forward at once), no multicast snooping (MLD would
	// decide what reaches whom).
	off := false
	br := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: "br0"}, MulticastSnooping: &off}
	if err := sw.LinkAdd(br); err != nil {
		t.Fatalf("oetest: bridge: %v", err)
	}
	if err := sw.LinkSetUp(br); err != nil {
		t.Fatalf("oetest: bridge up: %v", err)
	}
	return n
}

// AddHost creates a namespace named name (for messages; the namespace's
// own name is unique) and plugs it into the switch with the given
// addresses: the first IPv4 one becomes Addr4, the first IPv6 one Addr6,
// the others Extra. Prefix lengths are those of Prefix4 and Prefix6.
func (n *Net) AddHost(t testing.TB, name string, addrs ...netip.Addr) *Host {
	t.Helper()
	h := &Host{Name: name, NS: newNetns(t), Link: "eth0", net: n}
	n.mu.Lock()
	h.Port = fmt.Sprintf("p%d-%s", len(n.hosts), name)
	if len(h.Port) > unix.IFNAMSIZ-1 {
		h.Port = h.Port[:unix.IFNAMSIZ-1]
	}
	n.hosts = append(n.hosts, h)
	n.mu.Unlock()
	// Quiet IPv6: no router solicitations; addresses are added nodad.
	SetSysctl(t, h.NS, "net/ipv6/conf/default/router_solicitations", "0")
	SetSysctl(t, h.NS, "net/ipv6/conf/all/router_solicitations", "0")
	idx := n.plug(t, h)
	n.mu.Lock()
	n.ports[idx] = h
	n.mu.Unlock()
	h.AddAddrs(t, addrs...)
	return h
}

// Hosts returns the hosts in the order they were added.
func (n *Net) Hosts() []*Host {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]*Host(nil), n.hosts...)
}

// HostOf returns the host that owns addr, or nil.
func (n *Net) HostOf(addr netip.Addr) *Host {
	for _, h := range n.Hosts() {
		for _, a := range h.Addrs() {
			if a == addr {
				return h
			}
		}
	}
	return nil
}

func (n *Net) portHost(ifindex int) *Host {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.ports[ifindex]
}

// AddAddrs adds addresses to the host's link (IPv6 without DAD, so they
// are usable at once). The first of each family becomes Addr4/Addr6 if
// unset; the others are appended to Extra. It uses one netlink handle, so
// hundreds of addresses are cheap.
func (h *Host) AddAddrs(t testing.TB, addrs ...netip.Addr) {
	t.Helper()
	if len(addrs) == 0 {
		return
	}
	nh, err := netlink.NewHandleAt(h.NS.Handle)
	if err != nil {
		t.Fatalf("oetest: netlink in %s: %v", h.Name, err)
	}
	defer nh.Close()
	link, err := nh.LinkByName(h.Link)
	if err != nil {
		t.Fatalf("oetest: %s: %s: %v", h.Name, h.Link, err)
	}
	for _, a := range addrs {
		bits, flags := Prefix4.Bits(), 0
		if a.Is6() {
			bits, flags = Prefix6.Bits(), unix.IFA_F_NODAD
		}
		p := netip.PrefixFrom(a, bits)
		na, err := netlink.ParseAddr(p.String())
		if err != nil {
			t.Fatal(err)
		}
		na.Flags = flags
		if err := nh.AddrAdd(link, na); err != nil {
			t.Fatalf("oetest: %s: add %s: %v", h.Name, p, err)
		}
		switch {
		case a.Is4() && !h.Addr4.IsValid():
			h.Addr4 = a
		case a.Is6() && !h.Addr6.IsValid():
			h.Addr6 = a
		default:
			h.Extra = append(h.Extra, a)
		}
	}
}

// Addrs returns all the host's addresses: Addr4, Addr6 (if set), Extra.
func (h *Host) Addrs() []netip.Addr {
	var out []netip.Addr
	for _, a := range []netip.Addr{h.Addr4, h.Addr6} {
		if a.IsValid() {
			out = append(out, a)
		}
	}
	return append(out, h.Extra...)
}

// Run runs a command in the host's namespace and returns its output; it
// fails the test if the command fails.
func (h *Host) Run(t testing.TB, args ...string) string {
	t.Helper()
	return h.NS.Run(t, args...)
}

func (h *Host) String() string { return h.Name }

// SetSysctl writes a sysctl of the namespace through /proc/sys (path
// relative to /proc/sys, with slashes: "net/core/xfrm_larval_drop") from a
// thread inside it, and checks that it reads back. Sysctls under net/ are
// per namespace.
func SetSysctl(t testing.TB, ns *testenv.Netns, key, value string) {
	t.Helper()
	path := "/proc/sys/" + strings.ReplaceAll(key, ".", "/")
	err := ns.Do(func() error {
		if err := os.WriteFile(path, []byte(value), 0o644); err != nil {
			return err
		}
		got, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if strings.TrimSpace(string(got)) != value {
			return fmt.Errorf("reads %q after writing %q", strings.TrimSpace(string(got)), value)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("oetest: sysctl %s=%s in %s: %v", key, value, ns.Name, err)
	}
}

// Sysctl reads a sysctl of the namespace (see SetSysctl).
func Sysctl(t testing.TB, ns *testenv.Netns, key string) string {
	t.Helper()
	var out string
	err := ns.Do(func() error {
		b, err := os.ReadFile("/proc/sys/" + strings.ReplaceAll(key, ".", "/"))
		out = strings.TrimSpace(string(b))
		return err
	})
	if err != nil {
		t.Fatalf("oetest: sysctl %s in %s: %v", key, ns.Name, err)
	}
	return out
}

// plug creates h's veth pair from the switch namespace, with its peer
// (h.Link) in h's namespace, attaches the switch end to the bridge and
// brings both up: all through netlink, since every exec of ip costs
// noticeable time in the TCG guest. It returns the switch end's ifindex.
func (n *Net) plug(t testing.TB, h *Host) int {
	t.Helper()
	sw, err := netlink.NewHandleAt(n.Switch.Handle)
	if err != nil {
		t.Fatalf("oetest: netlink in the switch: %v", err)
	}
	defer sw.Close()
	hn, err := netlink.NewHandleAt(h.NS.Handle)
	if err != nil {
		t.Fatalf("oetest: netlink in %s: %v", h, err)
	}
	defer hn.Close()
	br, err := sw.LinkByName("br0")
	if err != nil {
		t.Fatalf("oetest: the switch's bridge: %v", err)
	}
	veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: h.Port}, PeerName: h.Link, PeerNamespace: netlink.NsFd(int(h.NS.Handle))}
	if err := sw.LinkAdd(veth); err != nil {
		t.Fatalf("oetest: veth %s/%s for %s: %v", h.Port, h.Link, h, err)
	}
	port, err := sw.LinkByName(h.Port)
	if err != nil {
		t.Fatal(err)
	}
	if err := sw.LinkSetMaster(port, br); err != nil {
		t.Fatalf("oetest: attach %s to the bridge: %v", h.Port, err)
	}
	link, err := hn.LinkByName(h.Link)
	if err != nil {
		t.Fatalf("oetest: %s in %s: %v", h.Link, h, err)
	}
	for _, up := range []struct {
		nh *netlink.Handle
		l  netlink.Link
	}{{sw, port}, {hn, link}} {
		if err := up.nh.LinkSetUp(up.l); err != nil {
			t.Fatalf("oetest: set %s up: %v", up.l.Attrs().Name, err)
		}
	}
	return port.Attrs().Index
}
