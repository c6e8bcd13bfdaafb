package config

import (
	"io/fs"
	"sort"
	"strings"
)

// Parse reads the configuration file name (with its includes) from fsys and
// returns the validated Config. The error, if any, is an *ErrorList holding
// every problem found; the Config is then nil.
func Parse(fsys fs.FS, name string) (*Config, error) {
	doc, err := ParseDocument(fsys, name)
	errs := &ErrorList{}
	if el, ok := err.(*ErrorList); ok {
		errs.merge(el)
	}
	cfg, err := Build(doc, fsys)
	if el, ok := err.(*ErrorList); ok {
		errs.merge(el)
	}
	if errs.Len() > 0 {
		return nil, errs.Err()
	}
	return cfg, nil
}

// Build turns a Document into a Config: it checks every key of every
// section, resolves %default and also=, parses and cross-checks the
// values. fsys is used to read public key files that conns name. The error,
// if any, is an *ErrorList; the Config is then nil.
func Build(doc *Document, fsys fs.FS) (*Config, error) {
	b := &builder{
		fsys:   fsys,
		cfg:    &Config{Setup: DefaultSetup(), Files: doc.Files},
		errs:   &ErrorList{},
		conns:  make(map[string]*Section),
		order:  make(map[string]int),
		cycles: make(map[string]bool),
	}
	for i, f := range doc.Files {
		b.order[f] = i
	}
	var setup *Section
	var conns []*Section
	for _, sec := range doc.Sections {
		b.lint(sec)
		switch {
		case sec.Kind == "config":
			if setup != nil {
				b.errs.addf(sec.Pos, "", "", "duplicate config setup section (the first is at %s)", setup.Pos)
				continue
			}
			setup = sec
		case sec.Name == "%default":
			b.defaults = append(b.defaults, sec)
		default:
			if prev, ok := b.conns[sec.Name]; ok {
				b.errs.addf(sec.Pos, "", "", "duplicate conn %q (the first is at %s)", sec.Name, prev.Pos)
				continue
			}
			b.conns[sec.Name] = sec
			conns = append(conns, sec)
		}
	}
	if setup != nil {
		b.buildSetup(setup)
	}
	for _, sec := range conns {
		if c := b.buildConn(sec); c != nil {
			b.cfg.Conns = append(b.cfg.Conns, c)
		}
	}
	if b.errs.Len() > 0 {
		return nil, b.errs.Err()
	}
	return b.cfg, nil
}

type builder struct {
	fsys     fs.FS
	cfg      *Config
	errs     *ErrorList
	conns    map[string]*Section
	defaults []*Section
	order    map[string]int  // file -> index in Files, for sorting positions
	cycles   map[string]bool // also= cycles already reported
}

func (b *builder) warnf(pos Pos, section, key, format string, args ...any) {
	l := &ErrorList{}
	l.addf(pos, section, key, format, args...)
	b.cfg.Warnings = append(b.cfg.Warnings, l.Errs[0])
}

// lint reports unknown and duplicated keys of one section, once, whether or
// not the section is used.
func (b *builder) lint(sec *Section) {
	seen := make(map[string]Pos)
	for _, e := range sec.Entries {
		var canon string
		var known bool
		vocabulary := connVocabulary
		if sec.Kind == "config" {
			canon = canonSetupKey(e.Key)
			_, known = setupKeys[canon]
			vocabulary = setupVocabulary
			if !known && isConnKey(e.Key) {
				b.errs.addf(e.Pos, sec.Title(), e.Key, "key %q belongs in a conn section, not in config setup", e.Key)
				continue
			}
		} else {
			canon = canonConnKey(e.Key)
			known = isConnKey(canon)
			if !known {
				if _, isSetup := setupKeys[canonSetupKey(e.Key)]; isSetup {
					b.errs.addf(e.Pos, sec.Title(), e.Key, "key %q belongs in config setup, not in a conn section", e.Key)
					continue
				}
			}
		}
		if !known {
			msg := "unknown key \"" + e.Key + "\""
			if hint, ok := unsupportedKeys[strings.ToLower(e.Key)]; ok {
				msg += ": " + hint
			} else {
				msg += didYouMean(strings.ToLower(e.Key), vocabulary())
			}
			b.errs.add(&Error{Pos: e.Pos, Section: sec.Title(), Key: e.Key, Msg: msg})
			continue
		}
		if canon != e.Key && !strings.HasPrefix(e.Key, "left") && !strings.HasPrefix(e.Key, "right") {
			b.warnf(e.Pos, sec.Title(), e.Key, "%q is spelled %q in oe-agent", e.Key, canon)
		}
		if canon == "also" {
			continue
		}
		if p, dup := seen[canon]; dup {
			b.errs.addf(e.Pos, sec.Title(), canon, "duplicate key %q (already set at line %d)", canon, p.Line)
			continue
		}
		seen[canon] = e.Pos
	}
}

