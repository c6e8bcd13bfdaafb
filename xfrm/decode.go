package xfrm

import (
	"bytes"
	"fmt"
	"net/netip"
)

// This file decodes whole XFRM netlink messages (the payload after the
// nlmsghdr): policy and state dump entries, ACQUIRE and EXPIRE. The
// decoders are pure and fuzzed (fuzz_test.go).

// decodePolicyMsg decodes an XFRM_MSG_NEWPOLICY payload (a dump entry):
// xfrm_userpolicy_info followed by attributes. It reports ok=false for
// sub-policies (XFRMA_POLICY_TYPE other than main), which oe-agent never
// installs.
func decodePolicyMsg(b []byte) (p Policy, ok bool, err error) {
	p, err = decodeUserpolicyInfo(b)
	if err != nil {
		return Policy{}, false, fmt.Errorf("policy: %w", err)
	}
	as, err := parseAttrs(b[sizeofUserpolicyInfo:])
	if err != nil {
		return Policy{}, false, fmt.Errorf("policy: %w", err)
	}
	m, err := attrSet(as, xfrmaTmpl, xfrmaMark, xfrmaPolicyType)
	if err != nil {
		return Policy{}, false, fmt.Errorf("policy: %w", err)
	}
	if v, found := m[xfrmaTmpl]; found {
		if p.Templates, err = decodeTmpls(v); err != nil {
			return Policy{}, false, fmt.Errorf("policy: %w", err)
		}
	}
	if v, found := m[xfrmaMark]; found {
		if p.Mark, err = decodeMark(v); err != nil {
			return Policy{}, false, fmt.Errorf("policy: %w", err)
		}
	}
	if v, found := m[xfrmaPolicyType]; found {
		if len(v) < 1 {
			return Policy{}, false, fmt.Errorf("policy: empty XFRMA_POLICY_TYPE")
		}
		if v[0] != policyTypeMain {
			return p, false, nil
		}
	}
	return p, true, nil
}

// decodeAlgo reads a struct xfrm_algo, xfrm_algo_auth or xfrm_algo_aead:
// name[64], key_len (bits), then (for auth and aead) one u32 parameter,
// then the key. extra says whether the u32 parameter is present.
func decodeAlgo(b []byte, extra bool) (name string, key Key, param int, err error) {
	hdr := sizeofAlgoHdr
	if extra {
		hdr += 4
	}
	if len(b) < hdr {
		return "", nil, 0, fmt.Errorf("algorithm attribute of %d octets", len(b))
	}
	n := b[:64]
	if i := bytes.IndexByte(n, 0); i >= 0 {
		n = n[:i]
	}
	bits := ne.Uint32(b[64:])
	if bits%8 != 0 || int(bits/8) > len(b)-hdr {
		return "", nil, 0, fmt.Errorf("algorithm %q: key length %d bits does not fit in %d octets", n, bits, len(b)-hdr)
	}
	if extra {
		param = int(ne.Uint32(b[68:]))
	}
	key = bytes.Clone(b[hdr : hdr+int(bits/8)])
	return string(n), key, param, nil
}

