package config

import (
	"crypto"
	"errors"
	"fmt"
	"io/fs"
	"strconv"
	"strings"
)

// SecretKind is the type of an ipsec.secrets entry.
type SecretKind int

const (
	SecretPSK   SecretKind = iota // pre-shared key (authby=secret)
	SecretRSA                     // RSA private key file
	SecretECDSA                   // ECDSA private key file
	SecretEdDSA                   // Ed25519 private key file
)

func (k SecretKind) String() string { return [...]string{"PSK", "RSA", "ECDSA", "EDDSA"}[k] }

// Secret is one entry of a secrets file. Its printing methods never show
// key material: fmt with any verb prints only the kind, the IDs and where
// the entry is.
type Secret struct {
	Pos  Pos
	IDs  []ID // empty: applies to any peer
	Kind SecretKind
	// PSK is the pre-shared key (SecretPSK).
	PSK Key
	// KeyPath is the private key file (SecretRSA, SecretECDSA, SecretEdDSA)
	// and Signer the key read from it.
	KeyPath string
	Signer  crypto.Signer
}

func (s Secret) String() string {
	var ids []string
	for _, id := range s.IDs {
		ids = append(ids, id.String())
	}
	if len(ids) == 0 {
		ids = []string{"(any)"}
	}
	out := fmt.Sprintf("%s for %s at %s", s.Kind, strings.Join(ids, " "), s.Pos)
	if s.KeyPath != "" {
		out += " from " + s.KeyPath
	}
	return out
}

func (s Secret) GoString() string { return "config.Secret{" + s.String() + "}" }

// Format prints the String form for every verb.
func (s Secret) Format(f fmt.State, verb rune) {
	if verb == 'v' && f.Flag('#') {
		fmt.Fprint(f, s.GoString())
		return
	}
	fmt.Fprint(f, s.String())
}

// Secrets is a parsed secrets file with its includes.
type Secrets struct {
	Entries []*Secret
	Files   []string
}

func (s Secrets) String() string {
	return fmt.Sprintf("%d secrets from %s", len(s.Entries), strings.Join(s.Files, ", "))
}

func (s Secrets) GoString() string { return "config.Secrets{" + s.String() + "}" }

// Format prints the String form for every verb.
func (s Secrets) Format(f fmt.State, verb rune) { fmt.Fprint(f, s.String()) }

// ModeError is returned for a file holding secrets whose mode lets group
// or others access it.
type ModeError struct {
	Path string
	Mode fs.FileMode
}

func (e *ModeError) Error() string { return e.Path + " " + e.detail() }

func (e *ModeError) detail() string {
	return fmt.Sprintf("is accessible by group or others (mode %04o): it holds secrets and must be mode 0600 or stricter (chmod 600 %s)",
		e.Mode.Perm(), e.Path)
}

// CheckSecretMode refuses (with a *ModeError) a file holding secrets that
// anyone but its owner may read or write (mode & 077 != 0), as ssh does for
// private keys.
func CheckSecretMode(name string, fi fs.FileInfo) error {
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return &ModeError{Path: name, Mode: perm}
	}
	return nil
}

// ParseSecrets reads an ipsec.secrets(5) file from fsys:
//
//	@west @east : PSK "a long shared secret"
//	192.0.2.1 %any : PSK 0sYWJjZGVmZ2hpamtsbW5vcA==
//	: RSA /etc/oe-agent/rsa.pem
//	@host.example : EDDSA hostkey-ed25519.pem
//	include /etc/oe-agent/secrets.d/*.secrets
//
// An entry starts at column 0 and continues on indented lines. The indices
// before ":" (which must stand alone, since IPv6 addresses contain colons)
// are IKE identities; none means any peer. A PSK is quoted, 0x hex or 0s
// base64; the other kinds name a PEM private key file, relative to the
// secrets file, that is read and checked. The secrets file, its includes
// and the key files must not be accessible by group or others. The error,
// if any, is an *ErrorList.
func ParseSecrets(fsys fs.FS, name string) (*Secrets, error) {
	p := &secretsParser{fsys: fsys, out: &Secrets{}, errs: &ErrorList{}}
	p.file(name, nil, Pos{})
	if p.errs.Len() > 0 {
		return nil, p.errs.Err()
	}
	return p.out, nil
}

type secretsParser struct {
	fsys fs.FS
	out  *Secrets
	errs *ErrorList
}

