package xfrm

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"syscall"
	"time"
)

// This file decodes and encodes the fixed structs of linux/xfrm.h with
// encoding/binary and explicit offsets: no unsafe casts, every read bounds
// checked. Fields are in host byte order except addresses, SPIs and ports,
// which are in network order. Offsets are those of the x86-64 (and every
// other 64-bit Linux) ABI; u64 members force 8-octet struct alignment.

var (
	ne = binary.NativeEndian
	be = binary.BigEndian
)

// Sizes of the kernel structs.
const (
	sizeofAddress        = 16
	sizeofSelector       = 56
	sizeofLifetimeCfg    = 64
	sizeofLifetimeCur    = 32
	sizeofID             = 24
	sizeofUserTmpl       = 64
	sizeofUserpolicyInfo = 168
	sizeofUsersaInfo     = 224
	sizeofUserspiInfo    = 232
	sizeofUserAcquire    = 280
	sizeofUserExpire     = 232
	sizeofMark           = 8
	sizeofEncapTmpl      = 24
	sizeofAlgoHdr        = 68 // name[64] + key_len
	sizeofNlattr         = 4
)

const (
	afInet  = syscall.AF_INET
	afInet6 = syscall.AF_INET6

	xfrmInf = ^uint64(0)

	xfrmStateESN = 128 // xfrm_usersa_info.flags XFRM_STATE_ESN

	// Netlink attribute types (enum xfrm_attr_type_t).
	xfrmaAlgAuth      = 1
	xfrmaAlgCrypt     = 2
	xfrmaEncap        = 4
	xfrmaTmpl         = 5
	xfrmaPolicyType   = 16
	xfrmaAlgAEAD      = 18
	xfrmaAlgAuthTrunc = 20
	xfrmaMark         = 21
	xfrmaReplayESNVal = 23
	xfrmaIfID         = 31

	nlaTypeMask = 0x3fff // strips NLA_F_NESTED and NLA_F_NET_BYTEORDER

	policyTypeMain = 0
)

var errShort = errors.New("message too short")

// decodeAddr reads an xfrm_address_t of the given family.
func decodeAddr(b []byte, family uint16) (netip.Addr, error) {
	if len(b) < sizeofAddress {
		return netip.Addr{}, errShort
	}
	switch family {
	case afInet:
		return netip.AddrFrom4([4]byte(b[:4])), nil
	case afInet6:
		return netip.AddrFrom16([16]byte(b[:16])), nil
	}
	return netip.Addr{}, fmt.Errorf("unknown address family %d", family)
}

func encodeAddr(b []byte, a netip.Addr) {
	if !a.IsValid() {
		return
	}
	s := a.AsSlice()
	copy(b[:sizeofAddress], s)
}

func familyOf(a netip.Addr) uint16 {
	if a.Is4() {
		return afInet
	}
	return afInet6
}

// decodeSelector reads a struct xfrm_selector. A selector of family 0 (an
// SA without selector) decodes as the zero Selector.
func decodeSelector(b []byte) (Selector, error) {
	if len(b) < sizeofSelector {
		return Selector{}, errShort
	}
	family := ne.Uint16(b[40:])
	if family == 0 {
		return Selector{}, nil
	}
	dst, err := decodeAddr(b[0:], family)
	if err != nil {
		return Selector{}, fmt.Errorf("selector: %w", err)
	}
	src, _ := decodeAddr(b[16:], family)
	plenD, plenS := int(b[42]), int(b[43])
	s := Selector{Proto: b[44]}
	if s.Dst, err = dst.Prefix(plenD); err != nil {
		return Selector{}, fmt.Errorf("selector: destination prefix length %d", plenD)
	}
	if s.Src, err = src.Prefix(plenS); err != nil {
		return Selector{}, fmt.Errorf("selector: source prefix length %d", plenS)
	}
	if be.Uint16(b[34:]) != 0 { // dport_mask
		s.DstPort = be.Uint16(b[32:])
	}
	if be.Uint16(b[38:]) != 0 { // sport_mask
		s.SrcPort = be.Uint16(b[36:])
	}
	return s, nil
}

// encodeSelector writes s into b (at least sizeofSelector octets, zeroed).
// The zero Selector of an SA encodes with family 0, matching anything.
func encodeSelector(b []byte, s Selector) {
	if s.IsZero() {
		return
	}
	dst, src := s.Dst.Masked(), s.Src.Masked()
	encodeAddr(b[0:], dst.Addr())
	encodeAddr(b[16:], src.Addr())
	if s.DstPort != 0 {
		be.PutUint16(b[32:], s.DstPort)
		be.PutUint16(b[34:], 0xffff)
	}
	if s.SrcPort != 0 {
		be.PutUint16(b[36:], s.SrcPort)
		be.PutUint16(b[38:], 0xffff)
	}
	ne.PutUint16(b[40:], familyOf(dst.Addr()))
	b[42] = byte(dst.Bits())
	b[43] = byte(src.Bits())
	b[44] = s.Proto
}