// decodeStateMsg decodes an XFRM_MSG_NEWSA payload (a dump entry or the
// answer to ALLOCSPI): xfrm_usersa_info followed by attributes. Algorithms
// oe-agent does not use read back as CipherNone/IntegrityNone.
func decodeStateMsg(b []byte) (SA, error) {
	info, err := decodeUsersaInfo(b)
	if err != nil {
		return SA{}, fmt.Errorf("state: %w", err)
	}
	sa := info.sa
	as, err := parseAttrs(b[sizeofUsersaInfo:])
	if err != nil {
		return SA{}, fmt.Errorf("state: %w", err)
	}
	m, err := attrSet(as, xfrmaAlgAEAD, xfrmaAlgCrypt, xfrmaAlgAuth, xfrmaAlgAuthTrunc, xfrmaEncap, xfrmaMark, xfrmaReplayESNVal)
	if err != nil {
		return SA{}, fmt.Errorf("state: %w", err)
	}
	if v, ok := m[xfrmaAlgAEAD]; ok {
		name, key, icv, err := decodeAlgo(v, true)
		if err != nil {
			return SA{}, fmt.Errorf("state: %w", err)
		}
		if c, ok := cipherFromKernel(name, len(key), true); ok && icv == c.ICVBits() {
			sa.Cipher, sa.CipherKey = c, key
		}
	}
	if v, ok := m[xfrmaAlgCrypt]; ok {
		name, key, _, err := decodeAlgo(v, false)
		if err != nil {
			return SA{}, fmt.Errorf("state: %w", err)
		}
		if c, ok := cipherFromKernel(name, len(key), false); ok {
			sa.Cipher, sa.CipherKey = c, key
		}
	}
	// The kernel reports an auth-trunc algorithm as both XFRMA_ALG_AUTH
	// (for old tools) and XFRMA_ALG_AUTH_TRUNC; the latter has the length.
	if v, ok := m[xfrmaAlgAuthTrunc]; ok {
		name, key, trunc, err := decodeAlgo(v, true)
		if err != nil {
			return SA{}, fmt.Errorf("state: %w", err)
		}
		if i, ok := integrityFromKernel(name, len(key), trunc); ok {
			sa.Integrity, sa.IntegrityKey = i, key
		}
	} else if v, ok := m[xfrmaAlgAuth]; ok {
		if _, _, _, err := decodeAlgo(v, false); err != nil {
			return SA{}, fmt.Errorf("state: %w", err)
		}
	}
	if v, ok := m[xfrmaEncap]; ok {
		if len(v) < sizeofEncapTmpl {
			return SA{}, fmt.Errorf("state: XFRMA_ENCAP of %d octets", len(v))
		}
		e := &Encap{SrcPort: be.Uint16(v[2:]), DstPort: be.Uint16(v[4:])}
		if oa, err := decodeAddr(v[8:], familyOf(sa.Dst)); err == nil && !oa.IsUnspecified() {
			e.OrigAddr = oa
		}
		sa.Encap = e
	}
	if v, ok := m[xfrmaMark]; ok {
		if sa.Mark, err = decodeMark(v); err != nil {
			return SA{}, fmt.Errorf("state: %w", err)
		}
	}
	if v, ok := m[xfrmaReplayESNVal]; ok {
		// struct xfrm_replay_state_esn: bmp_len, oseq, seq, oseq_hi,
		// seq_hi, replay_window, bmp[].
		if len(v) < 24 {
			return SA{}, fmt.Errorf("state: XFRMA_REPLAY_ESN_VAL of %d octets", len(v))
		}
		sa.ReplayWindow = ne.Uint32(v[20:])
	}
	return sa, nil
}

// Acquire is the kernel's request for an SA (XFRM_MSG_ACQUIRE, struct
// xfrm_user_acquire): a packet matched a policy whose template has no SA.
// The kernel then holds a larval state for the flow for
// net.core.xfrm_acq_expires seconds (30 by default) and sends no new ACQUIRE
// for it meanwhile.
type Acquire struct {
	// Src and Dst are the SA's endpoints the kernel wants: the template's
	// tunnel endpoints, or the packet's addresses in transport mode.
	Src, Dst netip.Addr
	Proto    Proto
	// Selector is the triggering packet's flow (host prefixes, protocol and
	// ports), the narrowest traffic selector to negotiate (RFC 7296 §2.9).
	Selector Selector
	// Policy is the policy that trapped the packet (without templates).
	Policy Policy
	// Templates are the policy's templates (XFRMA_TMPL); their reqid tells
	// which trap fired.
	Templates []Template
	Mark      Mark
	// Seq identifies the larval state: pass it to AllocSPI.
	Seq uint32
	// AAlgos, EAlgos and CAlgos are the template's algorithm masks (all
	// ones unless the policy restricts them).
	AAlgos, EAlgos, CAlgos uint32
}

func (*Acquire) event() {}

