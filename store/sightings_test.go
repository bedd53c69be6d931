package store

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"snowlight/geo"
	"snowlight/tracks"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var st0 = time.Date(2024, 5, 1, 8, 0, 0, 0, time.UTC)

func openTestDB(t *testing.T) *DB {
	t.Helper()
	db, err := Open(context.Background(), filepath.Join(t.TempDir(), "s.db"))
	require.NoError(t, err)
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
		require.NoError(t, db.SaveSighting(context.Background(), s))
	}
}

func mustApply(t *testing.T, db *DB, ds ...tracks.Decision) {
	t.Helper()
	require.NoError(t, db.ApplyDecisions(context.Background(), ds))
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
	require.NoError(t, db.SetCameras(ctx, []CameraPosition{{"A", geo.LatLon{Lat: 52.52, Lon: 13.40}}, {"B", geo.LatLon{Lat: 52.521, Lon: 13.401}}, {"C", geo.LatLon{Lat: 52.522, Lon: 13.402}}}))
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
	require.NoError(t, err)
	require.Len(t, trajs, 1, "ann's trajectories")
	assert.Equal(t, "a1", trajs[0].ID)
	require.Equal(t, []string{"a1", "b1", "c1"}, stepIDs(trajs[0].Steps), "ann's steps")
	steps := trajs[0].Steps
	assert.Nil(t, steps[0].Link, "the first step's link")
	require.NotNil(t, steps[1].Link, "the second step's link")
	assert.Equal(t, "a1", steps[1].Link.From)
	if assert.NotNil(t, steps[2].Link, "the third step's link") {
		assert.Equal(t, "b1", steps[2].Link.From)
	}
	b := steps[1]
	assert.True(t, b.HasPos, "step %+v", b)
	assert.Equal(t, 52.521, b.Lat)
	assert.Equal(t, "B", b.Camera)
	assert.Equal(t, "ann", b.PersonID)
	assert.Equal(t, "body/b1.jpg", b.BodyRef)
	assert.Equal(t, "face/b1.jpg", b.FaceRef)
	assert.Equal(t, 40.0, b.Box.W)
	assert.WithinDuration(t, st0.Add(30*time.Second), b.Enter, 0)
	l := b.Link
	assert.Equal(t, 3.0, l.Score, "link %+v", l)
	assert.True(t, l.Evidence.HasFace, "link %+v", l)
	assert.Equal(t, 20.0, l.Evidence.TransitSeconds, "link %+v", l)
	assert.WithinDuration(t, st0, l.Decided, 0, "link %+v", l)
	// Windows cut the steps, not the trajectory.
	trajs, err = db.PersonTrajectory(ctx, "ann", st0.Add(35*time.Second), st0.Add(75*time.Second))
	require.NoError(t, err)
	if assert.Len(t, trajs, 1, "ann 35..75 s") {
		assert.Equal(t, []string{"b1", "c1"}, stepIDs(trajs[0].Steps), "ann 35..75 s")
	}
	trajs, err = db.PersonTrajectory(ctx, "nobody", time.Time{}, time.Time{})
	require.NoError(t, err)
	assert.Empty(t, trajs, "an unknown person's trajectories")

	// Follow from the middle of a trajectory, both ways.
	tr, err := db.Follow(ctx, "b1", time.Time{}, time.Time{})
	require.NoError(t, err)
	assert.Equal(t, "a1", tr.ID, "follow b1")
	assert.Equal(t, "ann", tr.PersonID, "follow b1")
	assert.Equal(t, []string{"a1", "b1", "c1"}, stepIDs(tr.Steps), "follow b1")
	tr, err = db.Follow(ctx, "c1", st0.Add(20*time.Second), time.Time{})
	require.NoError(t, err)
	assert.Equal(t, []string{"b1", "c1"}, stepIDs(tr.Steps), "follow c1 from 20 s")
	tr, err = db.Follow(ctx, "u1", time.Time{}, time.Time{})
	require.NoError(t, err)
	assert.Equal(t, []string{"u1", "u2"}, stepIDs(tr.Steps), "follow u1")
	assert.Empty(t, tr.PersonID, "follow u1")
	_, err = db.Follow(ctx, "nope", time.Time{}, time.Time{})
	assert.ErrorIs(t, err, ErrNotFound, "follow unknown")

	// Everything at a camera in a window: overlap counts.
	at, err := db.AtCamera(ctx, "A", st0.Add(4*time.Second), st0.Add(200*time.Second), 0)
	require.NoError(t, err)
	assert.Equal(t, []string{"a1", "u1", "x"}, stepIDs(at), "camera A")
	at, err = db.AtCamera(ctx, "A", st0.Add(6*time.Second), st0.Add(200*time.Second), 1)
	require.NoError(t, err)
	assert.Equal(t, []string{"u1"}, stepIDs(at), "camera A from 6 s, limit 1")
	_, err = db.AtCamera(ctx, "A", st0.Add(time.Hour), st0, 0)
	assert.Error(t, err, "empty window accepted")
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
	tr, err := db.Follow(ctx, "a1", time.Time{}, time.Time{})
	require.NoError(t, err)
	assert.Equal(t, []string{"a1", "b1", "c2"}, stepIDs(tr.Steps), "after revision")
	tr, err = db.Follow(ctx, "c1", time.Time{}, time.Time{})
	require.NoError(t, err)
	assert.Equal(t, []string{"c1"}, stepIDs(tr.Steps), "c1 after revision")
	assert.Equal(t, "c1", tr.ID, "c1 after revision")
	// b1 (identified as Ann) moves to a new trajectory: Ann's old one no longer holds her.
	mustApply(t, db,
		tracks.Decision{Sighting: "b1", Trajectory: "b1", Revised: true},
		tracks.Decision{Sighting: "c2", Trajectory: "b1", Link: link("b1", "c2", 5), Revised: true},
	)
	trajs, err := db.PersonTrajectory(ctx, "ann", time.Time{}, time.Time{})
	require.NoError(t, err)
	var ids []string
	for _, tr := range trajs {
		ids = append(ids, tr.ID)
	}
	assert.Equal(t, []string{"b1"}, ids, "ann's trajectories")
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
	require.NoError(t, err)
	assert.True(t, got.Final, "round trip: %+v", got)
	assert.WithinDuration(t, final.Exit, got.Exit, 0)
	assert.Equal(t, "ann", got.PersonID())
	assert.Equal(t, final.FaceEmbedding, got.FaceEmbedding)
	if assert.NotNil(t, got.Body) {
		assert.Equal(t, final.Body.Ref, got.Body.Ref)
	}
	assert.Len(t, got.Evidence.Candidates, 1)
	assert.Len(t, got.Boxes, 1)
	// The final version kept the trajectory the interim one was linked into, and its person is
	// now attached to that trajectory.
	trajs, err := db.PersonTrajectory(ctx, "ann", time.Time{}, time.Time{})
	require.NoError(t, err)
	if assert.Len(t, trajs, 1, "ann's trajectories") {
		assert.Equal(t, "s0", trajs[0].ID)
	}
	_, err = db.Sighting(ctx, "nope")
	assert.ErrorIs(t, err, ErrNotFound, "an unknown sighting")
}

func TestArchiveRejects(t *testing.T) {
	db := openTestDB(t)
	ctx := context.Background()
	withBytes := sighting("j", "A", 0, time.Second, "")
	withBytes.Face.JPEG = []byte{0xff, 0xd8}
	backwards := sighting("b", "A", time.Second, 0, "")
	for _, s := range []tracks.Sighting{withBytes, backwards, {ID: "", Camera: "A"}, {ID: "x"}} {
		assert.Error(t, db.SaveSighting(ctx, s), "saved %q", s.ID)
	}
	assert.ErrorIs(t, db.SaveSighting(ctx, withBytes), ErrSnapshotBytes, "jpeg bytes")
	mustSave(t, db, sighting("a", "A", 0, time.Second, ""))
	for _, d := range []tracks.Decision{
		{Sighting: "ghost", Trajectory: "ghost"},
		{Sighting: "a", Trajectory: "ghost"},
		{Sighting: "a", Trajectory: "a", Link: link("ghost", "a", 1)},
		{Sighting: "a", Trajectory: "a", Link: link("a", "elsewhere", 1)},
	} {
		assert.Error(t, db.ApplyDecisions(ctx, []tracks.Decision{d}), "applied %+v", d)
	}
	// A failed batch changes nothing.
	tr, err := db.Follow(ctx, "a", time.Time{}, time.Time{})
	require.NoError(t, err)
	if assert.Len(t, tr.Steps, 1, "after failed batches") {
		assert.Nil(t, tr.Steps[0].Link, "after failed batches")
	}
	assert.Error(t, db.SetCameras(ctx, []CameraPosition{{"A", geo.LatLon{Lat: 95}}}), "camera at latitude 95 accepted")
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
		require.NoError(t, err, name)
		var plan []string
		for rows.Next() {
			var id, parent, notused int
			var detail string
			require.NoError(t, rows.Scan(&id, &parent, &notused, &detail))
			plan = append(plan, detail)
		}
		rows.Close()
		t.Logf("%s: %s", name, strings.Join(plan, "; "))
		for _, p := range plan {
			if strings.HasPrefix(p, "SCAN ") || strings.Contains(p, "USE TEMP B-TREE") {
				assert.Fail(t, "the plan scans a table or sorts", "%s: plan %q", name, strings.Join(plan, "; "))
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
		assert.NoError(t, err, "a reader")
	}
	tr, err := db.Follow(context.Background(), "s50", time.Time{}, time.Time{})
	require.NoError(t, err)
	assert.Len(t, tr.Steps, 101)
}
