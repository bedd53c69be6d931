package rules

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"snowlight/alerts"
	"snowlight/geo"
	"snowlight/tracks"
	"snowlight/watchlist"
)

// personMap is a fixed watch list.
type personMap map[string]watchlist.Person

func (m personMap) WatchlistPerson(_ context.Context, id string) (watchlist.Person, bool, error) {
	p, ok := m[id]
	return p, ok, nil
}

// noAlerts stands in for the alert engine where only decisions are tested.
type noAlerts struct{}

func (noAlerts) Raise(context.Context, alerts.Trigger) (alerts.Alert, bool, error) {
	return alerts.Alert{}, false, nil
}
func (noAlerts) CameraBack(context.Context, string, time.Time) (int, error)   { return 0, nil }
func (noAlerts) Alerts(context.Context, alerts.Query) ([]alerts.Alert, error) { return nil, nil }
func (noAlerts) Resolve(context.Context, string, string, string) (alerts.Alert, error) {
	return alerts.Alert{}, nil
}

// metres per degree of latitude.
const mPerDegLat = geo.EarthRadius * math.Pi / 180

// square is Mia's safe zone: about 1.1 km on a side around (48.2, 16.37).
var square = []geo.LatLon{{Lat: 48.195, Lon: 16.3625}, {Lat: 48.195, Lon: 16.3775}, {Lat: 48.205, Lon: 16.3775}, {Lat: 48.205, Lon: 16.3625}}

// The cameras of the decision tests: cam-home inside Mia's safe zone, cam-far
// 1 km north of it, cam-school with a gate zone (2 min dwell) and cam-atm with an ATM zone (2 min)
// and a bench zone with no dwell time.
var (
	cameras = []Camera{
		{ID: "cam-home", Name: "Home St", Position: geo.LatLon{Lat: 48.2, Lon: 16.37}, Area: "home"},
		{ID: "cam-far", Name: "Far Sq", Position: geo.LatLon{Lat: 48.205 + 1000/mPerDegLat, Lon: 16.37}, Area: "far"},
		{ID: "cam-school", Name: "School gate", Position: geo.LatLon{Lat: 48.19, Lon: 16.36},
			Zones: []Zone{{ID: "gate", Polygon: [][2]float64{{400, 500}, {600, 500}, {600, 700}, {400, 700}}, Dwell: 2 * time.Minute}}},
		{ID: "cam-atm", Name: "Bank", Position: geo.LatLon{Lat: 48.21, Lon: 16.38}, Zones: []Zone{
			{ID: "atm", Polygon: [][2]float64{{400, 500}, {600, 500}, {600, 700}, {400, 700}}, Dwell: 2 * time.Minute},
			{ID: "bench", Polygon: [][2]float64{{0, 0}, {1280, 0}, {1280, 720}, {0, 720}}},
		}},
	}
	listed = personMap{
		"p-mia":   {ID: "p-mia", Name: "Mia Berg", Category: watchlist.AtRisk, SafeZone: square},
		"p-rex":   {ID: "p-rex", Name: "Rex Noor", Category: watchlist.Suspect, Expires: t0.Add(24 * time.Hour)},
		"p-kim":   {ID: "p-kim", Name: "Kim Lo", Category: watchlist.Missing},
		"p-old":   {ID: "p-old", Name: "Old Entry", Category: watchlist.Suspect, Expires: t0.Add(-time.Hour)},
		"p-soon":  {ID: "p-soon", Name: "Soon Gone", Category: watchlist.Suspect, Expires: t0.Add(30 * time.Second)},
		"p-nozon": {ID: "p-nozon", Name: "Otto Lind", Category: watchlist.AtRisk},
	}
)

// sighting of person (or nobody) at cam, seen from t0 for dur, with face and body snapshots stored.
func sighting(cam, person string, dur time.Duration) tracks.Sighting {
	s := tracks.Sighting{ID: cam + "-1", Camera: cam, TrackID: 7, Enter: t0, Exit: t0.Add(dur),
		Boxes: path(time.Second, repeat([2]float64{900, 600}, int(dur/time.Second)+1)...),
		Face:  &tracks.Snapshot{Time: t0, Ref: "face/aa.jpg"}, Body: &tracks.Snapshot{Time: t0, Ref: "snapshot/bb.jpg"},
		Evidence: tracks.Evidence{FaceFrames: 6}}
	if person != "" {
		s.Evidence.PersonID = person
		s.Evidence.Candidates = []tracks.Candidate{{PersonID: person, Above: 4, Score: 0.66, Threshold: 0.55, Frames: []tracks.FaceEvidence{
			{Similarity: 0.71, Threshold: 0.5}, {Similarity: 0.64, Threshold: 0.5}}}}
	}
	return s
}

