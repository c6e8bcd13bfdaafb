package config

import (
	"crypto"
	"net/netip"
	"time"
)

// Default paths.
const (
	DefaultConfigPath  = "/etc/oe-agent/oe-agent.conf"
	DefaultSecretsPath = "/etc/oe-agent/oe-agent.secrets"
	DefaultHostKeyPath = "/etc/oe-agent/hostkey.pem"
	DefaultPolicyDir   = "/etc/oe-agent/policies"
	DefaultCtlSocket   = "/run/oe-agent/oe-agentd.sock"
	DefaultRootKey     = "/usr/share/dns/root.key"
)

// Config is a fully resolved and validated configuration.
type Config struct {
	Setup Setup
	// Conns in file order; conn %default is not among them, and sections
	// used only through also= are (they usually have auto=ignore).
	Conns []*Conn
	// Files read, the main file first.
	Files []string
	// Warnings are problems that do not stop the configuration from
	// loading (deprecated spellings, ignored keys).
	Warnings []*Error
}

// Conn returns the connection named name, or nil.
func (c *Config) Conn(name string) *Conn {
	for _, cn := range c.Conns {
		if cn.Name == name {
			return cn
		}
	}
	return nil
}

// ConnType is the kind of a connection (type=).
type ConnType int

const (
	TypeTunnel      ConnType = iota // ESP tunnel mode (the default)
	TypeTransport                   // ESP transport mode
	TypePassthrough                 // no IPsec: a pass policy for the selectors
	TypeDrop                        // no IPsec: a block policy for the selectors
)

func (t ConnType) String() string {
	return [...]string{"tunnel", "transport", "passthrough", "drop"}[t]
}

// Auto is what the daemon does with a connection at start-up (auto=).
type Auto int

const (
	AutoIgnore Auto = iota // not loaded (the default, as in libreswan)
	AutoAdd                // loaded; responds, initiates only on request
	AutoRoute              // loaded and trapped: negotiate on the first packet (ACQUIRE)
	AutoStart              // loaded and initiated at once
)

func (a Auto) String() string { return [...]string{"ignore", "add", "route", "start"}[a] }

// Keying says where a connection's SAs come from (keying=).
type Keying int

const (
	KeyingIKE    Keying = iota // IKEv2 (the default)
	KeyingManual               // static SPIs and keys, for debugging
)

func (k Keying) String() string { return [...]string{"auto", "manual"}[k] }

// AuthMethod is an IKEv2 authentication method (authby=, leftauth=).
type AuthMethod int

const (
	AuthUnset  AuthMethod = iota // leftauth= not set: use authby=
	AuthRSASig                   // RSA signatures (RFC 7427 with RSASSA-PSS/PKCS#1)
	AuthECDSA                    // ECDSA signatures
	AuthEdDSA                    // Ed25519 signatures (RFC 8420)
	AuthSecret                   // pre-shared key
	AuthNull                     // RFC 7619 NULL authentication
	AuthNever                    // no authentication: passthrough and drop conns
)

// NeedsPubKey reports whether m authenticates with a public key.
func (m AuthMethod) NeedsPubKey() bool {
	return m == AuthRSASig || m == AuthECDSA || m == AuthEdDSA
}

// DPDAction is what to do when dead peer detection declares a peer dead.
type DPDAction int

const (
	DPDClear   DPDAction = iota // delete the SAs, leave the policy (traffic flows in clear only if the policy allows)
	DPDHold                     // delete the SAs and re-install the trap: renegotiate on traffic
	DPDRestart                  // delete the SAs and renegotiate at once
)

func (a DPDAction) String() string { return [...]string{"clear", "hold", "restart"}[a] }

// Conn is one connection (a "conn" section), resolved and validated.
type Conn struct {
	Name string
	Pos  Pos

	Type   ConnType
	Auto   Auto
	Keying Keying
	AuthBy AuthMethod

	Left, Right End

	IKE Proposals
	ESP Proposals

	IKELifetime  time.Duration
	SALifetime   time.Duration
	Rekey        bool
	RekeyMargin  time.Duration
	RekeyFuzz    int // percent, 0-1000
	KeyingTries  int // 0 means forever (%forever)
	DPDDelay     time.Duration
	DPDTimeout   time.Duration
	DPDAction    DPDAction
	ReplayWindow uint32
	Mark         Mark

	// Manual is set for keying=manual.
	Manual *ManualKeying
}

