package config

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// Transform is an encryption transform with its key length in bits (0 for
// algorithms without a Key Length attribute, RFC 7296 §3.3.5).
type Transform struct {
	ID     uint16
	KeyLen uint16
}

// Proposal is one IKE or ESP proposal in neutral form (RFC 7296 §3.3): each
// list holds the acceptable transforms of one type, most preferred first.
// Integ is empty for AEAD proposals; PRF is empty for ESP; DH is empty for
// an ESP proposal without PFS; ESN is empty unless esn/noesn was given.
type Proposal struct {
	Encr  []Transform
	Integ []uint16
	PRF   []uint16
	DH    []uint16
	ESN   []uint16
}

// AEAD reports whether p uses combined-mode ciphers.
func (p Proposal) AEAD() bool { return len(p.Encr) > 0 && IsAEAD(p.Encr[0].ID) }

// Proposals is the parsed value of ike= or esp=: the proposals in
// preference order and strongSwan's strict flag (a trailing "!": accept
// nothing but these, rather than also the defaults).
type Proposals struct {
	List   []Proposal
	Strict bool
}

// ProposalKind selects the rules a proposal string is checked against.
type ProposalKind int

const (
	ProposalIKE ProposalKind = iota
	ProposalESP
)

func (k ProposalKind) String() string {
	if k == ProposalIKE {
		return "ike"
	}
	return "esp"
}

// Default proposals, used when ike= or esp= is not set. AEAD first, as
// RFC 8247 §3.2 and §2.1 recommend; no algorithm below "SHOULD" strength.
var (
	defaultIKE = "aes256gcm16-aes128gcm16-chacha20poly1305-prfsha512-prfsha384-prfsha256-x25519-ecp256-ecp384-modp3072," +
		"aes256-aes128-sha512-sha384-sha256-prfsha512-prfsha384-prfsha256-x25519-ecp256-ecp384-modp3072"
	defaultESP = "aes256gcm16-aes128gcm16-chacha20poly1305,aes256-aes128-sha512-sha384-sha256"
)

// DefaultProposals returns the built-in proposals for kind.
func DefaultProposals(kind ProposalKind) Proposals {
	s := defaultIKE
	if kind == ProposalESP {
		s = defaultESP
	}
	p, err := ParseProposals(s, kind)
	if err != nil {
		panic("config: bad built-in proposal: " + err.Error())
	}
	return p
}

// Defaults filled into a proposal that leaves out a transform type, as
// libreswan does ("ike=aes256-sha2" gets a DH list).
var (
	fillDH    = []uint16{DHCurve25519, DHECP256, DHECP384, DHMODP3072}
	fillPRF   = []uint16{PRFHMACSHA2_512, PRFHMACSHA2_384, PRFHMACSHA2_256}
	fillInteg = []uint16{IntegHMACSHA2_512256, IntegHMACSHA2_384192, IntegHMACSHA2_256128}
)

// ParseProposals parses an ike= or esp= value in libreswan or strongSwan
// spelling into neutral form. Proposals are separated by ","; within one,
// transforms are separated by "-" (and libreswan's ";" before the DH part
// and "+" between alternatives of one kind). Examples, all accepted:
//
//	aes_gcm256-sha2;dh31                 libreswan, AEAD, PRF from sha2
//	aes256-sha2_512+sha2_256;dh19+dh31   libreswan, two integrity algorithms
//	aes256gcm16-prfsha256-x25519         strongSwan
//	aes128-sha256-modp2048!              strongSwan strict
//	chacha20poly1305-prfsha256-curve25519
//
// A bare hash in an IKE proposal names the integrity algorithm and, unless
// prfXXX is given, the PRF as well; with an AEAD cipher it names only the
// PRF. Transform types left out are filled with defaults (DH and PRF for
// IKE, integrity for non-AEAD). An AES or Camellia cipher without a key
// length offers 256 then 128 bits. Broken algorithms (DES, MD5, MODP-768)
// are refused.
func ParseProposals(s string, kind ProposalKind) (Proposals, error) {
	var ps Proposals
	s = strings.TrimSpace(strings.ToLower(s))
	if strings.HasSuffix(s, "!") {
		ps.Strict = true
		s = strings.TrimSuffix(s, "!")
	}
	if s == "" {
		return ps, errors.New("empty proposal list")
	}
	for _, one := range strings.Split(s, ",") {
		one = strings.TrimSpace(one)
		if one == "" {
			return ps, errors.New("empty proposal between commas")
		}
		if one == "default" {
			ps.List = append(ps.List, DefaultProposals(kind).List...)
			continue
		}
		p, err := parseProposal(one, kind)
		if err != nil {
			return ps, fmt.Errorf("proposal %q: %w", one, err)
		}
		ps.List = append(ps.List, p)
	}
	return ps, nil
}

