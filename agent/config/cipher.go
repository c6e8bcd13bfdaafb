package config

import (
	"errors"
	"strconv"
	"strings"
)

// parseCipher parses a cipher name with underscores removed: strongSwan's
// "aes256gcm16", "aes128", "aes256ctr", "camellia256", libreswan's
// "aesgcm256" (aes_gcm256), "aesgcmc256" (aes_gcm_c_256), "aescbc", and
// "chacha20poly1305", "3des", "null", "aes256gmac".
func parseCipher(n string) ([]Transform, error) {
	switch n {
	case "chacha20poly1305":
		return []Transform{{ID: EncrChaCha20Poly1305}}, nil
	case "3des", "3descbc":
		return []Transform{{ID: Encr3DES}}, nil
	case "null", "nullenc":
		return []Transform{{ID: EncrNull}}, nil
	case "nullauthaesgmac": // libreswan's full name of aes_gmac
		return []Transform{{ID: EncrNullAuthAESGMAC, KeyLen: 256}, {ID: EncrNullAuthAESGMAC, KeyLen: 128}}, nil
	}
	var family string
	switch {
	case strings.HasPrefix(n, "aes"):
		family = "aes"
	case strings.HasPrefix(n, "camellia"):
		family = "camellia"
	default:
		return nil, errors.New("unknown")
	}
	r := n[len(family):]
	var kl, mode, icv string
	if d := leadingDigits(r); d != "" { // strongSwan: aes256gcm16
		kl, r = d, r[len(d):]
		mode, r = leadingLetters(r), r[len(leadingLetters(r)):]
		icv, r = leadingDigits(r), r[len(leadingDigits(r)):]
	} else { // libreswan: aesgcmc256, aesgcm, aescbc128, aesgcm16
		mode, r = leadingLetters(r), r[len(leadingLetters(r)):]
		if m, sub, ok := cutABC(mode); ok {
			mode, icv = m, sub
		}
		d := leadingDigits(r)
		r = r[len(d):]
		switch d {
		case "8", "12", "16", "64", "96", "128", "192", "256":
			if d == "128" || d == "192" || d == "256" {
				kl = d
			} else {
				icv = d
			}
		case "":
		default:
			return nil, errors.New("unknown")
		}
	}
	if r != "" {
		return nil, errors.New("unknown")
	}
	var id uint16
	switch mode {
	case "", "cbc":
		if icv != "" {
			return nil, errors.New("unknown")
		}
		id = map[string]uint16{"aes": EncrAESCBC, "camellia": EncrCamelliaCBC}[family]
	case "ctr":
		if icv != "" {
			return nil, errors.New("unknown")
		}
		id = map[string]uint16{"aes": EncrAESCTR, "camellia": EncrCamelliaCTR}[family]
	case "gmac":
		if icv != "" || family != "aes" {
			return nil, errors.New("unknown")
		}
		id = EncrNullAuthAESGMAC
	case "gcm", "ccm":
		if family == "camellia" && mode == "gcm" {
			return nil, errors.New("unknown")
		}
		var ok bool
		id, ok = aeadID(family, mode, icv)
		if !ok {
			return nil, errors.New("unknown")
		}
	default:
		return nil, errors.New("unknown")
	}
	if kl == "" {
		return []Transform{{ID: id, KeyLen: 256}, {ID: id, KeyLen: 128}}, nil
	}
	k, err := keyLen(kl)
	if err != nil {
		return nil, err
	}
	return []Transform{{ID: id, KeyLen: k}}, nil
}

// cutABC splits libreswan's "gcma"/"gcmb"/"gcmc" (ICV 8/12/16 bytes).
func cutABC(mode string) (string, string, bool) {
	for _, m := range []string{"gcm", "ccm"} {
		if strings.HasPrefix(mode, m) && len(mode) == len(m)+1 {
			switch mode[len(m)] {
			case 'a':
				return m, "8", true
			case 'b':
				return m, "12", true
			case 'c':
				return m, "16", true
			}
		}
	}
	return mode, "", false
}