// locallyNamed is s named by a local template made of sighting cam-far-0 (pipeline.LocalNamer).
func locallyNamed(s tracks.Sighting) tracks.Sighting {
	s.Evidence.Local = &tracks.LocalName{Similarity: 0.62, Threshold: 0.55, From: []string{"cam-far-0"}}
	return s
}

// loiterer stands in cam's zone (x 400-600, y 500-700) for dur, after 10 s elsewhere.
func loiterer(cam string, start time.Time, dur time.Duration) tracks.Sighting {
	feet := cat(repeat([2]float64{900, 600}, 10), repeat([2]float64{500, 600}, int(dur/time.Second)+1))
	s := tracks.Sighting{ID: cam + "-2", Camera: cam, TrackID: 9, Enter: start, Boxes: path(time.Second, feet...)}
	shift := start.Sub(t0)
	for i := range s.Boxes {
		s.Boxes[i].Time = s.Boxes[i].Time.Add(shift)
	}
	s.Exit = s.Boxes[len(s.Boxes)-1].Time
	return s
}

func mustSchedule(t *testing.T, s string) Schedule {
	t.Helper()
	v, err := ParseSchedule(s)
	require.NoError(t, err)
	return v
}

// TestTriggers checks each rule's decision: whether a sighting triggers, which kind, and what the
// trigger carries.
func TestTriggers(t *testing.T) {
	night := mustSchedule(t, "22:00-06:00")
	office := mustSchedule(t, "Mon-Fri 08:00-18:00")
	type want struct {
		kind   alerts.Kind
		zone   string
		detail string // a part of the detail
	}
	tests := []struct {
		name     string
		s        tracks.Sighting
		rules    []Rule
		hitToo   bool
		now      time.Time // the clock; t0 if zero
		want     []want
		evidence bool // check the evidence of the first trigger
	}{
		{"nobody identified: nothing", sighting("cam-home", "", time.Minute), nil, false, time.Time{}, nil, false},
		{"suspect identified: watch-list hit", sighting("cam-far", "p-rex", time.Minute), nil, false, time.Time{},
			[]want{{alerts.WatchlistHit, "", "Rex Noor (suspect) identified at Far Sq: best face similarity 0.71 (threshold 0.50), 4 of 6 face frames at or above it, track template similarity 0.66 (threshold 0.55)"}}, true},
		{"named by a local template: the detail says so", locallyNamed(sighting("cam-far", "p-rex", time.Minute)), nil, false, time.Time{},
			[]want{{alerts.WatchlistHit, "", "Rex Noor (suspect) identified at Far Sq: best face similarity 0.71 (threshold 0.50), 4 of 6 face " +
				"frames at or above it, named by the person's faces on this camera's sightings cam-far-0: track template similarity 0.62 " +
				"to them (threshold 0.55)"}}, true},
		{"missing person identified", sighting("cam-home", "p-kim", time.Minute), nil, false, time.Time{},
			[]want{{alerts.WatchlistHit, "", "Kim Lo (missing)"}}, false},
		{"person no longer on the list", sighting("cam-far", "p-gone", time.Minute), nil, false, time.Time{}, nil, false},
		{"expired entry never alerts", sighting("cam-far", "p-old", time.Minute), nil, false, time.Time{}, nil, false},
		{"entry expired by the time the sighting ends", sighting("cam-far", "p-soon", time.Minute), nil, false, time.Time{}, nil, false},
		{"entry expired by now (a late replay)", sighting("cam-far", "p-rex", time.Minute), nil, false, t0.Add(48 * time.Hour), nil, false},
		{"category silenced", sighting("cam-far", "p-kim", time.Minute),
			[]Rule{{Kind: alerts.WatchlistHit, Categories: []watchlist.Category{"missing"}, Off: true}}, false, time.Time{}, nil, false},
		{"another category's rule does not apply", sighting("cam-far", "p-rex", time.Minute),
			[]Rule{{Kind: alerts.WatchlistHit, Categories: []watchlist.Category{"missing"}, Off: true}}, false, time.Time{},
			[]want{{alerts.WatchlistHit, "", "Rex Noor"}}, false},
		{"suspects only at cam-home: not at cam-far", sighting("cam-far", "p-rex", time.Minute), []Rule{
			{Kind: alerts.WatchlistHit, Categories: []watchlist.Category{"suspect"}, Cameras: []string{"cam-home"}},
			{Kind: alerts.WatchlistHit, Categories: []watchlist.Category{"suspect"}, Off: true},
		}, false, time.Time{}, nil, false},
		{"suspects only at cam-home: at cam-home", sighting("cam-home", "p-rex", time.Minute), []Rule{
			{Kind: alerts.WatchlistHit, Categories: []watchlist.Category{"suspect"}, Cameras: []string{"cam-home"}},
			{Kind: alerts.WatchlistHit, Categories: []watchlist.Category{"suspect"}, Off: true},
		}, false, time.Time{}, []want{{alerts.WatchlistHit, "", "Home St"}}, false},
		{"missing persons in office hours only: Saturday", sighting("cam-far", "p-kim", time.Minute),
			[]Rule{{Kind: alerts.WatchlistHit, Categories: []watchlist.Category{"at_risk", "missing"}, Schedule: office}}, false, time.Time{}, nil, false},
		{"missing persons in office hours only: Monday", func() tracks.Sighting {
			s := sighting("cam-far", "p-kim", time.Minute)
			s.Exit = s.Exit.Add(48 * time.Hour)
			return s
		}(), []Rule{{Kind: alerts.WatchlistHit, Categories: []watchlist.Category{"missing"}, Schedule: office}}, false, t0.Add(48 * time.Hour),
			[]want{{alerts.WatchlistHit, "", "Kim Lo"}}, false},
		{"at-risk person at home: nothing", sighting("cam-home", "p-mia", time.Minute), nil, false, time.Time{}, nil, false},
		{"at-risk person 1 km outside the safe zone", sighting("cam-far", "p-mia", time.Minute), nil, false, time.Time{},
			[]want{{alerts.SafeZoneExit, "", "Mia Berg (at-risk) seen at Far Sq, 1000 m outside the safe zone (nearest point of the zone 48.20500, 16.37000)"}}, true},
		{"at-risk person at home, hits on too: hit only", sighting("cam-home", "p-mia", time.Minute), nil, true, time.Time{},
			[]want{{alerts.WatchlistHit, "", "Mia Berg"}}, false},
		{"at-risk person outside, hits on too: both", sighting("cam-far", "p-mia", time.Minute), nil, true, time.Time{},
			[]want{{alerts.SafeZoneExit, "", "outside"}, {alerts.WatchlistHit, "", "Mia Berg"}}, false},
		{"safe-zone rule silenced at night", sighting("cam-far", "p-mia", time.Minute),
			[]Rule{{Kind: alerts.SafeZoneExit, Schedule: mustSchedule(t, "06:00-22:00"), Off: false}, {Kind: alerts.SafeZoneExit, Off: true}}, false, time.Time{},
			[]want{{alerts.SafeZoneExit, "", "outside"}}, false},
		{"at-risk person without a safe zone: a hit", sighting("cam-far", "p-nozon", time.Minute), nil, false, time.Time{},
			[]want{{alerts.WatchlistHit, "", "Otto Lind"}}, false},
		{"at-risk person at an unknown camera: a hit, the zone cannot be judged", sighting("cam-unknown", "p-mia", time.Minute), nil, false, time.Time{},
			[]want{{alerts.WatchlistHit, "", "cam-unknown"}}, false},
		{"loitering 2m10s at the ATM", loiterer("cam-atm", t0, 130*time.Second), nil, false, time.Time{},
			[]want{{alerts.Loitering, "atm", "a person (track 9) in zone atm at Bank for 2m10s since 10:00:10 (dwell limit 2m0s)"}}, false},
		{"1m50s at the ATM is not loitering", loiterer("cam-atm", t0, 110*time.Second), nil, false, time.Time{}, nil, false},
		{"school gate at night only: by day", loiterer("cam-school", t0, 5*time.Minute),
			[]Rule{{Kind: alerts.Loitering, Cameras: []string{"cam-school"}, Schedule: night}}, false, time.Time{}, nil, false},
		{"school gate at night only: at night", loiterer("cam-school", t0.Add(13*time.Hour), 5*time.Minute),
			[]Rule{{Kind: alerts.Loitering, Cameras: []string{"cam-school"}, Schedule: night}}, false, time.Time{},
			[]want{{alerts.Loitering, "gate", "zone gate at School gate for 5m0s"}}, false},
		{"zone silenced by its id", loiterer("cam-atm", t0, 5*time.Minute),
			[]Rule{{Kind: alerts.Loitering, Zones: []string{"atm"}, Off: true}}, false, time.Time{}, nil, false},
		{"everything silenced at a camera", sighting("cam-far", "p-rex", time.Minute),
			[]Rule{{Cameras: []string{"cam-far"}, Off: true}}, false, time.Time{}, nil, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			now := tc.now
			if now.IsZero() {
				now = t0
			}
			e, err := New(Options{Alerts: noAlerts{}, Persons: listed, Cameras: cameras, Rules: tc.rules,
				HitWithSafeZone: tc.hitToo, Now: func() time.Time { return now }})
			require.NoError(t, err)
			got, err := e.Triggers(t.Context(), tc.s)
			require.NoError(t, err)
			require.Len(t, got, len(tc.want), "triggers %+v", got)
			for i, w := range tc.want {
				g := got[i]
				assert.Equal(t, w.kind, g.Kind, "trigger %d", i)
				assert.Equal(t, w.zone, g.Place.Zone, "trigger %d: zone", i)
				assert.Contains(t, g.Detail, w.detail, "trigger %d: detail", i)
				assert.Equal(t, tc.s.Camera, g.Place.Camera, "trigger %d: place %+v", i, g.Place)
				assert.False(t, g.At.IsZero(), "trigger %d without a time", i)
			}
			if tc.evidence {
				ev := got[0].Evidence
				assert.Equal(t, []string{tc.s.ID}, ev.Sightings, "evidence %+v", ev)
				assert.Equal(t, []string{"face/aa.jpg"}, ev.FaceCrops, "evidence %+v", ev)
				if assert.Len(t, ev.Scores, 1, "evidence %+v", ev) {
					assert.InDelta(t, 0.71, float64(ev.Scores[0]), 1e-6, "evidence score")
				}
				assert.Equal(t, "snapshot/bb.jpg", ev.Snapshot, "evidence %+v", ev)
				if assert.NotNil(t, got[0].Person, "trigger without its person") {
					assert.Equal(t, tc.s.PersonID(), got[0].Person.ID, "trigger's person")
				}
				assert.NotEqual(t, geo.LatLon{}, got[0].Place.Position, "trigger's place has no position: %+v", got[0].Place)
			}
		})
	}
}

