package ike

import (
	stdcrypto "crypto"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/oe-agent/oe-agent/ike/crypto"
	"github.com/oe-agent/oe-agent/ike/wire"
	"go.uber.org/zap"
)

// Config is the policy of one IKE SA (or of every responder SA a Dispatcher
// creates). It is read, never modified, by the SA; share it freely.
type Config struct {
	// LocalID is the identity sent in IDi/IDr. The zero value sends
	// ID_NULL, which is only useful with AuthNull.
	LocalID Identity
	// LocalAuth says how this end proves LocalID.
	LocalAuth LocalAuth
	// Peer says what this end accepts from the other end.
	Peer PeerAuth

	// IKEProposals are offered (initiator) or accepted (responder) for the
	// IKE SA, in order of preference. The first DH group of the first
	// proposal is the one the initiator's KE payload uses.
	IKEProposals []IKEProposal
	// ChildProposals are offered or accepted for Child SAs (ESP or AH).
	// DH groups in them are used for PFS in CREATE_CHILD_SA only; the
	// first Child SA inherits the IKE SA's keys (RFC 7296 §1.2).
	ChildProposals []ChildProposal
	// Mode of the Child SAs: Tunnel (the default) or Transport, proposed
	// with USE_TRANSPORT_MODE (RFC 7296 §3.10.1).
	Mode Mode
	// LocalTS and RemoteTS are the traffic selectors this end proposes or
	// accepts, from its own point of view; a responder narrows the
	// initiator's proposal to them (RFC 7296 §2.9). Empty means the single
	// address of the local or remote IKE endpoint, all protocols and ports.
	LocalTS, RemoteTS []TrafficSelector

	// IKELifetime is when the IKE SA is rekeyed (minus a random part of
	// RekeyJitter); zero disables IKE SA rekeying.
	IKELifetime time.Duration
	// ChildLifetime is when a Child SA is rekeyed (minus jitter); the
	// kernel hard limit reported in InstallChild adds RekeyMargin. Zero
	// disables Child SA rekeying.
	ChildLifetime time.Duration
	// RekeyMargin is how long a Child SA stays usable after its rekey
	// time (the difference between soft and hard lifetimes).
	RekeyMargin time.Duration
	// RekeyJitter is the largest random amount taken off rekey times, to
	// make simultaneous rekeys (RFC 7296 §2.8.1) unlikely. Zero means a
	// tenth of the lifetime; negative means none.
	RekeyJitter time.Duration

	// ExternalRekey makes the SA report RekeyDue at rekey time instead of
	// rekeying by itself, so that the driver can decide (e.g. let an idle
	// opportunistic Child SA expire, as libreswan does) and call
	// RekeyChild, RekeyIKE, DeleteChild or Delete. Hard expiry still
	// deletes a Child SA that was not replaced.
	ExternalRekey bool

	// Retransmit is the request retransmission policy (RFC 7296 §2.1).
	Retransmit Retransmit
	// DPDInterval is how long the peer may stay silent before a liveness
	// check (an empty INFORMATIONAL request, RFC 7296 §1.4) is sent. Zero
	// disables liveness checks.
	DPDInterval time.Duration
	// HalfOpenTimeout is how long a responder keeps an IKE SA that has
	// not completed IKE_AUTH, and how long an initiator waits for the
	// peer's key after NeedPeerKey. Zero means 30 seconds.
	HalfOpenTimeout time.Duration

	// AllowNullEncryption permits ENCR_NULL Child SAs (integrity only).
	AllowNullEncryption bool
	// DisableNATT keeps IKE on the initial ports when a NAT is detected.
	// By default the initiator moves to port NATTPort for IKE_AUTH (RFC
	// 7296 §2.23), both ends follow the peer's address and port as NAT
	// mappings change, and Child SAs are marked for UDP encapsulation
	// (RFC 3948). The Driver needs a socket on NATTPort for this.
	DisableNATT bool
	// NATTPort is the port IKE moves to; zero means 4500.
	NATTPort uint16
	// NATKeepalive is the interval of NAT keepalives sent from behind a
	// NAT when nothing else was sent (RFC 3948 §4). Zero means 20
	// seconds; negative disables them.
	NATKeepalive time.Duration

	// InitialContact sends INITIAL_CONTACT in IKE_AUTH (RFC 7296
	// §2.4): this is the only IKE SA to the peer, which should delete any
	// older ones it has with us. Received, it is reported in Established.
	InitialContact bool
	// VendorIDs are sent in IKE_SA_INIT as V payloads.
	VendorIDs [][]byte

	// Rand supplies SPIs, nonces, IVs, MODP exponents and jitter. Nil
	// means crypto/rand.Reader. It must be safe for concurrent use if
	// SAs sharing this Config run on different goroutines (the Driver).
	Rand io.Reader
	// Logger receives state transitions and failures; nil discards. Keys
	// and nonces are never logged.
	Logger *zap.Logger
}

