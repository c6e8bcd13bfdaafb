// Package api holds the types of oe-agentd's control API (HTTP/JSON over a
// unix socket, versioned paths). It is a leaf: it imports only the standard
// library, so oectl and scripts can depend on it without the daemon.
package api

// Version is the release of oe-agent, set at build time with
// -ldflags "-X github.com/oe-agent/oe-agent/agent/api.Version=...".
var Version = "0.0.0-dev"

// APIVersion is the path prefix of the control API's routes.
const APIVersion = "v0"
