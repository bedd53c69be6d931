package center_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"snowlight/center"
	"snowlight/geo"
	"snowlight/objstore"
	"snowlight/store"
	"snowlight/tracks"
	"snowlight/tracks/stitch"
)

var t0 = time.Date(2024, 5, 1, 8, 0, 0, 0, time.UTC)

// rig is a center's parts over a fresh SQLite store and local object directory.
type rig struct {
	db      *store.DB
	objects *objstore.Dir
	cfg     center.Config
}

func newRig(tb testing.TB, cams []stitch.Camera) *rig {
	tb.Helper()
	ctx := context.Background()
	dir := tb.TempDir()
	db, err := store.Open(ctx, filepath.Join(dir, "snowlight.db"))
	require.NoError(tb, err)
	tb.Cleanup(func() { db.Close() })
	var pos []store.CameraPosition
	for _, c := range cams {
		pos = append(pos, store.CameraPosition{ID: c.ID, Position: c.Position})
	}
	require.NoError(tb, db.SetCameras(ctx, pos))
	objects, err := objstore.OpenDir(filepath.Join(dir, "objects"), objstore.DirOptions{})
	require.NoError(tb, err)
	topo, err := stitch.NewTopology(cams, stitch.DefaultLearning())
	require.NoError(tb, err)
	st, err := stitch.New(stitch.DefaultConfig(), topo)
	require.NoError(tb, err)
	return &rig{db: db, objects: objects, cfg: center.Config{Store: db, Objects: objects, Stitcher: st}}
}

// lineOfCameras is a street of n cameras c0..c(n-1) 20 m apart, each a neighbour of the next both
// ways, a person taking 10 to 30 s from one to the next.
func lineOfCameras(n int) []stitch.Camera {
	cams := make([]stitch.Camera, n)
	for i := range cams {
		cams[i] = stitch.Camera{ID: fmt.Sprintf("c%d", i), Position: geo.LatLon{Lat: 50.879, Lon: 4.7 + 0.0003*float64(i)}}
		for _, j := range []int{i - 1, i + 1} {
			if j >= 0 && j < n {
				cams[i].Neighbours = append(cams[i].Neighbours, stitch.Neighbour{Camera: fmt.Sprintf("c%d", j), Min: 10 * time.Second, Max: 30 * time.Second})
			}
		}
	}
	return cams
}

// twoCameras are c1 and c2, 20 m apart, a person taking 3 to 30 s from one to the other.
func twoCameras() []stitch.Camera {
	return []stitch.Camera{
		{ID: "c1", Position: geo.LatLon{Lat: 50.879, Lon: 4.7}, Neighbours: []stitch.Neighbour{{Camera: "c2", Min: 3 * time.Second, Max: 30 * time.Second}}},
		{ID: "c2", Position: geo.LatLon{Lat: 50.879, Lon: 4.7003}, Neighbours: []stitch.Neighbour{{Camera: "c1", Min: 3 * time.Second, Max: 30 * time.Second}}},
	}
}

// sighting is a pass of one person (face embedding face) through a camera from enter to exit seconds.
func sighting(camera string, track uint64, enter, exit float64, face []float32, person string) tracks.Sighting {
	at := func(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }
	s := tracks.Sighting{
		ID: tracks.SightingID(camera, at(enter), track), Camera: camera, TrackID: track, Enter: at(enter), Exit: at(exit),
		Boxes:         []tracks.TimedBox{{Time: at(enter), Box: tracks.Box{X: 10, Y: 20, W: 100, H: 300}, Score: 0.9}},
		Face:          &tracks.Snapshot{Time: at(enter), Box: tracks.Box{X: 40, Y: 25, W: 40, H: 40}, Quality: 3, JPEG: []byte("face of " + camera)},
		Body:          &tracks.Snapshot{Time: at(enter), Box: tracks.Box{X: 10, Y: 20, W: 100, H: 300}, Quality: 9, JPEG: []byte("body of " + camera)},
		FaceEmbedding: face,
	}
	if person != "" {
		s.Evidence = tracks.Evidence{FaceFrames: 4, PersonID: person, Decided: at(enter + 1)}
	}
	return s
}

func withFinal(s tracks.Sighting) tracks.Sighting { s.Final = true; return s }

// recording is a center over r that records the events it reports.
func (r *rig) recording(tb testing.TB) (*center.Center, *[]center.Event) {
	tb.Helper()
	var events []center.Event
	r.cfg.OnEvent = func(e center.Event) { events = append(events, e) }
	c, err := center.New(r.cfg)
	require.NoError(tb, err)
	return c, &events
}

// annAtC1 is ann's face, her final sighting at c1 from 2 to 9 s, and the interim one 2 s into it.
func annAtC1() (face []float32, final, interim tracks.Sighting) {
	face = []float32{0.6, 0.8, 0}
	final = sighting("c1", 1, 2, 9, face, "ann")
	interim = final
	interim.Exit = interim.Enter.Add(2 * time.Second)
	return face, final, interim
}

