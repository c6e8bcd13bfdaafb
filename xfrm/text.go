package xfrm

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// FormatStates renders SAs in the layout of `ip xfrm state`, sorted by
// destination, protocol and SPI so that the text is stable (the kernel's
// own order is its hash order). Keys are never shown: only their length.
// Counters are left out (they change under test); lifetimes are shown
// when set.
func FormatStates(sas []SA) string {
	sas = slices.Clone(sas)
	slices.SortFunc(sas, func(a, b SA) int {
		return cmp.Or(a.Dst.Compare(b.Dst), cmp.Compare(a.Proto, b.Proto), cmp.Compare(a.SPI, b.SPI), a.Src.Compare(b.Src))
	})
	var sb strings.Builder
	for _, sa := range sas {
		fmt.Fprintf(&sb, "src %s dst %s\n", sa.Src, sa.Dst)
		fmt.Fprintf(&sb, "\tproto %s spi 0x%08x reqid %d mode %s\n", sa.Proto, sa.SPI, sa.Reqid, sa.Mode)
		fmt.Fprintf(&sb, "\treplay-window %d", sa.ReplayWindow)
		if sa.ESN {
			sb.WriteString(" flag esn")
		}
		sb.WriteString("\n")
		if !sa.Mark.IsZero() {
			fmt.Fprintf(&sb, "\tmark 0x%x/0x%x\n", sa.Mark.Value, sa.Mark.Mask)
		}
		if sa.Cipher.AEAD() {
			fmt.Fprintf(&sb, "\taead %s (%d bits, hidden) %d\n", sa.Cipher.KernelName(), len(sa.CipherKey)*8, sa.Cipher.ICVBits())
		} else if sa.Cipher != CipherNone {
			fmt.Fprintf(&sb, "\tenc %s (%d bits, hidden)\n", sa.Cipher.KernelName(), len(sa.CipherKey)*8)
		}
		if sa.Integrity != IntegrityNone {
			fmt.Fprintf(&sb, "\tauth-trunc %s (%d bits, hidden) %d\n", sa.Integrity.KernelName(), len(sa.IntegrityKey)*8, sa.Integrity.TruncBits())
		}
		if e := sa.Encap; e != nil {
			oa := "0.0.0.0"
			if e.OrigAddr.IsValid() {
				oa = e.OrigAddr.String()
			} else if sa.Dst.Is6() {
				oa = "::"
			}
			fmt.Fprintf(&sb, "\tencap type espinudp sport %d dport %d addr %s\n", e.SrcPort, e.DstPort, oa)
		}
		if !sa.Selector.IsZero() {
			fmt.Fprintf(&sb, "\tsel %s\n", sa.Selector)
		}
		if l := sa.Lifetime; l != (Lifetime{}) {
			fmt.Fprintf(&sb, "\tlifetime config:\n")
			fmt.Fprintf(&sb, "\t  limit: soft %s(bytes), hard %s(bytes)\n", limit(l.SoftBytes), limit(l.HardBytes))
			fmt.Fprintf(&sb, "\t  limit: soft %s(packets), hard %s(packets)\n", limit(l.SoftPackets), limit(l.HardPackets))
			fmt.Fprintf(&sb, "\t  expire add: soft %d(sec), hard %d(sec)\n", seconds(l.SoftAdd), seconds(l.HardAdd))
			fmt.Fprintf(&sb, "\t  expire use: soft %d(sec), hard %d(sec)\n", seconds(l.SoftUse), seconds(l.HardUse))
		}
	}
	return sb.String()
}

func limit(v uint64) string {
	if v == 0 {
		return "(INF)"
	}
	return fmt.Sprint(v)
}

// FormatPolicies renders policies in the layout of `ip xfrm policy`,
// sorted by direction, priority and selector.
func FormatPolicies(ps []Policy) string {
	ps = slices.Clone(ps)
	slices.SortFunc(ps, func(a, b Policy) int {
		return cmp.Or(cmp.Compare(a.Dir, b.Dir), cmp.Compare(a.Priority, b.Priority),
			strings.Compare(a.Selector.String(), b.Selector.String()))
	})
	var sb strings.Builder
	for _, p := range ps {
		fmt.Fprintf(&sb, "%s\n", p.Selector)
		fmt.Fprintf(&sb, "\tdir %s priority %d", p.Dir, p.Priority)
		if p.Action == ActionBlock {
			sb.WriteString(" action block")
		}
		sb.WriteString("\n")
		if !p.Mark.IsZero() {
			fmt.Fprintf(&sb, "\tmark 0x%x/0x%x\n", p.Mark.Value, p.Mark.Mask)
		}
		for _, t := range p.Templates {
			src, dst := "0.0.0.0", "0.0.0.0"
			if p.Selector.Is6() {
				src, dst = "::", "::"
			}
			if t.Src.IsValid() {
				src = t.Src.String()
			}
			if t.Dst.IsValid() {
				dst = t.Dst.String()
			}
			fmt.Fprintf(&sb, "\ttmpl src %s dst %s\n", src, dst)
			fmt.Fprintf(&sb, "\t\tproto %s spi 0x%08x reqid %d mode %s", t.Proto, t.SPI, t.Reqid, t.Mode)
			if t.Level == LevelUse {
				sb.WriteString(" level use")
			}
			sb.WriteString("\n")
		}
	}
	return sb.String()
}
