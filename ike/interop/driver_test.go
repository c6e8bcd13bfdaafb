package interop

import (
	"bytes"
	"context"
	stdcrypto "crypto"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/oe-agent/oe-agent/ike"
	"github.com/oe-agent/oe-agent/ike/wire"
	"github.com/oe-agent/oe-agent/xfrm"
)

// IKE ports (RFC 7296 §2, RFC 3948 §2.2).
const (
	portIKE  = 500
	portNATT = 4500
)

// nonESPMarker prefixes IKE messages on port 4500 (RFC 3948 §2.2).
var nonESPMarker = []byte{0, 0, 0, 0}

// received is one datagram the driver read, kept for the seed corpus.
type received struct {
	Local, Remote netip.AddrPort
	Data          []byte // the IKE message, without a non-ESP marker
}

// driverStatus is what tests observe of a driver. Snapshots are copies.
type driverStatus struct {
	Established int // Established actions seen
	IKERekeys   int
	Closed      int
	CloseErrs   []error
	Installs    int // InstallChild actions carried out
	Deletes     int // DeleteChild actions carried out
	// Children are the Child SAs installed in the kernel, by inbound SPI.
	Children map[uint32]ike.ChildSA
	// IKESPIs are the SPIs of the current IKE SA.
	IKESPIs [2]uint64
	// Failures are ChildFailed errors, kernel errors and send errors:
	// anything a healthy run never produces.
	Failures []error
}

func (s driverStatus) child() (ike.ChildSA, bool) {
	for _, c := range s.Children {
		return c, true
	}
	return ike.ChildSA{}, false
}

// driver is the test's IKE daemon: UDP sockets on ports 500 and 4500 of
// one address, exempt from XFRM policies, an ike.Dispatcher with its SAs
// driven from one goroutine (the loop), and a kernel that receives the
// negotiated Child SAs. Tests talk to the loop through do and observe it
// through waitFor.
type driver struct {
	t       testing.TB
	addr    netip.Addr
	disp    *ike.Dispatcher
	k       kernel
	reqid   uint32
	prio    uint32
	peerKey stdcrypto.PublicKey // answers NeedPeerKey
	socks   map[uint16]*net.UDPConn

	recv chan received
	cmds chan func(now time.Time)
	stop chan struct{}
	wg   sync.WaitGroup

	// Owned by the loop.
	sas       map[*ike.SA]bool
	installed map[uint32]kernelChild // by inbound SPI
	policies  []xfrm.Policy          // installed policies

	mu      sync.Mutex
	st      driverStatus
	capture []received
	changed chan struct{} // closed and replaced on every status change
}

// driverOptions configure newDriver.
type driverOptions struct {
	Addr      netip.Addr
	Responder *ike.Config // nil: initiate only
	Kernel    kernel
	Reqid     uint32 // in xfrm.ReqidMin-ReqidMax; also the policy priority
	PeerKey   stdcrypto.PublicKey
	// Listen opens the sockets (e.g. inside a network namespace); nil
	// means net.ListenUDP in the caller's namespace.
	Listen func(network string, laddr *net.UDPAddr) (*net.UDPConn, error)
	// Bypass exempts a socket from XFRM policies (xfrm.BypassSocket); nil
	// skips it.
	Bypass func(*net.UDPConn) error
}

