package main

import (
	"context"
	"encoding/json"
	"path/filepath"
	"testing"
	"time"

	"snowlight/objstore"
	"snowlight/retention"
	"snowlight/store"
	"snowlight/tracks"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRetentionCommand(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	dbPath, objPath := filepath.Join(dir, "s.db"), filepath.Join(dir, "objects")
	db, err := store.Open(ctx, dbPath)
	require.NoError(t, err)
	objs, err := objstore.OpenDir(objPath, objstore.DirOptions{})
	require.NoError(t, err)
	now := time.Now()
	keys := map[string]string{}
	for i, c := range []struct {
		id  string
		ago time.Duration
	}{{"old", 80 * time.Hour}, {"kept", 80 * time.Hour}, {"new", time.Hour}} {
		info, err := objstore.PutContent(ctx, objs, "body", "jpg", []byte("snapshot of "+c.id+string(rune('a'+i))), "image/jpeg", objstore.Meta{})
		require.NoError(t, err)
		keys[c.id] = info.Key
		exit := now.Add(-c.ago)
		require.NoError(t, db.SaveSighting(ctx, tracks.Sighting{ID: c.id, Camera: "cam1", Enter: exit.Add(-time.Second), Exit: exit, Final: true,
			Body: &tracks.Snapshot{Time: exit, Ref: info.Key}}))
	}
	db.Close()

	for _, c := range []struct {
		args []string
		msg  string
	}{
		{[]string{"retention", "run", "--db", dbPath}, "give the object store"},
		{[]string{"retention", "run", "--db", dbPath, "--objects", objPath, "--minio-endpoint", "127.0.0.1:9"}, "not both"},
		{[]string{"retention", "run", "--db", filepath.Join(dir, "nope.db"), "--objects", objPath}, "no such file"},
		{[]string{"retention", "run", "--db", dbPath, "--minio-endpoint", "127.0.0.1:9", "--minio-bucket", "b"}, "SNOWLIGHT_MINIO_SECRET_KEY"},
		{[]string{"retention", "hold", "--db", dbPath, "--case", "C-1", "--reason", "robbery at the depot", "person/x"}, "item kind"},
		{[]string{"retention", "hold", "--db", dbPath, "--case", "C-1", "--reason", "short", "sighting/kept"}, "too short"},
		{[]string{"retention", "hold", "--db", dbPath, "--case", "C-1", "--reason", "robbery at the depot", "sighting/nope"}, "not found"},
	} {
		_, errs, code := cli(t, c.args...)
		assert.Equal(t, 1, code, "%v: exit code", c.args)
		assert.Contains(t, errs, c.msg, "%v", c.args)
	}

	out, errs, code := cli(t, "retention", "hold", "--db", dbPath, "--case", "C-1", "--reason", "robbery at the depot", "sighting/kept")
	require.Equal(t, 0, code, "hold: exit code: %s", errs)
	require.Contains(t, out, "held sighting/kept for case C-1", "hold")
	out, _, code = cli(t, "retention", "holds", "--db", dbPath)
	require.Equal(t, 0, code, "holds: exit code")
	require.Contains(t, out, "C-1\tsighting/kept", "holds")
	require.Contains(t, out, "robbery at the depot\theld", "holds")

	out, errs, code = cli(t, "retention", "run", "--db", dbPath, "--objects", objPath, "--dry-run")
	require.Equal(t, 0, code, "dry run: exit code: %s", errs)
	require.Contains(t, out, "rows to delete: 1 sightings of unlisted people", "dry run")
	require.Contains(t, out, "objects to delete: 1 (", "dry run")
	require.Contains(t, out, "kept by case holds: 1 sightings", "dry run")
	out, errs, code = cli(t, "retention", "run", "--db", dbPath, "--objects", objPath, "--json")
	require.Equal(t, 0, code, "run: exit code: %s %s", out, errs)
	var rep retention.Report
	require.NoError(t, json.Unmarshal([]byte(out), &rep), "report JSON:\n%s", out)
	require.Equal(t, 1, rep.Deleted.UnlistedSightings, "report %+v", rep)
	require.Equal(t, 1, rep.ObjectTotal.Deleted, "report %+v", rep)
	require.Equal(t, 1, rep.Held.UnlistedSightings, "report %+v", rep)
	_, err = objs.Stat(ctx, keys["old"])
	assert.Error(t, err, "the old sighting's snapshot is still there")
	_, errs, code = cli(t, "retention", "release", "--db", dbPath, "--case", "C-1", "--reason", "case closed, evidence returned")
	require.Equal(t, 0, code, "release: exit code: %s", errs)
	out, _, _ = cli(t, "retention", "run", "--db", dbPath, "--objects", objPath)
	require.Contains(t, out, "rows deleted: 1 sightings of unlisted people", "run after release")
	out, _, _ = cli(t, "audit", "verify", "--db", dbPath)
	require.Contains(t, out, "audit chain intact: 4 entries", "audit") // hold, run, release, run
	_, err = objs.Stat(ctx, keys["new"])
	assert.NoError(t, err, "the new sighting's snapshot")
}
