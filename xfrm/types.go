package xfrm

import (
	"fmt"
	"net/netip"
	"time"
)

// Proto is the IPsec protocol of an SA or a template (the kernel's
// XFRM-PROTO, an IP protocol number).
type Proto uint8

// The IPsec protocols oe-agent installs.
const (
	ProtoESP Proto = 50 // RFC 4303
	ProtoAH  Proto = 51 // RFC 4302
)

func (p Proto) String() string {
	switch p {
	case ProtoESP:
		return "esp"
	case ProtoAH:
		return "ah"
	case 108:
		return "comp"
	}
	return fmt.Sprintf("proto-%d", uint8(p))
}

// Mode is the encapsulation mode of an SA or template (RFC 4301 §4.1).
type Mode uint8

// The modes oe-agent installs. The values are the kernel's XFRM_MODE_*.
const (
	ModeTransport Mode = 0
	ModeTunnel    Mode = 1
)

func (m Mode) String() string {
	switch m {
	case ModeTransport:
		return "transport"
	case ModeTunnel:
		return "tunnel"
	case 4:
		return "beet"
	}
	return fmt.Sprintf("mode-%d", uint8(m))
}

// Dir is the direction a policy applies to. The values are the kernel's
// XFRM_POLICY_IN, _OUT and _FWD.
type Dir uint8

// Policy directions.
const (
	DirIn  Dir = 0
	DirOut Dir = 1
	DirFwd Dir = 2
)

func (d Dir) String() string {
	switch d {
	case DirIn:
		return "in"
	case DirOut:
		return "out"
	case DirFwd:
		return "fwd"
	}
	return fmt.Sprintf("dir-%d", uint8(d))
}

// Action is what a policy does with matching packets. The values are the
// kernel's XFRM_POLICY_ALLOW and XFRM_POLICY_BLOCK.
type Action uint8

// Policy actions. An allow policy with templates protects traffic (or traps
// it, when no SA exists yet); without templates it lets traffic pass in the
// clear (a bypass).
const (
	ActionAllow Action = 0
	ActionBlock Action = 1
)

func (a Action) String() string {
	switch a {
	case ActionAllow:
		return "allow"
	case ActionBlock:
		return "block"
	}
	return fmt.Sprintf("action-%d", uint8(a))
}

// Level says whether a template must be satisfied by an SA (RFC 4301 §4.4.1
// "PROTECT"): `level required` or `level use` in ip xfrm.
type Level uint8

// Template levels. LevelUse makes the template optional: packets pass
// without an SA (the kernel's xfrm_user_tmpl.optional = 1).
const (
	LevelRequired Level = 0
	LevelUse      Level = 1
)

func (l Level) String() string {
	if l == LevelUse {
		return "use"
	}
	return "required"
}

// Selector matches the traffic a policy (or an SA) applies to (RFC 4301
// §4.4.1.1). Both prefixes must be valid and of the same family. A zero
// port or protocol matches any.
type Selector struct {
	Src, Dst netip.Prefix
	// Proto is the upper-layer IP protocol number (6 TCP, 17 UDP, ...), 0 for any.
	Proto            uint8
	SrcPort, DstPort uint16
}

// IsZero reports whether s is the zero Selector (used on SAs: no selector).
func (s Selector) IsZero() bool { return s == Selector{} }

// Is6 reports whether s selects IPv6 traffic.
func (s Selector) Is6() bool { return s.Dst.Addr().Is6() }

func (s Selector) String() string {
	str := fmt.Sprintf("src %s dst %s", s.Src, s.Dst)
	if s.Proto != 0 {
		str += " proto " + ipProtoName(s.Proto)
	}
	if s.SrcPort != 0 {
		str += fmt.Sprintf(" sport %d", s.SrcPort)
	}
	if s.DstPort != 0 {
		str += fmt.Sprintf(" dport %d", s.DstPort)
	}
	return str
}

func ipProtoName(p uint8) string {
	switch p {
	case 1:
		return "icmp"
	case 6:
		return "tcp"
	case 17:
		return "udp"
	case 58:
		return "ipv6-icmp"
	}
	return fmt.Sprintf("%d", p)
}

// Mark is an XFRM mark (value/mask). The zero Mark means "no mark". Note
// that a mark changes what a policy or SA matches (only packets whose
// skb mark&Mask == Value), so oe-agent does not use marks to tag ownership.
type Mark struct {
	Value, Mask uint32
}

// IsZero reports whether m is the zero Mark (no mark).
func (m Mark) IsZero() bool { return m == Mark{} }

// Lifetime holds an SA's soft and hard limits (RFC 4301 §4.4.2.1). Zero
// means no limit. When a soft limit is reached the kernel sends a soft
// EXPIRE (time to rekey); at a hard limit it sends a hard EXPIRE and
// deletes the SA.
type Lifetime struct {
	SoftBytes, HardBytes     uint64
	SoftPackets, HardPackets uint64
	// SoftAdd and HardAdd count from the SA's installation, SoftUse and
	// HardUse from its first use. The kernel works in whole seconds.
	SoftAdd, HardAdd time.Duration
	SoftUse, HardUse time.Duration
}

// Encap describes UDP encapsulation of ESP (RFC 3948), for NAT traversal.
type Encap struct {
	SrcPort, DstPort uint16
	// OrigAddr is the peer's original address before NAT (NAT-OA), if known.
	OrigAddr netip.Addr
}

// Key is secret key material. It formats as its length only, whatever the
// verb, so that logging an SA (with %v, %+v, %#v or %x) never shows a key.
type Key []byte

