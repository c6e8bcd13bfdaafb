package xfrm

import (
	"context"
	"fmt"
	"net/netip"
)

// Kernel is what oe-agent's higher layers (trap reconcile, oe, agent) need
// from the kernel's IPsec tables. *Netlink implements it on a real network
// namespace; xfrmtest.Kernel is an in-memory fake.
//
// Every method returns nil or an *OpError. Listing and Cleanup see only
// oe-agent's own objects (see OwnedSA and OwnedPolicy); Add and Update
// refuse objects outside oe-agent's reqid range and priority band, and
// Update and Delete refuse to touch another daemon's objects
// (ErrNotOwned). Implementations are safe for concurrent use.
type Kernel interface {
	// AddState installs an SA; it fails with EEXIST (errors.Is(err,
	// os.ErrExist)) if one with the same SAID exists.
	// ip xfrm state add src SRC dst DST proto esp spi SPI reqid REQID mode MODE ...
	AddState(ctx context.Context, sa SA) error
	// UpdateState replaces an existing SA with the same SAID, in particular
	// the larval state AllocSPI created.
	// ip xfrm state update ...
	UpdateState(ctx context.Context, sa SA) error
	// DeleteState removes an SA; a missing one yields an error matching
	// os.ErrNotExist.
	// ip xfrm state delete dst DST proto PROTO spi SPI
	DeleteState(ctx context.Context, id SAID) error
	// States lists oe-agent's SAs with their counters.
	// ip xfrm state list (filtered by reqid)
	States(ctx context.Context) ([]SA, error)
	// AllocSPI reserves a free SPI for an inbound SA (RFC 4301 §4.1) as a
	// larval state, which UpdateState later fills in.
	// ip xfrm state allocspi src SRC dst DST proto PROTO mode MODE reqid REQID [seq SEQ] [min MIN max MAX]
	AllocSPI(ctx context.Context, req SPIRequest) (uint32, error)

	// AddPolicy installs a policy; EEXIST if one with the same selector,
	// direction and mark exists.
	// ip xfrm policy add SELECTOR dir DIR priority PRIO [action block] [tmpl ...]
	AddPolicy(ctx context.Context, p Policy) error
	// UpdatePolicy installs p or atomically replaces the policy with the
	// same selector, direction and mark (trap to block and back).
	// ip xfrm policy update ...
	UpdatePolicy(ctx context.Context, p Policy) error
	// DeletePolicy removes the policy with p's selector, direction and mark.
	// ip xfrm policy delete SELECTOR dir DIR
	DeletePolicy(ctx context.Context, p Policy) error
	// Policies lists oe-agent's policies.
	// ip xfrm policy list (filtered by priority band and reqid)
	Policies(ctx context.Context) ([]Policy, error)

	// Subscribe delivers ACQUIRE and EXPIRE events (*Acquire, *Expire) and
	// *Lost until ctx is done, then closes the channel.
	// ip xfrm monitor acquire expire
	Subscribe(ctx context.Context) (<-chan Event, error)

	// Cleanup removes every SA and policy oe-agent owns and nothing else.
	Cleanup(ctx context.Context) error
}

// SPIRequest asks AllocSPI for an SPI. Src is the peer and Dst the local
// address: the SPI is chosen by the receiver.
type SPIRequest struct {
	Src, Dst netip.Addr
	Proto    Proto
	Mode     Mode
	Reqid    uint32
	// Seq is the Acquire.Seq this SA answers, or 0: with it the kernel
	// reuses the larval state the ACQUIRE created.
	Seq uint32
	// Min and Max bound the SPI; zero means 0x100-0xffffffff (RFC 4303
	// §2.1 reserves 1-255).
	Min, Max uint32
	Mark     Mark
}

// Validate checks the request as AllocSPI does.
func (r SPIRequest) Validate() error {
	if !r.Src.IsValid() || !r.Dst.IsValid() || r.Src.Is4() != r.Dst.Is4() {
		return invalidf("SPI request needs two addresses of one family")
	}
	if r.Proto != ProtoESP && r.Proto != ProtoAH {
		return invalidf("unsupported protocol %s", r.Proto)
	}
	if r.Mode != ModeTransport && r.Mode != ModeTunnel {
		return invalidf("unsupported mode %s", r.Mode)
	}
	if !OwnedReqid(r.Reqid) {
		return invalidf("reqid 0x%x outside oe-agent's range 0x%08x-0x%08x", r.Reqid, ReqidMin, ReqidMax)
	}
	lo, hi := r.bounds()
	if lo < 0x100 || lo > hi {
		return invalidf("SPI range 0x%x-0x%x", lo, hi)
	}
	return nil
}

func (r SPIRequest) bounds() (lo, hi uint32) {
	lo, hi = r.Min, r.Max
	if lo == 0 {
		lo = 0x100
	}
	if hi == 0 {
		hi = 0xffffffff
	}
	return lo, hi
}

func (r SPIRequest) String() string {
	return fmt.Sprintf("%s %s->%s reqid 0x%08x", r.Proto, r.Src, r.Dst, r.Reqid)
}

// Event is an *Acquire, an *Expire or a *Lost.
type Event interface{ event() }

// Lost reports that events were lost: the kernel dropped them because the
// subscriber fell behind (ENOBUFS), or one could not be decoded. The
// receiver should re-read the kernel's state. If Fatal, the subscription
// has ended and the channel is closed next.
type Lost struct {
	Err   error
	Fatal bool
}

func (*Lost) event() {}
