package rules

import (
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // the tests must not depend on the machine's zoneinfo

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestScheduleActive(t *testing.T) {
	vienna, err := time.LoadLocation("Europe/Vienna")
	require.NoError(t, err)
	ny, err := time.LoadLocation("America/New_York")
	require.NoError(t, err)
	// 2025-03-07 is a Friday.
	at := func(loc *time.Location, day, h, m int) time.Time { return time.Date(2025, 3, day, h, m, 0, 0, loc) }
	tests := []struct {
		schedule string
		t        time.Time
		want     bool
	}{
		{"", at(time.UTC, 7, 12, 0), true},
		{"always", at(time.UTC, 7, 12, 0), true},
		// A night window across midnight, every day.
		{"22:00-06:00", at(time.UTC, 7, 21, 59), false},
		{"22:00-06:00", at(time.UTC, 7, 22, 0), true},
		{"22:00-06:00", at(time.UTC, 7, 23, 59), true},
		{"22:00-06:00", at(time.UTC, 8, 0, 0), true},
		{"22:00-06:00", at(time.UTC, 8, 5, 59), true},
		{"22:00-06:00", at(time.UTC, 8, 6, 0), false},
		{"22:00-06:00", at(time.UTC, 8, 12, 0), false},
		// Days are the days a window starts on: Friday night runs into Saturday morning, but the
		// Thursday night that ends on Friday morning is not Friday's.
		{"Fri 22:00-06:00", at(time.UTC, 8, 3, 0), true},   // Saturday 03:00
		{"Fri 22:00-06:00", at(time.UTC, 7, 3, 0), false},  // Friday 03:00
		{"Fri 22:00-06:00", at(time.UTC, 8, 23, 0), false}, // Saturday 23:00
		{"Fri 22:00-06:00", at(time.UTC, 7, 23, 0), true},
		// Weekday ranges, lists and wrapping ranges.
		{"Mon-Fri 08:00-18:00", at(time.UTC, 7, 8, 0), true},
		{"Mon-Fri 08:00-18:00", at(time.UTC, 7, 18, 0), false},
		{"Mon-Fri 08:00-18:00", at(time.UTC, 8, 12, 0), false}, // Saturday
		{"Sat,Sun 00:00-24:00", at(time.UTC, 8, 12, 0), true},
		{"Sat,Sun 00:00-24:00", at(time.UTC, 9, 23, 59), true},
		{"Sat,Sun 00:00-24:00", at(time.UTC, 10, 0, 0), false}, // Monday
		{"Fri-Mon 10:00-11:00", at(time.UTC, 9, 10, 30), true}, // Sunday, inside the wrapping range
		{"Fri-Mon 10:00-11:00", at(time.UTC, 11, 10, 30), false},
		{"Wed 00:00-00:00", at(time.UTC, 5, 23, 0), true}, // From == To: the whole day
		{"Wed 00:00-00:00", at(time.UTC, 6, 0, 0), false},
		// Several windows: any of them.
		{"Mon-Fri 07:00-08:00; Mon-Fri 16:00-17:00", at(time.UTC, 7, 16, 30), true},
		{"Mon-Fri 07:00-08:00; Mon-Fri 16:00-17:00", at(time.UTC, 7, 12, 0), false},
		// Time zones: the window is read on the zone's wall clock, whatever zone t is given in.
		{"22:00-06:00 @Europe/Vienna", time.Date(2025, 3, 7, 21, 30, 0, 0, time.UTC), true}, // 22:30 in Vienna (CET)
		{"22:00-06:00 @Europe/Vienna", time.Date(2025, 3, 7, 20, 30, 0, 0, time.UTC), false},
		{"22:00-06:00 @Europe/Vienna", at(ny, 7, 16, 30), true},                             // 16:30 in New York is 22:30 in Vienna
		{"22:00-06:00 @Europe/Vienna", time.Date(2025, 3, 8, 5, 30, 0, 0, time.UTC), false}, // 06:30 in Vienna
		// Days follow the zone too: 23:30 UTC on Friday is Saturday 00:30 in Vienna.
		{"Sat 00:00-01:00 @Europe/Vienna", time.Date(2025, 3, 7, 23, 30, 0, 0, time.UTC), true},
		{"Fri 23:00-24:00", time.Date(2025, 3, 7, 23, 30, 0, 0, time.UTC), true},
		{"Fri 23:00-24:00 @Europe/Vienna", time.Date(2025, 3, 7, 23, 30, 0, 0, time.UTC), false},
		// Across daylight saving (Vienna went to CEST on 2025-03-30 at 02:00): 22:00 is still 22:00
		// on the wall clock, i.e. 20:00 UTC instead of 21:00.
		{"22:00-06:00 @Europe/Vienna", time.Date(2025, 3, 29, 20, 30, 0, 0, time.UTC), false}, // 21:30 CET
		{"22:00-06:00 @Europe/Vienna", time.Date(2025, 3, 30, 20, 30, 0, 0, time.UTC), true},  // 22:30 CEST
		{"22:00-06:00 @Europe/Vienna", time.Date(2025, 3, 30, 3, 30, 0, 0, time.UTC), true},   // 05:30 CEST
		{"22:00-06:00 @Europe/Vienna", time.Date(2025, 3, 30, 4, 30, 0, 0, time.UTC), false},  // 06:30 CEST
		{"08:00-09:00 @Europe/Vienna", at(vienna, 30, 8, 30), true},
	}
	for _, tc := range tests {
		s, err := ParseSchedule(tc.schedule)
		require.NoError(t, err, "%q", tc.schedule)
		assert.Equal(t, tc.want, s.Active(tc.t), "%q at %v (%s): active", tc.schedule, tc.t, tc.t.Weekday())
	}
}

func TestParseScheduleErrors(t *testing.T) {
	tests := []struct{ text, want string }{
		{"22:00", "HH:MM-HH:MM"},
		{"25:00-06:00", "not a time of day"},
		{"22:60-06:00", "not a time of day"},
		{"24:00-06:00", "not a time of day"},
		{"22:00-24:01", "not a time of day"},
		{"2200-0600", "not HH:MM"},
		{"Moon 22:00-06:00", "not a day of the week"},
		{"Mon-Funday 22:00-06:00", "not a day of the week"},
		{"Mon 22:00-06:00 extra", "[DAYS]"},
		{"22:00-06:00 @Mars/Olympus", "time zone"},
		{"22:00-06:00 @", "empty time zone"},
		{"@Europe/Vienna", "without windows"},
		{"22:00-06:00;", "schedule window"},
		{strings.Repeat("Mon 10:00-11:00; ", 100), "longer than"},
	}
	for _, tc := range tests {
		_, err := ParseSchedule(tc.text)
		assert.ErrorContains(t, err, tc.want, "ParseSchedule(%.40q)", tc.text)
	}
}

// FuzzParseSchedule: any text either fails to parse or parses into a schedule whose text form parses
// back into the same schedule; nothing panics.
func FuzzParseSchedule(f *testing.F) {
	for _, s := range []string{"", "always", "22:00-06:00", "Mon-Fri 08:00-18:00; Sat,Sun 00:00-24:00 @Europe/Vienna",
		"Fri-Mon 10:00-11:00", "Wed 00:00-00:00 @UTC", "daily 9:30-10:00", "sunday 1:00-2:00", "Mon 24:00-01:00", "@"} {
		f.Add(s)
	}
	probe := []time.Time{}
	for h := 0; h < 24*8; h += 5 {
		probe = append(probe, time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(h)*time.Hour+17*time.Minute))
	}
	f.Fuzz(func(t *testing.T, text string) {
		s, err := ParseSchedule(text)
		if err != nil {
			return
		}
		again, err := ParseSchedule(s.String())
		require.NoError(t, err, "%q -> %q", text, s.String())
		require.Equal(t, s.String(), again.String(), "%q -> %q, parsed again", text, s.String())
		for _, p := range probe {
			require.Equal(t, s.Active(p), again.Active(p), "%q and its text form %q disagree at %v", text, s.String(), p)
		}
	})
}