func decodeLifetimeCfg(b []byte) Lifetime {
	lim := func(off int) uint64 {
		v := ne.Uint64(b[off:])
		if v == xfrmInf {
			return 0
		}
		return v
	}
	sec := func(off int) time.Duration {
		v := ne.Uint64(b[off:])
		if v > uint64(1<<63-1)/uint64(time.Second) {
			return time.Duration(1<<63 - 1)
		}
		return time.Duration(v) * time.Second
	}
	return Lifetime{
		SoftBytes: lim(0), HardBytes: lim(8), SoftPackets: lim(16), HardPackets: lim(24),
		SoftAdd: sec(32), HardAdd: sec(40), SoftUse: sec(48), HardUse: sec(56),
	}
}

func encodeLifetimeCfg(b []byte, l Lifetime) {
	inf := func(v uint64) uint64 {
		if v == 0 {
			return xfrmInf
		}
		return v
	}
	ne.PutUint64(b[0:], inf(l.SoftBytes))
	ne.PutUint64(b[8:], inf(l.HardBytes))
	ne.PutUint64(b[16:], inf(l.SoftPackets))
	ne.PutUint64(b[24:], inf(l.HardPackets))
	ne.PutUint64(b[32:], seconds(l.SoftAdd))
	ne.PutUint64(b[40:], seconds(l.HardAdd))
	ne.PutUint64(b[48:], seconds(l.SoftUse))
	ne.PutUint64(b[56:], seconds(l.HardUse))
}

func unixTime(sec uint64) time.Time {
	if sec == 0 || sec > 1<<40 {
		return time.Time{}
	}
	return time.Unix(int64(sec), 0)
}

// decodeUserTmpl reads a struct xfrm_user_tmpl.
func decodeUserTmpl(b []byte) (Template, error) {
	if len(b) < sizeofUserTmpl {
		return Template{}, errShort
	}
	family := ne.Uint16(b[24:])
	t := Template{
		SPI:   be.Uint32(b[16:]),
		Proto: Proto(b[20]),
		Reqid: ne.Uint32(b[44:]),
		Mode:  Mode(b[48]),
		Level: Level(b[50]),
	}
	if t.Level > LevelUse {
		return Template{}, fmt.Errorf("template: optional flag %d", b[50])
	}
	if family != 0 {
		dst, err := decodeAddr(b[0:], family)
		if err != nil {
			return Template{}, fmt.Errorf("template: %w", err)
		}
		src, _ := decodeAddr(b[28:], family)
		// Zero addresses mean "the packet's own" (transport mode).
		if !dst.IsUnspecified() {
			t.Dst = dst
		}
		if !src.IsUnspecified() {
			t.Src = src
		}
	}
	return t, nil
}

// decodeTmpls reads the XFRMA_TMPL attribute: an array of xfrm_user_tmpl.
func decodeTmpls(b []byte) ([]Template, error) {
	if len(b)%sizeofUserTmpl != 0 {
		return nil, fmt.Errorf("XFRMA_TMPL of %d octets is not a whole number of templates", len(b))
	}
	var ts []Template
	for off := 0; off < len(b); off += sizeofUserTmpl {
		t, err := decodeUserTmpl(b[off : off+sizeofUserTmpl])
		if err != nil {
			return nil, err
		}
		ts = append(ts, t)
	}
	return ts, nil
}

// decodeUserpolicyInfo reads a struct xfrm_userpolicy_info.
func decodeUserpolicyInfo(b []byte) (Policy, error) {
	if len(b) < sizeofUserpolicyInfo {
		return Policy{}, errShort
	}
	sel, err := decodeSelector(b[0:])
	if err != nil {
		return Policy{}, err
	}
	p := Policy{
		Selector: sel,
		Priority: ne.Uint32(b[152:]),
		Index:    ne.Uint32(b[156:]),
		Dir:      Dir(b[160]),
		Action:   Action(b[161]),
	}
	return p, nil
}

// encodeUserpolicyInfo writes p's fixed part: selector, infinite lifetimes,
// priority, index, dir and action.
func encodeUserpolicyInfo(b []byte, p Policy) {
	encodeSelector(b[0:], p.Selector)
	encodeLifetimeCfg(b[56:], Lifetime{})
	ne.PutUint32(b[152:], p.Priority)
	ne.PutUint32(b[156:], p.Index)
	b[160] = byte(p.Dir)
	b[161] = byte(p.Action)
}

// usersaInfo is the decoded fixed part of an XFRM state message.
type usersaInfo struct {
	sa    SA
	seq   uint32
	flags uint8
}

