package xfrm

import (
	"context"
	"errors"
	"fmt"

	"github.com/vishvananda/netlink/nl"
	"github.com/vishvananda/netns"
	"go.uber.org/zap"
	"golang.org/x/sys/unix"
)

// eventBuffer is the channel buffer of a subscription. Past it, events
// queue in the socket (monitorRcvBuf) and then the kernel drops them,
// which the subscriber learns from a *Lost.
const (
	eventBuffer   = 64
	monitorRcvBuf = 1 << 20
)

// Subscribe joins the XFRMNLGRP_ACQUIRE and XFRMNLGRP_EXPIRE multicast
// groups of the namespace and delivers each ACQUIRE as an *Acquire and each
// EXPIRE as an *Expire, decoded by this package (vishvananda/netlink's
// XfrmMonitor decodes only EXPIRE). Equivalent to `ip xfrm monitor acquire
// expire`.
//
// The channel is closed when ctx is done, or after a fatal *Lost. One
// goroutine owns the socket; it blocks while the channel is full, and the
// kernel then drops events (reported as a *Lost).
func (n *Netlink) Subscribe(ctx context.Context) (<-chan Event, error) {
	if err := n.ready(ctx); err != nil {
		return nil, newOpError("subscribe", "acquire expire", err)
	}
	s, err := nl.SubscribeAt(n.ns, netns.None(), unix.NETLINK_XFRM, nl.XFRMNLGRP_ACQUIRE, nl.XFRMNLGRP_EXPIRE)
	if err != nil {
		return nil, newOpError("subscribe", "acquire expire", err)
	}
	if err := s.SetReceiveBufferSize(monitorRcvBuf, false); err != nil {
		n.log.Warn("cannot enlarge the XFRM event socket buffer", zap.Error(err))
	}
	ch := make(chan Event, eventBuffer)
	stop := context.AfterFunc(ctx, s.Close)
	go func() {
		defer close(ch)
		defer stop()
		defer s.Close()
		n.monitorLoop(ctx, s, ch)
	}()
	return ch, nil
}

func (n *Netlink) monitorLoop(ctx context.Context, s *nl.NetlinkSocket, ch chan<- Event) {
	send := func(ev Event) bool {
		select {
		case ch <- ev:
			return true
		case <-ctx.Done():
			return false
		}
	}
	for {
		msgs, from, err := s.Receive()
		if ctx.Err() != nil {
			return
		}
		if errors.Is(err, unix.ENOBUFS) {
			n.log.Warn("kernel dropped XFRM events: subscriber fell behind")
			if !send(&Lost{Err: newOpError("receive", "acquire expire", err)}) {
				return
			}
			continue
		}
		if errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR) {
			continue // receive timeout (none is set) or signal
		}
		if err != nil {
			send(&Lost{Err: newOpError("receive", "acquire expire", err), Fatal: true})
			return
		}
		if from.Pid != nl.PidKernel {
			continue // only the kernel may send to a multicast group we joined
		}
		for _, m := range msgs {
			ev, err := decodeEvent(m.Header.Type, m.Data)
			if err != nil {
				n.log.Warn("undecodable XFRM event", zap.Uint16("type", m.Header.Type), zap.Error(err))
				ev = &Lost{Err: newOpError("decode", "event", err)}
			}
			if ev != nil && !send(ev) {
				return
			}
		}
	}
}

// decodeEvent decodes one multicast message; other types yield nil.
func decodeEvent(typ uint16, b []byte) (Event, error) {
	switch typ {
	case nl.XFRM_MSG_ACQUIRE:
		return decodeAcquire(b)
	case nl.XFRM_MSG_EXPIRE:
		return decodeExpire(b)
	}
	return nil, nil
}

// String summarises an ACQUIRE for logs.
func (a *Acquire) String() string {
	return fmt.Sprintf("acquire seq %d %s %s->%s for %s", a.Seq, a.Proto, a.Src, a.Dst, a.Selector)
}

// String summarises an EXPIRE for logs.
func (e *Expire) String() string {
	kind := "soft"
	if e.Hard {
		kind = "hard"
	}
	return fmt.Sprintf("%s expire %s reqid 0x%08x", kind, e.SA, e.SA.Reqid)
}
