package alerts_test

import (
	"context"
	"encoding/json"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"snowlight/alerts"
	"snowlight/alerts/dispatch"
	"snowlight/alerts/notify"
	"snowlight/geo"
	"snowlight/store"
	"snowlight/watchlist"
)

// clock is a settable time source shared by the engine and the patrol registry.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type fixture struct {
	db    *store.DB
	eng   *alerts.Engine
	reg   *dispatch.Registry
	clock *clock

	mu        sync.Mutex
	published []alerts.Event
	kicks     int
	dismissed []alerts.Alert
}

// The city in these tests: Elm Street (in North district, in the city), with camera cam-elm on it.
var (
	elmPos = geo.LatLon{Lat: 48.2000, Lon: 16.3700}
	camElm = alerts.Place{Camera: "cam-elm", CameraName: "Elm St / 5th", Position: elmPos, Area: "elm-st"}
	camOak = alerts.Place{Camera: "cam-oak", CameraName: "Oak Sq", Position: geo.LatLon{Lat: 48.2050, Lon: 16.3700}, Area: "elm-st"}
	areas  = dispatch.Areas{
		"city":   {ID: "city", Level: dispatch.City, Supervisor: "City command centre", Receiver: "cmd-city"},
		"north":  {ID: "north", Level: dispatch.District, Parent: "city", Supervisor: "North duty officer", Receiver: "cmd-north"},
		"elm-st": {ID: "elm-st", Level: dispatch.Street, Parent: "north", Supervisor: "Elm Street centre", Receiver: "cmd-elm"},
	}
	mia  = &alerts.Person{ID: "p-mia", Name: "Mia Berg", Category: watchlist.AtRisk}
	otto = &alerts.Person{ID: "p-otto", Name: "Otto Lind", Category: watchlist.AtRisk}
	rex  = &alerts.Person{ID: "p-rex", Name: "Rex Noor", Category: watchlist.Suspect}
)

// metresNorth is a position d metres north of the Elm Street camera.
func metresNorth(d float64) geo.LatLon {
	return geo.LatLon{Lat: elmPos.Lat + d/111195, Lon: elmPos.Lon}
}

func newFixture(t testing.TB, path string, adjust func(*alerts.Options)) *fixture {
	t.Helper()
	if path == "" {
		path = filepath.Join(t.TempDir(), "snowlight.db")
	}
	db, err := store.Open(t.Context(), path)
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	f := &fixture{db: db, clock: &clock{t: time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)}}
	f.reg, err = dispatch.NewRegistry(db, areas, f.clock.Now)
	require.NoError(t, err)
	o := alerts.Options{
		TwoPersonRule: true,
		AckTimeout:    60 * time.Second,
		BaseURL:       "https://console.example",
		Guardians:     alerts.GuardianMap{"p-mia": {"guardian-mia"}, "p-otto": {"guardian-otto"}, "p-rex": {"someone"}},
		Now:           f.clock.Now,
		Publish: func(evs ...alerts.Event) {
			f.mu.Lock()
			f.published = append(f.published, evs...)
			f.mu.Unlock()
		},
		Kick: func() { f.mu.Lock(); f.kicks++; f.mu.Unlock() },
		OnDismiss: func(_ context.Context, a alerts.Alert) error {
			f.mu.Lock()
			f.dismissed = append(f.dismissed, a)
			f.mu.Unlock()
			return nil
		},
	}
	if adjust != nil {
		adjust(&o)
	}
	f.eng, err = alerts.NewEngine(db, f.reg, o)
	require.NoError(t, err)
	return f
}

// addUnit registers an available unit d metres north of the camera, with app receiver "app-<id>".
func (f *fixture) addUnit(t *testing.T, id string, d float64) {
	t.Helper()
	ctx := t.Context()
	require.NoError(t, f.reg.Register(ctx, dispatch.Unit{ID: id, Name: "Unit " + id, Area: "elm-st", Receiver: "app-" + id}))
	_, err := f.reg.UpdatePosition(ctx, id, metresNorth(d))
	require.NoError(t, err)
	_, err = f.reg.SetStatus(ctx, id, dispatch.Available)
	require.NoError(t, err)
}

func (f *fixture) hit(p *alerts.Person, place alerts.Place, at time.Time, sighting string, score float32) alerts.Trigger {
	return alerts.Trigger{Kind: alerts.WatchlistHit, At: at, Person: p, Place: place,
		Evidence: alerts.Evidence{Sightings: []string{sighting}, FaceCrops: []string{"face/" + sighting + ".jpg"}, Scores: []float32{score}}}
}

// raise raises an alert for tr, which must succeed.
func (f *fixture) raise(t *testing.T, tr alerts.Trigger) alerts.Alert {
	t.Helper()
	a, _, err := f.eng.Raise(t.Context(), tr)
	require.NoError(t, err)
	return a
}

// outbox lists queued notifications, oldest first.
func (f *fixture) outbox(t *testing.T) []notify.Message {
	t.Helper()
	msgs, err := f.db.OutboxMessages(t.Context(), "", 1000)
	require.NoError(t, err)
	for i, j := 0, len(msgs)-1; i < j; i, j = i+1, j-1 {
		msgs[i], msgs[j] = msgs[j], msgs[i]
	}
	return msgs
}

func notice(t *testing.T, m notify.Message) alerts.Notice {
	t.Helper()
	var n alerts.Notice
	require.NoError(t, json.Unmarshal(m.Payload, &n))
	return n
}
