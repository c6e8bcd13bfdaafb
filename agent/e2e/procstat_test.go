package e2e

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Resource use of a daemon the test started, from /proc (proc(5)).

// clockTick is the unit of utime and stime in /proc/PID/stat: USER_HZ,
// 100 on every Linux architecture Go supports.
const clockTick = 10 * time.Millisecond

// procRSS is the resident set size of process pid in bytes (VmRSS in
// /proc/PID/status).
func procRSS(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	return parseVmRSS(string(b))
}

func parseVmRSS(status string) (int64, error) {
	for _, line := range strings.Split(status, "\n") {
		if !strings.HasPrefix(line, "VmRSS:") {
			continue
		}
		f := strings.Fields(strings.TrimPrefix(line, "VmRSS:"))
		if len(f) != 2 || f[1] != "kB" {
			return 0, fmt.Errorf("e2e: unexpected VmRSS line %q", line)
		}
		kb, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("e2e: VmRSS line %q: %w", line, err)
		}
		return kb * 1024, nil
	}
	return 0, fmt.Errorf("e2e: no VmRSS line in /proc/PID/status")
}

// procCPU is the CPU time process pid used so far, user plus system
// (utime + stime in /proc/PID/stat).
func procCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	return parseStatCPU(string(b))
}

// parseStatCPU reads utime and stime (fields 14 and 15) from a
// /proc/PID/stat line. The command name (field 2) is in parentheses and
// may contain spaces and parentheses: the fields after it are counted from
// the last ")".
func parseStatCPU(stat string) (time.Duration, error) {
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, fmt.Errorf("e2e: /proc/PID/stat without a command name: %q", stat)
	}
	f := strings.Fields(stat[i+1:])
	// f[0] is field 3 (state): utime is field 14, stime 15.
	if len(f) < 13 {
		return 0, fmt.Errorf("e2e: /proc/PID/stat has %d fields after the name, want at least 13", len(f))
	}
	var sum time.Duration
	for _, s := range f[11:13] {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("e2e: /proc/PID/stat: bad CPU time %q: %w", s, err)
		}
		sum += time.Duration(n) * clockTick
	}
	return sum, nil
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }

func mustRSS(t testing.TB, pid int) int64 {
	t.Helper()
	n, err := procRSS(pid)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func mustCPU(t testing.TB, pid int) time.Duration {
	t.Helper()
	d, err := procCPU(pid)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestProcStatParse(t *testing.T) {
	cpu, err := parseStatCPU("4242 (oe agent) (x)) S 1 4242 4242 0 -1 4194560 1200 0 0 0 250 37 0 0 20 0 9 0 100 0 0")
	if err != nil || cpu != 2870*time.Millisecond {
		t.Errorf("parseStatCPU = %s, %v; want 2.87s", cpu, err)
	}
	if _, err := parseStatCPU("4242 (short) S 1 2"); err == nil {
		t.Error("parseStatCPU accepted a short line")
	}
	rss, err := parseVmRSS("Name:\toe-agentd\nVmPeak:\t  9000 kB\nVmRSS:\t   12345 kB\nThreads:\t8\n")
	if err != nil || rss != 12345*1024 {
		t.Errorf("parseVmRSS = %d, %v; want %d", rss, err, 12345*1024)
	}
	if _, err := parseVmRSS("Name:\tx\n"); err == nil {
		t.Error("parseVmRSS accepted a status without VmRSS")
	}
	// This process: both readers work on a live /proc.
	if _, err := procCPU(os.Getpid()); err != nil {
		t.Error(err)
	}
	if n, err := procRSS(os.Getpid()); err != nil || n <= 0 {
		t.Errorf("procRSS(self) = %d, %v", n, err)
	}
}
