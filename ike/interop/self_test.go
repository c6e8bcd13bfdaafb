package interop

import (
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/oe-agent/oe-agent/ike"
	"github.com/oe-agent/oe-agent/internal/testenv"
	"github.com/oe-agent/oe-agent/xfrm"
)

// nsListen opens UDP sockets inside ns.
func nsListen(ns *testenv.Netns) func(string, *net.UDPAddr) (*net.UDPConn, error) {
	return func(network string, laddr *net.UDPAddr) (c *net.UDPConn, err error) {
		err = ns.Do(func() error { c, err = net.ListenUDP(network, laddr); return err })
		return c, err
	}
}

func bypass(c *net.UDPConn) error {
	rc, err := c.SyscallConn()
	if err != nil {
		return err
	}
	return xfrm.BypassSocket(rc)
}

// driverPeer commands a second driver as the peer.
type driverPeer struct {
	t      *testing.T
	d      *driver
	cfg    *ike.Config
	remote netip.Addr
}

func (p *driverPeer) initiate(t *testing.T) {
	if err := p.d.initiate(p.cfg, p.remote); err != nil {
		t.Fatal(err)
	}
}

func (p *driverPeer) rekeyChild(t *testing.T) {
	c, ok := p.d.status().child()
	if !ok {
		t.Fatal("peer driver has no Child SA")
	}
	if err := p.d.rekeyChild(c.InboundSPI); err != nil {
		t.Fatal(err)
	}
}

func (p *driverPeer) log() string { return "" }

func (p *driverPeer) rekeyIKE(t *testing.T) {
	if err := p.d.rekeyIKE(); err != nil {
		t.Fatal(err)
	}
}

func (p *driverPeer) deleteIKE(t *testing.T) {
	if err := p.d.deleteIKE(); err != nil {
		t.Fatal(err)
	}
}

// TestNetnsDriverAgainstItself runs the interop scenario between two of
// the test's own drivers over real UDP sockets in two namespaces, with
// in-memory kernels (the host kernel has no ESP): it checks the driver and
// the scenario before they meet strongSwan and libreswan in the guest.
func TestNetnsDriverAgainstItself(t *testing.T) {
	testenv.RequireNetns(t)
	for _, s := range suites {
		for _, auth := range []authKind{authPSK, authRSA} {
			for _, weInitiate := range []bool{true, false} {
				name := s.name + "/" + string(auth) + "/" + roleName(weInitiate)
				t.Run(name, func(t *testing.T) {
					runSelf(t, s, auth, weInitiate)
				})
			}
		}
	}
}

func roleName(weInitiate bool) string {
	if weInitiate {
		return "we-initiate"
	}
	return "we-respond"
}

func runSelf(t *testing.T, s suite, auth authKind, weInitiate bool) {
	west, east := testenv.NewNetns(t), testenv.NewNetns(t)
	testenv.Veth(t, west, "eth0", []string{"192.0.2.1/24"}, east, "eth0", []string{"192.0.2.2/24"})
	ourKey, peerKey := rsaKeys(t)
	oursCfg := engineConfig(t, oursAddr, peerAddr, s, auth, ourKey, true)
	peerCfg := engineConfig(t, peerAddr, oursAddr, s, auth, peerKey, false)
	kw, ke := newFakeKernel(), newFakeKernel()
	reqid := nextReqid()
	ours := newDriver(t, driverOptions{Addr: oursAddr, Responder: oursCfg, Kernel: kw, Reqid: reqid,
		PeerKey: peerKey.Public(), Listen: nsListen(west), Bypass: bypass})
	other := newDriver(t, driverOptions{Addr: peerAddr, Responder: peerCfg, Kernel: ke, Reqid: reqid,
		PeerKey: ourKey.Public(), Listen: nsListen(east), Bypass: bypass})
	sc := &scenario{
		ours: ours, cfg: oursCfg, peer: &driverPeer{t: t, d: other, cfg: peerCfg, remote: oursAddr},
		peerAddr: peerAddr, weInitiate: weInitiate, timeout: 20 * time.Second,
		checkKernel: func(t *testing.T, step string, want, gone []uint32) {
			t.Helper()
			deadline := time.Now().Add(10 * time.Second)
			for {
				ok := true
				for _, k := range []*fakeKernel{kw, ke} {
					for _, spi := range want {
						ok = ok && k.hasSPI(spi)
					}
					for _, spi := range gone {
						ok = ok && !k.hasSPI(spi)
					}
				}
				if ok {
					return
				}
				if time.Now().After(deadline) {
					t.Fatalf("%s: kernels do not have SPIs %x without %x", step, want, gone)
				}
				time.Sleep(20 * time.Millisecond)
			}
		},
		checkClean: func(t *testing.T, _ func() bool) {
			t.Helper()
			deadline := time.Now().Add(10 * time.Second)
			for {
				ws, wp := kw.counts()
				es, ep := ke.counts()
				if ws+wp+es+ep == 0 {
					return
				}
				if time.Now().After(deadline) {
					t.Fatalf("left over: west %d SAs %d policies, east %d SAs %d policies", ws, wp, es, ep)
				}
				time.Sleep(20 * time.Millisecond)
			}
		},
	}
	sc.run(t)
	// The peer answers a Delete before it carries out its own
	// DeleteChild and Closed actions: wait for them.
	st := other.waitFor(10*time.Second, "peer closed", func(st driverStatus) bool { return st.Closed == 1 })
	if len(st.Failures) > 0 || st.Installs != 3 || st.Deletes != 3 {
		t.Errorf("peer driver: %+v", st)
	}
}