// icvNames rewrites libreswan's ICV-size spellings (aes_gcm_16_256) to its
// letter forms (aes_gcm_c_256) before underscores are dropped, when the
// digits could no longer be told from a key length.
var icvName = regexp.MustCompile(`(gcm|ccm)_(8|12|16)($|[^0-9])`)

func icvLetters(s string) string {
	return icvName.ReplaceAllStringFunc(s, func(m string) string {
		letter := map[string]string{"8": "a", "12": "b", "16": "c"}
		mode, rest, _ := strings.Cut(m, "_")
		digits := strings.TrimRight(rest, "_-;+,!")
		return mode + "_" + letter[digits] + rest[len(digits):]
	})
}

// token is one algorithm name with where it came from.
type token struct {
	s      string
	dhPart bool // after libreswan's ";"
}

func parseProposal(s string, kind ProposalKind) (Proposal, error) {
	var toks []token
	main, dh, hasDH := strings.Cut(s, ";")
	if hasDH && strings.Contains(dh, ";") {
		return Proposal{}, errors.New(`more than one ";"`)
	}
	for _, f := range strings.Split(main, "-") {
		for _, t := range strings.Split(f, "+") {
			toks = append(toks, token{s: t})
		}
	}
	if hasDH {
		for _, f := range strings.Split(dh, "-") {
			for _, t := range strings.Split(f, "+") {
				toks = append(toks, token{s: t, dhPart: true})
			}
		}
	}
	var (
		p         Proposal
		hashes    []hashAlg
		explicitP bool
		noneInteg bool
		noneDH    bool
		lastEncr  = -1 // index in p.Encr where the last encryption token's transforms start
	)
	for _, t := range toks {
		n := strings.ReplaceAll(icvLetters(t.s), "_", "")
		if n == "" {
			return p, errors.New(`empty algorithm name (doubled "-", "+" or ";"?)`)
		}
		switch {
		case n == "none" && t.dhPart:
			noneDH = true
		case n == "none", n == "null" && len(p.Encr) > 0:
			// libreswan writes "aes_gcm256-null" for AEAD without integrity.
			noneInteg = true
		case n == "esn" || n == "noesn":
			if kind == ProposalIKE {
				return p, errors.New(`"` + t.s + `" is only valid in esp=`)
			}
			v := ESNYes
			if n == "noesn" {
				v = ESNNo
			}
			p.ESN = appendUniq(p.ESN, v)
		case n == "modp768" || n == "dh1":
			return p, errors.New(`"` + t.s + `" (MODP-768) is broken and not supported`)
		case n == "des" || n == "descbc" || n == "md5" || n == "prfmd5" || n == "hmacmd5":
			return p, errors.New(`"` + t.s + `" is broken and not supported`)
		case isDigits(n):
			// libreswan's old "aes-128": a key length for the cipher before it.
			if lastEncr < 0 || len(p.Encr) == 0 || !hasKeyLen(p.Encr[lastEncr].ID) {
				return p, errors.New(`key length "` + t.s + `" does not follow a cipher that takes one`)
			}
			kl, err := keyLen(n)
			if err != nil {
				return p, err
			}
			id := p.Encr[lastEncr].ID
			p.Encr = append(p.Encr[:lastEncr], Transform{ID: id, KeyLen: kl})
		default:
			if id, ok := dhByName(n); ok {
				p.DH = appendUniq(p.DH, id)
				continue
			}
			if h, ok := hashNames[n]; ok {
				hashes = append(hashes, hashByName(h))
				continue
			}
			if strings.HasPrefix(n, "prf") {
				h, ok := hashNames[strings.TrimPrefix(n, "prf")]
				if !ok || strings.TrimPrefix(n, "prf") == "sha2" {
					return p, errors.New(`unknown PRF "` + t.s + `"` + didYouMean(n, allPRFNames()))
				}
				if kind == ProposalESP {
					return p, errors.New(`PRF "` + t.s + `" is only valid in ike=`)
				}
				p.PRF = appendUniq(p.PRF, hashByName(h).prf)
				explicitP = true
				continue
			}
			ts, err := parseCipher(n)
			if err != nil {
				return p, errors.New(`unknown algorithm "` + t.s + `"` + didYouMean(n, allAlgNames(kind)))
			}
			lastEncr = len(p.Encr)
			for _, tr := range ts {
				p.Encr = appendUniqT(p.Encr, tr)
			}
		}
	}
	return finishProposal(p, hashes, explicitP, noneInteg, noneDH, kind)
}

