package server

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"snowlight/auth"
	"snowlight/center"
	"snowlight/colour"
	"snowlight/config"
	"snowlight/search"
	"snowlight/store"
	"snowlight/tracks"
	"snowlight/web"
	"snowlight/web/webtest"
)

// TestSearchFollowsTheStore drives search through a real server over HTTP: an index built at start
// from the sightings already stored, a sighting the center stores while running found at once,
// retention's deletions gone from the index's files, an index that missed a sighting while the server
// was stopped rebuilt at the next start, and hits by example and by description ranked as the clothes
// and appearance say.
func TestSearchFollowsTheStore(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	now := time.Date(2025, 5, 10, 12, 0, 0, 0, time.UTC)
	clock := webtest.NewClock(now)
	// Cameras with only a recording are listed, not ingested: the index needs no video.
	var yaml strings.Builder
	fmt.Fprintf(&yaml, "listen: 127.0.0.1:0\ndata_dir: %s\ncameras:\n", dir)
	for _, c := range []string{"cam-a", "cam-b"} {
		fmt.Fprintf(&yaml, "  - {id: %s, position: {lat: 50.1, lon: 4.1}, recording: {file: /dev/null, start: '2025-05-10T00:00:00Z'}}\n", c)
	}
	cfg, err := config.Parse(strings.NewReader(yaml.String()), func(string) string { return "" })
	require.NoError(t, err)

	// Two people: "red" (red top, dark trousers, appearance near a) and "blue" (appearance near b).
	r := rand.New(rand.NewPCG(1, 2))
	a, b := unit(r), unit(r)
	red, blue := clothes(colour.Red, true), clothes(colour.Blue, false)
	sighting := func(id, cam string, at time.Time, centre []float32, c colour.Description) tracks.Sighting {
		return tracks.Sighting{ID: id, Camera: cam, Enter: at, Exit: at.Add(5 * time.Second), Final: true,
			AppearanceEmbedding: near(r, centre), Colours: c, Boxes: []tracks.TimedBox{{Time: at}}}
	}
	db, err := store.Open(ctx, filepath.Join(dir, "snowlight.db"))
	require.NoError(t, err)
	for i, s := range []tracks.Sighting{
		sighting("red-1", "cam-a", now.Add(-2*time.Hour), a, red),
		sighting("blue-1", "cam-a", now.Add(-2*time.Hour+time.Minute), b, blue),
		sighting("red-2", "cam-b", now.Add(-time.Hour), a, red),
		sighting("blue-2", "cam-b", now.Add(-time.Hour+time.Minute), b, blue),
		sighting("old-red", "cam-a", now.Add(-70*time.Hour), a, red), // near the 72 h of retention
	} {
		require.NoError(t, db.SaveSighting(ctx, s), i)
	}
	require.NoError(t, db.Close())

	srv := startSearchServer(t, cfg, clock.Now, "ines")
	search := func(body string) []string {
		t.Helper()
		var out struct{ Hits []web.SearchHit }
		holdCall(t, srv.url, "POST", "/api/v1/search/sightings?case=S-1&reason=witness+at+the+market", srv.token, body, http.StatusOK, &out)
		var ids []string
		for _, h := range out.Hits {
			ids = append(ids, h.Sighting.ID)
		}
		return ids
	}
	window := `"from":"2025-05-06T00:00:00Z","to":"2025-05-10T12:00:00Z"`
	ids := search(`{"example":"red-1",` + window + `}`)
	require.GreaterOrEqual(t, len(ids), 2)
	assert.ElementsMatch(t, []string{"red-2", "old-red"}, ids[:2], "the same person's other sightings first; the example left out")
	assert.NotContains(t, ids, "red-1")
	assert.Equal(t, []string{"red-2", "red-1"}, search(`{"colours":"red top, dark trousers","from":"2025-05-10T00:00:00Z"}`))
	assert.Equal(t, []string{"blue-2"}, search(`{"colours":"blue jacket","cameras":["cam-b"],"from":"2025-05-10T00:00:00Z"}`))
	holdCall(t, srv.url, "POST", "/api/v1/search/sightings?case=S-1&reason=witness+at+the+market", srv.token,
		`{"example":"red-1","cameras":["cam-b"]}`, http.StatusNotFound, nil) // an example outside the cameras searched

	// Stored by the center while running: indexed at once.
	fresh := sighting("red-3", "cam-b", now.Add(-time.Minute), a, red)
	errs := srv.s.intake(ctx, []center.Item{{Event: tracks.SightingEvent{Kind: tracks.SightingEnded, Camera: "cam-b", Frame: fresh.Exit, Sighting: fresh}}})
	require.NoError(t, errs[0])
	require.Eventually(t, func() bool { return slices.Contains(search(`{"example":"red-1"}`), "red-3") },
		5*time.Second, 20*time.Millisecond, "the new sighting is found")

	// Three hours on, retention deletes the old sighting from the database, and from the index's files.
	clock.Advance(3 * time.Hour)
	rep, err := srv.s.reten.Once(ctx)
	require.NoError(t, err)
	require.Equal(t, 1, rep.Deleted.UnlistedSightings)
	assert.NotContains(t, search(`{"example":"red-1",`+window+`}`), "old-red")
	assert.False(t, filesHold(t, filepath.Join(dir, searchDir), "old-red"), "the deleted sighting's id is still in the index's files")
	assert.True(t, filesHold(t, filepath.Join(dir, searchDir), "red-2"))

	// Stopped: a sighting stored meanwhile makes the next start rebuild the index.
	srv.stop()
	db, err = store.Open(ctx, filepath.Join(dir, "snowlight.db"))
	require.NoError(t, err)
	require.NoError(t, db.SaveSighting(ctx, sighting("blue-3", "cam-a", now.Add(-30*time.Minute), b, blue)))
	require.NoError(t, db.Close())
	srv = startSearchServer(t, cfg, clock.Now, "ines-again")
	assert.Equal(t, 6, srv.s.index.ix.Len())
	assert.ElementsMatch(t, []string{"blue-3", "blue-2"}, search(`{"example":"blue-1","colours":"blue top","from":"2025-05-10T00:00:00Z"}`),
		"by example among those in blue")
}

