package rules

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Schedule says when a rule is active: during any of its windows, read on the wall clock of its
// time zone (so "22:00" stays 22:00 across daylight-saving changes). A schedule without windows is
// always active.
type Schedule struct {
	Location *time.Location
	Windows  []Window
}

// Window is a time-of-day span on some days of the week. A window whose end is not after its start
// runs past midnight into the next day ("22:00-06:00"); its days are the days it starts on, so
// "Fri 22:00-06:00" covers Saturday 03:00. From == To is the whole day.
type Window struct {
	Days     [7]bool       // by time.Weekday; all false means every day
	From, To time.Duration // since local midnight; To may be 24h
}

// Always reports whether the schedule has no windows.
func (s Schedule) Always() bool { return len(s.Windows) == 0 }

// Active reports whether the schedule is active at t.
func (s Schedule) Active(t time.Time) bool {
	if s.Always() {
		return true
	}
	loc := s.Location
	if loc == nil {
		loc = time.UTC
	}
	lt := t.In(loc)
	h, m, sec := lt.Clock()
	tod := time.Duration(h)*time.Hour + time.Duration(m)*time.Minute + time.Duration(sec)*time.Second + time.Duration(lt.Nanosecond())
	day := lt.Weekday()
	for _, w := range s.Windows {
		if w.active(day, tod) {
			return true
		}
	}
	return false
}

func (w Window) on(d time.Weekday) bool {
	return w.Days == [7]bool{} || w.Days[d]
}

func (w Window) active(day time.Weekday, tod time.Duration) bool {
	switch {
	case w.From == w.To || w.From == 0 && w.To == 24*time.Hour:
		return w.on(day)
	case w.From < w.To:
		return w.on(day) && tod >= w.From && tod < w.To
	}
	// Past midnight: the evening part belongs to today's window, the morning part to yesterday's.
	return w.on(day) && tod >= w.From || w.on((day+6)%7) && tod < w.To
}

// String formats the schedule in the form ParseSchedule reads.
func (s Schedule) String() string {
	if s.Always() {
		return "always"
	}
	parts := make([]string, len(s.Windows))
	for i, w := range s.Windows {
		parts[i] = w.String()
	}
	out := strings.Join(parts, "; ")
	if s.Location != nil {
		out += " @" + s.Location.String()
	}
	return out
}

func (w Window) String() string {
	days := ""
	if w.Days != [7]bool{} {
		var names []string
		for d := time.Sunday; d <= time.Saturday; d++ {
			if w.Days[d] {
				names = append(names, d.String()[:3])
			}
		}
		days = strings.Join(names, ",") + " "
	}
	return days + clock(w.From) + "-" + clock(w.To)
}

func clock(d time.Duration) string {
	return fmt.Sprintf("%02d:%02d", int(d/time.Hour), int(d%time.Hour/time.Minute))
}

// maxScheduleText bounds a schedule's text: a handful of windows, not a novel.
const maxScheduleText = 1024

// ParseSchedule reads a schedule: windows separated by ";", each "[DAYS] HH:MM-HH:MM", then
// optionally "@" and an IANA time zone, e.g. "Mon-Fri 22:00-06:00; Sat,Sun 00:00-24:00 @Europe/Vienna".
// DAYS is a comma-separated list of days (Mon, Tue, ...) or ranges (Mon-Fri, Fri-Mon wraps), or
// "daily". "" and "always" are always active. Without a time zone the windows are read in UTC.
func ParseSchedule(text string) (Schedule, error) {
	if len(text) > maxScheduleText {
		return Schedule{}, fmt.Errorf("schedule longer than %d bytes", maxScheduleText)
	}
	var s Schedule
	body, zone, hasZone := strings.Cut(text, "@")
	if hasZone {
		zone = strings.TrimSpace(zone)
		if zone == "" {
			return Schedule{}, errors.New("schedule: empty time zone after @")
		}
		loc, err := time.LoadLocation(zone)
		if err != nil {
			return Schedule{}, fmt.Errorf("schedule: time zone %q: %w", zone, err)
		}
		s.Location = loc
	}
	body = strings.TrimSpace(body)
	if body == "" || strings.EqualFold(body, "always") {
		if hasZone {
			return Schedule{}, errors.New("schedule: a time zone without windows")
		}
		return s, nil
	}
	for part := range strings.SplitSeq(body, ";") {
		w, err := parseWindow(strings.TrimSpace(part))
		if err != nil {
			return Schedule{}, fmt.Errorf("schedule window %q: %w", strings.TrimSpace(part), err)
		}
		s.Windows = append(s.Windows, w)
	}
	return s, nil
}

func parseWindow(text string) (Window, error) {
	var w Window
	fields := strings.Fields(text)
	var span string
	switch len(fields) {
	case 1:
		span = fields[0]
	case 2:
		days, err := parseDays(fields[0])
		if err != nil {
			return Window{}, err
		}
		w.Days, span = days, fields[1]
	default:
		return Window{}, errors.New(`want "[DAYS] HH:MM-HH:MM"`)
	}
	from, to, ok := strings.Cut(span, "-")
	if !ok {
		return Window{}, errors.New("want HH:MM-HH:MM")
	}
	var err error
	if w.From, err = parseClock(from, false); err != nil {
		return Window{}, err
	}
	if w.To, err = parseClock(to, true); err != nil {
		return Window{}, err
	}
	if w.From == 24*time.Hour {
		return Window{}, errors.New("a window cannot start at 24:00")
	}
	return w, nil
}

func parseClock(s string, end bool) (time.Duration, error) {
	hh, mm, ok := strings.Cut(s, ":")
	if !ok || len(hh) < 1 || len(hh) > 2 || len(mm) != 2 {
		return 0, fmt.Errorf("%q is not HH:MM", s)
	}
	h, err1 := strconv.Atoi(hh)
	m, err2 := strconv.Atoi(mm)
	if err1 != nil || err2 != nil || h < 0 || m < 0 || m > 59 || h > 24 || h == 24 && (m != 0 || !end) {
		return 0, fmt.Errorf("%q is not a time of day", s)
	}
	return time.Duration(h)*time.Hour + time.Duration(m)*time.Minute, nil
}

func parseDays(s string) ([7]bool, error) {
	var days [7]bool
	if strings.EqualFold(s, "daily") {
		return days, nil
	}
	for item := range strings.SplitSeq(s, ",") {
		a, b, isRange := strings.Cut(item, "-")
		from, err := parseDay(a)
		if err != nil {
			return days, err
		}
		to := from
		if isRange {
			if to, err = parseDay(b); err != nil {
				return days, err
			}
		}
		for d := from; ; d = (d + 1) % 7 {
			days[d] = true
			if d == to {
				break
			}
		}
	}
	return days, nil
}

func parseDay(s string) (time.Weekday, error) {
	for d := time.Sunday; d <= time.Saturday; d++ {
		name := d.String()
		if strings.EqualFold(s, name[:3]) || strings.EqualFold(s, name) {
			return d, nil
		}
	}
	return 0, fmt.Errorf("%q is not a day of the week (Mon, Tue, ...)", s)
}

// UnmarshalText lets a schedule be written as text in YAML or JSON.
func (s *Schedule) UnmarshalText(b []byte) error {
	v, err := ParseSchedule(string(b))
	if err != nil {
		return err
	}
	*s = v
	return nil
}

// MarshalText writes the schedule as ParseSchedule reads it.
func (s Schedule) MarshalText() ([]byte, error) { return []byte(s.String()), nil }
