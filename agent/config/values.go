package config

import (
	"errors"
	"fmt"
	"net/netip"
	"sort"
	"strconv"
	"strings"
)

// parseBool accepts yes/no as ipsec.conf writes them (and true/false).
func parseBool(v string) (bool, error) {
	switch strings.ToLower(v) {
	case "yes", "true":
		return true, nil
	case "no", "false":
		return false, nil
	}
	return false, fmt.Errorf("invalid value %q (expected yes or no)", v)
}

func fmtBool(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// parseEnum maps v to one of names; the error lists the choices and
// suggests the nearest.
func parseEnum[T any](v string, names map[string]T) (T, error) {
	if t, ok := names[strings.ToLower(v)]; ok {
		return t, nil
	}
	var zero T
	var keys []string
	for k := range names {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return zero, fmt.Errorf("invalid value %q (expected %s)%s", v, strings.Join(keys, ", "), didYouMean(strings.ToLower(v), keys))
}

// parseUint parses a decimal or 0x-hex unsigned integer of bits size.
func parseUint(v string, bits int) (uint64, error) {
	n, err := strconv.ParseUint(v, 0, bits)
	if err != nil {
		if errors.Is(err, strconv.ErrRange) {
			return 0, fmt.Errorf("value %q is out of range (at most %d)", v, uint64(1)<<bits-1)
		}
		return 0, fmt.Errorf("invalid number %q", v)
	}
	return n, nil
}

// parseHost parses left=/right=.
func parseHost(v string) (Host, error) {
	switch strings.ToLower(v) {
	case "%defaultroute":
		return Host{Kind: HostDefaultRoute}, nil
	case "%defaultroute6":
		return Host{Kind: HostDefaultRoute, V6: true}, nil
	case "%any":
		return Host{Kind: HostAny}, nil
	case "%any6":
		return Host{Kind: HostAny, V6: true}, nil
	case "%group", "%opportunistic", "%opportunisticgroup":
		return Host{}, fmt.Errorf("%s is not supported: opportunistic encryption is configured with the policy group files in %s", v, DefaultPolicyDir)
	}
	if strings.HasPrefix(v, "%") {
		return Host{}, fmt.Errorf("invalid address %q (expected an IP address, a DNS name, %%defaultroute or %%any)%s",
			v, didYouMean(strings.ToLower(v), []string{"%defaultroute", "%defaultroute6", "%any", "%any6"}))
	}
	if a, err := netip.ParseAddr(v); err == nil {
		if a.Zone() != "" {
			return Host{}, fmt.Errorf("invalid address %q: zones are not supported", v)
		}
		if a.IsUnspecified() {
			return Host{}, fmt.Errorf("invalid address %q: use %%any for any address", v)
		}
		if a.Is4In6() {
			a = a.Unmap()
		}
		return Host{Kind: HostAddr, Addr: a, V6: a.Is6()}, nil
	}
	if looksNumeric(v) {
		return Host{}, fmt.Errorf("invalid IP address %q", v)
	}
	if err := checkDNSName(v); err != nil {
		return Host{}, fmt.Errorf("invalid address %q: %v", v, err)
	}
	return Host{Kind: HostName, Name: strings.TrimSuffix(strings.ToLower(v), ".")}, nil
}

// looksNumeric is true for strings that were meant as addresses (digits,
// dots and colons only), so "192.0.2" is reported as a bad address rather
// than taken for a host name.
func looksNumeric(v string) bool {
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !(c >= '0' && c <= '9' || c == '.' || c == ':' || c == '/' || c >= 'a' && c <= 'f' && strings.Contains(v, ":")) {
			return false
		}
	}
	return true
}

// checkDNSName checks RFC 1123 host name syntax.
func checkDNSName(v string) error {
	v = strings.TrimSuffix(v, ".")
	if v == "" || len(v) > 253 {
		return errors.New("not a valid DNS name")
	}
	for _, label := range strings.Split(v, ".") {
		if label == "" || len(label) > 63 {
			return errors.New("not a valid DNS name (empty or over-long label)")
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_'
			if !ok {
				return fmt.Errorf("not a valid DNS name (character %s)", quoteByte(c))
			}
		}
		if label[0] == '-' || label[len(label)-1] == '-' {
			return errors.New("not a valid DNS name (label starts or ends with \"-\")")
		}
	}
	return nil
}

func fmtHost(h Host) string {
	switch h.Kind {
	case HostAddr:
		return h.Addr.String()
	case HostName:
		return h.Name
	case HostDefaultRoute:
		if h.V6 {
			return "%defaultroute6"
		}
		return "%defaultroute"
	case HostAny:
		if h.V6 {
			return "%any6"
		}
		return "%any"
	}
	return ""
}

// parseSubnets parses leftsubnet=: one or more prefixes separated by
// commas or white space (libreswan's {a b} arrives as "a b"). A bare
// address means a single host. Host bits must be zero.
func parseSubnets(v string) ([]netip.Prefix, error) {
	fields := strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' })
	if len(fields) == 0 {
		return nil, errors.New("empty subnet list")
	}
	var out []netip.Prefix
	for _, f := range fields {
		p, err := parsePrefix(f)
		if err != nil {
			return nil, err
		}
		for _, q := range out {
			if q == p {
				return nil, fmt.Errorf("subnet %s listed twice", p)
			}
		}
		out = append(out, p)
	}
	return out, nil
}

// parsePrefix parses a CIDR or a bare address (a /32 or /128).
func parsePrefix(f string) (netip.Prefix, error) {
	if !strings.Contains(f, "/") {
		a, err := netip.ParseAddr(f)
		if err != nil || a.Zone() != "" {
			return netip.Prefix{}, fmt.Errorf("invalid subnet %q", f)
		}
		a = a.Unmap()
		return netip.PrefixFrom(a, a.BitLen()), nil
	}
	p, err := netip.ParsePrefix(f)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("invalid subnet %q", f)
	}
	if p.Addr().Is4In6() {
		return netip.Prefix{}, fmt.Errorf("invalid subnet %q: IPv4-mapped IPv6 prefix", f)
	}
	if p.Masked() != p {
		return netip.Prefix{}, fmt.Errorf("subnet %q has host bits set (did you mean %q?)", f, p.Masked().String())
	}
	return p, nil
}

