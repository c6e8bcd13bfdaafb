package dnskeys

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/miekg/dns"
)

// ReverseName returns the reverse-mapping name of addr: the in-addr.arpa
// name of an IPv4 address (RFC 1035 §3.5) or the nibble ip6.arpa name of an
// IPv6 address (RFC 3596 §2.5), lower case and fully qualified. An
// IPv4-mapped IPv6 address is mapped as the IPv4 address it carries; a zone
// index is ignored. The zero Addr has no reverse name.
func ReverseName(addr netip.Addr) (string, error) {
	if !addr.IsValid() {
		return "", fmt.Errorf("dnskeys: no reverse name for an invalid address")
	}
	addr = addr.Unmap().WithZone("")
	if addr.Is4() {
		b := addr.As4()
		var sb strings.Builder
		sb.Grow(29)
		for i := 3; i >= 0; i-- {
			sb.WriteString(strconv.Itoa(int(b[i])))
			sb.WriteByte('.')
		}
		sb.WriteString("in-addr.arpa.")
		return sb.String(), nil
	}
	const hexdigits = "0123456789abcdef"
	b := addr.As16()
	var sb strings.Builder
	sb.Grow(73)
	for i := 15; i >= 0; i-- {
		sb.WriteByte(hexdigits[b[i]&0x0f])
		sb.WriteByte('.')
		sb.WriteByte(hexdigits[b[i]>>4])
		sb.WriteByte('.')
	}
	sb.WriteString("ip6.arpa.")
	return sb.String(), nil
}

// ParseReverseName is the inverse of ReverseName: it returns the address a
// complete in-addr.arpa (four labels) or ip6.arpa (32 nibbles) name maps.
func ParseReverseName(name string) (netip.Addr, error) {
	n := canonical(name)
	switch {
	case strings.HasSuffix(n, ".in-addr.arpa."):
		labels := strings.Split(strings.TrimSuffix(n, ".in-addr.arpa."), ".")
		if len(labels) != 4 {
			return netip.Addr{}, fmt.Errorf("dnskeys: %q is not a complete in-addr.arpa name", name)
		}
		var b [4]byte
		for i, l := range labels {
			v, err := strconv.ParseUint(l, 10, 8)
			if err != nil || (len(l) > 1 && l[0] == '0') {
				return netip.Addr{}, fmt.Errorf("dnskeys: bad octet %q in %q", l, name)
			}
			b[3-i] = byte(v)
		}
		return netip.AddrFrom4(b), nil
	case strings.HasSuffix(n, ".ip6.arpa."):
		labels := strings.Split(strings.TrimSuffix(n, ".ip6.arpa."), ".")
		if len(labels) != 32 {
			return netip.Addr{}, fmt.Errorf("dnskeys: %q is not a complete ip6.arpa name", name)
		}
		var b [16]byte
		for i, l := range labels {
			if len(l) != 1 {
				return netip.Addr{}, fmt.Errorf("dnskeys: bad nibble %q in %q", l, name)
			}
			v, err := strconv.ParseUint(l, 16, 8)
			if err != nil {
				return netip.Addr{}, fmt.Errorf("dnskeys: bad nibble %q in %q", l, name)
			}
			pos := 31 - i
			if pos%2 == 0 {
				b[pos/2] |= byte(v) << 4
			} else {
				b[pos/2] |= byte(v)
			}
		}
		return netip.AddrFrom16(b), nil
	}
	return netip.Addr{}, fmt.Errorf("dnskeys: %q is not a reverse-mapping name", name)
}

// NormalizeName checks that name is a valid domain name and returns it in
// canonical form: lower case, fully qualified.
func NormalizeName(name string) (string, error) {
	if name == "" {
		return "", fmt.Errorf("dnskeys: empty domain name")
	}
	fq := dns.Fqdn(name)
	if _, ok := dns.IsDomainName(fq); !ok {
		return "", fmt.Errorf("dnskeys: invalid domain name %q", name)
	}
	// Escapes are legal in presentation form but never needed for the names
	// we look up; refusing them keeps names and their wire form one-to-one.
	if strings.ContainsRune(fq, '\\') {
		return "", fmt.Errorf("dnskeys: escaped characters in domain name %q are not supported", name)
	}
	return canonical(fq), nil
}

// canonical lower-cases a fully qualified name (RFC 4034 §6.2).
func canonical(name string) string {
	return strings.ToLower(dns.Fqdn(name))
}

// isSubdomain reports whether child is parent or below it. Both must be
// canonical.
func isSubdomain(parent, child string) bool {
	if parent == "." {
		return true
	}
	if child == parent {
		return true
	}
	return strings.HasSuffix(child, "."+parent)
}

// isProperSubdomain reports whether child is strictly below parent.
func isProperSubdomain(parent, child string) bool {
	return child != parent && isSubdomain(parent, child)
}

// parentName returns the name with its first label removed; the parent of
// the root is the root.
func parentName(name string) string {
	if name == "." {
		return "."
	}
	i := strings.IndexByte(name, '.')
	if i < 0 || i == len(name)-1 {
		return "."
	}
	return name[i+1:]
}

// labelCount counts the labels of a canonical name; the root has none.
func labelCount(name string) int {
	if name == "." {
		return 0
	}
	return strings.Count(name, ".")
}

// ancestors returns name and each of its ancestors down to (and including)
// stop, deepest first. If stop is not an ancestor of name it returns nil.
func ancestors(name, stop string) []string {
	if !isSubdomain(stop, name) {
		return nil
	}
	var out []string
	for n := name; ; n = parentName(n) {
		out = append(out, n)
		if n == stop || n == "." {
			break
		}
	}
	return out
}

// nextCloser returns the ancestor of name (or name itself) that has one more
// label than encloser (RFC 5155 §1.3 "next closer name").
func nextCloser(name, encloser string) string {
	want := labelCount(encloser) + 1
	n := name
	for labelCount(n) > want {
		n = parentName(n)
	}
	return n
}

// compareCanonical orders two canonical names as RFC 4034 §6.1 requires:
// label by label from the right, each label compared as lower-cased octets.
func compareCanonical(a, b string) int {
	if a == b {
		return 0
	}
	la := dns.SplitDomainName(a)
	lb := dns.SplitDomainName(b)
	i, j := len(la)-1, len(lb)-1
	for i >= 0 && j >= 0 {
		x, y := unescapeLabel(la[i]), unescapeLabel(lb[j])
		if c := strings.Compare(x, y); c != 0 {
			return c
		}
		i--
		j--
	}
	switch {
	case i < 0 && j < 0:
		return 0
	case i < 0:
		return -1
	default:
		return 1
	}
}

// unescapeLabel turns a presentation-form label into its octets, lower case.
// miekg/dns escapes special octets in names it unpacks (\DDD and \X).
func unescapeLabel(l string) string {
	if !strings.ContainsRune(l, '\\') {
		return strings.ToLower(l)
	}
	var sb strings.Builder
	for i := 0; i < len(l); i++ {
		c := l[i]
		if c == '\\' && i+1 < len(l) {
			if i+3 < len(l) && isDigit(l[i+1]) && isDigit(l[i+2]) && isDigit(l[i+3]) {
				v := int(l[i+1]-'0')*100 + int(l[i+2]-'0')*10 + int(l[i+3]-'0')
				c = byte(v)
				i += 3
			} else {
				c = l[i+1]
				i++
			}
		}
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		sb.WriteByte(c)
	}
	return sb.String()
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }
