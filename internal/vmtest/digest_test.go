package vmtest

import (
	"bytes"
	"strings"
	"testing"
)

// A parallel run as the guest prints it: the failing test's message sits
// between other tests' output and is followed by a helper's log dump.
const parallelLog = `=== RUN   TestVMA
=== PAUSE TestVMA
=== RUN   TestVMB
=== PAUSE TestVMB
=== CONT  TestVMA
    a_test.go:10: world up
=== CONT  TestVMB
    b_test.go:20: west->east sent 100, delivered 100
=== NAME  TestVMA
    a_test.go:52: simultaneous initiation lost datagrams: west->east 97/100
    proc.go:57: oetest: nsd log:
        	nsd starting
=== NAME  TestVMB
    b_test.go:21: fine
--- PASS: TestVMB (1.00s)
=== RUN   TestVMC
=== RUN   TestVMC/sub
    c_test.go:5: sub broke
    --- FAIL: TestVMC/sub (0.10s)
--- FAIL: TestVMC (0.10s)
--- FAIL: TestVMA (61.65s)
FAIL
`

func TestDigestAttributesInterleavedLines(t *testing.T) {
	got := Digest([]byte(parallelLog))
	if len(got) != 3 {
		t.Fatalf("Digest found %d failed tests, want 3: %+v", len(got), got)
	}
	a := got[2]
	if a.Name != "TestVMA" || len(a.Lines) != 2 || !strings.Contains(a.Lines[1], "lost datagrams") {
		t.Errorf("TestVMA digest = %+v, want its two test-file lines ending in the error", a)
	}
	if sub := got[0]; sub.Name != "TestVMC/sub" || len(sub.Lines) != 1 || !strings.HasPrefix(sub.Lines[0], "c_test.go:5:") {
		t.Errorf("subtest digest = %+v", sub)
	}
	var b bytes.Buffer
	PrintDigest(&b, got)
	out := b.String()
	if strings.Contains(out, "TestVMC:\n") {
		t.Errorf("digest lists the parent of a failed subtest without lines:\n%s", out)
	}
	for _, want := range []string{"TestVMA:\n", "lost datagrams", "TestVMC/sub:\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("digest lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "nsd") || strings.Contains(out, "delivered 100") {
		t.Errorf("digest carries another test's or a helper's lines:\n%s", out)
	}
}

func TestDigestKeepsTheLastLinesCut(t *testing.T) {
	var b strings.Builder
	b.WriteString("=== RUN   TestVMLong\n")
	for i := 0; i < 30; i++ {
		b.WriteString("    long_test.go:1: " + strings.Repeat("x", 400) + "\n")
	}
	b.WriteString("    long_test.go:2: the error\n--- FAIL: TestVMLong (1.00s)\n")
	got := Digest([]byte(b.String()))
	if len(got) != 1 || len(got[0].Lines) != digestLines {
		t.Fatalf("Digest = %d tests, want 1 with %d lines", len(got), digestLines)
	}
	if last := got[0].Lines[digestLines-1]; last != "long_test.go:2: the error" {
		t.Errorf("last line = %q", last)
	}
	if first := got[0].Lines[0]; len(first) > digestWidth+len("…") {
		t.Errorf("line not cut: %d bytes", len(first))
	}
}

func TestDigestKeepsAnEarlyErrorBehindLaterLogs(t *testing.T) {
	var b strings.Builder
	b.WriteString("=== RUN   TestVMDir\n    dir_test.go:50: simultaneous: east->west sent 100, delivered 96\n")
	b.WriteString("    dir_test.go:57: simultaneous initiation lost datagrams: east->west 96/100\n")
	for i := 0; i < 40; i++ {
		b.WriteString("    dir_test.go:120: west: 2 ESP SAs for the IPv6 pair\n")
	}
	b.WriteString("--- FAIL: TestVMDir (60.00s)\n")
	got := Digest([]byte(b.String()))
	if len(got) != 1 || len(got[0].Lines) != digestLines {
		t.Fatalf("Digest = %+v", got)
	}
	if !strings.Contains(got[0].Lines[0], "lost datagrams") {
		t.Errorf("the error line is not kept first: %q", got[0].Lines)
	}
}
