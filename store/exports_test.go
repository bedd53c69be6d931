package store

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"snowlight/alerts"
)

// TestExports: an export is recorded running, finished once, listed by case newest first, and one a
// stopped process left running is marked failed with the reason.
func TestExports(t *testing.T) {
	db := openTestDB(t)
	ctx := context.Background()
	e := CaseExport{ID: "x1", Case: "C-1", Reason: "court request", Subject: "person/ann", CreatedBy: "ivy", Created: st0}
	require.NoError(t, db.AddExport(ctx, e))
	require.NoError(t, db.AddExport(ctx, CaseExport{ID: "x2", Case: "C-1", Reason: "again", Subject: "sighting/s", CreatedBy: "ivy",
		Created: st0.Add(time.Minute)}))
	require.NoError(t, db.AddExport(ctx, CaseExport{ID: "y", Case: "C-2", Reason: "other", Subject: "person/bo", CreatedBy: "ivy", Created: st0}))
	assert.Error(t, db.AddExport(ctx, e), "an id twice")
	assert.Error(t, db.AddExport(ctx, CaseExport{ID: "z"}), "fields missing")

	done := CaseExport{ID: "x1", Status: ExportDone, Finished: st0.Add(time.Second), ObjectKey: "export/ab.zip", Size: 1234, Files: 7,
		ManifestSHA256: "ff", Fingerprint: "3f2a 9c01"}
	require.NoError(t, db.FinishExport(ctx, done))
	assert.ErrorIs(t, db.FinishExport(ctx, done), ErrNotFound, "finished twice")
	got, err := db.Export(ctx, "x1")
	require.NoError(t, err)
	assert.Equal(t, ExportDone, got.Status)
	assert.Equal(t, "export/ab.zip", got.ObjectKey)
	assert.Equal(t, int64(1234), got.Size)
	assert.Equal(t, 7, got.Files)
	assert.Equal(t, "person/ann", got.Subject)
	assert.True(t, got.Finished.Equal(done.Finished))

	n, err := db.FailRunningExports(ctx, st0.Add(time.Hour), "interrupted by a restart")
	require.NoError(t, err)
	assert.Equal(t, 2, n)
	list, err := db.Exports(ctx, "C-1", 10)
	require.NoError(t, err)
	require.Len(t, list, 2)
	assert.Equal(t, "x2", list[0].ID, "newest first")
	assert.Equal(t, ExportFailed, list[0].Status)
	assert.Equal(t, "interrupted by a restart", list[0].Error)
	_, err = db.Export(ctx, "nope")
	assert.ErrorIs(t, err, ErrNotFound)
}

// TestAlertsNaming: the alerts an export carries are those naming any of its sightings, once each.
func TestAlertsNaming(t *testing.T) {
	db := openTestDB(t)
	ctx := context.Background()
	for i, a := range []alerts.Alert{
		{ID: "a2", Evidence: alerts.Evidence{Sightings: []string{"s1", "s2"}}},
		{ID: "a1", Evidence: alerts.Evidence{Sightings: []string{"s3"}}},
		{ID: "a3", Evidence: alerts.Evidence{Sightings: []string{"other"}}},
	} {
		a.Kind, a.Subject, a.Status, a.Place.Camera = alerts.WatchlistHit, a.ID, alerts.Open, "A"
		a.FirstSeen = st0.Add(time.Duration(-i) * time.Minute)
		a.LastSeen, a.Created, a.Updated = a.FirstSeen, a.FirstSeen, a.FirstSeen
		_, err := db.ApplyAlertChange(ctx, alerts.Change{Alert: a, New: true})
		require.NoError(t, err)
	}
	got, err := db.AlertsNaming(ctx, []string{"s1", "s2", "s3", "none"})
	require.NoError(t, err)
	var ids []string
	for _, a := range got {
		ids = append(ids, a.ID)
	}
	assert.Equal(t, []string{"a1", "a2"}, ids, "by first seen, each once")
	got, err = db.AlertsNaming(ctx, nil)
	require.NoError(t, err)
	assert.Empty(t, got)
}
