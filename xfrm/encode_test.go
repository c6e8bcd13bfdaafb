package xfrm

// Test-only encoders: the inverses of the decoders, used to build messages
// by hand and for the fuzz targets' round-trip property.

func appendAttr(b []byte, typ uint16, data []byte) []byte {
	l := sizeofNlattr + len(data)
	hdr := make([]byte, sizeofNlattr)
	ne.PutUint16(hdr[0:], uint16(l))
	ne.PutUint16(hdr[2:], typ)
	b = append(b, hdr...)
	b = append(b, data...)
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

func encodeUserTmpl(t Template, selIs4 bool) []byte {
	b := make([]byte, sizeofUserTmpl)
	is4 := selIs4
	if t.Dst.IsValid() {
		is4 = t.Dst.Is4()
	} else if t.Src.IsValid() {
		is4 = t.Src.Is4()
	}
	encodeAddr(b[0:], t.Dst)
	be.PutUint32(b[16:], t.SPI)
	b[20] = byte(t.Proto)
	ne.PutUint16(b[24:], familyOf(unspecified(is4)))
	encodeAddr(b[28:], t.Src)
	ne.PutUint32(b[44:], t.Reqid)
	b[48] = byte(t.Mode)
	b[50] = byte(t.Level)
	ne.PutUint32(b[52:], ^uint32(0))
	ne.PutUint32(b[56:], ^uint32(0))
	ne.PutUint32(b[60:], ^uint32(0))
	return b
}

func encodeTmpls(ts []Template, selIs4 bool) []byte {
	var b []byte
	for _, t := range ts {
		b = append(b, encodeUserTmpl(t, selIs4)...)
	}
	return b
}

func encodeMarkAttr(b []byte, m Mark) []byte {
	if m.IsZero() {
		return b
	}
	v := make([]byte, sizeofMark)
	ne.PutUint32(v[0:], m.Value)
	ne.PutUint32(v[4:], m.Mask)
	return appendAttr(b, xfrmaMark, v)
}

func encodeAcquire(a *Acquire) []byte {
	b := make([]byte, sizeofUserAcquire)
	encodeAddr(b[0:], a.Dst)
	b[20] = byte(a.Proto)
	encodeAddr(b[24:], a.Src)
	encodeSelector(b[40:], a.Selector)
	encodeUserpolicyInfo(b[96:], a.Policy)
	ne.PutUint32(b[264:], a.AAlgos)
	ne.PutUint32(b[268:], a.EAlgos)
	ne.PutUint32(b[272:], a.CAlgos)
	ne.PutUint32(b[276:], a.Seq)
	if len(a.Templates) > 0 {
		b = appendAttr(b, xfrmaTmpl, encodeTmpls(a.Templates, a.Selector.Dst.Addr().Is4()))
	}
	return encodeMarkAttr(b, a.Mark)
}

func encodeExpire(e *Expire) []byte {
	b := make([]byte, sizeofUserExpire)
	encodeUsersaInfo(b, e.SA, 0)
	if e.Hard {
		b[sizeofUsersaInfo] = 1
	}
	return encodeMarkAttr(b, e.SA.Mark)
}

func encodeAlgo(name string, key []byte, param int, extra bool) []byte {
	b := make([]byte, 64, 72+len(key))
	copy(b, name)
	b = ne.AppendUint32(b, uint32(len(key)*8))
	if extra {
		b = ne.AppendUint32(b, uint32(param))
	}
	return append(b, key...)
}

func encodeStateMsg(sa SA) []byte {
	b := make([]byte, sizeofUsersaInfo)
	encodeUsersaInfo(b, sa, 0)
	if c, ok := ciphers[sa.Cipher]; ok {
		if c.aead {
			b = appendAttr(b, xfrmaAlgAEAD, encodeAlgo(c.kernel, sa.CipherKey, c.icvBits, true))
		} else {
			b = appendAttr(b, xfrmaAlgCrypt, encodeAlgo(c.kernel, sa.CipherKey, 0, false))
		}
	}
	if i, ok := integrities[sa.Integrity]; ok {
		b = appendAttr(b, xfrmaAlgAuth, encodeAlgo(i.kernel, sa.IntegrityKey, 0, false))
		b = appendAttr(b, xfrmaAlgAuthTrunc, encodeAlgo(i.kernel, sa.IntegrityKey, i.truncBits, true))
	}
	if e := sa.Encap; e != nil {
		v := make([]byte, sizeofEncapTmpl)
		ne.PutUint16(v[0:], 2) // UDP_ENCAP_ESPINUDP
		be.PutUint16(v[2:], e.SrcPort)
		be.PutUint16(v[4:], e.DstPort)
		encodeAddr(v[8:], e.OrigAddr)
		b = appendAttr(b, xfrmaEncap, v)
	}
	b = encodeMarkAttr(b, sa.Mark)
	if sa.ESN || sa.ReplayWindow > 255 {
		v := make([]byte, 24+4*((sa.ReplayWindow+31)/32))
		ne.PutUint32(v[0:], (sa.ReplayWindow+31)/32)
		ne.PutUint32(v[20:], sa.ReplayWindow)
		b = appendAttr(b, xfrmaReplayESNVal, v)
	}
	return b
}

func encodePolicyMsg(p Policy) []byte {
	b := make([]byte, sizeofUserpolicyInfo)
	encodeUserpolicyInfo(b, p)
	if len(p.Templates) > 0 {
		b = appendAttr(b, xfrmaTmpl, encodeTmpls(p.Templates, p.Selector.Dst.Addr().Is4()))
	}
	return encodeMarkAttr(b, p.Mark)
}
