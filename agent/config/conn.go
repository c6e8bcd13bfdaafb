package config

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
)

// connCtx is the state of one conn being built.
type connCtx struct {
	b   *builder
	c   *Conn
	set map[string]resolved // keys given a non-empty value
	// manual keying material, assembled after all keys are read
	spi, leftSPI, rightSPI         *uint32
	encKey, leftEnc, rightEnc      Key
	authKey, leftAuthK, rightAuthK Key
}

// connKeys are the conn keys that do not come in left/right pairs.
var connKeys = map[string]func(x *connCtx, v string) error{
	"type": func(x *connCtx, v string) (err error) {
		x.c.Type, err = parseEnum(v, map[string]ConnType{"tunnel": TypeTunnel, "transport": TypeTransport, "passthrough": TypePassthrough, "pass": TypePassthrough, "drop": TypeDrop, "reject": TypeDrop})
		return
	},
	"auto": func(x *connCtx, v string) (err error) {
		x.c.Auto, err = parseEnum(v, map[string]Auto{"ignore": AutoIgnore, "add": AutoAdd, "route": AutoRoute, "ondemand": AutoRoute, "trap": AutoRoute, "start": AutoStart})
		return
	},
	"keying": func(x *connCtx, v string) (err error) {
		x.c.Keying, err = parseEnum(v, map[string]Keying{"auto": KeyingIKE, "ike": KeyingIKE, "manual": KeyingManual})
		return
	},
	"keyexchange": func(x *connCtx, v string) error {
		switch strings.ToLower(v) {
		case "ikev2", "ike":
			return nil
		case "ikev1":
			return fmt.Errorf("IKEv1 is not supported (RFC 9395 deprecates it); remove the key")
		}
		return fmt.Errorf("invalid value %q (only ikev2)", v)
	},
	"authby":      func(x *connCtx, v string) (err error) { x.c.AuthBy, err = parseAuth(v); return },
	"ike":         func(x *connCtx, v string) (err error) { x.c.IKE, err = ParseProposals(v, ProposalIKE); return },
	"esp":         func(x *connCtx, v string) (err error) { x.c.ESP, err = ParseProposals(v, ProposalESP); return },
	"ikelifetime": func(x *connCtx, v string) (err error) { x.c.IKELifetime, err = ParseDuration(v); return },
	"salifetime":  func(x *connCtx, v string) (err error) { x.c.SALifetime, err = ParseDuration(v); return },
	"rekey":       func(x *connCtx, v string) (err error) { x.c.Rekey, err = parseBool(v); return },
	"rekeymargin": func(x *connCtx, v string) (err error) { x.c.RekeyMargin, err = ParseDuration(v); return },
	"rekeyfuzz": func(x *connCtx, v string) error {
		n, err := strconv.Atoi(strings.TrimSuffix(v, "%"))
		if err != nil || n < 0 || n > 1000 {
			return fmt.Errorf("invalid value %q (expected a percentage 0%%-1000%%)", v)
		}
		x.c.RekeyFuzz = n
		return nil
	},
	"keyingtries": func(x *connCtx, v string) error {
		if strings.EqualFold(v, "%forever") {
			x.c.KeyingTries = 0
			return nil
		}
		n, err := parseUint(v, 16)
		if err != nil {
			return fmt.Errorf("invalid value %q (a number, 0 or %%forever for no limit)", v)
		}
		x.c.KeyingTries = int(n)
		return nil
	},
	"dpddelay":   func(x *connCtx, v string) (err error) { x.c.DPDDelay, err = ParseDuration(v); return },
	"dpdtimeout": func(x *connCtx, v string) (err error) { x.c.DPDTimeout, err = ParseDuration(v); return },
	"dpdaction": func(x *connCtx, v string) (err error) {
		x.c.DPDAction, err = parseEnum(v, map[string]DPDAction{"clear": DPDClear, "hold": DPDHold, "trap": DPDHold, "restart": DPDRestart})
		return
	},
	"replay-window": func(x *connCtx, v string) error {
		n, err := parseUint(v, 32)
		if err != nil {
			return err
		}
		x.c.ReplayWindow = uint32(n)
		return nil
	},
	"mark":       func(x *connCtx, v string) (err error) { x.c.Mark, err = parseMark(v); return },
	"spi":        func(x *connCtx, v string) error { return setSPI(&x.spi, v) },
	"espenckey":  func(x *connCtx, v string) (err error) { x.encKey, err = parseKey(v); return },
	"espauthkey": func(x *connCtx, v string) (err error) { x.authKey, err = parseKey(v); return },
}

// sideKeys are the left*/right* keys, by suffix.
var sideKeys = map[string]func(x *connCtx, e *End, left bool, r resolved) error{
	"": func(x *connCtx, e *End, _ bool, r resolved) (err error) { e.Host, err = parseHost(r.Value); return },
	"subnet": func(x *connCtx, e *End, _ bool, r resolved) (err error) {
		e.Subnets, err = parseSubnets(r.Value)
		return
	},
	"id":   func(x *connCtx, e *End, _ bool, r resolved) (err error) { e.ID, err = parseID(r.Value); return },
	"auth": func(x *connCtx, e *End, _ bool, r resolved) (err error) { e.Auth, err = parseAuth(r.Value); return },
	"rsasigkey": func(x *connCtx, e *End, _ bool, r resolved) (err error) {
		e.PubKey, err = parsePubKey(x.b.fsys, r.Value, r.Pos.File)
		return
	},
	"protoport": func(x *connCtx, e *End, _ bool, r resolved) (err error) {
		e.ProtoPort, err = parseProtoPort(r.Value)
		return
	},
	"espspi": func(x *connCtx, e *End, left bool, r resolved) error {
		if left {
			return setSPI(&x.leftSPI, r.Value)
		}
		return setSPI(&x.rightSPI, r.Value)
	},
	"espenckey": func(x *connCtx, e *End, left bool, r resolved) (err error) {
		if left {
			x.leftEnc, err = parseKey(r.Value)
		} else {
			x.rightEnc, err = parseKey(r.Value)
		}
		return
	},
	"espauthkey": func(x *connCtx, e *End, left bool, r resolved) (err error) {
		if left {
			x.leftAuthK, err = parseKey(r.Value)
		} else {
			x.rightAuthK, err = parseKey(r.Value)
		}
		return
	},
}

// connAliases are other spellings (libreswan, strongSwan, FreeS/WAN).
var connAliases = map[string]string{
	"keylife": "salifetime", "lifetime": "salifetime", "ipsec-lifetime": "salifetime",
	"margintime": "rekeymargin", "replay_window": "replay-window", "espreplay_window": "replay-window",
	"replaywindow": "replay-window",
}

// libreswan names the key option after its type (leftrsasigkey=,
// leftecdsakey=) or generically (leftpubkey=); oe-agent infers the type from
// the key, so all are one option.
var sideAliases = map[string]string{"subnets": "subnet", "pubkey": "rsasigkey", "sigkey": "rsasigkey", "ecdsakey": "rsasigkey"}

func canonConnKey(k string) string {
	if a, ok := connAliases[k]; ok {
		return a
	}
	for _, side := range []string{"left", "right"} {
		if suf, ok := strings.CutPrefix(k, side); ok {
			if a, ok := sideAliases[suf]; ok {
				return side + a
			}
		}
	}
	return k
}

func isConnKey(k string) bool {
	k = canonConnKey(k)
	if k == "also" {
		return true
	}
	if _, ok := connKeys[k]; ok {
		return true
	}
	_, _, ok := sideKey(k)
	return ok
}

// sideKey splits "leftsubnet" into (left=true, "subnet").
func sideKey(k string) (left bool, suffix string, ok bool) {
	if s, found := strings.CutPrefix(k, "left"); found {
		_, ok = sideKeys[s]
		return true, s, ok
	}
	if s, found := strings.CutPrefix(k, "right"); found {
		_, ok = sideKeys[s]
		return false, s, ok
	}
	return false, "", false
}

