package config

import (
	"errors"
	"strings"
)

// lineKind classifies one physical line of an ipsec.conf file.
type lineKind int

const (
	lineBlank   lineKind = iota // empty or comment only
	lineVersion                 // "version 2"
	lineInclude                 // "include PATTERN"
	lineSection                 // "config setup" or "conn NAME"
	lineEntry                   // indented "key=value"
)

// rawLine is the lexed form of one line.
type rawLine struct {
	kind lineKind
	// For lineSection: word is "config" or "conn", arg the name.
	// For lineInclude: arg is the pattern. For lineVersion: arg the version.
	word, arg string
	// For lineEntry.
	key, value string
}

// lexLine splits one line (without its newline) into its parts. The error
// text carries no position; the caller adds file:line.
func lexLine(s string) (rawLine, error) {
	s = strings.TrimSuffix(s, "\r")
	if strings.IndexByte(s, 0) >= 0 {
		return rawLine{}, errors.New("NUL byte in line")
	}
	indented := s != "" && (s[0] == ' ' || s[0] == '\t')
	t := strings.TrimLeft(s, " \t")
	if t == "" || t[0] == '#' {
		return rawLine{kind: lineBlank}, nil
	}
	if indented {
		if w, _, ok := strings.Cut(t, " "); ok && (w == "conn" || w == "config" || w == "include" || w == "version") {
			return rawLine{}, errors.New(`"` + w + `" must start at the beginning of the line; only a section's entries are indented`)
		}
		return lexEntry(t)
	}
	fields, err := splitWords(t)
	if err != nil {
		return rawLine{}, err
	}
	switch fields[0] {
	case "version":
		if len(fields) != 2 {
			return rawLine{}, errors.New(`"version" takes one argument`)
		}
		if fields[1] != "2" && fields[1] != "2.0" {
			return rawLine{}, errors.New(`unsupported version "` + fields[1] + `" (only version 2 exists)`)
		}
		return rawLine{kind: lineVersion, arg: fields[1]}, nil
	case "include":
		if len(fields) != 2 {
			return rawLine{}, errors.New(`"include" takes exactly one file name or pattern`)
		}
		return rawLine{kind: lineInclude, arg: fields[1]}, nil
	case "config":
		if len(fields) != 2 || fields[1] != "setup" {
			return rawLine{}, errors.New(`only "config setup" is a valid config section`)
		}
		return rawLine{kind: lineSection, word: "config", arg: "setup"}, nil
	case "conn":
		if len(fields) != 2 {
			return rawLine{}, errors.New(`"conn" takes exactly one name`)
		}
		if err := checkConnName(fields[1]); err != nil {
			return rawLine{}, err
		}
		return rawLine{kind: lineSection, word: "conn", arg: fields[1]}, nil
	}
	if strings.Contains(fields[0], "=") {
		return rawLine{}, errors.New(`entry "` + fields[0] + `" must be indented under a "config setup" or "conn" section`)
	}
	return rawLine{}, errors.New(`unknown statement "` + fields[0] + `" (expected "config setup", "conn NAME", "include" or "version")` +
		didYouMean(fields[0], []string{"config", "conn", "include", "version"}))
}

// checkConnName accepts names libreswan and strongSwan accept: letters,
// digits and "-_.+/@:", plus the reserved name "%default".
func checkConnName(n string) error {
	if n == "%default" {
		return nil
	}
	if len(n) > 128 {
		return errors.New("conn name longer than 128 characters")
	}
	for i := 0; i < len(n); i++ {
		c := n[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.IndexByte("-_.+/@:", c) >= 0:
		default:
			return errors.New(`invalid character ` + quoteByte(c) + ` in conn name "` + n + `"`)
		}
	}
	return nil
}

func quoteByte(c byte) string {
	if c >= 0x20 && c < 0x7f {
		return `"` + string(rune(c)) + `"`
	}
	const hex = "0123456789abcdef"
	return `0x` + string([]byte{hex[c>>4], hex[c&15]})
}

// splitWords splits an unindented statement into white-space separated
// words, dropping a trailing comment. Quotes are not special here.
func splitWords(t string) ([]string, error) {
	if i := commentStart(t); i >= 0 {
		t = t[:i]
	}
	f := strings.Fields(t)
	if len(f) == 0 {
		return nil, errors.New("empty statement")
	}
	return f, nil
}

// commentStart is the index of a "#" that starts a comment (at the start or
// after white space), or -1.
func commentStart(t string) int {
	for i := 0; i < len(t); i++ {
		if t[i] == '#' && (i == 0 || t[i-1] == ' ' || t[i-1] == '\t') {
			return i
		}
	}
	return -1
}

// lexEntry parses `key=value`, `key = value`, `key="quoted value"`,
// `key={brace list}` and `key=` (reset to default).
func lexEntry(t string) (rawLine, error) {
	i := 0
	for i < len(t) && isKeyChar(t[i]) {
		i++
	}
	key := t[:i]
	rest := strings.TrimLeft(t[i:], " \t")
	if key == "" {
		return rawLine{}, errors.New(`expected key=value, found "` + clip(t) + `"`)
	}
	if rest == "" || rest[0] != '=' {
		if rest == "" || rest[0] == '#' {
			return rawLine{}, errors.New(`key "` + key + `" has no "=value"`)
		}
		return rawLine{}, errors.New(`invalid character ` + quoteByte(rest[0]) + ` in key "` + clip(t) + `" (expected key=value)`)
	}
	rest = strings.TrimLeft(rest[1:], " \t")
	var value string
	switch {
	case rest == "" || rest[0] == '#':
		value = ""
		rest = ""
	case rest[0] == '"':
		end := strings.IndexByte(rest[1:], '"')
		if end < 0 {
			return rawLine{}, errors.New(`key "` + key + `": unterminated quoted value`)
		}
		value = rest[1 : 1+end]
		rest = rest[2+end:]
	case rest[0] == '{':
		end := strings.IndexByte(rest, '}')
		if end < 0 {
			return rawLine{}, errors.New(`key "` + key + `": unterminated "{" list`)
		}
		value = strings.Join(strings.Fields(rest[1:end]), " ")
		rest = rest[end+1:]
	default:
		end := strings.IndexAny(rest, " \t")
		if end < 0 {
			end = len(rest)
		}
		value = rest[:end]
		rest = rest[end:]
		if strings.IndexByte(value, '"') >= 0 {
			return rawLine{}, errors.New(`key "` + key + `": stray quote in value "` + clip(value) + `"`)
		}
	}
	rest = strings.TrimLeft(rest, " \t")
	if rest != "" && rest[0] != '#' {
		return rawLine{}, errors.New(`key "` + key + `": unexpected text "` + clip(rest) + `" after the value (quote values that contain spaces)`)
	}
	return rawLine{kind: lineEntry, key: key, value: value}, nil
}

func isKeyChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_'
}

// clip shortens s for quoting in an error message.
func clip(s string) string {
	const n = 40
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}
