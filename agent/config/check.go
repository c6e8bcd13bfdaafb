package config

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/oe-agent/oe-agent/dnskeys"
)

// Bundle is everything oe-agentd loads before it applies anything: the
// configuration, the secrets, the OE policy groups and the host key, all
// parsed and cross-checked.
type Bundle struct {
	Config   *Config
	Secrets  *Secrets  // empty (not nil) when the secrets file does not exist
	Policies *Policies // nil when OE is off
	HostKey  *HostKey  // nil when the host key file does not exist
	Anchors  *dnskeys.Anchors
	// Warnings do not stop the load.
	Warnings []*Error
}

// minPSK is the length below which a PSK draws a warning.
const minPSK = 16

// OSFS is the file system oe-agentd reads: the root directory, so that
// absolute paths in the configuration resolve as written.
func OSFS() fs.FS { return os.DirFS("/") }

// Load reads the configuration from the operating system's files; path
// may be relative to the working directory.
func Load(path string) (*Bundle, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return LoadBundle(OSFS(), filepath.ToSlash(abs))
}

// Check validates the configuration at path, its secrets, policy group
// files, trust anchors and host key, touching nothing else, and returns
// every error found (nil if it is valid). It is what oe-agentd --check
// runs; warnings are not errors and are not returned (Load reports them).
func Check(path string) []error {
	_, err := Load(path)
	return flatten(err)
}

func flatten(err error) []error {
	if err == nil {
		return nil
	}
	var el *ErrorList
	if errors.As(err, &el) {
		out := el.Unwrap()
		if el.dropped > 0 {
			out = append(out, fmt.Errorf("... and %d more errors", el.dropped))
		}
		return out
	}
	return []error{err}
}

// LoadBundle loads and cross-checks everything from fsys. The error, if
// any, is an *ErrorList with every problem found; the Bundle is then nil,
// so a bad reload changes nothing.
func LoadBundle(fsys fs.FS, path string) (*Bundle, error) {
	errs := &ErrorList{}
	cfg, err := Parse(fsys, path)
	if err != nil {
		errs.merge(asList(err))
		return nil, errs.Err() // the rest depends on config setup
	}
	b := &Bundle{Config: cfg, Warnings: append([]*Error(nil), cfg.Warnings...)}
	s := &cfg.Setup

	secrets, err := ParseSecrets(fsys, s.Secrets)
	switch {
	case err == nil:
		b.Secrets = secrets
	case isNotExist(err, s.Secrets):
		b.Secrets = &Secrets{}
	default:
		errs.merge(asList(err))
	}

	hk, err := LoadHostKey(fsys, s.HostKey)
	switch {
	case err == nil:
		b.HostKey = hk
	case errors.Is(err, fs.ErrNotExist):
		b.Warnings = append(b.Warnings, &Error{Pos: Pos{File: s.HostKey}, Msg: "no host key: OE and conns can authenticate only with NULL or PSK (create one with oectl keygen)"})
	default:
		errs.add(&Error{Pos: Pos{File: s.HostKey}, Msg: trimPrefix(err), Err: err})
	}

	if s.OE {
		pol, warns, err := ParsePolicies(fsys, s.OEPolicyDir)
		b.Warnings = append(b.Warnings, warns...)
		if err != nil {
			errs.merge(asList(err))
		}
		b.Policies = pol
	} else if pol, _, err := ParsePolicies(fsys, s.OEPolicyDir); err == nil && pol.count() > 0 {
		b.Warnings = append(b.Warnings, &Error{Pos: setupPos(cfg), Section: "config setup", Key: "oe",
			Msg: fmt.Sprintf("oe=no: the %d entries of the policy group files in %s are ignored", pol.count(), s.OEPolicyDir)})
	}
	for _, c := range cfg.Conns {
		for _, g := range Groups {
			if c.Name == g.String() {
				b.Warnings = append(b.Warnings, &Error{Pos: c.Pos, Section: "conn " + c.Name,
					Msg: fmt.Sprintf("in libreswan a conn named %q defines an OE group; in oe-agent it is an ordinary conn (OE groups are the files in %s)", c.Name, s.OEPolicyDir)})
			}
		}
	}
	if b.Secrets != nil {
		for _, e := range b.Secrets.Entries {
			if e.Kind == SecretPSK && len(e.PSK) < minPSK {
				b.Warnings = append(b.Warnings, &Error{Pos: e.Pos,
					Msg: fmt.Sprintf("PSK of %d bytes is weak: use at least %d random bytes (RFC 7296 §2.15: as strong as the keys it protects)", len(e.PSK), minPSK)})
			}
		}
	}

	for _, f := range s.DNSSECAnchors {
		data, err := readFile(fsys, f)
		if err != nil {
			errs.add(&Error{Pos: setupPos(cfg), Section: "config setup", Key: "dnssec-anchors",
				Msg: "dnssec-anchors: cannot read " + f + ": " + errText(err), Err: err})
			continue
		}
		a, err := dnskeys.ParseAnchors(bytes.NewReader(data), f)
		if err != nil {
			errs.add(&Error{Pos: Pos{File: f}, Key: "dnssec-anchors", Msg: err.Error(), Err: err})
			continue
		}
		b.Anchors = b.Anchors.Merge(a)
	}

	if b.Secrets != nil {
		crossCheckSecrets(b, errs)
	}
	if s.OE && !s.OEAuthNull && b.HostKey == nil && usesOE(b.Policies) && errs.Len() == 0 {
		errs.add(&Error{Pos: setupPos(cfg), Section: "config setup", Key: "oe-authnull",
			Msg: "oe-authnull=no but there is no host key (" + s.HostKey + "): opportunistic encryption could never authenticate this host"})
	}
	if errs.Len() > 0 {
		return nil, errs.Err()
	}
	return b, nil
}