// newDriver opens the sockets and starts the loop; the test's cleanup
// stops it.
func newDriver(t testing.TB, o driverOptions) *driver {
	t.Helper()
	disp, err := ike.NewDispatcher(ike.DispatcherConfig{Responder: o.Responder})
	if err != nil {
		t.Fatal(err)
	}
	d := &driver{t: t, addr: o.Addr, disp: disp, k: o.Kernel, reqid: o.Reqid, prio: o.Reqid, peerKey: o.PeerKey,
		socks: map[uint16]*net.UDPConn{}, recv: make(chan received, 64), cmds: make(chan func(time.Time)),
		stop: make(chan struct{}), sas: map[*ike.SA]bool{}, installed: map[uint32]kernelChild{},
		changed: make(chan struct{})}
	d.st.Children = map[uint32]ike.ChildSA{}
	listen := o.Listen
	if listen == nil {
		listen = net.ListenUDP
	}
	for _, port := range []uint16{portIKE, portNATT} {
		c, err := listen("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(o.Addr, port)))
		if err != nil {
			d.closeSockets()
			t.Fatalf("interop: listen on %v port %d: %v", o.Addr, port, err)
		}
		d.socks[port] = c
		if o.Bypass != nil {
			if err := o.Bypass(c); err != nil {
				d.closeSockets()
				t.Fatalf("interop: bypass socket: %v", err)
			}
		}
	}
	for port, c := range d.socks {
		d.wg.Add(1)
		go d.read(port, c)
	}
	d.wg.Add(1)
	go d.loop()
	t.Cleanup(d.close)
	return d
}

func (d *driver) closeSockets() {
	for _, c := range d.socks {
		c.Close()
	}
}

// close stops the loop and the readers.
func (d *driver) close() {
	select {
	case <-d.stop:
		return
	default:
	}
	close(d.stop)
	d.closeSockets()
	d.wg.Wait()
}

// read forwards datagrams from one socket to the loop.
func (d *driver) read(port uint16, c *net.UDPConn) {
	defer d.wg.Done()
	buf := make([]byte, 65536)
	local := netip.AddrPortFrom(d.addr, port)
	for {
		n, from, err := c.ReadFromUDPAddrPort(buf)
		if err != nil {
			return
		}
		b := buf[:n]
		if port == portNATT {
			// IKE on port 4500 carries the non-ESP marker; anything
			// else would be ESP in UDP, which these sockets never
			// enable (no UDP_ENCAP).
			if !bytes.HasPrefix(b, nonESPMarker) {
				continue
			}
			b = b[len(nonESPMarker):]
		}
		r := received{Local: local, Remote: netip.AddrPortFrom(from.Addr().Unmap(), from.Port()), Data: bytes.Clone(b)}
		select {
		case d.recv <- r:
		case <-d.stop:
			return
		}
	}
}

// loop owns the dispatcher, the SAs and the kernel objects.
func (d *driver) loop() {
	defer d.wg.Done()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		next := time.Now().Add(time.Hour)
		for sa := range d.sas {
			if dl := sa.Deadline(); !dl.IsZero() && dl.Before(next) {
				next = dl
			}
		}
		timer.Reset(time.Until(next))
		select {
		case <-d.stop:
			return
		case r := <-d.recv:
			d.mu.Lock()
			d.capture = append(d.capture, r)
			d.mu.Unlock()
			now := time.Now()
			sa, acts, err := d.disp.Handle(now, r.Local, r.Remote, r.Data)
			if sa != nil && !sa.IsClosed() {
				d.sas[sa] = true
			}
			d.exec(now, sa, acts)
			if err != nil {
				d.t.Logf("interop %v: datagram from %v: %v", d.addr, r.Remote, err)
			}
		case f := <-d.cmds:
			f(time.Now())
		case <-timer.C:
			now := time.Now()
			for sa := range d.sas {
				if dl := sa.Deadline(); !dl.IsZero() && !now.Before(dl) {
					d.exec(now, sa, sa.Tick(now))
				}
			}
		}
		d.mu.Lock()
		for sa := range d.sas {
			if sa.IsClosed() {
				delete(d.sas, sa)
			} else if sa.Established() {
				i, r := sa.SPIs()
				d.st.IKESPIs = [2]uint64{i, r}
			}
		}
		d.mu.Unlock()
	}
}

