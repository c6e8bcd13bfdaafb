package xfrm

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netlink/nl"
	"github.com/vishvananda/netns"
	"go.uber.org/zap"
	"golang.org/x/sys/unix"
)

// socketTimeout bounds every netlink request: the kernel answers XFRM
// requests at once, so a request that takes this long has gone wrong.
const socketTimeout = 10 * time.Second

// Netlink is the Kernel of one network namespace, over NETLINK_XFRM. Writes
// go through a vishvananda/netlink Handle bound to the namespace; dumps,
// ALLOCSPI and the event subscription use this package's own codecs over
// netlink sockets opened in the same namespace.
//
// Operations do not block on ctx once sent: each finishes or fails within
// socketTimeout. A Netlink is safe for concurrent use.
type Netlink struct {
	closed atomic.Bool
	log    *zap.Logger
	ns     netns.NsHandle // owned duplicate, or netns.None() for the caller's namespace
	h      *netlink.Handle
	sh     *nl.SocketHandle // dumps and ALLOCSPI
}

var _ Kernel = (*Netlink)(nil)

// Open returns the Kernel of the calling thread's network namespace. log
// may be nil.
func Open(log *zap.Logger) (*Netlink, error) {
	return open(netns.None(), log)
}

// OpenAt returns the Kernel of network namespace ns. It keeps its own
// duplicate of ns (for Subscribe), so the caller may close ns afterwards.
func OpenAt(ns netns.NsHandle, log *zap.Logger) (*Netlink, error) {
	if !ns.IsOpen() {
		return nil, newOpError("open", "", errors.New("network namespace handle is closed"))
	}
	fd, err := unix.FcntlInt(uintptr(ns), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return nil, newOpError("open", "", fmt.Errorf("duplicate netns handle: %w", err))
	}
	n, err := open(netns.NsHandle(fd), log)
	if err != nil {
		unix.Close(fd)
	}
	return n, err
}

func open(ns netns.NsHandle, log *zap.Logger) (*Netlink, error) {
	if log == nil {
		log = zap.NewNop()
	}
	h, err := netlink.NewHandleAt(ns, unix.NETLINK_XFRM)
	if err != nil {
		return nil, newOpError("open", "", fmt.Errorf("netlink handle: %w", err))
	}
	if err := h.SetSocketTimeout(socketTimeout); err != nil {
		h.Close()
		return nil, newOpError("open", "", err)
	}
	s, err := nl.GetNetlinkSocketAt(ns, netns.None(), unix.NETLINK_XFRM)
	if err != nil {
		h.Close()
		return nil, newOpError("open", "", fmt.Errorf("netlink socket: %w", err))
	}
	tv := unix.NsecToTimeval(socketTimeout.Nanoseconds())
	s.SetSendTimeout(&tv)
	s.SetReceiveTimeout(&tv)
	return &Netlink{log: log.Named("xfrm"), ns: ns, h: h, sh: &nl.SocketHandle{Socket: s}}, nil
}

// ErrClosed is the cause of an OpError for an operation on a closed Netlink.
var ErrClosed = errors.New("use of a closed xfrm.Netlink")

// ready reports why an operation may not start: ctx is done, or n is
// closed. (After Close, netlink's Handle would silently fall back to
// sockets in the calling thread's namespace.)
func (n *Netlink) ready(ctx context.Context) error {
	if n.closed.Load() {
		return ErrClosed
	}
	return ctx.Err()
}

// Close releases the netlink sockets. Kernel objects stay installed: use
// Cleanup to remove them. Subscriptions end with their contexts. Close
// must not run concurrently with other operations; afterwards they fail
// with ErrClosed.
func (n *Netlink) Close() error {
	if n.closed.Swap(true) {
		return nil
	}
	n.h.Close()
	n.sh.Close()
	if n.ns.IsOpen() {
		return n.ns.Close()
	}
	return nil
}

func stateObject(sa SA) string     { return "state " + sa.String() }
func stateIDObject(id SAID) string { return "state " + id.String() }
func policyObject(p Policy) string { return "policy " + p.String() }

// AddState installs sa. Equivalent to
//
//	ip xfrm state add src SRC dst DST proto esp spi SPI reqid REQID mode MODE \
//	    aead 'rfc4106(gcm(aes))' KEY 128 replay-window N [limit ...] [encap espinudp SPORT DPORT OA]
func (n *Netlink) AddState(ctx context.Context, sa SA) error {
	return newOpError("add", stateObject(sa), n.writeState(ctx, sa, false))
}

// UpdateState replaces the SA with sa's SAID, which must be oe-agent's
// (for instance the larval state of AllocSPI). Equivalent to
// `ip xfrm state update ...`.
func (n *Netlink) UpdateState(ctx context.Context, sa SA) error {
	return newOpError("update", stateObject(sa), n.writeState(ctx, sa, true))
}

