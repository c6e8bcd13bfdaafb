package xfrm

import (
	"errors"
	"fmt"
	"net/netip"
	"syscall"

	"golang.org/x/sys/unix"
)

// BypassSocket exempts a socket from every XFRM policy in both directions,
// so that IKE packets (UDP 500 and 4500, RFC 7296 §2.23) are never trapped,
// blocked or encrypted by the policies they are negotiating. It installs a
// per-socket allow policy without templates for dir in and dir out
// (setsockopt IP_XFRM_POLICY or IPV6_XFRM_POLICY with a struct
// xfrm_userpolicy_info), as libreswan and strongSwan do for their IKE
// sockets. It needs CAP_NET_ADMIN. Per-socket policies take precedence over
// the SPD and do not show in `ip xfrm policy`.
//
// rc is the socket's syscall.RawConn, e.g. from (*net.UDPConn).SyscallConn.
// An IPv6 socket needs only IPV6_XFRM_POLICY, also for the IPv4-mapped
// traffic it carries: the selector of the policy matches any address.
func BypassSocket(rc syscall.RawConn) error {
	var domain int
	var gerr error
	if err := rc.Control(func(fd uintptr) {
		domain, gerr = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_DOMAIN)
	}); err != nil {
		return newOpError("bypass", "socket", err)
	}
	if gerr != nil {
		return newOpError("bypass", "socket", fmt.Errorf("get socket domain: %w", gerr))
	}
	level, opt, is4 := 0, 0, false
	switch domain {
	case unix.AF_INET:
		level, opt, is4 = unix.IPPROTO_IP, unix.IP_XFRM_POLICY, true
	case unix.AF_INET6:
		level, opt = unix.IPPROTO_IPV6, unix.IPV6_XFRM_POLICY
	default:
		return newOpError("bypass", "socket", fmt.Errorf("socket domain %d is not IPv4 or IPv6", domain))
	}
	for _, dir := range []Dir{DirIn, DirOut} {
		b := encodeSocketBypass(dir, is4)
		var serr error
		if err := rc.Control(func(fd uintptr) {
			serr = unix.SetsockoptString(int(fd), level, opt, string(b))
		}); err != nil {
			return newOpError("bypass", "socket dir "+dir.String(), err)
		}
		if serr != nil {
			if errors.Is(serr, unix.EPERM) {
				serr = fmt.Errorf("%w (needs CAP_NET_ADMIN)", serr)
			}
			return newOpError("bypass", "socket dir "+dir.String(), serr)
		}
	}
	return nil
}

// encodeSocketBypass encodes the struct xfrm_userpolicy_info of a
// per-socket bypass: a selector matching everything of the family,
// infinite lifetimes, action allow, no templates.
func encodeSocketBypass(dir Dir, is4 bool) []byte {
	all := netip.PrefixFrom(unspecified(is4), 0)
	b := make([]byte, sizeofUserpolicyInfo)
	encodeUserpolicyInfo(b, Policy{
		Selector: Selector{Src: all, Dst: all},
		Dir:      dir,
		Action:   ActionAllow,
	})
	return b
}