// LocalAuth is how this end authenticates itself (RFC 7296 §2.15).
type LocalAuth struct {
	// Method is AuthSignature (RFC 7427, method 14), AuthRSA (legacy
	// method 1, PKCS#1 v1.5 with SHA-1), AuthPSK (method 2) or AuthNull
	// (RFC 7619, method 13).
	Method AuthMethod
	// PSK is the pre-shared key for AuthPSK.
	PSK []byte
	// Signer signs for AuthSignature and AuthRSA: an *rsa.PrivateKey,
	// *ecdsa.PrivateKey (P-256, P-384) or ed25519.PrivateKey, or any
	// crypto.Signer whose Public() is one of those types.
	Signer stdcrypto.Signer
	// RSAPSS selects RSASSA-PSS instead of PKCS#1 v1.5 for RSA keys with
	// AuthSignature.
	RSAPSS bool
	// Hash is the hash for RSA signatures with AuthSignature: SHA256 (the
	// default), SHA384 or SHA512. ECDSA uses the curve's hash and Ed25519
	// none (RFC 8420).
	Hash stdcrypto.Hash
}

// PeerKeyFunc looks up the key of the peer with identity id
// synchronously (e.g. from configuration). It returns (nil, nil) when it
// has no answer, in which case the SA asks with NeedPeerKey.
type PeerKeyFunc func(id Identity) (stdcrypto.PublicKey, error)

// PeerAuth is what this end accepts from the peer.
type PeerAuth struct {
	// ID, when set (Type non-zero), must equal the peer's IDi/IDr.
	ID Identity
	// Methods lists the AUTH methods accepted from the peer. Empty means
	// AuthSignature, plus AuthPSK if PSK is set.
	Methods []AuthMethod
	// PSK is the key the peer's AuthPSK MAC must use.
	PSK []byte
	// PublicKey verifies the peer's signature (raw public key, RFC 7427
	// with no certificate). When nil and a signature arrives, the SA emits
	// NeedPeerKey and waits for SupplyPeerKey: this is how the
	// opportunistic case plugs in a DNS lookup running in parallel.
	PublicKey stdcrypto.PublicKey
	// KeyFunc, when set and PublicKey is nil, is asked for the key when the
	// peer's signature arrives, before falling back to NeedPeerKey. It runs
	// on the SA's goroutine and must not block (use NeedPeerKey for DNS).
	KeyFunc PeerKeyFunc
}

// accepts reports whether the peer may use method m.
func (p *PeerAuth) accepts(m AuthMethod) bool {
	if len(p.Methods) == 0 {
		return m == AuthSignature || (m == AuthPSK && len(p.PSK) > 0)
	}
	for _, x := range p.Methods {
		if x == m {
			return true
		}
	}
	return false
}

func (c *Config) nattPort() uint16 {
	if c.NATTPort == 0 {
		return PortNATT
	}
	return c.NATTPort
}