func fmtSubnets(ps []netip.Prefix) string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = p.String()
	}
	return strings.Join(s, ",")
}

// parseID parses leftid=.
func parseID(v string) (ID, error) {
	switch strings.ToLower(v) {
	case "%null":
		return ID{Kind: IDNull}, nil
	case "%any":
		return ID{Kind: IDAny}, nil
	case "%fromdns":
		return ID{Kind: IDFromDNS}, nil
	case "%fromcert", "%cert":
		return ID{}, fmt.Errorf("%s is not supported: oe-agent authenticates with raw keys, not certificates", v)
	}
	if strings.HasPrefix(v, "%") {
		return ID{}, fmt.Errorf("invalid id %q%s", v, didYouMean(strings.ToLower(v), []string{"%null", "%any", "%fromdns"}))
	}
	if strings.HasPrefix(v, "@") {
		name := v[1:]
		if strings.HasPrefix(name, "#") || strings.HasPrefix(name, "[") || strings.HasPrefix(name, "~") {
			return ID{}, fmt.Errorf("invalid id %q: key-id and DER identities are not supported", v)
		}
		if strings.Contains(name, "@") {
			return ID{}, fmt.Errorf("invalid id %q: write a user identity as user@domain, without the leading @", v)
		}
		if err := checkDNSName(name); err != nil {
			return ID{}, fmt.Errorf("invalid id %q: %v", v, err)
		}
		return ID{Kind: IDFQDN, Name: strings.TrimSuffix(strings.ToLower(name), ".")}, nil
	}
	if user, domain, ok := strings.Cut(v, "@"); ok {
		if user == "" || strings.ContainsAny(user, " \t\"") {
			return ID{}, fmt.Errorf("invalid id %q", v)
		}
		if err := checkDNSName(domain); err != nil {
			return ID{}, fmt.Errorf("invalid id %q: %v", v, err)
		}
		return ID{Kind: IDUserFQDN, Name: user + "@" + strings.ToLower(domain)}, nil
	}
	if a, err := netip.ParseAddr(v); err == nil && a.Zone() == "" {
		return ID{Kind: IDAddr, Addr: a.Unmap()}, nil
	}
	if strings.Contains(v, "=") {
		return ID{}, fmt.Errorf("invalid id %q: distinguished-name identities are not supported", v)
	}
	return ID{}, fmt.Errorf("invalid id %q (expected an IP address, @fqdn, user@domain, %%null, %%any or %%fromdns)", v)
}

