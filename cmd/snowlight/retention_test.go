package main

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"snowlight/objstore"
	"snowlight/retention"
	"snowlight/store"
	"snowlight/tracks"
)

func TestRetentionCommand(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	dbPath, objPath := filepath.Join(dir, "s.db"), filepath.Join(dir, "objects")
	db, err := store.Open(ctx, dbPath)
	if err != nil {
		t.Fatal(err)
	}
	objs, err := objstore.OpenDir(objPath, objstore.DirOptions{})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	keys := map[string]string{}
	for i, c := range []struct {
		id  string
		ago time.Duration
	}{{"old", 80 * time.Hour}, {"kept", 80 * time.Hour}, {"new", time.Hour}} {
		info, err := objstore.PutContent(ctx, objs, "body", "jpg", []byte("snapshot of "+c.id+string(rune('a'+i))), "image/jpeg", objstore.Meta{})
		if err != nil {
			t.Fatal(err)
		}
		keys[c.id] = info.Key
		exit := now.Add(-c.ago)
		if err := db.SaveSighting(ctx, tracks.Sighting{ID: c.id, Camera: "cam1", Enter: exit.Add(-time.Second), Exit: exit, Final: true,
			Body: &tracks.Snapshot{Time: exit, Ref: info.Key}}); err != nil {
			t.Fatal(err)
		}
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
		if _, errs, code := cli(t, c.args...); code != 1 || !strings.Contains(errs, c.msg) {
			t.Errorf("%v: exit %d, %q; want %q", c.args, code, errs, c.msg)
		}
	}

	out, errs, code := cli(t, "retention", "hold", "--db", dbPath, "--case", "C-1", "--reason", "robbery at the depot", "sighting/kept")
	if code != 0 || !strings.Contains(out, "held sighting/kept for case C-1") {
		t.Fatalf("hold: %d %s %s", code, out, errs)
	}
	out, _, code = cli(t, "retention", "holds", "--db", dbPath)
	if code != 0 || !strings.Contains(out, "C-1\tsighting/kept") || !strings.Contains(out, "robbery at the depot\theld") {
		t.Fatalf("holds: %s", out)
	}

	out, errs, code = cli(t, "retention", "run", "--db", dbPath, "--objects", objPath, "--dry-run")
	if code != 0 || !strings.Contains(out, "rows to delete: 1 sightings of unlisted people") ||
		!strings.Contains(out, "objects to delete: 1 (") || !strings.Contains(out, "kept by case holds: 1 sightings") {
		t.Fatalf("dry run: %d\n%s\n%s", code, out, errs)
	}
	out, errs, code = cli(t, "retention", "run", "--db", dbPath, "--objects", objPath, "--json")
	if code != 0 {
		t.Fatalf("run: %d %s %s", code, out, errs)
	}
	var rep retention.Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("report JSON: %v\n%s", err, out)
	}
	if rep.Deleted.UnlistedSightings != 1 || rep.ObjectTotal.Deleted != 1 || rep.Held.UnlistedSightings != 1 {
		t.Fatalf("report %+v", rep)
	}
	if _, err := objs.Stat(ctx, keys["old"]); err == nil {
		t.Error("the old sighting's snapshot is still there")
	}
	if _, errs, code := cli(t, "retention", "release", "--db", dbPath, "--case", "C-1", "--reason", "case closed, evidence returned"); code != 0 {
		t.Fatalf("release: %s", errs)
	}
	out, _, _ = cli(t, "retention", "run", "--db", dbPath, "--objects", objPath)
	if !strings.Contains(out, "rows deleted: 1 sightings of unlisted people") {
		t.Fatalf("run after release:\n%s", out)
	}
	out, _, _ = cli(t, "audit", "verify", "--db", dbPath)
	if !strings.Contains(out, "audit chain intact: 4 entries") { // hold, run, release, run
		t.Fatalf("audit: %s", out)
	}
	if _, err := objs.Stat(ctx, keys["new"]); err != nil {
		t.Errorf("the new sighting's snapshot: %v", err)
	}
}