func connVocabulary() []string {
	v := []string{"also"}
	for k := range connKeys {
		v = append(v, k)
	}
	for s := range sideKeys {
		v = append(v, "left"+s, "right"+s)
	}
	sort.Strings(v)
	return v
}

func parseAuth(v string) (AuthMethod, error) {
	return parseEnum(v, map[string]AuthMethod{
		"rsasig": AuthRSASig, "rsa": AuthRSASig, "rsa-sha2": AuthRSASig,
		"ecdsa": AuthECDSA, "ecdsasig": AuthECDSA,
		"eddsa": AuthEdDSA, "ed25519": AuthEdDSA,
		"secret": AuthSecret, "psk": AuthSecret,
		"null": AuthNull, "never": AuthNever,
	})
}

func (m AuthMethod) String() string {
	return [...]string{"", "rsasig", "ecdsa", "eddsa", "secret", "null", "never"}[m]
}

func setSPI(dst **uint32, v string) error {
	n, err := parseUint(v, 32)
	if err != nil {
		return fmt.Errorf("invalid SPI %q: %v", v, err)
	}
	if n < 256 {
		return fmt.Errorf("SPI %s is reserved (0-255, RFC 4303 §2.1); use 0x100 or more", v)
	}
	s := uint32(n)
	*dst = &s
	return nil
}

// parseKey reads manual key material written 0x... (hex) or 0s... (base64).
func parseKey(v string) (Key, error) {
	raw, ok, err := decodeInline(v)
	if !ok {
		return nil, fmt.Errorf("key must be written 0x<hex> or 0s<base64>")
	}
	if err != nil {
		return nil, err
	}
	return Key(raw), nil
}

// defaultConn returns a Conn with the built-in defaults (libreswan's where
// they exist).
func defaultConn(name string, pos Pos) *Conn {
	return &Conn{
		Name: name, Pos: pos,
		Type: TypeTunnel, Auto: AutoIgnore, Keying: KeyingIKE, AuthBy: AuthRSASig,
		IKE: DefaultProposals(ProposalIKE), ESP: DefaultProposals(ProposalESP),
		IKELifetime: 8 * time.Hour, SALifetime: 8 * time.Hour,
		Rekey: true, RekeyMargin: 9 * time.Minute, RekeyFuzz: 100,
		DPDTimeout: 150 * time.Second, DPDAction: DPDHold,
		ReplayWindow: 128,
	}
}

// buildConn resolves and checks one conn section.
func (b *builder) buildConn(sec *Section) *Conn {
	x := &connCtx{b: b, c: defaultConn(sec.Name, sec.Pos), set: make(map[string]resolved)}
	before := b.errs.Len()
	bad := false
	for _, r := range b.resolve(sec) {
		if r.Value == "" {
			continue // key= resets to the default
		}
		x.set[r.Key] = r
		var err error
		if f, ok := connKeys[r.Key]; ok {
			err = f(x, r.Value)
		} else if left, suf, ok := sideKey(r.Key); ok {
			end := &x.c.Right
			if left {
				end = &x.c.Left
			}
			err = sideKeys[suf](x, end, left, r)
		}
		if err != nil {
			bad = true
			b.errs.add(&Error{Pos: r.Pos, Section: r.section, Key: r.Key, Msg: r.written + ": " + err.Error()})
		}
	}
	if bad || b.errs.Len() > before {
		return nil // cross-checks on half-parsed values only add noise
	}
	x.check()
	if b.errs.Len() > before {
		return nil
	}
	return x.c
}

// errAt reports a cross-check failure at the line that set key (or at the
// conn header if key was not set).
func (x *connCtx) errAt(key, format string, args ...any) {
	pos, section := x.c.Pos, "conn "+x.c.Name
	if r, ok := x.set[key]; ok {
		pos, section = r.Pos, r.section
		if section != "conn "+x.c.Name {
			// The value is inherited; name the conn that is wrong.
			format += " (in conn " + x.c.Name + ")"
		}
	}
	x.b.errs.add(&Error{Pos: pos, Section: section, Key: key, Msg: fmt.Sprintf(format, args...)})
}