// exec carries out the actions of sa in order.
func (d *driver) exec(now time.Time, sa *ike.SA, acts []ike.Action) {
	for _, a := range acts {
		switch a := a.(type) {
		case ike.Send:
			c := d.socks[a.Local.Port()]
			if c == nil {
				d.fail(fmt.Errorf("interop: send from unknown port %v", a.Local))
				continue
			}
			data := a.Data
			if a.Local.Port() == portNATT {
				data = append(slices.Clone(nonESPMarker), data...)
			}
			if _, err := c.WriteToUDPAddrPort(data, a.Remote); err != nil {
				d.fail(fmt.Errorf("interop: send to %v: %w", a.Remote, err))
			}
		case ike.Established:
			d.t.Logf("interop %v: IKE SA established with %v (%v), initiator %v", d.addr, a.PeerID, a.PeerAuth, a.Initiator)
			d.update(func(st *driverStatus) { st.Established++; st.IKESPIs = [2]uint64{a.SPIi, a.SPIr} })
		case ike.IKERekeyed:
			d.t.Logf("interop %v: IKE SA rekeyed %016x/%016x -> %016x/%016x", d.addr, a.OldSPIi, a.OldSPIr, a.SPIi, a.SPIr)
			d.update(func(st *driverStatus) { st.IKERekeys++; st.IKESPIs = [2]uint64{a.SPIi, a.SPIr} })
		case ike.InstallChild:
			d.install(a)
		case ike.DeleteChild:
			d.remove(a)
		case ike.ChildFailed:
			d.fail(fmt.Errorf("interop: Child SA failed: %w", a.Err))
		case ike.NeedPeerKey:
			var err error
			if d.peerKey == nil {
				err = errors.New("interop: no key configured for the peer")
			}
			d.exec(now, sa, sa.SupplyPeerKey(now, d.peerKey, err))
		case ike.Closed:
			d.t.Logf("interop %v: IKE SA closed: %v", d.addr, a.Err)
			d.update(func(st *driverStatus) {
				st.Closed++
				if a.Err != nil {
					st.CloseErrs = append(st.CloseErrs, a.Err)
				}
			})
		default:
			d.fail(fmt.Errorf("interop: unknown action %T", a))
		}
	}
}

// install puts a Child SA into the kernel: both SAs, then the policies.
// On a rekey (Replaces) the policies stay as they are: they select by reqid,
// and the kernel sends on the newest SA of the reqid, so installing the new
// SAs before the old ones are deleted loses nothing (make before break).
func (d *driver) install(a ike.InstallChild) {
	ctx := context.Background()
	kc, err := kernelChildOf(a.Child, d.reqid, d.prio)
	if err != nil {
		d.fail(err)
		return
	}
	for _, sa := range []xfrm.SA{kc.In, kc.Out} {
		if err := d.k.AddState(ctx, sa); err != nil {
			d.fail(err)
			return
		}
	}
	for _, p := range kc.Policies {
		if !slices.ContainsFunc(d.policies, func(q xfrm.Policy) bool { return samePolicyKey(p, q) }) {
			if err := d.k.UpdatePolicy(ctx, p); err != nil {
				d.fail(err)
				return
			}
			d.policies = append(d.policies, p)
		}
	}
	d.installed[a.Child.InboundSPI] = kc
	d.t.Logf("interop %v: installed %v (replaces %#08x)", d.addr, a.Child, a.Replaces)
	d.update(func(st *driverStatus) { st.Installs++; st.Children[a.Child.InboundSPI] = a.Child })
}

// remove deletes a Child SA's kernel SAs, and the policies with the last
// Child SA.
func (d *driver) remove(a ike.DeleteChild) {
	ctx := context.Background()
	kc, ok := d.installed[a.Child.InboundSPI]
	if !ok {
		d.fail(fmt.Errorf("interop: delete of unknown Child SA %v", a.Child))
		return
	}
	delete(d.installed, a.Child.InboundSPI)
	for _, sa := range []xfrm.SA{kc.In, kc.Out} {
		if err := d.k.DeleteState(ctx, sa.ID()); err != nil {
			d.fail(err)
		}
	}
	if len(d.installed) == 0 {
		for _, p := range d.policies {
			if err := d.k.DeletePolicy(ctx, p); err != nil {
				d.fail(err)
			}
		}
		d.policies = nil
	}
	d.t.Logf("interop %v: deleted %v (%v)", d.addr, a.Child, a.Err)
	d.update(func(st *driverStatus) { st.Deletes++; delete(st.Children, a.Child.InboundSPI) })
}