func setupVocabulary() []string {
	var v []string
	for k := range setupKeys {
		v = append(v, k)
	}
	sort.Strings(v)
	return v
}

// unsupportedKeys are well-known libreswan/strongSwan keys that oe-agent
// deliberately lacks, with what to do instead.
var unsupportedKeys = map[string]string{
	"leftcert":          "certificates are not supported; use leftrsasigkey= or leftpubkey= with a raw key",
	"rightcert":         "certificates are not supported; use rightrsasigkey= or rightpubkey= with a raw key",
	"rightca":           "certificates are not supported",
	"leftca":            "certificates are not supported",
	"ikev2":             "oe-agent speaks IKEv2 only; remove the key",
	"protostack":        "oe-agent always uses the Linux XFRM stack; remove the key",
	"plutodebug":        "use loglevel=debug",
	"charondebug":       "use loglevel=debug",
	"nat_traversal":     "NAT traversal is always enabled; remove the key",
	"virtual_private":   "not supported",
	"leftmodecfgclient": "configuration payloads are not supported",
	"pfs":               "PFS is enabled by listing DH groups in esp= (e.g. esp=aes256gcm16-x25519)",
	"compress":          "IPComp is not supported",
	"ah":                "AH is not supported; use ESP",
}

// resolved is one effective setting of a conn, with the section it came
// from (for error messages).
type resolved struct {
	Entry          // Key is the canonical name
	written string // the key as the file spells it (an alias, maybe)
	section string
}

// resolve collects the effective settings of sec: its own entries, then
// those of the sections named by also= (depth first, in order), then
// %default; the first setting of a key wins. also= problems are reported.
func (b *builder) resolve(sec *Section) []resolved {
	out := make(map[string]resolved)
	var visit func(s *Section, chain []string)
	visit = func(s *Section, chain []string) {
		for _, e := range s.Entries {
			k := canonConnKey(e.Key)
			if k == "also" || !isConnKey(k) {
				continue
			}
			if _, set := out[k]; !set {
				out[k] = resolved{Entry: Entry{Key: k, Value: e.Value, Pos: e.Pos}, written: e.Key, section: s.Title()}
			}
		}
		for _, e := range s.Entries {
			if e.Key != "also" {
				continue
			}
			names := strings.Fields(e.Value)
			if len(names) == 0 {
				b.errs.addf(e.Pos, s.Title(), "also", "also: empty value")
			}
			for _, name := range names {
				target, ok := b.conns[name]
				if !ok {
					var all []string
					for n := range b.conns {
						all = append(all, n)
					}
					if name == "%default" {
						b.errs.addf(e.Pos, s.Title(), "also", "also=%%default is implicit; remove it")
						continue
					}
					b.errs.addf(e.Pos, s.Title(), "also", "also: no conn named %q%s", name, didYouMean(name, all))
					continue
				}
				if i := indexOf(chain, name); i >= 0 {
					// Report each cycle once, from the first conn that runs into it.
					members := append([]string(nil), chain[i:]...)
					sort.Strings(members)
					if key := strings.Join(members, "\x00"); !b.cycles[key] {
						b.cycles[key] = true
						b.errs.addf(e.Pos, s.Title(), "also", "also: cycle %s -> %s", strings.Join(chain[i:], " -> "), name)
					}
					continue
				}
				visit(target, append(chain[:len(chain):len(chain)], name))
			}
		}
	}
	visit(sec, []string{sec.Name})
	for _, d := range b.defaults {
		visit(d, []string{"%default"})
	}
	list := make([]resolved, 0, len(out))
	for _, r := range out {
		list = append(list, r)
	}
	sort.Slice(list, func(i, j int) bool {
		a, c := list[i].Pos, list[j].Pos
		if a.File != c.File {
			return b.order[a.File] < b.order[c.File]
		}
		return a.Line < c.Line
	})
	return list
}

func contains(l []string, s string) bool { return indexOf(l, s) >= 0 }

func indexOf(l []string, s string) int {
	for i, x := range l {
		if x == s {
			return i
		}
	}
	return -1
}