func (c *Config) keepaliveInterval() time.Duration {
	if c.NATKeepalive == 0 {
		return 20 * time.Second
	}
	return max(c.NATKeepalive, 0)
}

func (c *Config) halfOpenTimeout() time.Duration {
	if c.HalfOpenTimeout <= 0 {
		return 30 * time.Second
	}
	return c.HalfOpenTimeout
}

// Retransmit is the retransmission policy for requests (RFC 7296 §2.1):
// the first resend after Initial, each following wait multiplied by
// Factor, and failure after Tries transmissions in all.
type Retransmit struct {
	Initial time.Duration // zero means 500 ms
	Factor  float64       // zero means 2
	Tries   int           // zero means 5
	Max     time.Duration // largest single wait; zero means 30 s
}

func (r Retransmit) withDefaults() Retransmit {
	if r.Initial <= 0 {
		r.Initial = 500 * time.Millisecond
	}
	if r.Factor < 1 {
		r.Factor = 2
	}
	if r.Tries <= 0 {
		r.Tries = 5
	}
	if r.Max <= 0 {
		r.Max = 30 * time.Second
	}
	return r
}

// wait returns the time to wait after transmission number n (1-based).
func (r Retransmit) wait(n int) time.Duration {
	d := float64(r.Initial)
	for i := 1; i < n; i++ {
		d *= r.Factor
	}
	if d > float64(r.Max) {
		return r.Max
	}
	return time.Duration(d)
}

// IKEProposal is one proposal for the IKE SA, in IANA numbers. Integ must
// be IntegNone for AEAD ciphers and set otherwise.
type IKEProposal struct {
	Encr    wire.EncrID
	KeyBits uint16 // Key Length attribute; 0 for ChaCha20-Poly1305
	Integ   wire.IntegID
	PRF     wire.PRFID
	DH      []wire.DHGroup
}

// ChildProposal is one proposal for a Child SA, in IANA numbers. For AH,
// Encr is zero.
type ChildProposal struct {
	Protocol wire.ProtocolID // ProtocolESP (the zero value means ESP) or ProtocolAH
	Encr     wire.EncrID
	KeyBits  uint16
	Integ    wire.IntegID
	// DH lists the groups for PFS when the Child SA is created or rekeyed
	// with CREATE_CHILD_SA; empty means no PFS.
	DH  []wire.DHGroup
	ESN bool
}

func (p ChildProposal) protocol() wire.ProtocolID {
	if p.Protocol == 0 {
		return wire.ProtocolESP
	}
	return p.Protocol
}

// Mode is the IPsec mode of a Child SA.
type Mode uint8

// Child SA modes.
const (
	Tunnel Mode = iota
	Transport
)

func (m Mode) String() string {
	if m == Transport {
		return "transport"
	}
	return "tunnel"
}

// DefaultIKEProposals are modern defaults (RFC 8247): AES-GCM-16-256 and
// ChaCha20-Poly1305 with SHA-256/384 PRFs, Curve25519, P-256 and MODP-2048,
// then AES-CBC-256 with HMAC-SHA2-256.
func DefaultIKEProposals() []IKEProposal {
	dh := []wire.DHGroup{wire.DHCurve25519, wire.DHECP256, wire.DHECP384, wire.DHModP2048}
	return []IKEProposal{
		{Encr: wire.EncrAESGCM16, KeyBits: 256, PRF: wire.PRFHMACSHA2_256, DH: dh},
		{Encr: wire.EncrChaCha20Poly1305, PRF: wire.PRFHMACSHA2_256, DH: dh},
		{Encr: wire.EncrAESCBC, KeyBits: 256, Integ: wire.IntegHMACSHA2_256_128, PRF: wire.PRFHMACSHA2_256, DH: dh},
	}
}

