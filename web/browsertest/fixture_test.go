package browsertest

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"snowlight/audit"
	"snowlight/auth"
	"snowlight/geo"
	"snowlight/ingest/av"
	"snowlight/live"
	"snowlight/media"
	"snowlight/store"
	"snowlight/watchlist"
	"snowlight/web"
	"snowlight/web/fake"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const vtest = "/usr/share/doc/opencv-doc/examples/data/vtest.avi"

// fixture is a whole server for the console: real store, auth, audit and HTTP, fake alert engine,
// watch list and trajectories, a real object store holding a real MP4 clip, and a real live view of a
// camera fed in real time with H.264 from a file.
type fixture struct {
	URL      string
	World    *fake.World
	Live     *live.Server
	Ring     *media.Ring
	Accounts map[string]Account
	photo    string // a face photo file, for enrolment
	clip     web.Media
	snap     web.Media
	crops    []web.Media
	seq      atomic.Int64
}

var (
	posMarket  = geo.LatLon{Lat: 31.2304, Lon: 121.4737}
	posHarbour = geo.LatLon{Lat: 31.2330, Lon: 121.4800}
	posSchool  = geo.LatLon{Lat: 31.2280, Lon: 121.4790}
)

func newFixture(t testing.TB) *fixture {
	t.Helper()
	if _, err := os.Stat(vtest); err != nil {
		t.Skip("vtest.avi missing: run scripts/setup.sh (opencv-doc)")
	}
	if _, err := exec.LookPath("ffmpeg"); err != nil {
		t.Skip("ffmpeg missing: run scripts/setup.sh")
	}
	ctx, stop := context.WithCancel(context.Background())
	t.Cleanup(stop)
	dir := t.TempDir()
	w, err := fake.NewWorld(filepath.Join(dir, "objects"), nil)
	require.NoError(t, err)
	f := &fixture{World: w, Accounts: map[string]Account{}}

	// Evidence: a real H.264 MP4 clip and a JPEG snapshot from real footage; faces from the labelled
	// set when it is there.
	clipPath := filepath.Join(dir, "clip.mp4")
	ffmpeg(t, "-i", vtest, "-t", "8", "-vf", "scale=512:384", "-c:v", "libx264", "-profile:v", "main", "-pix_fmt", "yuv420p",
		"-movflags", "+faststart", "-an", clipPath)
	snapPath := filepath.Join(dir, "snap.jpg")
	ffmpeg(t, "-ss", "2", "-i", vtest, "-frames:v", "1", "-vf", "scale=512:384", snapPath)
	f.clip, err = w.Put(ctx, "clip", "mp4", "video/mp4", readFile(t, clipPath))
	require.NoError(t, err)
	f.snap, err = w.Put(ctx, "snapshot", "jpg", "image/jpeg", readFile(t, snapPath))
	require.NoError(t, err)
	enrol, crops := faces(t, snapPath)
	f.photo = filepath.Join(dir, "enrol-face.png")
	require.NoError(t, os.WriteFile(f.photo, enrol, 0o644))
	for i, c := range crops {
		m, err := w.Put(ctx, "face", fmt.Sprint("png", i), "image/png", c)
		require.NoError(t, err)
		f.crops = append(f.crops, m)
	}

	now := time.Now()
	w.Cameras.Add(
		web.CameraView{ID: "cam-market", Name: "Market Street", Area: "north", Position: &posMarket, Width: 384, Height: 288},
		web.CameraView{ID: "cam-harbour", Name: "Harbour Gate", Area: "north", Position: &posHarbour, State: "offline", LastFrame: now.Add(-17 * time.Minute)},
		web.CameraView{ID: "cam-school", Name: "School Lane", Area: "south", Position: &posSchool, State: "offline"},
	)
	f.Ring = camera(t, ctx, "cam-market", "scale=384:288,fps=25", "")
	w.Cameras.SetRing("cam-market", f.Ring)
	w.Patrols.Add(
		web.PatrolView{ID: "unit-1", Name: "Street patrol 1", Status: web.PatrolAvailable, Area: "north", Position: &geo.LatLon{Lat: 31.2312, Lon: 121.4745}, Updated: now,
			Account: "patrol-1"},
		web.PatrolView{ID: "unit-2", Name: "Street patrol 2", Status: web.PatrolAvailable, Area: "south", Position: &geo.LatLon{Lat: 31.2270, Lon: 121.4810}, Updated: now},
		web.PatrolView{ID: "unit-3", Name: "Bike 3", Status: web.PatrolOffline, Area: "north"},
	)
	zone := []geo.LatLon{{Lat: 31.2290, Lon: 121.4725}, {Lat: 31.2318, Lon: 121.4725}, {Lat: 31.2318, Lon: 121.4760}, {Lat: 31.2290, Lon: 121.4760}}
	w.Watchlist.Add(web.PersonView{ID: "p-lin", Name: "Lin Wei", Category: watchlist.AtRisk, GuardianContact: "Lin Hua (son)",
		SafeZone: zone, Expires: now.AddDate(0, 6, 0), LegalBasis: "guardian consent form 2025-031", ApprovedBy: "street office director", Enrolled: now.AddDate(0, -1, 0)},
		web.Photo{ContentType: "image/png", Data: enrol})
	w.Watchlist.Add(web.PersonView{ID: "p-zhou", Name: "Zhou Min", Category: watchlist.Missing, GuardianContact: "Zhou Lei",
		Expires: now.AddDate(0, 1, 0), LegalBasis: "missing-person report 88", ApprovedBy: "duty officer"},
		web.Photo{ContentType: "image/png", Data: enrol})
	w.Trajectories.Add(
		web.SightingView{ID: "s-1", Trajectory: "s-1", Camera: "cam-school", CameraName: "School Lane", Position: &posSchool,
			Enter: now.Add(-40 * time.Minute), Exit: now.Add(-38 * time.Minute), PersonID: "p-lin", Score: 0.62, Snapshot: f.snap, Face: f.crops[0]},
		web.SightingView{ID: "s-2", Trajectory: "s-1", Camera: "cam-market", CameraName: "Market Street", Position: &posMarket,
			Enter: now.Add(-25 * time.Minute), Exit: now.Add(-23 * time.Minute), PersonID: "p-lin", Confidence: 0.91, Score: 0.70,
			Snapshot: f.snap, Clip: web.Clip{Media: f.clip, State: web.ClipReady}},
		web.SightingView{ID: "s-3", Trajectory: "s-1", Camera: "cam-harbour", CameraName: "Harbour Gate", Position: &posHarbour,
			Enter: now.Add(-9 * time.Minute), Exit: now.Add(-8 * time.Minute), PersonID: "p-lin", Confidence: 0.84, Score: 0.66, Snapshot: f.snap, Face: f.crops[0]},
	)

	f.Live, err = live.NewServer(live.Options{Rings: w.Cameras.Ring, IncludeLoopback: true, MaxViewersPerCamera: 40, MaxViewers: 80})
	require.NoError(t, err)
	t.Cleanup(f.Live.Shutdown)

	db, err := store.Open(ctx, filepath.Join(dir, "snowlight.db"))
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	as, err := auth.NewService(auth.Config{Store: db, Argon2: auth.Argon2Params{Time: 1, MemoryKiB: 8 * 1024, Threads: 1}})
	require.NoError(t, err)
	al := audit.New(db, time.Now)
	for _, u := range []struct {
		name  string
		role  auth.Role
		scope auth.Scope
	}{
		{"operator", auth.Operator, auth.Scope{Cameras: []string{auth.AllCameras}}},
		{"investigator", auth.Investigator, auth.Scope{}},
		{"admin", auth.Admin, auth.Scope{}},
		{"auditor", auth.Auditor, auth.Scope{}},
		{"guardian-lin", auth.Guardian, auth.Scope{Persons: []string{"p-lin"}}},
		{"guardian-zhou", auth.Guardian, auth.Scope{Persons: []string{"p-zhou"}}},
		{"patrol-1", auth.Patrol, auth.Scope{}},
	} {
		pw, err := auth.RandomPassword()
		require.NoError(t, err)
		_, err = as.AddUser(ctx, auth.NewUser{Name: u.name, Role: u.role, Password: pw, Scope: u.scope})
		require.NoError(t, err)
		f.Accounts[u.name] = Account{User: u.name, Password: pw}
	}
	o := w.Options()
	o.Audit = al
	o.Live = f.Live
	routes, err := web.ProductRoutes(o)
	require.NoError(t, err)
	srv, err := web.New(web.Options{Auth: as, Audit: al, Log: slog.New(slog.DiscardHandler)}, routes...)
	require.NoError(t, err)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	f.URL = "http://" + ln.Addr().String()
	done := make(chan error, 1)
	go func() { done <- web.Serve(ctx, ln, srv.Handler(), nil) }()
	t.Cleanup(func() {
		stop()
		assert.NoError(t, <-done, "serve")
	})
	return f
}

