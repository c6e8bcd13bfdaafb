package config

import (
	"fmt"
	"sort"
	"strings"
)

// MaxErrors caps how many errors one load reports; later ones are counted
// but not kept, so a hopelessly broken file still yields a readable report.
const MaxErrors = 50

// Pos is a position in a configuration file: the file's path as given to the
// loader (after include resolution) and a 1-based line number.
type Pos struct {
	File string
	Line int
}

func (p Pos) String() string {
	if p.File == "" {
		return "<builtin>"
	}
	if p.Line <= 0 {
		return p.File
	}
	return fmt.Sprintf("%s:%d", p.File, p.Line)
}

// Error is one problem found in a configuration, secrets or policy file.
// Its text has the form of a compiler diagnostic so that editors and CI can
// jump to it:
//
//	/etc/oe-agent/oe-agent.conf:12: conn west-east: unknown key "rigth" (did you mean "right"?)
//
// Section ("config setup", "conn west-east", or empty) and Key (the
// canonical key name, or empty) are there for callers that branch on them;
// Msg is the human text, which names the key itself where that helps.
type Error struct {
	Pos
	Section string
	Key     string
	Msg     string
	// Err is the underlying error, if any (for example from strconv).
	Err error
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Pos.String())
	b.WriteString(": ")
	if e.Section != "" {
		b.WriteString(e.Section)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// ErrorList is every error found by one load, in file order. Its Error
// method prints one per line; Len reports the total including errors beyond
// MaxErrors that were dropped.
type ErrorList struct {
	Errs    []*Error
	dropped int
	seen    map[string]bool
}

func (l *ErrorList) add(e *Error) {
	key := e.Error()
	if l.seen == nil {
		l.seen = make(map[string]bool)
	}
	if l.seen[key] {
		// The same inherited value (from %default or also=) is checked once
		// per conn that uses it; report it once.
		return
	}
	l.seen[key] = true
	if len(l.Errs) >= MaxErrors {
		l.dropped++
		return
	}
	l.Errs = append(l.Errs, e)
}

// addf records an error at pos.
func (l *ErrorList) addf(pos Pos, section, key, format string, args ...any) {
	l.add(&Error{Pos: pos, Section: section, Key: key, Msg: fmt.Sprintf(format, args...)})
}

// Len is the number of errors found, including those beyond MaxErrors.
func (l *ErrorList) Len() int {
	if l == nil {
		return 0
	}
	return len(l.Errs) + l.dropped
}

// Err returns l as an error, or nil if it holds no errors.
func (l *ErrorList) Err() error {
	if l.Len() == 0 {
		return nil
	}
	l.sort()
	return l
}

// sort orders errors by file (in the order files first appear, which is
// the order they were read) and line.
func (l *ErrorList) sort() {
	rank := make(map[string]int)
	for _, e := range l.Errs {
		if _, ok := rank[e.File]; !ok {
			rank[e.File] = len(rank)
		}
	}
	sort.SliceStable(l.Errs, func(i, j int) bool {
		a, b := l.Errs[i], l.Errs[j]
		if a.File != b.File {
			return rank[a.File] < rank[b.File]
		}
		return a.Line < b.Line
	})
}

func (l *ErrorList) Error() string {
	var b strings.Builder
	for i, e := range l.Errs {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(e.Error())
	}
	if l.dropped > 0 {
		fmt.Fprintf(&b, "\n... and %d more errors", l.dropped)
	}
	return b.String()
}

// Unwrap gives errors.Is/As access to each *Error.
func (l *ErrorList) Unwrap() []error {
	out := make([]error, len(l.Errs))
	for i, e := range l.Errs {
		out[i] = e
	}
	return out
}

// merge appends other's errors to l.
func (l *ErrorList) merge(other *ErrorList) {
	if other == nil {
		return
	}
	for _, e := range other.Errs {
		l.add(e)
	}
	l.dropped += other.dropped
}
