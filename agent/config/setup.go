package config

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// Shunt is what happens to packets of a flow while IKE negotiates it (the
// negotiation shunt) or after it failed (the failure shunt).
type Shunt int

const (
	// ShuntHold queues the packets in the kernel (XFRM larval queue) and
	// releases them when the SA is installed (RFC 4322 §3.1.1).
	ShuntHold Shunt = iota
	ShuntPass       // let them through in clear
	ShuntDrop       // discard them
)

var shuntNames = map[string]Shunt{"hold": ShuntHold, "pass": ShuntPass, "passthrough": ShuntPass, "drop": ShuntDrop}

func (s Shunt) String() string { return [...]string{"hold", "pass", "drop"}[s] }

// LogFormat selects the log encoder (logformat=).
type LogFormat int

const (
	LogConsole LogFormat = iota // human-readable lines (journald adds the time)
	LogJSON                     // one JSON object per line
)

func (f LogFormat) String() string { return [...]string{"console", "json"}[f] }

// LogLevel is the minimum level logged (loglevel=).
type LogLevel int

const (
	LogDebug LogLevel = iota - 1
	LogInfo
	LogWarn
	LogError
)

var logLevelNames = map[string]LogLevel{"debug": LogDebug, "info": LogInfo, "warn": LogWarn, "warning": LogWarn, "error": LogError}

func (l LogLevel) String() string {
	return map[LogLevel]string{LogDebug: "debug", LogInfo: "info", LogWarn: "warn", LogError: "error"}[l]
}

// Setup holds the "config setup" section: daemon-wide settings.
type Setup struct {
	Pos Pos // the section's header line; zero if there is none

	// OE enables opportunistic encryption (oe=, default yes). With it off
	// the policy group files are not read and only conns are loaded.
	OE bool
	// OEAuthNull allows RFC 7619 NULL authentication for OE peers that have
	// no IPSECKEY in DNS (oe-authnull=, default no: anonymous OE protects
	// against passive attackers only, so it is opt-in).
	OEAuthNull bool
	// OEShuntLifetime is how long a failure shunt (pass or drop after a
	// failed OE attempt) stays before OE is tried again with that peer
	// (oe-shunt-lifetime=, default 15m; libreswan's shuntlifetime).
	OEShuntLifetime time.Duration
	// OENegotiationShunt is what happens to the packets of a flow while OE
	// negotiates it (oe-negotiation-shunt=, default hold).
	OENegotiationShunt Shunt
	// OEPolicyDir holds the policy group files (oe-policy-dir=).
	OEPolicyDir string
	// OEIdleTimeout deletes an OE SA that carried no traffic for this long
	// and puts the trap back (oe-idle-timeout=, default 10m; 0 never).
	OEIdleTimeout time.Duration
	// OESALifetime is when an OE Child SA is rekeyed (oe-sa-lifetime=,
	// default 1h; libreswan's salifetime for OE conns is 8h).
	OESALifetime time.Duration
	// OEMaxNegotiations bounds the OE negotiations in progress at once
	// (oe-max-negotiations=, default 64). A first packet to a new peer
	// beyond it gets the group's failure shunt for a minute (clear for
	// private-or-clear, drop for private), and an IKE_SA_INIT from a new
	// peer is refused.
	OEMaxNegotiations int
	// OEMaxPeers bounds the OE peers known at once, with an SA, a shunt
	// or a negotiation (oe-max-peers=, default 4096); overflow as above.
	OEMaxPeers int

	// DNSResolvers are the recursive resolvers used for IPSECKEY lookups
	// (dns-resolvers=); empty means those of /etc/resolv.conf.
	DNSResolvers []netip.AddrPort
	// DNSSECAnchors are trust anchor files (DS or DNSKEY records in zone
	// file syntax) for DNSSEC validation (dnssec-anchors=).
	DNSSECAnchors []string

	LogFormat LogFormat
	LogLevel  LogLevel
	// CtlSocket is the control socket path for oectl (ctlsocket=).
	CtlSocket string
	// Secrets is the ipsec.secrets(5) file (secrets=).
	Secrets string
	// HostKey is this host's private key file (hostkey=).
	HostKey string
}