func TestRuleValidation(t *testing.T) {
	tests := []struct {
		rule Rule
		want string // "" when valid
	}{
		{Rule{Kind: alerts.Loitering, Cameras: []string{"cam-atm"}, Zones: []string{"atm"}}, ""},
		{Rule{Kind: alerts.WatchlistHit, Categories: []watchlist.Category{"at_risk", "suspect"}}, ""},
		{Rule{Cameras: []string{"cam-far"}, Off: true}, ""},
		{Rule{Kind: "fire"}, "rules[0].kind"},
		{Rule{Kind: alerts.WatchlistHit, Categories: []watchlist.Category{"vip"}}, "rules[0].categories[0]"},
		{Rule{Kind: alerts.Loitering, Categories: []watchlist.Category{"suspect"}}, "about no listed person"},
		{Rule{Kind: alerts.WatchlistHit, Cameras: []string{"cam-mars"}}, `rules[0].cameras[0]: unknown camera "cam-mars"`},
		{Rule{Kind: alerts.Loitering, Cameras: []string{"cam-far"}, Zones: []string{"atm"}}, `rules[0].zones[0]: no camera of the rule has a zone "atm"`},
		{Rule{Kind: alerts.CameraOffline, Zones: []string{"atm"}}, "about no image zone"},
	}
	for _, tc := range tests {
		_, err := New(Options{Alerts: noAlerts{}, Persons: listed, Cameras: cameras, Rules: []Rule{tc.rule}})
		if tc.want == "" {
			assert.NoError(t, err, "%+v", tc.rule)
		} else {
			assert.ErrorContains(t, err, tc.want, "%+v", tc.rule)
		}
	}
	_, err := New(Options{Persons: listed})
	assert.Error(t, err, "no alert engine: no error")
	_, err = New(Options{Alerts: noAlerts{}, Persons: listed, Cameras: []Camera{{ID: "a"}, {ID: "a"}}})
	assert.Error(t, err, "duplicate camera: no error")
}
