package store

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"snowlight/geo"
	"snowlight/tracks"
)

var st0 = time.Date(2024, 5, 1, 8, 0, 0, 0, time.UTC)

func openTestDB(t *testing.T) *DB {
	t.Helper()
	db, err := Open(context.Background(), filepath.Join(t.TempDir(), "s.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func sighting(id, cam string, enter, exit time.Duration, person string) tracks.Sighting {
	s := tracks.Sighting{
		ID: id, Camera: cam, TrackID: 7, Enter: st0.Add(enter), Exit: st0.Add(exit), Final: true,
		Boxes:               []tracks.TimedBox{{Time: st0.Add(enter), Box: tracks.Box{X: 1, Y: 2, W: 30, H: 80}, Score: 0.9}},
		Body:                &tracks.Snapshot{Time: st0.Add(enter), Box: tracks.Box{X: 10, Y: 20, W: 40, H: 100}, Quality: 3, Ref: "body/" + id + ".jpg"},
		Face:                &tracks.Snapshot{Time: st0.Add(enter), Box: tracks.Box{X: 20, Y: 25, W: 12, H: 12}, Quality: 2, Ref: "face/" + id + ".jpg"},
		FaceEmbedding:       []float32{0.6, 0.8},
		AppearanceEmbedding: []float32{1, 0, 0},
	}
	s.Evidence.PersonID = person
	if person != "" {
		s.Evidence.FaceFrames = 3
		s.Evidence.Candidates = []tracks.Candidate{{PersonID: person, Score: 4, Listed: 3, Above: 3, Best: 3,
			Frames: []tracks.FaceEvidence{{Time: st0.Add(enter), Similarity: 0.7, Threshold: 0.5}}}}
	}
	return s
}

func link(from, to string, score float64) *tracks.Link {
	return &tracks.Link{From: from, To: to, Score: score, Confidence: 1 / (1 + 1/(1+score)), Decided: st0,
		Evidence: tracks.LinkParts{Prior: -1, Transit: 1, Face: score, TransitSeconds: 20, HasFace: true, FaceSimilarity: 0.7}}
}

func mustSave(t *testing.T, db *DB, ss ...tracks.Sighting) {
	t.Helper()
	for _, s := range ss {
		if err := db.SaveSighting(context.Background(), s); err != nil {
			t.Fatal(err)
		}
	}
}

func mustApply(t *testing.T, db *DB, ds ...tracks.Decision) {
	t.Helper()
	if err := db.ApplyDecisions(context.Background(), ds); err != nil {
		t.Fatal(err)
	}
}

func stepIDs(steps []tracks.Step) []string {
	var out []string
	for _, s := range steps {
		out = append(out, s.Sighting)
	}
	return out
}

// seed stores two trajectories: Ann a1(A) -> b1(B) -> c1(C), identified at B only, and an unknown
// person u1(A) -> u2(B); plus a lone sighting x at A.
func seed(t *testing.T, db *DB) {
	ctx := context.Background()
	if err := db.SetCameras(ctx, []CameraPosition{{"A", geo.LatLon{Lat: 52.52, Lon: 13.40}}, {"B", geo.LatLon{Lat: 52.521, Lon: 13.401}}, {"C", geo.LatLon{Lat: 52.522, Lon: 13.402}}}); err != nil {
		t.Fatal(err)
	}
	mustSave(t, db,
		sighting("a1", "A", 0, 5*time.Second, ""),
		sighting("u1", "A", 2*time.Second, 8*time.Second, ""),
		sighting("b1", "B", 30*time.Second, 40*time.Second, "ann"),
		sighting("u2", "B", 31*time.Second, 35*time.Second, ""),
		sighting("c1", "C", 70*time.Second, 80*time.Second, ""),
		sighting("x", "A", 100*time.Second, 110*time.Second, ""),
	)
	mustApply(t, db,
		tracks.Decision{Sighting: "b1", Trajectory: "a1", Link: link("a1", "b1", 3)},
		tracks.Decision{Sighting: "u2", Trajectory: "u1", Link: link("u1", "u2", 1)},
		tracks.Decision{Sighting: "c1", Trajectory: "a1", Link: link("b1", "c1", 2)},
	)
}

func TestQueries(t *testing.T) {
	db := openTestDB(t)
	seed(t, db)
	ctx := context.Background()

	// The person was identified at B only, yet the whole trajectory is theirs.
	trajs, err := db.PersonTrajectory(ctx, "ann", time.Time{}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if len(trajs) != 1 || trajs[0].ID != "a1" || !slices.Equal(stepIDs(trajs[0].Steps), []string{"a1", "b1", "c1"}) {
		t.Fatalf("ann: %+v", trajs)
	}
	steps := trajs[0].Steps
	if steps[0].Link != nil || steps[1].Link == nil || steps[1].Link.From != "a1" || steps[2].Link.From != "b1" {
		t.Errorf("links %+v %+v %+v", steps[0].Link, steps[1].Link, steps[2].Link)
	}
	b := steps[1]
	if !b.HasPos || b.Lat != 52.521 || b.Camera != "B" || b.PersonID != "ann" || b.BodyRef != "body/b1.jpg" ||
		b.FaceRef != "face/b1.jpg" || b.Box.W != 40 || !b.Enter.Equal(st0.Add(30*time.Second)) {
		t.Errorf("step %+v", b)
	}
	if l := b.Link; l.Score != 3 || !l.Evidence.HasFace || l.Evidence.TransitSeconds != 20 || !l.Decided.Equal(st0) {
		t.Errorf("link %+v", l)
	}
	// Windows cut the steps, not the trajectory.
	trajs, _ = db.PersonTrajectory(ctx, "ann", st0.Add(35*time.Second), st0.Add(75*time.Second))
	if len(trajs) != 1 || !slices.Equal(stepIDs(trajs[0].Steps), []string{"b1", "c1"}) {
		t.Errorf("ann 35..75 s: %+v", trajs)
	}
	if trajs, _ := db.PersonTrajectory(ctx, "nobody", time.Time{}, time.Time{}); len(trajs) != 0 {
		t.Errorf("unknown person: %+v", trajs)
	}

	// Follow from the middle of a trajectory, both ways.
	tr, err := db.Follow(ctx, "b1", time.Time{}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if tr.ID != "a1" || tr.PersonID != "ann" || !slices.Equal(stepIDs(tr.Steps), []string{"a1", "b1", "c1"}) {
		t.Errorf("follow b1: %+v", tr)
	}
	tr, _ = db.Follow(ctx, "c1", st0.Add(20*time.Second), time.Time{})
	if !slices.Equal(stepIDs(tr.Steps), []string{"b1", "c1"}) {
		t.Errorf("follow c1 from 20 s: %v", stepIDs(tr.Steps))
	}
	tr, _ = db.Follow(ctx, "u1", time.Time{}, time.Time{})
	if !slices.Equal(stepIDs(tr.Steps), []string{"u1", "u2"}) || tr.PersonID != "" {
		t.Errorf("follow u1: %+v", tr)
	}
	if _, err := db.Follow(ctx, "nope", time.Time{}, time.Time{}); !errors.Is(err, ErrNotFound) {
		t.Errorf("follow unknown: %v", err)
	}

	// Everything at a camera in a window: overlap counts.
	at, err := db.AtCamera(ctx, "A", st0.Add(4*time.Second), st0.Add(200*time.Second), 0)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(stepIDs(at), []string{"a1", "u1", "x"}) {
		t.Errorf("camera A: %v", stepIDs(at))
	}
	at, _ = db.AtCamera(ctx, "A", st0.Add(6*time.Second), st0.Add(200*time.Second), 1)
	if !slices.Equal(stepIDs(at), []string{"u1"}) {
		t.Errorf("camera A from 6 s, limit 1: %v", stepIDs(at))
	}
	if _, err := db.AtCamera(ctx, "A", st0.Add(time.Hour), st0, 0); err == nil {
		t.Error("empty window accepted")
	}
}

func TestRevisedDecisions(t *testing.T) {
	db := openTestDB(t)
	seed(t, db)
	ctx := context.Background()
	// A better continuation of b1 arrives: c2 takes the link, c1 starts its own trajectory. The
	// decisions come in enter order, c1's after c2's would also work.
	mustSave(t, db, sighting("c2", "C", 60*time.Second, 65*time.Second, "ann"))
	mustApply(t, db,
		tracks.Decision{Sighting: "c2", Trajectory: "a1", Link: link("b1", "c2", 5)},
		tracks.Decision{Sighting: "c1", Trajectory: "c1", Revised: true},
	)
	tr, _ := db.Follow(ctx, "a1", time.Time{}, time.Time{})
	if !slices.Equal(stepIDs(tr.Steps), []string{"a1", "b1", "c2"}) {
		t.Errorf("after revision: %v", stepIDs(tr.Steps))
	}
	tr, _ = db.Follow(ctx, "c1", time.Time{}, time.Time{})
	if !slices.Equal(stepIDs(tr.Steps), []string{"c1"}) || tr.ID != "c1" {
		t.Errorf("c1 after revision: %+v", tr)
	}
	// b1 (identified as Ann) moves to a new trajectory: Ann's old one no longer holds her.
	mustApply(t, db,
		tracks.Decision{Sighting: "b1", Trajectory: "b1", Revised: true},
		tracks.Decision{Sighting: "c2", Trajectory: "b1", Link: link("b1", "c2", 5), Revised: true},
	)
	trajs, _ := db.PersonTrajectory(ctx, "ann", time.Time{}, time.Time{})
	var ids []string
	for _, tr := range trajs {
		ids = append(ids, tr.ID)
	}
	if !slices.Equal(ids, []string{"b1"}) {
		t.Errorf("ann's trajectories %v, want [b1]", ids)
	}
}

func TestSightingRoundTripAndUpdate(t *testing.T) {
	db := openTestDB(t)
	ctx := context.Background()
	interim := sighting("s1", "A", 0, time.Second, "")
	interim.Final = false
	mustSave(t, db, interim, sighting("s0", "A", -time.Minute, -50*time.Second, ""))
	mustApply(t, db, tracks.Decision{Sighting: "s1", Trajectory: "s0", Link: link("s0", "s1", 2)})
	final := sighting("s1", "A", 0, 9*time.Second, "ann")
	mustSave(t, db, final)
	got, err := db.Sighting(ctx, "s1")
	if err != nil {
		t.Fatal(err)
	}
	if !got.Final || !got.Exit.Equal(final.Exit) || got.PersonID() != "ann" || !slices.Equal(got.FaceEmbedding, final.FaceEmbedding) ||
		got.Body.Ref != final.Body.Ref || len(got.Evidence.Candidates) != 1 || len(got.Boxes) != 1 {
		t.Errorf("round trip: %+v", got)
	}
	// The final version kept the trajectory the interim one was linked into, and its person is
	// now attached to that trajectory.
	trajs, _ := db.PersonTrajectory(ctx, "ann", time.Time{}, time.Time{})
	if len(trajs) != 1 || trajs[0].ID != "s0" {
		t.Errorf("ann: %+v", trajs)
	}
	if _, err := db.Sighting(ctx, "nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown sighting: %v", err)
	}
}

func TestArchiveRejects(t *testing.T) {
	db := openTestDB(t)
	ctx := context.Background()
	withBytes := sighting("j", "A", 0, time.Second, "")
	withBytes.Face.JPEG = []byte{0xff, 0xd8}
	backwards := sighting("b", "A", time.Second, 0, "")
	for _, s := range []tracks.Sighting{withBytes, backwards, {ID: "", Camera: "A"}, {ID: "x"}} {
		if err := db.SaveSighting(ctx, s); err == nil {
			t.Errorf("saved %q", s.ID)
		}
	}
	if err := db.SaveSighting(ctx, withBytes); !errors.Is(err, ErrSnapshotBytes) {
		t.Errorf("jpeg bytes: %v", err)
	}
	mustSave(t, db, sighting("a", "A", 0, time.Second, ""))
	for _, d := range []tracks.Decision{
		{Sighting: "ghost", Trajectory: "ghost"},
		{Sighting: "a", Trajectory: "ghost"},
		{Sighting: "a", Trajectory: "a", Link: link("ghost", "a", 1)},
		{Sighting: "a", Trajectory: "a", Link: link("a", "elsewhere", 1)},
	} {
		if err := db.ApplyDecisions(ctx, []tracks.Decision{d}); err == nil {
			t.Errorf("applied %+v", d)
		}
	}
	// A failed batch changes nothing.
	tr, _ := db.Follow(ctx, "a", time.Time{}, time.Time{})
	if len(tr.Steps) != 1 || tr.Steps[0].Link != nil {
		t.Errorf("after failed batches: %+v", tr)
	}
	if err := db.SetCameras(ctx, []CameraPosition{{"A", geo.LatLon{Lat: 95}}}); err == nil {
		t.Error("camera at latitude 95 accepted")
	}
}

// TestQueryPlansUseIndexes guards the property that keeps the queries fast at tens of millions of
// rows: none of them scans a table.
func TestQueryPlansUseIndexes(t *testing.T) {
	db := openTestDB(t)
	seed(t, db)
	queries := map[string]struct {
		q    string
		args []any
	}{
		"person": {`SELECT ` + stepColumns + ` FROM trajectory_persons tp JOIN sightings s ON s.trajectory = tp.trajectory ` + stepJoins + `
			WHERE tp.person_id = ? AND s.enter_ns >= ? AND s.enter_ns <= ? AND s.exit_ns >= ?
			ORDER BY tp.trajectory, s.enter_ns, s.rid`, []any{"ann", 0, 1, 0}},
		"camera": {`SELECT ` + stepColumns + ` FROM sightings s ` + stepJoins + `
			WHERE s.camera = ? AND s.enter_ns >= ? AND s.enter_ns <= ? AND s.exit_ns >= ? ORDER BY s.enter_ns, s.rid LIMIT ?`, []any{"A", 0, 1, 0, 10}},
		"links back":     {`SELECT from_rid FROM links WHERE to_rid = ?`, []any{1}},
		"links forward":  {`SELECT to_rid FROM links WHERE from_rid = ?`, []any{1}},
		"sighting by id": {`SELECT rid FROM sightings WHERE id = ?`, []any{"a1"}},
	}
	for name, q := range queries {
		rows, err := db.R.Query(`EXPLAIN QUERY PLAN `+q.q, q.args...)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		var plan []string
		for rows.Next() {
			var id, parent, notused int
			var detail string
			if err := rows.Scan(&id, &parent, &notused, &detail); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, detail)
		}
		rows.Close()
		t.Logf("%s: %s", name, strings.Join(plan, "; "))
		for _, p := range plan {
			if strings.HasPrefix(p, "SCAN ") || strings.Contains(p, "USE TEMP B-TREE") {
				t.Errorf("%s: plan %q", name, strings.Join(plan, "; "))
				break
			}
		}
	}
}

// TestConcurrentReadersAndWriter runs queries while sightings and decisions are written, under the
// race detector in make test.
func TestConcurrentReadersAndWriter(t *testing.T) {
	db := openTestDB(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	mustSave(t, db, sighting("root", "A", 0, time.Second, "ann"))
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for r := 0; r < 3; r++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				if _, err := db.PersonTrajectory(ctx, "ann", time.Time{}, time.Time{}); err != nil && ctx.Err() == nil {
					errs <- err
					return
				}
				if _, err := db.AtCamera(ctx, "B", time.Time{}, time.Time{}, 50); err != nil && ctx.Err() == nil {
					errs <- err
					return
				}
			}
		}()
	}
	prev := "root"
	for i := 0; i < 100; i++ {
		id := fmt.Sprint("s", i)
		at := time.Duration(i+1) * time.Minute
		mustSave(t, db, sighting(id, "B", at, at+time.Second, ""))
		mustApply(t, db, tracks.Decision{Sighting: id, Trajectory: "root", Link: link(prev, id, 2)})
		prev = id
	}
	cancel()
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	tr, err := db.Follow(context.Background(), "s50", time.Time{}, time.Time{})
	if err != nil || len(tr.Steps) != 101 {
		t.Fatalf("follow: %d steps, %v", len(tr.Steps), err)
	}
}
