package modelpolicy

import (
	"fmt"
	"strings"
	"time"
)

// Hours is a daily period in minutes after midnight: Start inclusive, End
// exclusive, End < Start wrapping past midnight.
type Hours struct {
	Start, End int
}

// String writes h as "HH:MM-HH:MM".
func (h Hours) String() string {
	return fmt.Sprintf("%02d:%02d-%02d:%02d", h.Start/60, h.Start%60, h.End/60, h.End%60)
}

// Wraps reports whether h runs past midnight (or ends at it).
func (h Hours) Wraps() bool { return h.End < h.Start }

// ParseHours parses "HH:MM-HH:MM" (24-hour clock; spaces around the dash
// allowed; "24:00" only as the end). Start and end must differ.
func ParseHours(s string) (Hours, error) {
	a, b, ok := strings.Cut(s, "-")
	if !ok {
		return Hours{}, fmt.Errorf("want HH:MM-HH:MM, got %q", s)
	}
	start, err := parseClock(strings.TrimSpace(a))
	if err != nil || start == 24*60 {
		return Hours{}, fmt.Errorf("want HH:MM-HH:MM, got %q: bad start", s)
	}
	end, err := parseClock(strings.TrimSpace(b))
	if err != nil {
		return Hours{}, fmt.Errorf("want HH:MM-HH:MM, got %q: bad end", s)
	}
	if end == 24*60 {
		end = 0
	}
	if start == end {
		return Hours{}, fmt.Errorf("%q: start and end are the same time (an empty or whole-day window: leave hours out of the policy instead)", s)
	}
	return Hours{Start: start, End: end}, nil
}

// parseClock parses "HH:MM", 00:00 to 24:00, into minutes.
func parseClock(s string) (int, error) {
	if len(s) != 5 || s[2] != ':' {
		return 0, fmt.Errorf("want HH:MM, got %q", s)
	}
	d := func(c byte) int {
		if c < '0' || c > '9' {
			return -1000
		}
		return int(c - '0')
	}
	h, m := d(s[0])*10+d(s[1]), d(s[3])*10+d(s[4])
	if h < 0 || m < 0 || m > 59 || h > 24 || h == 24 && m != 0 {
		return 0, fmt.Errorf("want HH:MM, got %q", s)
	}
	return h*60 + m, nil
}

// contains reports whether minute m of the day is in h.
func (h Hours) contains(m int) bool {
	if h.Wraps() {
		return m >= h.Start || m < h.End
	}
	return m >= h.Start && m < h.End
}

// Days is a set of weekdays; the zero value is every day.
type Days uint8

var dayNames = map[string]time.Weekday{
	"sun": time.Sunday, "mon": time.Monday, "tue": time.Tuesday, "wed": time.Wednesday,
	"thu": time.Thursday, "fri": time.Friday, "sat": time.Saturday,
}

// ParseDays parses day names (mon … sun, any case); none means every day.
func ParseDays(names []string) (Days, error) {
	var d Days
	for _, n := range names {
		wd, ok := dayNames[strings.ToLower(strings.TrimSpace(n))]
		if !ok {
			return 0, fmt.Errorf("unknown day %q (want mon, tue, wed, thu, fri, sat or sun)", n)
		}
		d |= 1 << wd
	}
	return d, nil
}

// Has reports whether wd is in d.
func (d Days) Has(wd time.Weekday) bool { return d == 0 || d&(1<<wd) != 0 }

// window is a compiled Window.
type window struct {
	name    string
	hours   Hours
	days    Days
	tiers   map[string]bool // empty: all
	maxRank int
	model   string
}

// active reports whether the window covers local time t. A wrapping
// window's early hours belong to the day it started on.
func (w *window) active(t time.Time) bool {
	m := t.Hour()*60 + t.Minute()
	if !w.hours.contains(m) {
		return false
	}
	if w.hours.Start <= m {
		return w.days.Has(t.Weekday())
	}
	return w.days.Has((t.Weekday() + 6) % 7)
}