// raise makes an at-risk alert for person, with the clip ready, as the alert engine would after the
// post-roll.
func (f *fixture) raise(ctx context.Context, person string) (string, error) {
	p, err := f.World.Watchlist.Get(ctx, person)
	if err != nil {
		return "", err
	}
	id := fmt.Sprintf("alert-%d", f.seq.Add(1))
	now := time.Now()
	var crops []web.FaceCrop
	for i, c := range f.crops {
		crops = append(crops, web.FaceCrop{Image: c, Similarity: 0.70 - 0.05*float64(i), Time: now.Add(-time.Duration(i) * time.Second), Camera: "cam-market"})
	}
	tr, err := f.World.Trajectories.PersonTrajectory(ctx, p.ID, now.Add(-time.Hour), now)
	if err != nil {
		return "", err
	}
	var last []web.SightingView
	if n := len(tr.Sightings); n > 0 {
		last = tr.Sightings[n-1:]
	}
	f.World.Alerts.Raise(web.AlertDetail{AlertView: web.AlertView{ID: id, Rule: "safe_zone_exit", Severity: "critical",
		Title: "At-risk person outside safe zone", Camera: "cam-market", CameraName: "Market Street", Area: "north", Position: &posMarket,
		PersonID: p.ID, PersonName: p.Name, Category: p.Category, Score: 0.70, Threshold: 0.55, Biometric: true, ConfirmationsRequired: 1,
		Snapshot: f.snap, Face: f.crops[0], Clip: web.Clip{Media: f.clip, State: web.ClipReady, Start: now.Add(-5 * time.Second), End: now.Add(3 * time.Second)}},
		Crops: crops, Sightings: last,
		Notices: []string{"the guardian is notified once a person confirms the match"}})
	return id, nil
}

