package config

import (
	"io/fs"
	"path"
	"strings"
)

// maxFileSize bounds every file the package reads; configuration files are
// small and anything larger is a mistake (or /dev/zero).
const maxFileSize = 4 << 20

// maxIncludeDepth bounds include nesting (cycles are caught separately).
const maxIncludeDepth = 16

// Entry is one key=value line of a section.
type Entry struct {
	Key   string
	Value string
	Pos   Pos
}

// Section is one "config setup" or "conn NAME" section, with its entries in
// file order. Kind is "config" or "conn".
type Section struct {
	Kind    string
	Name    string
	Pos     Pos
	Entries []Entry
}

// Title is how errors name the section: "config setup" or "conn NAME".
func (s *Section) Title() string { return s.Kind + " " + s.Name }

// Document is a configuration file with its includes expanded: the sections
// of every file, in the order they were read.
type Document struct {
	Sections []*Section
	// Files lists every file read, the main file first.
	Files []string
}

// ParseDocument reads the ipsec.conf-syntax file name from fsys, expanding
// include statements (shell globs, relative to the including file; a glob
// that matches nothing is not an error, a plain name that does not exist
// is), and returns its sections. Include cycles are reported. The error, if
// not nil, is an *ErrorList; the Document is still returned with what could
// be read.
func ParseDocument(fsys fs.FS, name string) (*Document, error) {
	p := &docParser{fsys: fsys, doc: &Document{}, errs: &ErrorList{}}
	p.file(name, nil, Pos{})
	return p.doc, p.errs.Err()
}

type docParser struct {
	fsys fs.FS
	doc  *Document
	errs *ErrorList
}

// fsName maps a path as written in configuration ("/etc/x", "conf.d/y")
// to an fs.FS name ("etc/x").
func fsName(name string) string {
	name = path.Clean(name)
	name = strings.TrimLeft(name, "/")
	if name == "" {
		return "."
	}
	return name
}

// readFile reads name from fsys with the size limit.
func readFile(fsys fs.FS, name string) ([]byte, error) {
	fi, err := fs.Stat(fsys, fsName(name))
	if err != nil {
		return nil, err
	}
	if fi.IsDir() {
		return nil, &fs.PathError{Op: "read", Path: name, Err: errIsDir}
	}
	if fi.Size() > maxFileSize {
		return nil, &fs.PathError{Op: "read", Path: name, Err: errTooBig}
	}
	return fs.ReadFile(fsys, fsName(name))
}

type constError string

func (e constError) Error() string { return string(e) }

const (
	errIsDir  = constError("is a directory")
	errTooBig = constError("file larger than 4 MiB")
)

// file parses one file; stack holds the files including it (for cycles);
// from is the include line that named it.
func (p *docParser) file(name string, stack []string, from Pos) {
	for _, s := range stack {
		if s == name {
			p.errs.addf(from, "", "", "include cycle: %s -> %s", strings.Join(stack, " -> "), name)
			return
		}
	}
	if len(stack) >= maxIncludeDepth {
		p.errs.addf(from, "", "", "includes nested more than %d deep", maxIncludeDepth)
		return
	}
	data, err := readFile(p.fsys, name)
	if err != nil {
		if from.File == "" { // the main file: its name is the position
			p.errs.add(&Error{Pos: Pos{File: name}, Msg: errText(err), Err: err})
		} else {
			p.errs.add(&Error{Pos: from, Msg: "cannot read " + name + ": " + errText(err), Err: err})
		}
		return
	}
	p.doc.Files = append(p.doc.Files, name)
	stack = append(stack, name)

	var cur *Section
	text := strings.TrimPrefix(string(data), "\ufeff") // a UTF-8 byte order mark some editors write
	for i, line := range strings.Split(text, "\n") {
		pos := Pos{File: name, Line: i + 1}
		l, err := lexLine(line)
		if err != nil {
			p.errs.add(&Error{Pos: pos, Section: title(cur), Msg: err.Error()})
			continue
		}
		switch l.kind {
		case lineBlank, lineVersion:
		case lineInclude:
			cur = nil
			p.include(name, l.arg, stack, pos)
		case lineSection:
			cur = &Section{Kind: l.word, Name: l.arg, Pos: pos}
			p.doc.Sections = append(p.doc.Sections, cur)
		case lineEntry:
			if cur == nil {
				p.errs.addf(pos, "", l.key, `entry "%s=" outside any section (a "config setup" or "conn" line must come first)`, l.key)
				continue
			}
			cur.Entries = append(cur.Entries, Entry{Key: l.key, Value: l.value, Pos: pos})
		}
	}
}

func title(s *Section) string {
	if s == nil {
		return ""
	}
	return s.Title()
}

// include expands pattern relative to the directory of the including file.
func (p *docParser) include(including, pattern string, stack []string, pos Pos) {
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
		if fi, err := fs.Stat(p.fsys, m); err == nil && fi.IsDir() {
			continue
		}
		p.file("/"+m, stack, pos)
	}
}

// resolvePath makes name absolute relative to the directory of the file
// that mentions it.
func resolvePath(mentionedIn, name string) string {
	if strings.HasPrefix(name, "/") {
		return path.Clean(name)
	}
	return path.Join(path.Dir(mentionedIn), name)
}

func hasMeta(s string) bool { return strings.ContainsAny(s, `*?[\`) }

// errText is err's text without the Go-specific "open x:" prefix duplication
// of fs.PathError (the caller already names the file).
func errText(err error) string {
	if pe, ok := err.(*fs.PathError); ok {
		return pe.Err.Error()
	}
	return err.Error()
}
