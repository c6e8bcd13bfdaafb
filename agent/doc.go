// Package agent is the composition root of oe-agentd: it reads the
// configuration, builds the subsystems (xfrm, trap, dnskeys, ike, oe), owns
// their lifecycle (start, reload, shutdown, --cleanup) and serves the control
// API. It holds no protocol logic of its own.
//
// Not here yet: everything; the agent issue fills it. It will never contain
// codecs or state machines, which live in the packages it composes.
package agent