// Mark is an XFRM mark (mark=value[/mask]); Set is false when unset.
type Mark struct {
	Value, Mask uint32
	Set         bool
}

// HostKind says what a left=/right= value names.
type HostKind int

const (
	HostUnset        HostKind = iota
	HostAddr                  // a literal address
	HostName                  // a DNS name, resolved by the daemon
	HostDefaultRoute          // %defaultroute: the address of the default-route interface
	HostAny                   // %any: any address (responder / road warrior)
)

// Host is the value of left= or right=.
type Host struct {
	Kind HostKind
	Addr netip.Addr // HostAddr
	Name string     // HostName
	// V6 is set for %defaultroute6 and %any6 (and implied by an IPv6 Addr).
	V6 bool
}

// IDKind is the kind of an IKE identity (leftid=, RFC 7296 §3.5).
type IDKind int

const (
	IDDefault  IDKind = iota // unset: the end's address
	IDAddr                   // ID_IPV4_ADDR / ID_IPV6_ADDR
	IDFQDN                   // ID_FQDN, written @host.example
	IDUserFQDN               // ID_RFC822_ADDR, written user@example
	IDNull                   // ID_NULL (RFC 7619), written %null
	IDAny                    // %any: accept whatever the peer sends
	IDFromDNS                // %fromdns: any identity whose key DNS vouches for (needs a %dns key)
)

// ID is an IKE identity.
type ID struct {
	Kind IDKind
	Addr netip.Addr // IDAddr
	Name string     // IDFQDN (without "@") and IDUserFQDN
}

// PubKeyKind says where an end's public key comes from.
type PubKeyKind int

const (
	PubKeyNone   PubKeyKind = iota
	PubKeyInline            // 0s.../0x... in the configuration
	PubKeyFile              // a PEM file
	PubKeyDNS               // IPSECKEY from DNS, DNSSEC-validated (%dns, %dnsondemand)
)

// PubKey is the value of leftrsasigkey= / leftpubkey=.
type PubKey struct {
	Kind PubKeyKind
	// Path of the PEM file (PubKeyFile), absolute.
	Path string
	// Raw is the inline value's decoded bytes (PubKeyInline), kept so the
	// value can be written back as it was given.
	Raw []byte
	// Key is the parsed key (*rsa.PublicKey, *ecdsa.PublicKey,
	// ed25519.PublicKey) for PubKeyInline and PubKeyFile.
	Key crypto.PublicKey
	// OnDemand is %dnsondemand: fetch when needed rather than at load.
	OnDemand bool
}

// ProtoPort restricts an end's selector (leftprotoport=proto/port). Zero
// values mean any.
type ProtoPort struct {
	Proto uint8
	Port  uint16
}

// End is one side of a connection: left or right.
type End struct {
	Host      Host
	Subnets   []netip.Prefix // empty: the host address alone
	ID        ID
	Auth      AuthMethod // leftauth=; AuthUnset means use authby=
	PubKey    PubKey
	ProtoPort ProtoPort
}

// EndAuth returns the method end e (c.Left or c.Right) authenticates with:
// its own leftauth=/rightauth= if set, else authby=.
func (c *Conn) EndAuth(e *End) AuthMethod {
	if e.Auth != AuthUnset {
		return e.Auth
	}
	return c.AuthBy
}

// ManualKeying holds the static SAs of a keying=manual connection, as the
// FreeS/WAN documentation describes: one ESP SA per direction. LeftToRight
// carries traffic sent by left; RightToLeft the reverse.
type ManualKeying struct {
	ESP         Proposal // exactly one cipher (and one integrity algorithm unless AEAD)
	LeftToRight ManualSA
	RightToLeft ManualSA
}

// ManualSA is one static ESP SA.
type ManualSA struct {
	SPI     uint32
	EncKey  Key
	AuthKey Key
}

// Key is secret key material. Its String, GoString and Format methods never
// print the bytes; use Bytes (and Hex, for writing configuration).
type Key []byte