func aeadID(family, mode, icv string) (uint16, bool) {
	// strongSwan also spells the ICV in bits: aes128gcm128.
	switch icv {
	case "64":
		icv = "8"
	case "96":
		icv = "12"
	case "", "128":
		icv = "16"
	}
	ids := map[string]uint16{
		"aes/gcm/8": EncrAESGCM8, "aes/gcm/12": EncrAESGCM12, "aes/gcm/16": EncrAESGCM16,
		"aes/ccm/8": EncrAESCCM8, "aes/ccm/12": EncrAESCCM12, "aes/ccm/16": EncrAESCCM16,
		"camellia/ccm/8": EncrCamelliaCCM8, "camellia/ccm/12": EncrCamelliaCCM12, "camellia/ccm/16": EncrCamelliaCCM16,
	}
	id, ok := ids[family+"/"+mode+"/"+icv]
	return id, ok
}

func leadingDigits(s string) string {
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	return s[:i]
}

func leadingLetters(s string) string {
	i := 0
	for i < len(s) && s[i] >= 'a' && s[i] <= 'z' {
		i++
	}
	return s[:i]
}

func allPRFNames() []string {
	var out []string
	for _, h := range hashAlgs {
		out = append(out, "prf"+h.name)
	}
	return out
}

// allAlgNames is the vocabulary used for "did you mean" on an unknown token.
func allAlgNames(kind ProposalKind) []string {
	out := []string{"aes128", "aes192", "aes256", "aes128gcm16", "aes256gcm16", "aes128ctr", "aes256ctr",
		"aes128ccm16", "aes256ccm16", "aesgcm128", "aesgcm256", "chacha20poly1305", "camellia128", "camellia256", "3des",
		"esn", "noesn", "none", "null"}
	for _, h := range hashAlgs {
		out = append(out, h.name)
	}
	for _, g := range dhGroups {
		out = append(out, g.names...)
	}
	if kind == ProposalIKE {
		out = append(out, allPRFNames()...)
	}
	return out
}

// encrName is the canonical (strongSwan) token for t.
func encrName(t Transform) string {
	kl := strconv.Itoa(int(t.KeyLen))
	switch t.ID {
	case Encr3DES:
		return "3des"
	case EncrNull:
		return "null"
	case EncrChaCha20Poly1305:
		return "chacha20poly1305"
	case EncrAESCBC:
		return "aes" + kl
	case EncrAESCTR:
		return "aes" + kl + "ctr"
	case EncrAESGCM8, EncrAESGCM12, EncrAESGCM16:
		return "aes" + kl + "gcm" + map[uint16]string{EncrAESGCM8: "8", EncrAESGCM12: "12", EncrAESGCM16: "16"}[t.ID]
	case EncrAESCCM8, EncrAESCCM12, EncrAESCCM16:
		return "aes" + kl + "ccm" + map[uint16]string{EncrAESCCM8: "8", EncrAESCCM12: "12", EncrAESCCM16: "16"}[t.ID]
	case EncrNullAuthAESGMAC:
		return "aes" + kl + "gmac"
	case EncrCamelliaCBC:
		return "camellia" + kl
	case EncrCamelliaCTR:
		return "camellia" + kl + "ctr"
	case EncrCamelliaCCM8, EncrCamelliaCCM12, EncrCamelliaCCM16:
		return "camellia" + kl + "ccm" + map[uint16]string{EncrCamelliaCCM8: "8", EncrCamelliaCCM12: "12", EncrCamelliaCCM16: "16"}[t.ID]
	}
	return "encr" + strconv.Itoa(int(t.ID))
}

// String writes p in canonical strongSwan spelling, which ParseProposals
// reads back to the same Proposal.
func (p Proposal) String() string {
	var toks []string
	for _, e := range p.Encr {
		toks = append(toks, encrName(e))
	}
	for _, id := range p.Integ {
		if h, ok := hashByInteg(id); ok {
			toks = append(toks, h.name)
		}
	}
	for _, id := range p.PRF {
		if h, ok := hashByPRF(id); ok {
			toks = append(toks, "prf"+h.name)
		}
	}
	for _, id := range p.DH {
		toks = append(toks, dhName(id))
	}
	for _, v := range p.ESN {
		if v == ESNYes {
			toks = append(toks, "esn")
		} else {
			toks = append(toks, "noesn")
		}
	}
	return strings.Join(toks, "-")
}

// String writes ps in canonical form ("a-b-c,d-e-f!").
func (ps Proposals) String() string {
	var parts []string
	for _, p := range ps.List {
		parts = append(parts, p.String())
	}
	s := strings.Join(parts, ",")
	if ps.Strict {
		s += "!"
	}
	return s
}