// decodeUsersaInfo reads a struct xfrm_usersa_info.
func decodeUsersaInfo(b []byte) (usersaInfo, error) {
	if len(b) < sizeofUsersaInfo {
		return usersaInfo{}, errShort
	}
	sel, err := decodeSelector(b[0:])
	if err != nil {
		return usersaInfo{}, err
	}
	family := ne.Uint16(b[212:])
	dst, err := decodeAddr(b[56:], family)
	if err != nil {
		return usersaInfo{}, fmt.Errorf("state: %w", err)
	}
	src, _ := decodeAddr(b[80:], family)
	var sa SA
	// The kernel gives an SA added without selector one of its family
	// matching everything; read that back as no selector.
	if sel.Src.Bits() == 0 && sel.Dst.Bits() == 0 && sel.Proto == 0 && sel.SrcPort == 0 && sel.DstPort == 0 {
		sel = Selector{}
	}
	sa.Selector = sel
	sa.Dst, sa.Src = dst, src
	sa.SPI = be.Uint32(b[72:])
	sa.Proto = Proto(b[76])
	sa.Lifetime = decodeLifetimeCfg(b[96:])
	sa.Stats = SAStats{
		Bytes:           ne.Uint64(b[160:]),
		Packets:         ne.Uint64(b[168:]),
		AddTime:         unixTime(ne.Uint64(b[176:])),
		UseTime:         unixTime(ne.Uint64(b[184:])),
		ReplayWindow:    ne.Uint32(b[192:]),
		Replay:          ne.Uint32(b[196:]),
		IntegrityFailed: ne.Uint32(b[200:]),
	}
	sa.Reqid = ne.Uint32(b[208:])
	sa.Mode = Mode(b[214])
	sa.ReplayWindow = uint32(b[215])
	flags := b[216]
	sa.ESN = flags&xfrmStateESN != 0
	return usersaInfo{sa: sa, seq: ne.Uint32(b[204:]), flags: flags}, nil
}

// encodeUsersaInfo writes a struct xfrm_usersa_info for sa (ALLOCSPI reads
// only addresses, protocol, SPI, family, mode, reqid and seq; the other
// fields are written too so that decodeUsersaInfo inverts it).
func encodeUsersaInfo(b []byte, sa SA, seq uint32) {
	encodeSelector(b[0:], sa.Selector)
	encodeAddr(b[56:], sa.Dst)
	be.PutUint32(b[72:], sa.SPI)
	b[76] = byte(sa.Proto)
	encodeAddr(b[80:], sa.Src)
	encodeLifetimeCfg(b[96:], sa.Lifetime)
	st := sa.Stats
	ne.PutUint64(b[160:], st.Bytes)
	ne.PutUint64(b[168:], st.Packets)
	ne.PutUint64(b[176:], timeUnix(st.AddTime))
	ne.PutUint64(b[184:], timeUnix(st.UseTime))
	ne.PutUint32(b[192:], st.ReplayWindow)
	ne.PutUint32(b[196:], st.Replay)
	ne.PutUint32(b[200:], st.IntegrityFailed)
	ne.PutUint32(b[204:], seq)
	ne.PutUint32(b[208:], sa.Reqid)
	ne.PutUint16(b[212:], familyOf(sa.Dst))
	b[214] = byte(sa.Mode)
	b[215] = byte(min(sa.ReplayWindow, 255))
	if sa.ESN {
		b[216] = xfrmStateESN
	}
}

func timeUnix(t time.Time) uint64 {
	if t.IsZero() {
		return 0
	}
	return uint64(t.Unix())
}

// attr is one netlink attribute.
type attr struct {
	typ  uint16
	data []byte
}

// parseAttrs splits b into netlink attributes (struct nlattr, 4-octet
// aligned). It rejects lengths that are too small or run past b.
func parseAttrs(b []byte) ([]attr, error) {
	var as []attr
	for len(b) > 0 {
		if len(b) < sizeofNlattr {
			return nil, fmt.Errorf("attribute header truncated (%d octets left)", len(b))
		}
		l := int(ne.Uint16(b[0:]))
		typ := ne.Uint16(b[2:]) & nlaTypeMask
		if l < sizeofNlattr || l > len(b) {
			return nil, fmt.Errorf("attribute type %d has bad length %d (%d octets left)", typ, l, len(b))
		}
		as = append(as, attr{typ: typ, data: b[sizeofNlattr:l]})
		aligned := (l + 3) &^ 3
		if aligned > len(b) {
			aligned = len(b)
		}
		b = b[aligned:]
	}
	return as, nil
}

// attrSet indexes attributes by type and rejects duplicates of the types
// this package reads.
func attrSet(as []attr, known ...uint16) (map[uint16][]byte, error) {
	m := make(map[uint16][]byte)
	for _, a := range as {
		for _, k := range known {
			if a.typ == k {
				if _, dup := m[k]; dup {
					return nil, fmt.Errorf("duplicate attribute type %d", k)
				}
				m[k] = a.data
			}
		}
	}
	return m, nil
}

func decodeMark(b []byte) (Mark, error) {
	if len(b) != sizeofMark {
		return Mark{}, fmt.Errorf("XFRMA_MARK of %d octets", len(b))
	}
	return Mark{Value: ne.Uint32(b[0:]), Mask: ne.Uint32(b[4:])}, nil
}

func decodeU32(b []byte, what string) (uint32, error) {
	if len(b) != 4 {
		return 0, fmt.Errorf("%s of %d octets", what, len(b))
	}
	return ne.Uint32(b), nil
}