// crossCheckSecrets makes sure every loaded conn that needs a secret has
// one: a PSK for authby=secret, a private key for public-key methods.
func crossCheckSecrets(b *Bundle, errs *ErrorList) {
	for _, c := range b.Config.Conns {
		if c.Auto == AutoIgnore || c.Keying == KeyingManual || c.Type == TypePassthrough || c.Type == TypeDrop {
			continue
		}
		title := "conn " + c.Name
		if c.AuthBy == AuthSecret || c.Left.Auth == AuthSecret || c.Right.Auth == AuthSecret {
			if _, ok := b.Secrets.PSK(endID(&c.Left), endID(&c.Right)); !ok {
				errs.addf(c.Pos, title, "authby", "authby=secret but %s has no PSK for %s and %s", secretsName(b), idText(&c.Left), idText(&c.Right))
			}
		}
		// Our own end is not known until run time (it depends on local
		// addresses); an end without a public key here must be ours, and
		// then needs a private key in the secrets or the host key.
		for _, e := range []*End{&c.Left, &c.Right} {
			m := c.EndAuth(e)
			if !m.NeedsPubKey() || e.PubKey.Kind != PubKeyNone {
				continue
			}
			if b.HostKey != nil && b.HostKey.AuthMethod() == m {
				continue
			}
			if _, ok := b.Secrets.SignerFor(endID(e), m); ok {
				continue
			}
			errs.addf(c.Pos, title, "authby", "%s authentication of %s needs a private key: a matching host key or an %s entry in %s",
				m, idText(e), map[AuthMethod]string{AuthRSASig: "RSA", AuthECDSA: "ECDSA", AuthEdDSA: "EDDSA"}[m], secretsName(b))
		}
	}
}

// setupPos is where config setup is, or the main file if there is none.
func setupPos(cfg *Config) Pos {
	if cfg.Setup.Pos.File != "" {
		return cfg.Setup.Pos
	}
	return Pos{File: cfg.Files[0]}
}

func secretsName(b *Bundle) string { return b.Config.Setup.Secrets }

// endID is the identity an end uses: its id= or, by default, its address.
func endID(e *End) ID {
	if e.ID.Kind != IDDefault {
		return e.ID
	}
	if e.Host.Kind == HostAddr {
		return ID{Kind: IDAddr, Addr: e.Host.Addr}
	}
	return ID{Kind: IDAny}
}

func idText(e *End) string {
	id := endID(e)
	if id.Kind == IDAny {
		return "%any"
	}
	return id.String()
}

func asList(err error) *ErrorList {
	var el *ErrorList
	if errors.As(err, &el) {
		return el
	}
	l := &ErrorList{}
	l.add(&Error{Msg: err.Error(), Err: err})
	return l
}

// isNotExist reports whether err says that exactly the file name (not an
// include or a key file it names) does not exist.
func isNotExist(err error, name string) bool {
	var el *ErrorList
	if !errors.As(err, &el) || len(el.Errs) != 1 {
		return false
	}
	e := el.Errs[0]
	return e.Pos.File == name && e.Pos.Line == 0 && errors.Is(e.Err, fs.ErrNotExist)
}

func trimPrefix(err error) string {
	s := err.Error()
	const p = "config: "
	if len(s) > len(p) && s[:len(p)] == p {
		return s[len(p):]
	}
	return s
}

// usesOE reports whether a policy group that negotiates or accepts OE has
// any prefix: only then does OE need this host to authenticate.
func usesOE(p *Policies) bool {
	if p == nil {
		return false
	}
	for _, g := range []Group{GroupClearOrPrivate, GroupPrivateOrClear, GroupPrivate} {
		if len(p.Groups[g]) > 0 {
			return true
		}
	}
	return false
}