// finishProposal applies the meaning of bare hashes, fills defaults and
// checks the combination.
func finishProposal(p Proposal, hashes []hashAlg, explicitPRF, noneInteg, noneDH bool, kind ProposalKind) (Proposal, error) {
	if len(p.Encr) == 0 {
		return p, errors.New("no encryption algorithm")
	}
	aead := IsAEAD(p.Encr[0].ID)
	for _, e := range p.Encr[1:] {
		if IsAEAD(e.ID) != aead {
			return p, errors.New("combined-mode (AEAD) and classic ciphers in one proposal; put them in separate proposals separated by \",\" (RFC 5282 §8)")
		}
	}
	if kind == ProposalIKE {
		for _, e := range p.Encr {
			if e.ID == EncrNull || e.ID == EncrNullAuthAESGMAC {
				return p, errors.New(`"null" encryption is not allowed for IKE`)
			}
		}
	}
	switch {
	case aead && len(hashes) > 0 && (kind == ProposalESP || explicitPRF):
		return p, errors.New("integrity algorithm given with a combined-mode (AEAD) cipher, which has its own")
	case aead && len(hashes) > 0: // IKE: the hash names the PRF
		for _, h := range hashes {
			p.PRF = appendUniq(p.PRF, h.prf)
		}
	case !aead && noneInteg && len(hashes) == 0:
		return p, errors.New(`integrity "none" needs a combined-mode (AEAD) cipher`)
	case !aead:
		for _, h := range hashes {
			p.Integ = appendUniq(p.Integ, h.integ)
			if kind == ProposalIKE && !explicitPRF {
				p.PRF = appendUniq(p.PRF, h.prf)
			}
		}
	}
	if !aead && len(p.Integ) == 0 {
		p.Integ = append([]uint16(nil), fillInteg...)
	}
	if kind == ProposalESP {
		for _, e := range p.Encr {
			if e.ID == EncrNull && len(p.Integ) == 0 {
				return p, errors.New(`"null" encryption needs an integrity algorithm`)
			}
		}
		if noneDH && len(p.DH) > 0 {
			return p, errors.New(`DH "none" together with DH groups`)
		}
		return p, nil
	}
	if noneDH {
		return p, errors.New("IKE needs a key exchange (DH) group; \"none\" is only valid in esp=")
	}
	if len(p.PRF) == 0 {
		p.PRF = append([]uint16(nil), fillPRF...)
	}
	if len(p.DH) == 0 {
		p.DH = append([]uint16(nil), fillDH...)
	}
	return p, nil
}

func keyLen(n string) (uint16, error) {
	switch n {
	case "128":
		return 128, nil
	case "192":
		return 192, nil
	case "256":
		return 256, nil
	}
	return 0, errors.New(`invalid key length "` + n + `" (128, 192 or 256)`)
}

func appendUniq(l []uint16, v uint16) []uint16 {
	for _, x := range l {
		if x == v {
			return l
		}
	}
	return append(l, v)
}

func appendUniqT(l []Transform, v Transform) []Transform {
	for _, x := range l {
		if x == v {
			return l
		}
	}
	return append(l, v)
}
