// Package api holds the types of oe-agentd's control API: HTTP/JSON over a
// unix socket (DefaultSocket), with every route under /v0/. It is a leaf: it
// imports only the standard library, so oectl and scripts can depend on it
// without the daemon. Field names are the JSON contract; add fields, never
// rename them.
package api

import "time"

// Version is the release of oe-agent, set at build time with
// -ldflags "-X github.com/oe-agent/oe-agent/agent/api.Version=...".
var Version = "0.0.0-dev"

// APIVersion is the path prefix of the control API's routes.
const APIVersion = "v0"

// DefaultSocket is where oe-agentd listens. The directory is created by
// systemd (RuntimeDirectory=oe-agent).
const DefaultSocket = "/run/oe-agent/oe-agentd.sock"

// Routes. Read-only routes (GET) are open to anyone who can connect to the
// socket (root and its group); mutating routes (POST) require uid 0, checked
// with the peer credentials of the connection.
const (
	RouteStatus = "/v0/status"     // GET: Status
	RouteUp     = "/v0/conns/up"   // POST ?name=CONN: Result
	RouteDown   = "/v0/conns/down" // POST ?name=CONN: Result
	RouteReload = "/v0/reload"     // POST: ReloadResult
	RouteLookup = "/v0/lookup"     // GET ?target=ADDR|NAME: Lookup
	RouteTrace  = "/v0/trace"      // GET ?addr=ADDR: Trace
	RouteHost   = "/v0/hostkey"    // GET ?addr=ADDR: HostKey
	RouteVer    = "/v0/version"    // GET: VersionInfo
)

// Error is the body of every non-2xx answer.
type Error struct {
	// Code is a stable, machine-readable word: "not-found", "forbidden",
	// "bad-request", "conflict", "unavailable", "internal".
	Code    string `json:"code"`
	Message string `json:"message"`
}

func (e *Error) Error() string { return e.Message }

// VersionInfo answers RouteVer.
type VersionInfo struct {
	Version    string `json:"version"`
	APIVersion string `json:"api_version"`
}

// Status is the daemon's whole state as oectl status shows it.
type Status struct {
	Version   string        `json:"version"`
	Started   time.Time     `json:"started"`
	Now       time.Time     `json:"now"`
	Conns     []Conn        `json:"conns"`
	Peers     []Peer        `json:"peers"`
	Counters  Counters      `json:"counters"`
	Config    string        `json:"config"`
	Reloaded  time.Time     `json:"reloaded"`
	LastError string        `json:"last_error,omitempty"`
	Groups    []PolicyGroup `json:"groups,omitempty"`
}

// Conn is one configured (static) connection.
type Conn struct {
	Name   string `json:"name"`
	Type   string `json:"type"`   // tunnel, transport, passthrough, drop
	Auto   string `json:"auto"`   // ignore, add, route, start
	State  string `json:"state"`  // see the State* constants
	Local  End    `json:"local"`  // left
	Remote End    `json:"remote"` // right
	// IKE is the IKE SA, if one is up.
	IKE *IKESA `json:"ike,omitempty"`
	// Children are the Child SAs, newest first.
	Children  []ChildSA `json:"children,omitempty"`
	LastError string    `json:"last_error,omitempty"`
}

// Connection and peer states.
const (
	StateDown        = "down"        // loaded, nothing installed
	StateTrapped     = "trapped"     // trap policy installed, waiting for traffic
	StateConnecting  = "connecting"  // IKE in progress
	StateUp          = "up"          // Child SA installed
	StatePassthrough = "passthrough" // bypass policy installed (type=passthrough, or a pass shunt)
	StateDrop        = "drop"        // block policy installed (type=drop, or a drop shunt)
	StateFailed      = "failed"      // last attempt failed; see LastError
)

// End describes one side of a connection or OE peer.
type End struct {
	Addr    string   `json:"addr,omitempty"`
	ID      string   `json:"id,omitempty"`
	Subnets []string `json:"subnets,omitempty"`
	// Auth is how this end authenticates: rsasig, ecdsa, eddsa, secret, null.
	Auth string `json:"auth,omitempty"`
	// KeySource says how the end's public key was obtained and validated:
	// "config", "file /path", "dns secure (zones a, b)", "none".
	KeySource string `json:"key_source,omitempty"`
}

// IKESA is an established IKE SA.
type IKESA struct {
	SPIi        string    `json:"spi_i"`
	SPIr        string    `json:"spi_r"`
	Initiator   bool      `json:"initiator"`
	Proposal    string    `json:"proposal"` // e.g. AES_GCM_16_256/PRF_HMAC_SHA2_256/CURVE25519
	Established time.Time `json:"established"`
	NextRekey   time.Time `json:"next_rekey,omitzero"`
}

// ChildSA is an installed Child SA pair with its kernel counters.
type ChildSA struct {
	Mode        string    `json:"mode"`     // tunnel, transport
	Protocol    string    `json:"protocol"` // esp, ah
	SPIIn       uint32    `json:"spi_in"`
	SPIOut      uint32    `json:"spi_out"`
	Proposal    string    `json:"proposal"` // e.g. AES_GCM_16_256
	LocalTS     []string  `json:"local_ts"`
	RemoteTS    []string  `json:"remote_ts"`
	BytesIn     uint64    `json:"bytes_in"`
	BytesOut    uint64    `json:"bytes_out"`
	PacketsIn   uint64    `json:"packets_in"`
	PacketsOut  uint64    `json:"packets_out"`
	Established time.Time `json:"established"`
	NextRekey   time.Time `json:"next_rekey,omitzero"`
}

// Peer is an opportunistic peer: an address some policy group covers.
type Peer struct {
	Addr  string `json:"addr"`
	Group string `json:"group"` // private-or-clear, private, clear-or-private
	State string `json:"state"`
	// Anonymous is set for SAs authenticated with NULL (RFC 7619).
	Anonymous bool      `json:"anonymous,omitempty"`
	Local     End       `json:"local"`
	Remote    End       `json:"remote"`
	IKE       *IKESA    `json:"ike,omitempty"`
	Children  []ChildSA `json:"children,omitempty"`
	// ShuntExpires is when a pass or drop shunt is replaced by the trap.
	ShuntExpires time.Time `json:"shunt_expires,omitzero"`
	Since        time.Time `json:"since"`
	LastError    string    `json:"last_error,omitempty"`
}

// PolicyGroup is one OE policy group and the prefixes it covers.
type PolicyGroup struct {
	Name     string   `json:"name"`
	Prefixes []string `json:"prefixes"`
}

// Counters are daemon-wide event counts since start.
type Counters struct {
	Acquires          uint64 `json:"acquires"`
	Negotiations      uint64 `json:"negotiations"`
	NegotiationErrors uint64 `json:"negotiation_errors"`
	Overflows         uint64 `json:"overflows"`
	DNSLookups        uint64 `json:"dns_lookups"`
}

// Result is the answer of up and down.
type Result struct {
	Name    string `json:"name"`
	State   string `json:"state"`
	Message string `json:"message,omitempty"`
}

// ReloadResult says what a reload changed. Connections not listed kept
// their SAs.
type ReloadResult struct {
	Added     []string `json:"added"`
	Removed   []string `json:"removed"`
	Changed   []string `json:"changed"`
	Unchanged []string `json:"unchanged"`
}
