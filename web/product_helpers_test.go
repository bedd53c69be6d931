package web_test

import (
	"bytes"
	"context"
	"image"
	"image/color"
	"image/png"
	"sync"
	"testing"
	"time"

	"snowlight/audit"
	"snowlight/auth"
	"snowlight/geo"
	"snowlight/watchlist"
	"snowlight/web"
	"snowlight/web/fake"
	"snowlight/web/webtest"

	"github.com/stretchr/testify/require"
)

// lateAudit lets the product routes be built before the test env exists: the env makes the audit log.
type lateAudit struct {
	mu  sync.Mutex
	log *audit.Log
}

func (l *lateAudit) Append(ctx context.Context, r audit.Record) (audit.Entry, error) {
	l.mu.Lock()
	lg := l.log
	l.mu.Unlock()
	return lg.Append(ctx, r)
}

// product is a server with the product routes over fake services and a small, known world: two
// cameras in two areas, two units, two watch-list persons each with a guardian, two alerts, and
// sightings of the first person at both cameras.
type product struct {
	*webtest.Env
	W       *fake.World
	Clock   *webtest.Clock
	Snap    []byte // the snapshot stored for alert a-anna
	SnapKey string
}

var (
	t0         = time.Date(2025, 3, 1, 8, 0, 0, 0, time.UTC)
	posCam1    = geo.LatLon{Lat: 52.0100, Lon: 4.3500}
	posCam2    = geo.LatLon{Lat: 52.0150, Lon: 4.3600}
	guardScope = map[auth.Role]auth.Scope{auth.Guardian: {Persons: []string{"p-anna"}}}
)

func newProduct(t testing.TB, mod func(*web.APIOptions), scopes map[auth.Role]auth.Scope) *product {
	t.Helper()
	clock := webtest.NewClock(t0)
	w, err := fake.NewWorld(t.TempDir(), clock.Now)
	require.NoError(t, err)
	t.Cleanup(w.Exports.Wait) // bundles being written, before their directory goes
	ctx := context.Background()
	w.Cameras.Add(
		web.CameraView{ID: "cam-1", Name: "Market St", Area: "north", Position: &posCam1, State: "online", Online: true, FPS: 25, LastFrame: t0},
		web.CameraView{ID: "cam-2", Name: "Harbour", Area: "south", Position: &posCam2, State: "offline"},
	)
	w.Patrols.Add(
		web.PatrolView{ID: "u-near", Name: "Unit 1", Status: web.PatrolAvailable, Area: "north", Position: &geo.LatLon{Lat: 52.0105, Lon: 4.3505}, Account: "t-patrol"},
		web.PatrolView{ID: "u-far", Name: "Unit 2", Status: web.PatrolAvailable, Area: "south", Position: &geo.LatLon{Lat: 52.0500, Lon: 4.4000}},
	)
	photo := testPNG(t, 160, 200)
	w.Watchlist.Add(web.PersonView{ID: "p-anna", Name: "Anna K", Category: watchlist.AtRisk, GuardianContact: "Jon K +31 6 000",
		LegalBasis: "guardian consent 2025-11", ApprovedBy: "chief Ng", Expires: t0.AddDate(1, 0, 0),
		SafeZone: []geo.LatLon{{Lat: 52.009, Lon: 4.349}, {Lat: 52.011, Lon: 4.349}, {Lat: 52.011, Lon: 4.352}}}, web.Photo{ContentType: "image/png", Data: photo})
	w.Watchlist.Add(web.PersonView{ID: "p-bob", Name: "Bob S", Category: watchlist.Suspect, LegalBasis: "warrant 77", ApprovedBy: "judge Li",
		Expires: t0.AddDate(0, 1, 0)}, web.Photo{ContentType: "image/png", Data: photo})

	p := &product{W: w, Clock: clock, Snap: testPNG(t, 320, 240)}
	snap, err := w.Put(ctx, "snapshot", "png", "image/png", p.Snap)
	require.NoError(t, err)
	p.SnapKey = snap.Key
	crop, err := w.Put(ctx, "face", "png", "image/png", testPNG(t, 96, 96))
	require.NoError(t, err)
	w.Trajectories.Add(
		web.SightingView{ID: "s1", Trajectory: "s1", Camera: "cam-1", CameraName: "Market St", Position: &posCam1, Enter: t0.Add(-50 * time.Minute),
			Exit: t0.Add(-49 * time.Minute), PersonID: "p-anna", Score: 0.71, Snapshot: snap},
		web.SightingView{ID: "s2", Trajectory: "s1", Camera: "cam-2", CameraName: "Harbour", Position: &posCam2, Enter: t0.Add(-40 * time.Minute),
			Exit: t0.Add(-39 * time.Minute), PersonID: "p-anna", Confidence: 0.93, Score: 0.64, Snapshot: snap, Face: crop},
		web.SightingView{ID: "s3", Trajectory: "s3", Camera: "cam-2", CameraName: "Harbour", Position: &posCam2, Enter: t0.Add(-30 * time.Minute),
			Exit: t0.Add(-29 * time.Minute)},
	)
	w.Alerts.Raise(web.AlertDetail{AlertView: web.AlertView{ID: "a-anna", Rule: "safe_zone_exit", Severity: "critical", Title: "At-risk person outside safe zone",
		Camera: "cam-2", CameraName: "Harbour", Area: "south", Position: &posCam2, PersonID: "p-anna", PersonName: "Anna K", Category: watchlist.AtRisk,
		Score: 0.64, Threshold: 0.5, Biometric: true, ConfirmationsRequired: 1, Snapshot: snap, Face: crop, Clip: web.Clip{State: web.ClipPreparing}},
		Crops: []web.FaceCrop{{Image: crop, Similarity: 0.64, Time: t0, Camera: "cam-2"}}})
	w.Alerts.Raise(web.AlertDetail{AlertView: web.AlertView{ID: "a-bob", Rule: "watchlist_hit", Severity: "high", Title: "Suspect on watch list",
		Camera: "cam-1", CameraName: "Market St", Area: "north", Position: &posCam1, PersonID: "p-bob", PersonName: "Bob S", Category: watchlist.Suspect,
		Score: 0.81, Threshold: 0.55, Biometric: true, ConfirmationsRequired: 2}})

	la := &lateAudit{}
	o := w.Options()
	o.Audit = la
	o.Heartbeat = 50 * time.Millisecond
	if mod != nil {
		mod(&o)
	}
	routes, err := web.ProductRoutes(o)
	require.NoError(t, err)
	if scopes == nil {
		scopes = guardScope
	}
	// Open streams and live views check their login every 50 ms, not every 2 s, so that tests of
	// revocation are quick.
	p.Env = webtest.New(t, webtest.Config{Routes: routes, Scopes: scopes, Options: func(o *web.Options) { o.Recheck = 50 * time.Millisecond }})
	la.mu.Lock()
	la.log = p.Env.Audit
	la.mu.Unlock()
	return p
}

func testPNG(t testing.TB, w, h int) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.Set(x, y, color.RGBA{uint8(x * 255 / w), uint8(y * 255 / h), 128, 255})
		}
	}
	var b bytes.Buffer
	require.NoError(t, png.Encode(&b, img))
	return b.Bytes()
}

// auditActions lists "action target" of the audit entries made by actor.
func auditActions(t *testing.T, e *webtest.Env, actor string) []audit.Entry {
	t.Helper()
	es, err := e.Audit.List(context.Background(), audit.Filter{Actor: actor, Limit: audit.MaxPage})
	require.NoError(t, err)
	return es
}