// searchServer is a running server with an investigator's token.
type searchServer struct {
	s          *Server
	url, token string
	stop       func()
}

// startSearchServer runs a server over cfg until stop or the test's end, with an investigator named
// user.
func startSearchServer(t *testing.T, cfg *config.Config, now func() time.Time, user string) *searchServer {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s, err := New(ctx, Options{Config: cfg, Log: slog.New(slog.DiscardHandler), Now: now})
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	ts := httptest.NewServer(s.web.Handler())
	var once sync.Once
	srv := &searchServer{s: s, url: ts.URL, stop: func() {
		once.Do(func() {
			ts.Close()
			cancel()
			assert.NoError(t, <-done)
			assert.NoError(t, s.Close())
		})
	}}
	t.Cleanup(srv.stop)
	pw, err := auth.RandomPassword()
	require.NoError(t, err)
	_, err = s.auth.AddUser(ctx, auth.NewUser{Name: user, Role: auth.Investigator, Password: pw})
	require.NoError(t, err)
	var out struct{ Token string }
	holdCall(t, ts.URL, "POST", "/api/v1/login", "", `{"user":"`+user+`","password":"`+pw+`"}`, http.StatusOK, &out)
	srv.token = out.Token
	return srv
}

// unit is a random direction in the appearance space (OSNet's outputs are non-negative).
func unit(r *rand.Rand) []float32 {
	v := make([]float32, search.Dim)
	for i := range v {
		v[i] = float32(r.Float64())
	}
	return v
}

// near is a vector close to centre, as two views of one person are.
func near(r *rand.Rand, centre []float32) []float32 {
	v := make([]float32, len(centre))
	for i, c := range centre {
		v[i] = c + float32(r.NormFloat64()*0.05)
	}
	return v
}

// clothes is a description: the upper body in n, the lower body dark or light grey.
func clothes(n colour.Name, darkBelow bool) colour.Description {
	var d colour.Description
	d.Upper.Shares[n] = 80
	d.Upper.Shares[colour.Black] = 20
	if darkBelow {
		d.Lower.Shares[colour.Black], d.Lower.Dark = 90, 90
	} else {
		d.Lower.Shares[colour.Grey] = 90
	}
	return d
}

// filesHold reports whether any file under dir contains s.
func filesHold(t *testing.T, dir, s string) bool {
	t.Helper()
	found := false
	require.NoError(t, filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		found = found || bytes.Contains(b, []byte(s))
		return err
	}))
	return found
}
