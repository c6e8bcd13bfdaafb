package xfrm

import (
	"context"
	"errors"

	"github.com/vishvananda/netlink/nl"
	"golang.org/x/sys/unix"
)

// rawMessage is a netlink payload written as-is.
type rawMessage []byte

func (m rawMessage) Len() int          { return len(m) }
func (m rawMessage) Serialize() []byte { return m }

// AllocSPI reserves an SPI in [req.Min, req.Max] for an SA from req.Src to
// req.Dst and returns it. The kernel creates a larval state holding the SPI
// (reusing the one of ACQUIRE req.Seq if given); fill it in with
// UpdateState, or it expires after net.core.xfrm_acq_expires seconds.
// Equivalent to
//
//	ip xfrm state allocspi src SRC dst DST proto esp mode transport reqid REQID seq SEQ min 0x100 max 0xffffffff
//
// vishvananda/netlink v1.3.1 only offers this on its package-level handle,
// so the request is encoded here (struct xfrm_userspi_info).
func (n *Netlink) AllocSPI(ctx context.Context, req SPIRequest) (uint32, error) {
	spi, err := n.allocSPI(ctx, req)
	return spi, newOpError("allocspi", "state "+req.String(), err)
}

func (n *Netlink) allocSPI(ctx context.Context, req SPIRequest) (uint32, error) {
	if err := n.ready(ctx); err != nil {
		return 0, err
	}
	if err := req.Validate(); err != nil {
		return 0, err
	}
	msg := encodeSPIRequest(req)
	nreq := nl.NewNetlinkRequest(nl.XFRM_MSG_ALLOCSPI, 0)
	nreq.Sockets = map[int]*nl.SocketHandle{unix.NETLINK_XFRM: n.sh}
	nreq.AddData(rawMessage(msg))
	if !req.Mark.IsZero() {
		m := make([]byte, sizeofMark)
		ne.PutUint32(m[0:], req.Mark.Value)
		ne.PutUint32(m[4:], req.Mark.Mask)
		nreq.AddData(nl.NewRtAttr(xfrmaMark, m))
	}
	msgs, err := nreq.Execute(unix.NETLINK_XFRM, nl.XFRM_MSG_NEWSA)
	if err != nil {
		return 0, err
	}
	if len(msgs) == 0 {
		return 0, errors.New("kernel sent no state in answer")
	}
	sa, err := decodeStateMsg(msgs[0])
	if err != nil {
		return 0, err
	}
	lo, hi := req.bounds()
	if sa.SPI < lo || sa.SPI > hi {
		return 0, errors.New("kernel answered with an SPI outside the requested range")
	}
	return sa.SPI, nil
}

// encodeSPIRequest encodes a struct xfrm_userspi_info.
func encodeSPIRequest(req SPIRequest) []byte {
	b := make([]byte, sizeofUserspiInfo)
	encodeUsersaInfo(b, SA{Src: req.Src, Dst: req.Dst, Proto: req.Proto, Mode: req.Mode, Reqid: req.Reqid}, req.Seq)
	lo, hi := req.bounds()
	ne.PutUint32(b[sizeofUsersaInfo:], lo)
	ne.PutUint32(b[sizeofUsersaInfo+4:], hi)
	return b
}