// Reqid returns the reqid of the template the kernel wants an SA for (the
// first one of the ACQUIRE's protocol), which tells the trap that fired
// (libreswan and strongSwan look their connection up by it); 0 if none.
func (a *Acquire) Reqid() uint32 {
	for _, t := range a.Templates {
		if t.Proto == a.Proto {
			return t.Reqid
		}
	}
	return 0
}

// Expire reports that an SA reached a soft limit (rekey now) or a hard
// limit (the kernel deleted it): XFRM_MSG_EXPIRE, struct xfrm_user_expire.
// SA carries no keys.
type Expire struct {
	SA   SA
	Hard bool
}

func (*Expire) event() {}

// decodeAcquire decodes an XFRM_MSG_ACQUIRE payload.
func decodeAcquire(b []byte) (*Acquire, error) {
	if len(b) < sizeofUserAcquire {
		return nil, fmt.Errorf("acquire: %d octets, want at least %d", len(b), sizeofUserAcquire)
	}
	sel, err := decodeSelector(b[40:])
	if err != nil {
		return nil, fmt.Errorf("acquire: %w", err)
	}
	if sel.IsZero() {
		return nil, fmt.Errorf("acquire: selector has no address family")
	}
	pol, err := decodeUserpolicyInfo(b[96:])
	if err != nil {
		return nil, fmt.Errorf("acquire: policy: %w", err)
	}
	a := &Acquire{
		Proto:    Proto(b[20]),
		Selector: sel,
		Policy:   pol,
		AAlgos:   ne.Uint32(b[264:]),
		EAlgos:   ne.Uint32(b[268:]),
		CAlgos:   ne.Uint32(b[272:]),
		Seq:      ne.Uint32(b[276:]),
	}
	as, err := parseAttrs(b[sizeofUserAcquire:])
	if err != nil {
		return nil, fmt.Errorf("acquire: %w", err)
	}
	m, err := attrSet(as, xfrmaTmpl, xfrmaMark)
	if err != nil {
		return nil, fmt.Errorf("acquire: %w", err)
	}
	if v, ok := m[xfrmaTmpl]; ok {
		if a.Templates, err = decodeTmpls(v); err != nil {
			return nil, fmt.Errorf("acquire: %w", err)
		}
	}
	if v, ok := m[xfrmaMark]; ok {
		if a.Mark, err = decodeMark(v); err != nil {
			return nil, fmt.Errorf("acquire: %w", err)
		}
	}
	// struct xfrm_user_acquire has no family for its id and saddr: they
	// are in the family of the SA the kernel wants, which is the tunnel
	// template's when it has endpoints, else the packet's.
	family := uint16(afInet)
	if sel.Is6() {
		family = afInet6
	}
	for _, t := range a.Templates {
		if t.Proto == a.Proto && t.Dst.IsValid() {
			family = familyOf(t.Dst)
			break
		}
	}
	a.Dst, _ = decodeAddr(b[0:], family)
	a.Src, _ = decodeAddr(b[24:], family)
	return a, nil
}

// decodeExpire decodes an XFRM_MSG_EXPIRE payload.
func decodeExpire(b []byte) (*Expire, error) {
	if len(b) < sizeofUserExpire {
		return nil, fmt.Errorf("expire: %d octets, want at least %d", len(b), sizeofUserExpire)
	}
	info, err := decodeUsersaInfo(b)
	if err != nil {
		return nil, fmt.Errorf("expire: %w", err)
	}
	e := &Expire{SA: info.sa}
	switch b[sizeofUsersaInfo] {
	case 0:
	case 1:
		e.Hard = true
	default:
		return nil, fmt.Errorf("expire: hard flag %d", b[sizeofUsersaInfo])
	}
	as, err := parseAttrs(b[sizeofUserExpire:])
	if err != nil {
		return nil, fmt.Errorf("expire: %w", err)
	}
	m, err := attrSet(as, xfrmaMark)
	if err != nil {
		return nil, fmt.Errorf("expire: %w", err)
	}
	if v, ok := m[xfrmaMark]; ok {
		if e.SA.Mark, err = decodeMark(v); err != nil {
			return nil, fmt.Errorf("expire: %w", err)
		}
	}
	return e, nil
}