func (n *Netlink) writeState(ctx context.Context, sa SA, update bool) error {
	if err := n.ready(ctx); err != nil {
		return err
	}
	if err := sa.Validate(); err != nil {
		return err
	}
	st := toNetlinkState(sa)
	var err error
	if update {
		if err := n.checkStateOwner(sa.ID()); err != nil {
			return err
		}
		err = n.h.XfrmStateUpdate(st)
	} else {
		err = n.h.XfrmStateAdd(st)
	}
	return explainStateErr(sa, stateErrno(err))
}

// checkStateOwner fails with ErrNotOwned if the SA id exists and is not
// oe-agent's, and with a not-exist error if it does not exist.
func (n *Netlink) checkStateOwner(id SAID) error {
	got, err := n.h.XfrmStateGet(toNetlinkStateID(id))
	if err != nil {
		return stateErrno(err)
	}
	if !OwnedReqid(uint32(got.Reqid)) {
		return ErrNotOwned
	}
	return nil
}

// DeleteState removes the SA id if it is oe-agent's. Equivalent to
// `ip xfrm state delete dst DST proto PROTO spi SPI`.
func (n *Netlink) DeleteState(ctx context.Context, id SAID) error {
	return newOpError("delete", stateIDObject(id), n.deleteState(ctx, id))
}

func (n *Netlink) deleteState(ctx context.Context, id SAID) error {
	if err := n.ready(ctx); err != nil {
		return err
	}
	if id.SPI == 0 {
		return invalidf("an SA with SPI 0 (larval) cannot be deleted; it expires by itself")
	}
	if err := n.checkStateOwner(id); err != nil {
		return err
	}
	return stateErrno(n.h.XfrmStateDel(toNetlinkStateID(id)))
}

// States lists oe-agent's SAs with counters and use times. Equivalent to
// `ip -s xfrm state list`, keeping the SAs whose reqid is oe-agent's.
func (n *Netlink) States(ctx context.Context) ([]SA, error) {
	all, err := n.allStates(ctx)
	if err != nil {
		return nil, newOpError("list", "states", err)
	}
	var own []SA
	for _, sa := range all {
		if OwnedSA(sa) {
			own = append(own, sa)
		}
	}
	return own, nil
}

func (n *Netlink) allStates(ctx context.Context) ([]SA, error) {
	var out []SA
	err := n.dump(ctx, nl.XFRM_MSG_GETSA, nl.XFRM_MSG_NEWSA, func(b []byte) error {
		sa, err := decodeStateMsg(b)
		if err != nil {
			return err
		}
		out = append(out, sa)
		return nil
	}, func() { out = out[:0] })
	return out, err
}

// maxDumpAttempts bounds the retries of a dump the kernel interrupted
// (NLM_F_DUMP_INTR: the table changed while it was being dumped).
const maxDumpAttempts = 5

// dump runs a netlink dump request, passing each answer of type resType to
// f, and retries it from scratch (after reset) when the kernel reports it
// interrupted.
func (n *Netlink) dump(ctx context.Context, reqType, resType int, f func([]byte) error, reset func()) error {
	if err := n.ready(ctx); err != nil {
		return err
	}
	return retryDump(ctx, n.log, func() error {
		reset()
		var ferr error
		req := nl.NewNetlinkRequest(reqType, unix.NLM_F_DUMP)
		req.Sockets = map[int]*nl.SocketHandle{unix.NETLINK_XFRM: n.sh}
		err := req.ExecuteIter(unix.NETLINK_XFRM, uint16(resType), func(b []byte) bool {
			if ferr == nil {
				ferr = f(b)
			}
			return ferr == nil
		})
		if ferr != nil {
			return ferr
		}
		return err
	})
}

// retryDump runs attempt up to maxDumpAttempts times while it fails with
// netlink.ErrDumpInterrupted (NLM_F_DUMP_INTR: the table changed during
// the dump, so what was read may be inconsistent).
func retryDump(ctx context.Context, log *zap.Logger, attempt func() error) error {
	var err error
	for i := 1; i <= maxDumpAttempts; i++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		err = attempt()
		if !errors.Is(err, netlink.ErrDumpInterrupted) {
			return err
		}
		log.Debug("dump interrupted by the kernel, retrying", zap.Int("attempt", i))
	}
	return fmt.Errorf("dump interrupted %d times in a row: %w", maxDumpAttempts, err)
}

// stateErrno makes the kernel's ESRCH for a missing SA (XFRM_MSG_GETSA,
// DELSA, UPDSA) match os.ErrNotExist, as ENOENT does for policies.
func stateErrno(err error) error {
	if errors.Is(err, unix.ESRCH) {
		return &kernelError{msg: "no such SA: " + unix.ESRCH.Error(), errno: unix.ESRCH, notExist: true}
	}
	return err
}