// DefaultSetup returns the built-in daemon settings.
func DefaultSetup() Setup {
	return Setup{
		OE:                 true,
		OEAuthNull:         false,
		OEShuntLifetime:    15 * time.Minute,
		OENegotiationShunt: ShuntHold,
		OEPolicyDir:        DefaultPolicyDir,
		OEIdleTimeout:      10 * time.Minute,
		OESALifetime:       time.Hour,
		OEMaxNegotiations:  64,
		OEMaxPeers:         4096,
		DNSSECAnchors:      []string{DefaultRootKey},
		LogFormat:          LogConsole,
		LogLevel:           LogInfo,
		CtlSocket:          DefaultCtlSocket,
		Secrets:            DefaultSecretsPath,
		HostKey:            DefaultHostKeyPath,
	}
}

// setupKeys maps each config setup key to its setter. Paths are resolved
// relative to the file that sets them.
var setupKeys = map[string]func(s *Setup, v string, file string) error{
	"oe":          func(s *Setup, v, _ string) (err error) { s.OE, err = parseBool(v); return },
	"oe-authnull": func(s *Setup, v, _ string) (err error) { s.OEAuthNull, err = parseBool(v); return },
	"oe-shunt-lifetime": func(s *Setup, v, _ string) error {
		d, err := ParseDuration(v)
		switch {
		case err != nil:
			return err
		case d < time.Second:
			// Every trapped packet would start a new attempt.
			return fmt.Errorf("%s is too short (at least 1s)", v)
		case d > 24*time.Hour:
			return fmt.Errorf("%s is too long (at most 1d)", v)
		}
		s.OEShuntLifetime = d
		return nil
	},
	"oe-negotiation-shunt": func(s *Setup, v, _ string) (err error) { s.OENegotiationShunt, err = parseEnum(v, shuntNames); return },
	"oe-idle-timeout": func(s *Setup, v, _ string) error {
		d, err := ParseDuration(v)
		switch {
		case err != nil:
			return err
		case d == 0:
			// Idle SAs stay until they expire or the peer deletes them.
		case d < 5*time.Second:
			// The agent samples SA counters every few seconds.
			return fmt.Errorf("%s is too short (at least 5s, or 0 to never delete idle SAs)", v)
		case d > 7*24*time.Hour:
			return fmt.Errorf("%s is too long (at most 7d, or 0 to never delete idle SAs)", v)
		}
		s.OEIdleTimeout = d
		return nil
	},
	"oe-sa-lifetime": func(s *Setup, v, _ string) error {
		d, err := ParseDuration(v)
		switch {
		case err != nil:
			return err
		case d < 10*time.Second:
			// A rekey must complete well within a lifetime.
			return fmt.Errorf("%s is too short (at least 10s)", v)
		case d > 24*time.Hour:
			return fmt.Errorf("%s is too long (at most 1d)", v)
		}
		s.OESALifetime = d
		return nil
	},
	"oe-max-negotiations": func(s *Setup, v, _ string) (err error) {
		s.OEMaxNegotiations, err = parseCount(v, 1, 65536)
		return
	},
	"oe-max-peers": func(s *Setup, v, _ string) (err error) {
		s.OEMaxPeers, err = parseCount(v, 1, 1<<20)
		return
	},
	"oe-policy-dir": func(s *Setup, v, f string) error { s.OEPolicyDir = resolvePath(f, v); return nil },
	"dns-resolvers": func(s *Setup, v, _ string) (err error) {
		s.DNSResolvers, err = parseResolvers(v)
		return
	},
	"dnssec-anchors": func(s *Setup, v, f string) error {
		s.DNSSECAnchors = nil
		for _, p := range strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' }) {
			s.DNSSECAnchors = append(s.DNSSECAnchors, resolvePath(f, p))
		}
		if len(s.DNSSECAnchors) == 0 {
			return fmt.Errorf("empty list")
		}
		return nil
	},
	"logformat": func(s *Setup, v, _ string) (err error) {
		s.LogFormat, err = parseEnum(v, map[string]LogFormat{"console": LogConsole, "json": LogJSON})
		return
	},
	"loglevel":  func(s *Setup, v, _ string) (err error) { s.LogLevel, err = parseEnum(v, logLevelNames); return },
	"ctlsocket": func(s *Setup, v, f string) error { s.CtlSocket = resolvePath(f, v); return nil },
	"secrets":   func(s *Setup, v, f string) error { s.Secrets = resolvePath(f, v); return nil },
	"hostkey":   func(s *Setup, v, f string) error { s.HostKey = resolvePath(f, v); return nil },
}

// setupAliases are other projects' names for the same settings.
var setupAliases = map[string]string{
	"shuntlifetime":       "oe-shunt-lifetime", // libreswan
	"negotiationshunt":    "oe-negotiation-shunt",
	"dnssec-rootkey-file": "dnssec-anchors", // libreswan
	"dnssec-anchor":       "dnssec-anchors",
	"dns-resolver":        "dns-resolvers",
}

