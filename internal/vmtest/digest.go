package vmtest

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"regexp"
	"strings"
)

// FailedTest is one failed test and the last lines its test files logged.
//
// The guest runs many tests side by side, so a failure's message is
// interleaved with the output of others and followed by whatever the
// failing test dumps while cleaning up (server logs). The digest repeats
// the message at the end of the run, where a reader of a CI log's tail
// finds it.
type FailedTest struct {
	Name  string
	Lines []string
}

// digestLines is how many logged lines a digest keeps per failed test, at
// most digestErrors of them picked because they read like a failure
// (t.Error lines look like t.Log lines, and later logs can push them out
// of the last few); digestWidth is the most characters of each.
const (
	digestLines  = 16
	digestErrors = 8
	digestWidth  = 300
	keptLines    = 400
)

var (
	// testHeader names the test whose output follows (go test -v).
	testHeader = regexp.MustCompile(`^=== (?:RUN|CONT|NAME|PAUSE)\s+(\S+)`)
	failLine   = regexp.MustCompile(`^\s*--- FAIL: (\S+)`)
	// testFileLine is a t.Log or t.Error line written from a _test.go
	// file; helpers elsewhere (server log dumps) are left out.
	testFileLine = regexp.MustCompile(`^\s+[\w.-]+_test\.go:\d+: `)
	// failureWords mark a line that likely reports the failure.
	failureWords = regexp.MustCompile(`(?i)\b(error|lost|want|wanted|fail|failed|fails|unexpected|missing|mismatch|differ|cannot|timed out|timeout|not)\b`)
)

// Digest returns the failed tests of one `go test -v` log, in the order
// their results appear, each with at most digestLines lines its test files
// logged before its result line: the last that read like a failure, then
// the last of all, in their order.
func Digest(log []byte) []FailedTest {
	recent := map[string][]string{}
	var failed []FailedTest
	cur := ""
	sc := bufio.NewScanner(bytes.NewReader(log))
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if m := testHeader.FindStringSubmatch(line); m != nil {
			cur = m[1]
			continue
		}
		if m := failLine.FindStringSubmatch(line); m != nil {
			failed = append(failed, FailedTest{Name: m[1], Lines: pick(recent[m[1]])})
			continue
		}
		if cur == "" || !testFileLine.MatchString(line) {
			continue
		}
		line = strings.TrimSpace(line)
		if len(line) > digestWidth {
			line = line[:digestWidth] + "…"
		}
		l := append(recent[cur], line)
		if len(l) > keptLines {
			l = l[len(l)-keptLines:]
		}
		recent[cur] = l
	}
	return failed
}

// pick chooses the digest's lines of one test's log lines.
func pick(lines []string) []string {
	chosen := make([]bool, len(lines))
	n := 0
	for i := len(lines) - 1; i >= 0 && n < digestErrors; i-- {
		if failureWords.MatchString(lines[i]) {
			chosen[i] = true
			n++
		}
	}
	for i := len(lines) - 1; i >= 0 && n < digestLines; i-- {
		if !chosen[i] {
			chosen[i] = true
			n++
		}
	}
	var out []string
	for i, c := range chosen {
		if c {
			out = append(out, lines[i])
		}
	}
	return out
}

// PrintDigest writes the failed tests and their last logged lines.
func PrintDigest(w io.Writer, failed []FailedTest) {
	if len(failed) == 0 {
		return
	}
	fmt.Fprintf(w, "--- vm tier failures (last lines each failed test logged) ---\n")
	for _, f := range failed {
		if len(f.Lines) == 0 && hasFailedSubtest(failed, f.Name) {
			continue // its subtests are listed with their lines
		}
		fmt.Fprintf(w, "%s:\n", f.Name)
		if len(f.Lines) == 0 {
			fmt.Fprintf(w, "    (nothing logged from its test files)\n")
		}
		for _, l := range f.Lines {
			fmt.Fprintf(w, "    %s\n", l)
		}
	}
}

func hasFailedSubtest(failed []FailedTest, name string) bool {
	for _, f := range failed {
		if strings.HasPrefix(f.Name, name+"/") {
			return true
		}
	}
	return false
}