// String writes the ID as ipsec.conf spells it ("" for IDDefault).
func (id ID) String() string {
	switch id.Kind {
	case IDAddr:
		return id.Addr.String()
	case IDFQDN:
		return "@" + id.Name
	case IDUserFQDN:
		return id.Name
	case IDNull:
		return "%null"
	case IDAny:
		return "%any"
	case IDFromDNS:
		return "%fromdns"
	}
	return ""
}

// parseProtoPort parses leftprotoport=proto[/port] (proto by name or
// number, port a number or %any).
func parseProtoPort(v string) (ProtoPort, error) {
	ps, port, hasPort := strings.Cut(v, "/")
	proto, err := parseProto(ps)
	if err != nil {
		return ProtoPort{}, err
	}
	pp := ProtoPort{Proto: proto}
	if hasPort && port != "%any" && port != "0" {
		n, err := strconv.ParseUint(port, 10, 16)
		if err != nil {
			return ProtoPort{}, fmt.Errorf("invalid port %q", port)
		}
		if proto != protoTCP && proto != protoUDP && proto != protoSCTP {
			return ProtoPort{}, fmt.Errorf("a port needs tcp, udp or sctp, not %q", ps)
		}
		pp.Port = uint16(n)
	}
	return pp, nil
}

const (
	protoICMP   = 1
	protoTCP    = 6
	protoUDP    = 17
	protoICMPv6 = 58
	protoSCTP   = 132
)

var protoNames = map[string]uint8{"icmp": protoICMP, "tcp": protoTCP, "udp": protoUDP, "icmpv6": protoICMPv6, "ipv6-icmp": protoICMPv6, "sctp": protoSCTP}

func parseProto(s string) (uint8, error) {
	if s == "" || s == "%any" || s == "0" {
		return 0, nil
	}
	if p, ok := protoNames[strings.ToLower(s)]; ok {
		return p, nil
	}
	n, err := strconv.ParseUint(s, 10, 8)
	if err != nil {
		return 0, fmt.Errorf("invalid protocol %q (a name such as tcp, udp, icmp, or a number 0-255)", s)
	}
	return uint8(n), nil
}

func protoName(p uint8) string {
	switch p {
	case 0:
		return "%any"
	case protoICMP:
		return "icmp"
	case protoTCP:
		return "tcp"
	case protoUDP:
		return "udp"
	case protoICMPv6:
		return "icmpv6"
	case protoSCTP:
		return "sctp"
	}
	return strconv.Itoa(int(p))
}

func (pp ProtoPort) String() string {
	if pp.Proto == 0 && pp.Port == 0 {
		return ""
	}
	if pp.Port == 0 {
		return protoName(pp.Proto)
	}
	return protoName(pp.Proto) + "/" + strconv.Itoa(int(pp.Port))
}

// parseMark parses mark=value[/mask] (decimal or 0x hex); the mask
// defaults to 0xffffffff.
func parseMark(v string) (Mark, error) {
	vs, ms, hasMask := strings.Cut(v, "/")
	val, err := parseUint(vs, 32)
	if err != nil {
		return Mark{}, fmt.Errorf("invalid mark %q: %v", v, err)
	}
	mask := uint64(0xffffffff)
	if hasMask {
		if mask, err = parseUint(ms, 32); err != nil {
			return Mark{}, fmt.Errorf("invalid mark mask %q: %v", v, err)
		}
	}
	if uint32(val)&^uint32(mask) != 0 {
		return Mark{}, fmt.Errorf("mark %q has bits outside its mask", v)
	}
	return Mark{Value: uint32(val), Mask: uint32(mask), Set: true}, nil
}

func (m Mark) String() string {
	if !m.Set {
		return ""
	}
	return fmt.Sprintf("0x%x/0x%x", m.Value, m.Mask)
}