func samePolicyKey(a, b xfrm.Policy) bool {
	return a.Selector == b.Selector && a.Dir == b.Dir && a.Mark == b.Mark
}

func (d *driver) fail(err error) {
	d.t.Logf("interop %v: %v", d.addr, err)
	d.update(func(st *driverStatus) { st.Failures = append(st.Failures, err) })
}

// update changes the status and wakes waiters.
func (d *driver) update(f func(*driverStatus)) {
	d.mu.Lock()
	defer d.mu.Unlock()
	f(&d.st)
	close(d.changed)
	d.changed = make(chan struct{})
}

// status returns a copy of the status.
func (d *driver) status() driverStatus {
	d.mu.Lock()
	defer d.mu.Unlock()
	st := d.st
	st.Children = map[uint32]ike.ChildSA{}
	for k, v := range d.st.Children {
		st.Children[k] = v
	}
	st.Failures = slices.Clone(d.st.Failures)
	st.CloseErrs = slices.Clone(d.st.CloseErrs)
	return st
}

// captured returns the datagrams received so far.
func (d *driver) captured() []received {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.capture)
}

// waitFor waits until cond holds for the status, failing the test after
// timeout; what describes the awaited state in the failure.
func (d *driver) waitFor(timeout time.Duration, what string, cond func(driverStatus) bool) driverStatus {
	d.t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		d.mu.Lock()
		ch := d.changed
		d.mu.Unlock()
		st := d.status()
		if cond(st) {
			return st
		}
		select {
		case <-ch:
		case <-deadline.C:
			d.t.Fatalf("interop %v: %v: not reached after %v; status %+v", d.addr, what, timeout, st)
		}
	}
}

// do runs f on the loop with the driver's (single) established SA and
// carries out its actions.
func (d *driver) do(what string, f func(now time.Time, sa *ike.SA) ([]ike.Action, error)) error {
	errc := make(chan error, 1)
	cmd := func(now time.Time) {
		var sa *ike.SA
		for s := range d.sas {
			if s.Established() && !s.IsClosed() {
				sa = s
			}
		}
		if sa == nil {
			errc <- fmt.Errorf("interop: %s: no established IKE SA", what)
			return
		}
		acts, err := f(now, sa)
		d.exec(now, sa, acts)
		errc <- err
	}
	select {
	case d.cmds <- cmd:
	case <-d.stop:
		return errors.New("interop: driver stopped")
	}
	return <-errc
}

// initiate starts an IKE SA with cfg to remote port 500.
func (d *driver) initiate(cfg *ike.Config, remote netip.Addr) error {
	errc := make(chan error, 1)
	cmd := func(now time.Time) {
		sa, acts, err := d.disp.Initiate(now, cfg, netip.AddrPortFrom(d.addr, portIKE), netip.AddrPortFrom(remote, portIKE))
		if err == nil {
			d.sas[sa] = true
			d.exec(now, sa, acts)
		}
		errc <- err
	}
	select {
	case d.cmds <- cmd:
	case <-d.stop:
		return errors.New("interop: driver stopped")
	}
	return <-errc
}

func (d *driver) rekeyChild(spi uint32) error {
	return d.do("rekey child", func(now time.Time, sa *ike.SA) ([]ike.Action, error) { return sa.RekeyChild(now, spi) })
}

func (d *driver) rekeyIKE() error {
	return d.do("rekey IKE", func(now time.Time, sa *ike.SA) ([]ike.Action, error) { return sa.RekeyIKE(now) })
}

func (d *driver) deleteIKE() error {
	return d.do("delete", func(now time.Time, sa *ike.SA) ([]ike.Action, error) { return sa.Delete(now), nil })
}

// describe summarises a datagram for logs and seed names.
func describe(b []byte) (wire.Header, string) {
	h, _, _, err := wire.ParseHeader(b)
	if err != nil {
		return h, "undecodable"
	}
	kind := "req"
	if h.IsResponse() {
		kind = "resp"
	}
	return h, fmt.Sprintf("%v-%s", h.Exchange, kind)
}
