package config

import (
	"errors"
	"strconv"
	"strings"
	"time"
)

// maxDuration bounds every configured duration; nothing in IPsec is
// configured in years, and the bound keeps arithmetic far from overflow.
const maxDuration = 365 * 24 * time.Hour

// ParseDuration parses a duration in the forms ipsec.conf users write:
// bare seconds as libreswan and FreeS/WAN take them ("3600"), a number with
// a unit ("60s", "15m", "8h", "1d", "500ms"), or a sequence of them
// ("1h30m", "1d12h"). Units: ms, s, m, h, d, w. Negative values and values
// above a year are refused.
func ParseDuration(s string) (time.Duration, error) {
	if s == "" {
		return 0, errors.New("empty duration")
	}
	if isDigits(s) {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n > int64(maxDuration/time.Second) {
			return 0, errors.New("duration " + strconv.Quote(s) + " is too long (at most a year)")
		}
		return time.Duration(n) * time.Second, nil
	}
	var total time.Duration
	rest := s
	for rest != "" {
		i := 0
		for i < len(rest) && rest[i] >= '0' && rest[i] <= '9' {
			i++
		}
		if i == 0 {
			return 0, errors.New("invalid duration " + strconv.Quote(s) + " (expected e.g. 3600, 60s, 15m, 8h, 1h30m)")
		}
		num := rest[:i]
		rest = rest[i:]
		j := 0
		for j < len(rest) && rest[j] >= 'a' && rest[j] <= 'z' {
			j++
		}
		var unit time.Duration
		switch rest[:j] {
		case "ms":
			unit = time.Millisecond
		case "s":
			unit = time.Second
		case "m":
			unit = time.Minute
		case "h":
			unit = time.Hour
		case "d":
			unit = 24 * time.Hour
		case "w":
			unit = 7 * 24 * time.Hour
		case "":
			return 0, errors.New("invalid duration " + strconv.Quote(s) + ": number " + num + " needs a unit (ms, s, m, h, d)")
		default:
			return 0, errors.New("invalid duration " + strconv.Quote(s) + ": unknown unit " + strconv.Quote(rest[:j]) + " (use ms, s, m, h, d or w)")
		}
		rest = rest[j:]
		n, err := strconv.ParseInt(num, 10, 64)
		if err != nil || n > int64(maxDuration/unit) {
			return 0, errors.New("duration " + strconv.Quote(s) + " is too long (at most a year)")
		}
		total += time.Duration(n) * unit
		if total > maxDuration {
			return 0, errors.New("duration " + strconv.Quote(s) + " is too long (at most a year)")
		}
	}
	return total, nil
}

// FormatDuration writes d in the canonical form ParseDuration reads back:
// the largest units first ("1d2h", "1h30m", "90s" is written "1m30s", "0s").
func FormatDuration(d time.Duration) string {
	if d == 0 {
		return "0s"
	}
	var b strings.Builder
	if d < 0 {
		b.WriteByte('-')
		d = -d
	}
	units := []struct {
		u time.Duration
		s string
	}{
		{24 * time.Hour, "d"}, {time.Hour, "h"}, {time.Minute, "m"}, {time.Second, "s"}, {time.Millisecond, "ms"},
	}
	for _, u := range units {
		if n := d / u.u; n > 0 {
			b.WriteString(strconv.FormatInt(int64(n), 10))
			b.WriteString(u.s)
			d -= n * u.u
		}
	}
	if d > 0 { // sub-millisecond remainder: not expressible, never produced by ParseDuration
		b.WriteString(strconv.FormatInt(int64(d/time.Microsecond), 10))
		b.WriteString("us")
	}
	return b.String()
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