// Format implements fmt.Formatter.
func (k Key) Format(f fmt.State, verb rune) {
	fmt.Fprintf(f, "[%d-byte key]", len(k))
}

// SAStats are an SA's counters as the kernel reports them. They are read
// only: AddState ignores them.
type SAStats struct {
	Bytes, Packets uint64
	AddTime        time.Time // installation
	UseTime        time.Time // first use; zero if never used
	// ReplayWindow, Replay and IntegrityFailed count packets dropped
	// because they were outside the window, replayed, or failed integrity.
	ReplayWindow, Replay, IntegrityFailed uint32
}

// SAID identifies an SA in the kernel's SAD: destination, protocol and SPI
// (RFC 4301 §4.1), plus the mark if the SA has one.
type SAID struct {
	Dst   netip.Addr
	Proto Proto
	SPI   uint32
	Mark  Mark
}

func (id SAID) String() string {
	return fmt.Sprintf("%s spi 0x%08x dst %s", id.Proto, id.SPI, id.Dst)
}

// SA is one IPsec security association in the kernel (an XFRM state).
type SA struct {
	Src, Dst netip.Addr
	Proto    Proto
	SPI      uint32 // host order; must not be 0
	Mode     Mode
	// Reqid ties the SA to the policy templates it satisfies, and tags it
	// as oe-agent's (see OwnedReqid).
	Reqid uint32

	// Cipher and CipherKey are the encryption transform (ESP only). For an
	// AEAD cipher the key includes the salt. Integrity and IntegrityKey are
	// the integrity transform: required for AH and for non-AEAD ESP.
	Cipher       Cipher
	CipherKey    Key
	Integrity    Integrity
	IntegrityKey Key

	// ReplayWindow is the anti-replay window in packets (RFC 4303 §3.4.3);
	// 0 disables replay protection. Without ESN it is at most 32 (the
	// kernel's legacy bitmap). ESN enables 64-bit sequence numbers.
	ReplayWindow uint32
	ESN          bool

	Lifetime Lifetime
	Mark     Mark
	Encap    *Encap
	// Selector, if set, restricts the SA to the traffic it selects.
	Selector Selector

	// Stats are filled in by Kernel.States and ignored on add.
	Stats SAStats
}

// ID returns the SA's identity in the SAD.
func (sa SA) ID() SAID { return SAID{Dst: sa.Dst, Proto: sa.Proto, SPI: sa.SPI, Mark: sa.Mark} }

// String names the SA without its keys, as in error messages:
// "esp spi 0x00001234 192.0.2.1->192.0.2.2".
func (sa SA) String() string {
	return fmt.Sprintf("%s spi 0x%08x %s->%s", sa.Proto, sa.SPI, sa.Src, sa.Dst)
}

// Template is one transform a policy requires (ip xfrm's `tmpl`): the kernel
// looks for an SA matching it, and sends an ACQUIRE when there is none.
type Template struct {
	// Src and Dst are the tunnel endpoints. They are left zero for
	// transport mode, where the packet's own addresses are used.
	Src, Dst netip.Addr
	Proto    Proto
	Mode     Mode
	SPI      uint32 // 0 matches any SA
	Reqid    uint32 // the SA's reqid; 0 would match any (oe-agent never uses 0)
	Level    Level
}

func (t Template) String() string {
	s := ""
	if t.Src.IsValid() || t.Dst.IsValid() {
		s = fmt.Sprintf("src %s dst %s ", t.Src, t.Dst)
	}
	s += fmt.Sprintf("proto %s reqid 0x%08x mode %s", t.Proto, t.Reqid, t.Mode)
	if t.SPI != 0 {
		s += fmt.Sprintf(" spi 0x%08x", t.SPI)
	}
	if t.Level == LevelUse {
		s += " level use"
	}
	return s
}

// PolicyKind classifies a policy by what it does.
type PolicyKind uint8

// Policy kinds.
const (
	// KindIPsec is an allow policy with templates: traffic must use an
	// SA; with no SA yet it traps (the kernel sends an ACQUIRE).
	KindIPsec PolicyKind = iota
	// KindBypass is an allow policy without templates: traffic passes
	// in the clear.
	KindBypass
	// KindBlock drops traffic.
	KindBlock
)

func (k PolicyKind) String() string {
	switch k {
	case KindIPsec:
		return "ipsec"
	case KindBypass:
		return "bypass"
	case KindBlock:
		return "block"
	}
	return fmt.Sprintf("kind-%d", uint8(k))
}

// Policy is one entry of the kernel's SPD (an XFRM policy, RFC 4301 §4.4.1).
// The kernel identifies a policy by Selector, Dir and Mark: two policies
// with the same key but different priorities cannot coexist.
type Policy struct {
	Selector Selector
	Dir      Dir
	Action   Action
	// Priority orders overlapping policies: the lowest value wins. It
	// must lie in oe-agent's band (see OwnedPriority).
	Priority uint32
	// Index is assigned by the kernel; it is read back by Policies and
	// ignored on add.
	Index     uint32
	Mark      Mark
	Templates []Template
}

// Kind tells what the policy does.
func (p Policy) Kind() PolicyKind {
	switch {
	case p.Action == ActionBlock:
		return KindBlock
	case len(p.Templates) == 0:
		return KindBypass
	}
	return KindIPsec
}

// String names the policy by direction, selector and priority, as error
// messages do: "out src 192.0.2.1/32 dst 192.0.2.0/24 priority 0x0e000100".
func (p Policy) String() string {
	return fmt.Sprintf("%s %s priority 0x%08x", p.Dir, p.Selector, p.Priority)
}