// readSecretFile reads a file that holds secrets after checking its mode.
func readSecretFile(fsys fs.FS, name string) ([]byte, error) {
	fi, err := fs.Stat(fsys, fsName(name))
	if err != nil {
		return nil, err
	}
	if err := CheckSecretMode(name, fi); err != nil {
		return nil, err
	}
	if err := checkOwner(name, fi); err != nil {
		return nil, err
	}
	return readFile(fsys, name)
}

func (p *secretsParser) file(name string, stack []string, from Pos) {
	if contains(stack, name) {
		p.errs.addf(from, "", "", "include cycle: %s -> %s", strings.Join(stack, " -> "), name)
		return
	}
	if len(stack) >= maxIncludeDepth {
		p.errs.addf(from, "", "", "includes nested more than %d deep", maxIncludeDepth)
		return
	}
	data, err := readSecretFile(p.fsys, name)
	if err != nil {
		var pe *fs.PathError
		var de interface{ detail() string }
		msg := err.Error()
		if errors.As(err, &pe) {
			msg = "cannot read " + name + ": " + errText(err)
		} else if errors.As(err, &de) && from.File == "" {
			msg = de.detail() // the position already names the file
		}
		pos := from
		if pos.File == "" {
			pos = Pos{File: name}
		}
		p.errs.add(&Error{Pos: pos, Msg: msg, Err: err})
		return
	}
	p.out.Files = append(p.out.Files, name)
	stack = append(stack, name)

	// Join continuation lines, remembering where each entry started.
	type rec struct {
		text string
		pos  Pos
	}
	var recs []rec
	for i, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSuffix(line, "\r")
		t := strings.TrimLeft(line, " \t")
		if t == "" || t[0] == '#' {
			continue
		}
		if line[0] == ' ' || line[0] == '\t' {
			if len(recs) == 0 {
				p.errs.addf(Pos{name, i + 1}, "", "", "indented line outside any entry")
				continue
			}
			recs[len(recs)-1].text += " " + t
			continue
		}
		recs = append(recs, rec{text: line, pos: Pos{name, i + 1}})
	}
	for _, r := range recs {
		p.entry(name, r.text, r.pos, stack)
	}
}

// entry parses one joined entry.
func (p *secretsParser) entry(file, text string, pos Pos, stack []string) {
	toks, err := secretTokens(text)
	if err != nil {
		p.errs.addf(pos, "", "", "%v", err)
		return
	}
	if len(toks) == 0 {
		return
	}
	if !toks[0].quoted && toks[0].s == "include" {
		if len(toks) != 2 {
			p.errs.addf(pos, "", "", `"include" takes exactly one file name or pattern`)
			return
		}
		p.include(file, toks[1].s, stack, pos)
		return
	}
	sep := -1
	for i, t := range toks {
		if !t.quoted && t.s == ":" {
			sep = i
			break
		}
	}
	if sep < 0 {
		for _, t := range toks {
			if !t.quoted && strings.HasSuffix(t.s, ":") {
				p.errs.addf(pos, "", "", `missing " : " between the identities and the secret (%q needs white space before its colon)`, t.s)
				return
			}
		}
		p.errs.addf(pos, "", "", `missing " : " between the identities and the secret (the colon needs white space around it)`)
		return
	}
	s := &Secret{Pos: pos}
	for _, t := range toks[:sep] {
		id, err := parseSecretID(t.s)
		if err != nil {
			p.errs.addf(pos, "", "", "%v", err)
			return
		}
		s.IDs = append(s.IDs, id)
	}
	rest := toks[sep+1:]
	if len(rest) == 0 {
		p.errs.addf(pos, "", "", "missing secret type after \":\" (PSK, RSA, ECDSA or EDDSA)")
		return
	}
	kinds := map[string]SecretKind{"psk": SecretPSK, "rsa": SecretRSA, "ecdsa": SecretECDSA, "eddsa": SecretEdDSA}
	kind, ok := kinds[strings.ToLower(rest[0].s)]
	if !ok || rest[0].quoted {
		p.errs.addf(pos, "", "", "unsupported secret type %q (PSK, RSA, ECDSA or EDDSA)%s",
			rest[0].s, didYouMean(strings.ToUpper(rest[0].s), []string{"PSK", "RSA", "ECDSA", "EDDSA"}))
		return
	}
	s.Kind = kind
	if len(rest) < 2 {
		p.errs.addf(pos, "", "", "%s: missing value", kind)
		return
	}
	if kind != SecretPSK && strings.HasPrefix(rest[1].s, "{") && !rest[1].quoted {
		p.errs.addf(pos, "", "", "%s: inline key blocks are not supported; give the path of a PEM file", kind)
		return
	}
	if len(rest) > 2 {
		if kind == SecretPSK {
			p.errs.addf(pos, "", "", "PSK: unexpected text after the key (quote a key that contains spaces)")
		} else {
			p.errs.addf(pos, "", "", "%s: unexpected text after the file name (passphrases are not supported: store the key unencrypted, mode 0600)", kind)
		}
		return
	}
	v := rest[1]
	if kind == SecretPSK {
		if v.quoted {
			s.PSK = Key(v.s)
		} else {
			raw, ok, err := decodeInline(v.s)
			if !ok {
				p.errs.addf(pos, "", "", `PSK: write the key quoted ("..."), as 0x<hex> or as 0s<base64>`)
				return
			}
			if err != nil {
				p.errs.addf(pos, "", "", "PSK: %v", err)
				return
			}
			s.PSK = Key(raw)
		}
		if len(s.PSK) == 0 {
			p.errs.addf(pos, "", "", "PSK: empty key")
			return
		}
		p.out.Entries = append(p.out.Entries, s)
		return
	}
	s.KeyPath = resolvePath(file, v.s)
	data, err := readSecretFile(p.fsys, s.KeyPath)
	if err != nil {
		msg := err.Error()
		var pe *fs.PathError
		if errors.As(err, &pe) {
			msg = "cannot read " + s.KeyPath + ": " + errText(err)
		}
		p.errs.addf(pos, "", "", "%s: %s", kind, msg)
		return
	}
	signer, err := parsePEMPrivateKey(data)
	if err != nil {
		p.errs.addf(pos, "", "", "%s: %s: %v", kind, s.KeyPath, err)
		return
	}
	if want := map[SecretKind]AuthMethod{SecretRSA: AuthRSASig, SecretECDSA: AuthECDSA, SecretEdDSA: AuthEdDSA}[kind]; !pubKeyMatches(signer.Public(), want) {
		p.errs.addf(pos, "", "", "%s: %s holds an %s key", kind, s.KeyPath, keyTypeName(signer.Public()))
		return
	}
	s.Signer = signer
	p.out.Entries = append(p.out.Entries, s)
}

