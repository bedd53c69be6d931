package pipeline_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"snowlight/config"
	"snowlight/objstore"
	"snowlight/pipeline"
	"snowlight/store"
	"snowlight/tracks"
)

var t0 = time.Date(2024, 5, 1, 8, 0, 0, 0, time.UTC)

func twoCameras(t *testing.T) *config.Config {
	t.Helper()
	cfg, err := config.Parse(strings.NewReader(`
cameras:
  - {id: c1, position: {lat: 50.879, lon: 4.7}, recording: {file: c1.mp4, start: 2024-05-01T08:00:00Z},
     neighbours: [{camera: c2, min: 3s, max: 30s}]}
  - {id: c2, position: {lat: 50.879, lon: 4.7003}, recording: {file: c2.mp4, start: 2024-05-01T08:00:00Z},
     neighbours: [{camera: c1, min: 3s, max: 30s}]}
`), func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	return cfg
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

// The center stores snapshots by content, the sighting with their keys (interim first, then final),
// and stitches final sightings: a person seen at c1 and then c2 becomes one trajectory.
func TestCenterStoresAndStitches(t *testing.T) {
	ctx := context.Background()
	c := newCenter(t, twoCameras(t))
	var events []pipeline.Event
	c.cfg.OnEvent = func(e pipeline.Event) { events = append(events, e) }
	center, err := pipeline.NewCenter(c.cfg)
	if err != nil {
		t.Fatal(err)
	}
	face := []float32{0.6, 0.8, 0}
	first := sighting("c1", 1, 2, 9, face, "ann")
	interim := first
	interim.Exit = interim.Enter.Add(2 * time.Second)
	steps := []pipeline.SightingEvent{
		{Kind: pipeline.SightingStarted, Camera: "c1", Frame: interim.Exit, Sighting: interim},
		{Kind: pipeline.SightingEnded, Camera: "c1", Frame: t0.Add(10 * time.Second), Sighting: withFinal(first)},
		{Kind: pipeline.SightingEnded, Camera: "c2", Frame: t0.Add(30 * time.Second), Sighting: withFinal(sighting("c2", 1, 20, 28, face, ""))},
	}
	for i, ev := range steps {
		if err := center.Handle(ctx, ev); err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			s, err := c.db.Sighting(ctx, interim.ID)
			if err != nil || s.Final {
				t.Fatalf("interim sighting stored as %+v, %v", s, err)
			}
		}
	}
	if string(steps[0].Sighting.Face.JPEG) != "face of c1" {
		t.Error("the event's own snapshot was changed")
	}
	// Every stored sighting's snapshots are object-store keys of their bytes.
	for _, ev := range steps {
		s, err := c.db.Sighting(ctx, ev.Sighting.ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, snap := range []*tracks.Snapshot{s.Face, s.Body} {
			if snap == nil || snap.Ref == "" || len(snap.JPEG) > 0 {
				t.Fatalf("stored snapshot %+v", snap)
			}
			r, _, err := c.objects.Get(ctx, snap.Ref)
			if err != nil {
				t.Fatal(err)
			}
			data, _ := io.ReadAll(r)
			r.Close()
			if !strings.HasSuffix(string(data), " of "+s.Camera) {
				t.Errorf("object %s holds %q", snap.Ref, data)
			}
		}
	}
	tr, err := c.db.Follow(ctx, steps[2].Sighting.ID, time.Time{}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if len(tr.Steps) != 2 || tr.ID != first.ID || tr.PersonID != "ann" || tr.Steps[1].Link == nil {
		t.Fatalf("trajectory %+v, want c1 then c2 linked", tr)
	}
	var kinds []pipeline.Kind
	for _, e := range events {
		kinds = append(kinds, e.Kind)
		if e.Sighting != nil && (e.Sighting.Face.Ref == "" || e.Sighting.Face.JPEG != nil) {
			t.Errorf("event %s carries %+v, want the stored key", e.Kind, e.Sighting.Face)
		}
	}
	want := []pipeline.Kind{pipeline.SightingStarted, pipeline.SightingEnded, pipeline.TrajectoryDecided,
		pipeline.SightingEnded, pipeline.TrajectoryDecided}
	if strings.Join(kindStrings(kinds), " ") != strings.Join(kindStrings(want), " ") {
		t.Errorf("events %v, want %v", kinds, want)
	}
	if last := events[len(events)-1]; last.Decision.Link == nil || last.Decision.Trajectory != first.ID {
		t.Errorf("last decision %+v", last.Decision)
	}
	if st := center.Stats(); st.Interim != 1 || st.Sightings != 2 || st.Decisions != 2 || st.Snapshots != 6 {
		t.Errorf("stats %+v", st)
	}
}

func withFinal(s tracks.Sighting) tracks.Sighting { s.Final = true; return s }

func kindStrings(ks []pipeline.Kind) []string {
	out := make([]string, len(ks))
	for i, k := range ks {
		out[i] = string(k)
	}
	return out
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
	c := newCenter(t, twoCameras(t))
	center, err := pipeline.NewCenter(c.cfg)
	if err != nil {
		t.Fatal(err)
	}
	bad := pipeline.SightingEvent{Kind: pipeline.SightingEnded, Camera: "c1", Frame: t0, Sighting: sighting("c1", 3, 1, 2, nil, "")}
	if err := center.Handle(ctx, bad); err == nil || !strings.Contains(err.Error(), "interim") {
		t.Errorf("an ended event with an interim sighting: %v", err)
	}
	unknown := pipeline.SightingEvent{Kind: pipeline.SightingEnded, Camera: "c9", Frame: t0.Add(3 * time.Second), Sighting: withFinal(sighting("c9", 3, 1, 2, nil, ""))}
	if err := center.Handle(ctx, unknown); err == nil || !strings.Contains(err.Error(), `camera "c9" is not in the topology`) {
		t.Errorf("a camera outside the topology: %v", err)
	}

	down := c.cfg
	down.Objects = failingObjects{c.objects}
	center, err = pipeline.NewCenter(down)
	if err != nil {
		t.Fatal(err)
	}
	ev := pipeline.SightingEvent{Kind: pipeline.SightingEnded, Camera: "c2", Frame: t0.Add(5 * time.Second), Sighting: withFinal(sighting("c2", 4, 1, 4, nil, ""))}
	if err := center.Handle(ctx, ev); err == nil || !strings.Contains(err.Error(), ev.Sighting.ID) {
		t.Errorf("object store down: %v", err)
	}
	if _, err := c.db.Sighting(ctx, ev.Sighting.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("sighting saved without its snapshots: %v", err)
	}
	if _, err := pipeline.NewCenter(pipeline.CenterConfig{Store: c.db}); err == nil {
		t.Error("a center without object store and stitcher")
	}
}

// lineOfCameras is a street of n cameras c0..c(n-1), each a neighbour of the next both ways, a
// person taking 10 to 30 s from one to the next.
func lineOfCameras(t testing.TB, n int) *config.Config {
	t.Helper()
	var b strings.Builder
	b.WriteString("cameras:\n")
	for i := range n {
		fmt.Fprintf(&b, "  - {id: c%d, position: {lat: 50.879, lon: %.5f}, recording: {file: c%d.mp4, start: 2024-05-01T08:00:00Z}, neighbours: [", i, 4.7+0.0003*float64(i), i)
		var ns []string
		for _, j := range []int{i - 1, i + 1} {
			if j >= 0 && j < n {
				ns = append(ns, fmt.Sprintf("{camera: c%d, min: 10s, max: 30s}", j))
			}
		}
		b.WriteString(strings.Join(ns, ", ") + "]}\n")
	}
	cfg, err := config.Parse(strings.NewReader(b.String()), func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}