// The center stores snapshots by content, the sighting with their keys (interim first, then final),
// and stitches final sightings: a person seen at c1 and then c2 becomes one trajectory.
func TestCenterStoresAndStitches(t *testing.T) {
	ctx := context.Background()
	r := newRig(t, twoCameras())
	c, recorded := r.recording(t)
	face, first, interim := annAtC1()
	steps := []tracks.SightingEvent{
		{Kind: tracks.SightingStarted, Camera: "c1", Frame: interim.Exit, Sighting: interim},
		{Kind: tracks.SightingEnded, Camera: "c1", Frame: t0.Add(10 * time.Second), Sighting: withFinal(first)},
		{Kind: tracks.SightingEnded, Camera: "c2", Frame: t0.Add(30 * time.Second), Sighting: withFinal(sighting("c2", 1, 20, 28, face, ""))},
	}
	for i, ev := range steps {
		require.NoError(t, c.Handle(ctx, ev))
		if i == 0 {
			s, err := r.db.Sighting(ctx, interim.ID)
			require.NoError(t, err)
			require.False(t, s.Final, "interim sighting stored as final")
		}
	}
	assert.Equal(t, "face of c1", string(steps[0].Sighting.Face.JPEG), "the event's own snapshot was changed")
	// Every stored sighting's snapshots are object-store keys of their bytes.
	for _, ev := range steps {
		s, err := r.db.Sighting(ctx, ev.Sighting.ID)
		require.NoError(t, err)
		for _, snap := range []*tracks.Snapshot{s.Face, s.Body} {
			require.NotNil(t, snap)
			require.NotEmpty(t, snap.Ref, "stored snapshot %+v", snap)
			require.Empty(t, snap.JPEG, "stored snapshot %+v", snap)
			rc, _, err := r.objects.Get(ctx, snap.Ref)
			require.NoError(t, err)
			data, _ := io.ReadAll(rc)
			rc.Close()
			assert.True(t, strings.HasSuffix(string(data), " of "+s.Camera), "object %s holds %q", snap.Ref, data)
		}
	}
	tr, err := r.db.Follow(ctx, steps[2].Sighting.ID, time.Time{}, time.Time{})
	require.NoError(t, err)
	require.Len(t, tr.Steps, 2, "trajectory %+v, want c1 then c2", tr)
	assert.Equal(t, first.ID, tr.ID)
	assert.Equal(t, "ann", tr.PersonID)
	assert.NotNil(t, tr.Steps[1].Link, "c2 linked to c1")
	var kinds []tracks.EventKind
	events := *recorded
	for _, e := range events {
		kinds = append(kinds, e.Kind)
		if e.Sighting != nil {
			assert.NotEmpty(t, e.Sighting.Face.Ref, "event %s carries the stored key", e.Kind)
			assert.Nil(t, e.Sighting.Face.JPEG, "event %s carries no bytes", e.Kind)
		}
	}
	assert.Equal(t, []tracks.EventKind{tracks.SightingStarted, tracks.SightingEnded, tracks.TrajectoryDecided,
		tracks.SightingEnded, tracks.TrajectoryDecided}, kinds)
	last := events[len(events)-1]
	require.NotNil(t, last.Decision)
	assert.NotNil(t, last.Decision.Link, "last decision %+v", last.Decision)
	assert.Equal(t, first.ID, last.Decision.Trajectory)
	assert.Equal(t, center.Stats{Interim: 1, Sightings: 2, Decisions: 2, Snapshots: 6}, c.Stats())
}

// failingObjects is an object store that is down.
type failingObjects struct{ objstore.Store }

func (failingObjects) Put(context.Context, string, io.Reader, int64, objstore.PutOptions) (objstore.Info, error) {
	return objstore.Info{}, errors.New("object store unreachable")
}

// Bad input and failures are refused with an error naming the sighting, and nothing half-done is
// stored: a sighting whose snapshots could not be kept is not saved without them.
func TestCenterRefuses(t *testing.T) {
	ctx := context.Background()
	r := newRig(t, twoCameras())
	c, err := center.New(r.cfg)
	require.NoError(t, err)
	bad := tracks.SightingEvent{Kind: tracks.SightingEnded, Camera: "c1", Frame: t0, Sighting: sighting("c1", 3, 1, 2, nil, "")}
	assert.ErrorContains(t, c.Handle(ctx, bad), "interim", "an ended event with an interim sighting")
	unknown := tracks.SightingEvent{Kind: tracks.SightingEnded, Camera: "c9", Frame: t0.Add(3 * time.Second), Sighting: withFinal(sighting("c9", 3, 1, 2, nil, ""))}
	assert.ErrorContains(t, c.Handle(ctx, unknown), `camera "c9" is not in the topology`)

	down := r.cfg
	down.Objects = failingObjects{r.objects}
	c, err = center.New(down)
	require.NoError(t, err)
	ev := tracks.SightingEvent{Kind: tracks.SightingEnded, Camera: "c2", Frame: t0.Add(5 * time.Second), Sighting: withFinal(sighting("c2", 4, 1, 4, nil, ""))}
	assert.ErrorContains(t, c.Handle(ctx, ev), ev.Sighting.ID, "object store down")
	_, err = r.db.Sighting(ctx, ev.Sighting.ID)
	assert.ErrorIs(t, err, store.ErrNotFound, "sighting saved without its snapshots")
	_, err = center.New(center.Config{Store: r.db})
	assert.Error(t, err, "a center without object store and stitcher")
}
