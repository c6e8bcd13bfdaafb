package config

import (
	"testing"
	"time"
)

func TestParseDuration(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
	}{
		{"3600", time.Hour},
		{"0", 0},
		{"60s", time.Minute},
		{"15m", 15 * time.Minute},
		{"8h", 8 * time.Hour},
		{"1h30m", 90 * time.Minute},
		{"1d12h", 36 * time.Hour},
		{"2w", 14 * 24 * time.Hour},
		{"500ms", 500 * time.Millisecond},
		{"1m30s250ms", 90*time.Second + 250*time.Millisecond},
	}
	for _, tt := range tests {
		got, err := ParseDuration(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
		back, err := ParseDuration(FormatDuration(got))
		if err != nil || back != got {
			t.Errorf("FormatDuration(%v) = %q does not read back (%v, %v)", got, FormatDuration(got), back, err)
		}
	}
	for _, tt := range []struct{ in, want string }{
		{"", "empty duration"},
		{"-5s", `invalid duration "-5s" (expected e.g. 3600, 60s, 15m, 8h, 1h30m)`},
		{"1.5h", `invalid duration "1.5h": number 1 needs a unit (ms, s, m, h, d)`},
		{"8hours", `invalid duration "8hours": unknown unit "hours" (use ms, s, m, h, d or w)`},
		{"1h30", `invalid duration "1h30": number 30 needs a unit (ms, s, m, h, d)`},
		{"400d", `duration "400d" is too long (at most a year)`},
		{"99999999999999999999", `duration "99999999999999999999" is too long (at most a year)`},
		{"h", `invalid duration "h" (expected e.g. 3600, 60s, 15m, 8h, 1h30m)`},
	} {
		_, err := ParseDuration(tt.in)
		if err == nil || err.Error() != tt.want {
			t.Errorf("ParseDuration(%q) error %v, want %s", tt.in, err, tt.want)
		}
	}
}

func TestFormatDuration(t *testing.T) {
	for _, tt := range []struct {
		d    time.Duration
		want string
	}{
		{0, "0s"}, {90 * time.Second, "1m30s"}, {8 * time.Hour, "8h"}, {25 * time.Hour, "1d1h"}, {1500 * time.Millisecond, "1s500ms"},
	} {
		if got := FormatDuration(tt.d); got != tt.want {
			t.Errorf("FormatDuration(%v) = %q, want %q", tt.d, got, tt.want)
		}
	}
}

func TestSuggest(t *testing.T) {
	keys := connVocabulary()
	for _, tt := range []struct{ in, want string }{
		{"rigth", "right"},
		{"leftsubnett", "leftsubnet"},
		{"ikelifetim", "ikelifetime"},
		{"dpdelay", "dpddelay"},
		{"xyzzy", ""},
		{"a", ""},
	} {
		if got := suggest(tt.in, keys); got != tt.want {
			t.Errorf("suggest(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	if d := editDistance("rigth", "right"); d != 1 {
		t.Errorf("transposition costs %d", d)
	}
}