// DefaultChildProposals are ESP with AES-GCM-16-256, ChaCha20-Poly1305 and
// AES-CBC-256/HMAC-SHA2-256, without PFS.
func DefaultChildProposals() []ChildProposal {
	return []ChildProposal{
		{Encr: wire.EncrAESGCM16, KeyBits: 256},
		{Encr: wire.EncrChaCha20Poly1305},
		{Encr: wire.EncrAESCBC, KeyBits: 256, Integ: wire.IntegHMACSHA2_256_128},
	}
}

// validate checks the parts of c every SA needs.
func (c *Config) validate() error {
	if len(c.IKEProposals) == 0 {
		return fmt.Errorf("%w: no IKE proposals", ErrConfig)
	}
	for i, p := range c.IKEProposals {
		if len(p.DH) == 0 {
			return fmt.Errorf("%w: IKE proposal %d has no DH group", ErrConfig, i+1)
		}
		if _, err := crypto.NewPRF(uint16(p.PRF)); err != nil {
			return fmt.Errorf("%w: IKE proposal %d: %w", ErrConfig, i+1, err)
		}
		if _, err := crypto.NewCipher(ikeSuite{Encr: p.Encr, KeyBits: p.KeyBits, Integ: p.Integ, PRF: p.PRF}.crypto(), nil, nil, crypto.Config{}); err != nil && errors.Is(err, crypto.ErrUnsupported) {
			return fmt.Errorf("%w: IKE proposal %d: %w", ErrConfig, i+1, err)
		}
		if err := checkGroups(p.DH); err != nil {
			return fmt.Errorf("%w: IKE proposal %d: %w", ErrConfig, i+1, err)
		}
	}
	if len(c.ChildProposals) == 0 {
		return fmt.Errorf("%w: no Child SA proposals", ErrConfig)
	}
	for i, p := range c.ChildProposals {
		var err error
		switch p.protocol() {
		case wire.ProtocolESP:
			if p.Encr == wire.EncrNull {
				_, err = crypto.IntegKeyLen(uint16(p.Integ))
				break
			}
			_, err = crypto.NewCipher(crypto.Suite{Encr: uint16(p.Encr), EncrKeyBits: int(p.KeyBits), Integ: uint16(p.Integ)}, nil, nil, crypto.Config{})
			if err != nil && !errors.Is(err, crypto.ErrUnsupported) {
				err = nil // only the key lengths were wrong, as expected
			}
		case wire.ProtocolAH:
			if p.Encr != 0 || p.Integ == wire.IntegNone {
				err = errors.New("AH takes an integrity algorithm and no encryption")
			} else {
				_, err = crypto.IntegKeyLen(uint16(p.Integ))
			}
		default:
			err = fmt.Errorf("protocol %v", p.Protocol)
		}
		if err == nil {
			err = checkGroups(p.DH)
		}
		if err != nil {
			return fmt.Errorf("%w: Child SA proposal %d: %w", ErrConfig, i+1, err)
		}
	}
	if err := validateIdentity(c.LocalID); err != nil {
		return err
	}
	switch c.LocalAuth.Method {
	case AuthPSK:
		if len(c.LocalAuth.PSK) == 0 {
			return fmt.Errorf("%w: PSK authentication without a key", ErrConfig)
		}
	case AuthSignature, AuthRSA:
		if c.LocalAuth.Signer == nil {
			return fmt.Errorf("%w: signature authentication without a signer", ErrConfig)
		}
		if _, err := newSigner(c.LocalAuth); err != nil {
			return err
		}
	case AuthNull:
	default:
		return fmt.Errorf("%w: local auth method %d", ErrConfig, c.LocalAuth.Method)
	}
	return nil
}

// checkGroups refuses DH groups ike/crypto does not implement.
func checkGroups(gs []wire.DHGroup) error {
	for _, g := range gs {
		if !crypto.Group(g).Supported() {
			return fmt.Errorf("DH group %v not implemented", g)
		}
	}
	return nil
}

// ErrConfig is wrapped by configuration errors.
var ErrConfig = errors.New("ike: bad configuration")