func (f *fixture) target(shots string) Target {
	return Target{
		BaseURL:      f.URL,
		Operator:     f.Accounts["operator"],
		Investigator: f.Accounts["investigator"],
		Auditor:      f.Accounts["auditor"],
		Guardians: [2]Guardian{{Account: f.Accounts["guardian-lin"], Person: "p-lin"},
			{Account: f.Accounts["guardian-zhou"], Person: "p-zhou"}},
		Camera:     "cam-market",
		Person:     "p-lin",
		Patrol:     f.Accounts["patrol-1"],
		RaiseAlert: f.raise,
		EnrolPhoto: f.photo,
		Shots:      shots,
	}
}

func ffmpeg(t testing.TB, args ...string) {
	t.Helper()
	out, err := exec.Command("ffmpeg", append([]string{"-hide_banner", "-loglevel", "error", "-y"}, args...)...).CombinedOutput()
	require.NoError(t, err, "ffmpeg %v\n%s", args, out)
}

func readFile(t testing.TB, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	require.NoError(t, err)
	return b
}

// faces returns an enrolment photo and captured face crops: real faces of one person from the
// labelled evaluation set, or crops of the snapshot when that set is absent.
func faces(t testing.TB, snapshot string) ([]byte, [][]byte) {
	t.Helper()
	eval := os.Getenv("SNOWLIGHT_EVAL")
	if eval == "" {
		if root, err := RepoDir(); err == nil {
			eval = filepath.Join(root, "..", "shared", "eval")
		}
	}
	dir := filepath.Join(eval, "faces", "face-api", "examples", "images", "amy")
	if _, err := os.Stat(dir); err == nil {
		return readFile(t, filepath.Join(dir, "amy1.png")), [][]byte{readFile(t, filepath.Join(dir, "amy2.png")), readFile(t, filepath.Join(dir, "amy3.png"))}
	}
	out := filepath.Join(t.TempDir(), "crop%d.png")
	ffmpeg(t, "-i", snapshot, "-vf", "crop=128:128:200:100", "-frames:v", "1", fmt.Sprintf(out, 0))
	c := readFile(t, fmt.Sprintf(out, 0))
	return c, [][]byte{c}
}

// camera plays a real H.264 file into a ring in real time, looping, as an ingest worker would, until
// ctx ends. vf is the ffmpeg filter that sets size and rate (25 fps); bitrate, when set, is the
// encoder's target (e.g. "2M"), else x264's default quality.
func camera(t testing.TB, ctx context.Context, id, vf, bitrate string) *media.Ring {
	t.Helper()
	path := filepath.Join(t.TempDir(), id+".mp4")
	args := []string{"-i", vtest, "-frames:v", "100", "-vf", vf, "-c:v", "libx264", "-profile:v", "main", "-bf", "0",
		"-g", "25", "-keyint_min", "25", "-sc_threshold", "0"}
	if bitrate != "" {
		args = append(args, "-b:v", bitrate, "-maxrate", bitrate, "-bufsize", bitrate)
	}
	ffmpeg(t, append(args, path)...)
	_, pkts, err := av.ReadFile(path)
	require.NoError(t, err)
	ring := media.NewRing(10*time.Second, 8<<20)
	push := func(i int) {
		p := pkts[i%len(pkts)]
		ring.Push(media.H264, nil, media.AccessUnit{Camera: id, Time: time.Now(), PTS: time.Duration(i) * 40 * time.Millisecond, NALUs: p.AU, Keyframe: p.Keyframe})
	}
	for i := range 30 { // a GOP and a bit already buffered, as on a running camera
		push(i)
	}
	go func() {
		tick := time.NewTicker(40 * time.Millisecond)
		defer tick.Stop()
		for i := 30; ; i++ {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				push(i)
			}
		}
	}()
	return ring
}
