package server

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"snowlight/alerts"
	"snowlight/audit"
	"snowlight/config"
	"snowlight/tracks"
	"snowlight/watchlist"
)

// Confirming a watch-list alert, through the server's real alert engine and store, adds the good faces
// of its sightings to the person's template where the category learns from confirmations, audited
// with who confirmed; elsewhere, and for a blurred face, nothing is learned. The faces go with the
// entry when it expires.
func TestConfirmedFacesJoinTheTemplate(t *testing.T) {
	text := fmt.Sprintf(`listen: 127.0.0.1:0
data_dir: %q
alerts: {two_person_confirm: true}
watchlist:
  categories:
    missing: {learn_from_confirmations: true}
`, t.TempDir())
	cfg, err := config.Parse(strings.NewReader(text), func(string) string { return "" })
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	s, err := New(ctx, Options{Config: cfg, Log: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })

	now := time.Now().UTC()
	enrol := func(id string, cat watchlist.Category) {
		p := watchlist.Person{ID: id, Name: id, Category: cat, Embeddings: [][]float32{{1, 0, 0}}, Enrolled: now,
			Expires: now.Add(24 * time.Hour)}
		require.NoError(t, s.db.Watchlist().Add(ctx, p, nil))
	}
	enrol("p-lost", watchlist.Missing)
	enrol("p-wanted", watchlist.Suspect)
	sighting := func(id string, quality float64, face []float32) string {
		require.NoError(t, s.db.SaveSighting(ctx, tracks.Sighting{ID: id, Camera: "cam-1", Enter: now, Exit: now.Add(time.Second),
			Face: &tracks.Snapshot{Time: now, Quality: quality, Ref: "face/" + id}, FaceEmbedding: face, Final: true}))
		return id
	}
	sharp, blurred := []float32{0.8, 0.6, 0}, []float32{0, 0.6, 0.8}
	confirm := func(person watchlist.Person, sightings ...string) alerts.Alert {
		a, _, err := s.engine.Raise(ctx, alerts.Trigger{Kind: alerts.WatchlistHit, At: now, Place: alerts.Place{Camera: "cam-1"},
			Person:   &alerts.Person{ID: person.ID, Name: person.Name, Category: person.Category},
			Evidence: alerts.Evidence{Sightings: sightings}})
		require.NoError(t, err)
		_, err = s.engine.Confirm(ctx, a.ID, "op-ann")
		require.NoError(t, err)
		got, err := s.db.Watchlist().Get(ctx, person.ID)
		require.NoError(t, err)
		assert.Empty(t, got.Confirmed, "one confirmation of two teaches nothing")
		a, err = s.engine.Confirm(ctx, a.ID, "op-bob")
		require.NoError(t, err)
		require.Equal(t, alerts.Confirmed, a.Status)
		return a
	}
	lost, err := s.db.Watchlist().Get(ctx, "p-lost")
	require.NoError(t, err)
	a := confirm(lost, sighting("s-sharp", 0.8, sharp), sighting("s-blurred", 0.1, blurred))
	lost, err = s.db.Watchlist().Get(ctx, "p-lost")
	require.NoError(t, err)
	assert.Equal(t, [][]float32{sharp}, lost.Confirmed, "the sharp face only")
	entries, err := s.audit.List(ctx, audit.Filter{Action: "watchlist.confirmed_faces"})
	require.NoError(t, err)
	require.Len(t, entries, 1)
	assert.Equal(t, "person/p-lost", entries[0].Target)
	assert.Equal(t, "op-bob", entries[0].Actor)
	assert.Equal(t, map[string]string{"alert": a.ID, "camera": "cam-1", "faces": "1", "confirmed_by": "op-ann,op-bob"},
		entries[0].Details)

	wanted, err := s.db.Watchlist().Get(ctx, "p-wanted")
	require.NoError(t, err)
	confirm(wanted, sighting("s-wanted", 0.9, sharp))
	wanted, err = s.db.Watchlist().Get(ctx, "p-wanted")
	require.NoError(t, err)
	assert.Empty(t, wanted.Confirmed, "suspects do not learn from confirmations here")

	_, err = s.db.PurgeEntry(ctx, "p-lost", lost.Expires.Add(time.Hour), lost.Expires.Add(time.Hour))
	require.NoError(t, err)
	lost, err = s.db.Watchlist().Get(ctx, "p-lost")
	require.NoError(t, err)
	assert.Empty(t, lost.Confirmed, "purged with the entry's biometric data when it expired")
}
