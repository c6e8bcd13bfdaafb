package config

import (
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"path"
	"sort"
	"strconv"
	"strings"
)

// Group is an opportunistic encryption policy group (libreswan and
// FreeS/WAN names; RFC 4322 §3.2 classes).
type Group int

const (
	GroupClear          Group = iota // never encrypt: pass policy
	GroupClearOrPrivate              // do not initiate OE, but accept it (responder only)
	GroupPrivateOrClear              // try OE, fall back to clear on failure
	GroupPrivate                     // OE or nothing: drop on failure
	GroupBlock                       // never talk: drop policy
)

// Groups lists the groups in a fixed order.
var Groups = []Group{GroupClear, GroupClearOrPrivate, GroupPrivateOrClear, GroupPrivate, GroupBlock}

func (g Group) String() string {
	return [...]string{"clear", "clear-or-private", "private-or-clear", "private", "block"}[g]
}

// PolicyEntry is one line of a group file: a destination prefix and,
// optionally, libreswan's "CIDR proto sport dport" restriction (0 = any).
type PolicyEntry struct {
	Prefix netip.Prefix
	Proto  uint8
	SPort  uint16
	DPort  uint16
	Pos    Pos
}

func (e PolicyEntry) String() string {
	if e.Proto == 0 && e.SPort == 0 && e.DPort == 0 {
		return e.Prefix.String()
	}
	return fmt.Sprintf("%s %s %d %d", e.Prefix, protoName(e.Proto), e.SPort, e.DPort)
}

// selector is the part of an entry that must be unique across groups.
func (e PolicyEntry) selector() PolicyEntry {
	return PolicyEntry{Prefix: e.Prefix, Proto: e.Proto, SPort: e.SPort, DPort: e.DPort}
}

// Policies holds the entries of every group file.
type Policies struct {
	Groups map[Group][]PolicyEntry
	Files  []string
}

// ParsePolicyFile parses one group file: one CIDR per line (IPv4 or IPv6;
// a bare address is a /32 or /128), optionally followed by protocol,
// source port and destination port as libreswan writes them
// ("10.0.1.0/24 tcp 0 25"); "#" starts a comment. The error, if any, is an
// *ErrorList.
func ParsePolicyFile(name string, data []byte) ([]PolicyEntry, error) {
	errs := &ErrorList{}
	var out []PolicyEntry
	seen := make(map[PolicyEntry]int)
	for i, line := range strings.Split(string(data), "\n") {
		pos := Pos{File: name, Line: i + 1}
		if j := strings.IndexByte(line, '#'); j >= 0 {
			line = line[:j]
		}
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		e, err := parsePolicyLine(f)
		if err != nil {
			errs.addf(pos, "", "", "%v", err)
			continue
		}
		e.Pos = pos
		if prev, dup := seen[e.selector()]; dup {
			errs.addf(pos, "", "", "%s is already listed at line %d", e, prev)
			continue
		}
		seen[e.selector()] = pos.Line
		out = append(out, e)
	}
	if errs.Len() > 0 {
		return nil, errs.Err()
	}
	return out, nil
}

func parsePolicyLine(f []string) (PolicyEntry, error) {
	var e PolicyEntry
	p, err := parsePrefix(f[0])
	if err != nil {
		return e, err
	}
	e.Prefix = p
	switch len(f) {
	case 1:
		return e, nil
	case 4:
	default:
		return e, errors.New(`expected "CIDR" or "CIDR protocol source-port destination-port"`)
	}
	if e.Proto, err = parseProto(f[1]); err != nil {
		return e, err
	}
	ports := [2]uint16{}
	for i, s := range f[2:] {
		n, err := strconv.ParseUint(s, 10, 16)
		if err != nil {
			return e, fmt.Errorf("invalid port %q (0-65535, 0 for any)", s)
		}
		ports[i] = uint16(n)
	}
	e.SPort, e.DPort = ports[0], ports[1]
	if e.Proto == 0 && (e.SPort != 0 || e.DPort != 0) {
		return e, errors.New("ports need a protocol")
	}
	if (e.SPort != 0 || e.DPort != 0) && e.Proto != protoTCP && e.Proto != protoUDP && e.Proto != protoSCTP &&
		e.Proto != protoICMP && e.Proto != protoICMPv6 {
		return e, fmt.Errorf("protocol %s has no ports", protoName(e.Proto))
	}
	return e, nil
}

// ParsePolicies reads every group file in dir from fsys. A missing
// directory or group file means an empty group. Other files in dir are
// reported as warnings (returned separately), since a misspelt group file
// name would otherwise silently do nothing. The same selector in two groups
// is an error: which policy wins would be unclear.
func ParsePolicies(fsys fs.FS, dir string) (*Policies, []*Error, error) {
	pol := &Policies{Groups: make(map[Group][]PolicyEntry)}
	errs := &ErrorList{}
	var warnings []*Error
	names := make(map[string]Group)
	for _, g := range Groups {
		names[g.String()] = g
	}
	ents, err := fs.ReadDir(fsys, fsName(dir))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		errs.add(&Error{Pos: Pos{File: dir}, Msg: "cannot read policy directory: " + errText(err), Err: err})
	}
	var groupNames []string
	for n := range names {
		groupNames = append(groupNames, n)
	}
	sort.Strings(groupNames)
	for _, de := range ents {
		n := de.Name()
		if _, ok := names[n]; ok || de.IsDir() || strings.HasPrefix(n, ".") || strings.HasSuffix(n, "~") {
			continue
		}
		warnings = append(warnings, &Error{Pos: Pos{File: path.Join(dir, n)},
			Msg: "not a policy group file, ignored" + didYouMean(n, groupNames)})
	}
	first := make(map[PolicyEntry]PolicyEntry) // selector -> first entry
	firstGroup := make(map[PolicyEntry]Group)
	for _, g := range Groups {
		name := path.Join(dir, g.String())
		data, err := readFile(fsys, name)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			errs.add(&Error{Pos: Pos{File: name}, Msg: "cannot read: " + errText(err), Err: err})
			continue
		}
		pol.Files = append(pol.Files, name)
		entries, err := ParsePolicyFile(name, data)
		if el, ok := err.(*ErrorList); ok {
			errs.merge(el)
			continue
		}
		for _, e := range entries {
			if prev, dup := first[e.selector()]; dup {
				errs.addf(e.Pos, "", "", "%s is also in group %s (%s): a destination can be in one group only",
					e, firstGroup[e.selector()], prev.Pos)
				continue
			}
			first[e.selector()] = e
			firstGroup[e.selector()] = g
			pol.Groups[g] = append(pol.Groups[g], e)
		}
	}
	if errs.Len() > 0 {
		return nil, warnings, errs.Err()
	}
	return pol, warnings, nil
}

// count is the number of entries in all groups.
func (p *Policies) count() int {
	n := 0
	for _, es := range p.Groups {
		n += len(es)
	}
	return n
}