func (p *secretsParser) include(including, pattern string, stack []string, pos Pos) {
	full := resolvePath(including, pattern)
	if !hasMeta(full) {
		p.file(full, stack, pos)
		return
	}
	matches, err := fs.Glob(p.fsys, fsName(full))
	if err != nil {
		p.errs.addf(pos, "", "", "bad include pattern %q: %v", pattern, err)
		return
	}
	for _, m := range matches {
		if fi, err := fs.Stat(p.fsys, m); err == nil && !fi.IsDir() {
			p.file("/"+m, stack, pos)
		}
	}
}

type secretToken struct {
	s      string
	quoted bool
}

// secretTokens splits an entry into white-space separated tokens; "..."
// and '...' are single tokens; "#" starts a comment outside quotes.
func secretTokens(text string) ([]secretToken, error) {
	var out []secretToken
	i := 0
	for i < len(text) {
		c := text[i]
		switch {
		case c == ' ' || c == '\t':
			i++
		case c == '#':
			return out, nil
		case c == '"' || c == '\'':
			end := strings.IndexByte(text[i+1:], c)
			if end < 0 {
				return nil, errors.New("unterminated quoted string")
			}
			out = append(out, secretToken{s: text[i+1 : i+1+end], quoted: true})
			i += end + 2
		default:
			j := i
			for j < len(text) && text[j] != ' ' && text[j] != '\t' {
				j++
			}
			tok := text[i:j]
			if strings.ContainsAny(tok, `"'`) {
				return nil, errors.New("stray quote in " + strconv.Quote(tok))
			}
			out = append(out, secretToken{s: tok})
			i = j
		}
	}
	return out, nil
}

// parseSecretID parses an index: an ID as in leftid=, or %any/%any6.
func parseSecretID(v string) (ID, error) {
	if strings.EqualFold(v, "%any6") {
		return ID{Kind: IDAny}, nil
	}
	if strings.HasSuffix(v, ":") {
		return ID{}, fmt.Errorf("invalid identity %q (put white space around the \":\")", v)
	}
	id, err := parseID(v)
	if err != nil {
		return ID{}, err
	}
	if id.Kind == IDFromDNS {
		return ID{}, fmt.Errorf("%%fromdns is not an identity a secret can be indexed by")
	}
	return id, nil
}