// parseCount parses a decimal count between lo and hi.
func parseCount(v string, lo, hi int) (int, error) {
	n, err := strconv.Atoi(v)
	switch {
	case err != nil:
		return 0, fmt.Errorf("invalid number %q", v)
	case n < lo:
		return 0, fmt.Errorf("%d is too small (at least %d)", n, lo)
	case n > hi:
		return 0, fmt.Errorf("%d is too large (at most %d)", n, hi)
	}
	return n, nil
}

// parseResolvers parses dns-resolvers=: addresses with optional ports
// (192.0.2.53, 192.0.2.53:5353, [2001:db8::53]:53), separated by commas or
// spaces, or "%resolvconf" for the system's.
func parseResolvers(v string) ([]netip.AddrPort, error) {
	if strings.EqualFold(v, "%resolvconf") {
		return nil, nil
	}
	var out []netip.AddrPort
	for _, f := range strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' }) {
		ap, err := netip.ParseAddrPort(f)
		if err != nil {
			a, err2 := netip.ParseAddr(f)
			if err2 != nil || a.Zone() != "" {
				return nil, fmt.Errorf("invalid resolver %q (expected an IP address, optionally with :port)", f)
			}
			ap = netip.AddrPortFrom(a.Unmap(), 53)
		}
		if ap.Port() == 0 {
			return nil, fmt.Errorf("invalid resolver %q: port 0", f)
		}
		out = append(out, ap)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("empty resolver list (use %%resolvconf for /etc/resolv.conf)")
	}
	return out, nil
}

// ResolversFromResolvConf extracts the nameserver lines of a resolv.conf(5)
// file, the default for dns-resolvers=.
func ResolversFromResolvConf(data []byte) []netip.AddrPort {
	var out []netip.AddrPort
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 && f[0] == "nameserver" {
			if a, err := netip.ParseAddr(f[1]); err == nil {
				out = append(out, netip.AddrPortFrom(a.Unmap(), 53))
			}
		}
	}
	return out
}

// buildSetup applies a config setup section over the defaults.
func (b *builder) buildSetup(sec *Section) {
	s := &b.cfg.Setup
	s.Pos = sec.Pos
	for _, e := range sec.Entries {
		k := canonSetupKey(e.Key)
		set, ok := setupKeys[k]
		if !ok || e.Value == "" {
			continue // unknown keys are reported by lint; empty means default
		}
		if err := set(s, e.Value, e.Pos.File); err != nil {
			b.errs.add(&Error{Pos: e.Pos, Section: sec.Title(), Key: k, Msg: k + ": " + err.Error()})
		}
	}
}

func canonSetupKey(k string) string {
	if a, ok := setupAliases[k]; ok {
		return a
	}
	return k
}

// fmtSetup writes s as a config setup section.
func fmtSetup(w *strings.Builder, s *Setup) {
	w.WriteString("config setup\n")
	kv := func(k, v string) { fmt.Fprintf(w, "\t%s=%s\n", k, quoteValue(v)) }
	kv("oe", fmtBool(s.OE))
	kv("oe-authnull", fmtBool(s.OEAuthNull))
	kv("oe-shunt-lifetime", FormatDuration(s.OEShuntLifetime))
	kv("oe-negotiation-shunt", s.OENegotiationShunt.String())
	kv("oe-policy-dir", s.OEPolicyDir)
	kv("oe-idle-timeout", FormatDuration(s.OEIdleTimeout))
	kv("oe-sa-lifetime", FormatDuration(s.OESALifetime))
	kv("oe-max-negotiations", strconv.Itoa(s.OEMaxNegotiations))
	kv("oe-max-peers", strconv.Itoa(s.OEMaxPeers))
	if len(s.DNSResolvers) == 0 {
		kv("dns-resolvers", "%resolvconf")
	} else {
		var r []string
		for _, ap := range s.DNSResolvers {
			r = append(r, ap.String())
		}
		kv("dns-resolvers", strings.Join(r, ","))
	}
	kv("dnssec-anchors", strings.Join(s.DNSSECAnchors, ","))
	kv("logformat", s.LogFormat.String())
	kv("loglevel", s.LogLevel.String())
	kv("ctlsocket", s.CtlSocket)
	kv("secrets", s.Secrets)
	kv("hostkey", s.HostKey)
}

// quoteValue quotes v if it needs it to survive the lexer.
func quoteValue(v string) string {
	if v == "" || strings.ContainsAny(v, " \t#\"{") {
		return `"` + v + `"`
	}
	return v
}
