package models

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"snowlight/internal/shareddata"
)

func sharedModels(t *testing.T) string { return shareddata.Dir(t, EnvDir, "models") }

func TestManifestComplete(t *testing.T) {
	seen := map[string]bool{}
	for _, m := range Manifest() {
		assert.NotEmpty(t, m.Name, "incomplete manifest entry %+v", m)
		assert.NotEmpty(t, m.File, "incomplete manifest entry %+v", m)
		assert.Len(t, m.SHA256, 64, "incomplete manifest entry %+v", m)
		assert.Positive(t, m.Size, "incomplete manifest entry %+v", m)
		assert.NotEmpty(t, m.URL, "incomplete manifest entry %+v", m)
		assert.NotEmpty(t, m.Licence, "incomplete manifest entry %+v", m)
		assert.NotEmpty(t, m.DataTerms, "incomplete manifest entry %+v", m)
		assert.NotEmpty(t, m.Source, "incomplete manifest entry %+v", m)
		assert.NotEmpty(t, m.Input.Name, "incomplete manifest entry %+v", m)
		assert.False(t, seen[m.File], "file %s listed twice", m.File)
		seen[m.File] = true
	}
	for _, n := range []Name{FaceDetector, PersonDetector, FaceEmbedder, PersonReID} {
		_, ok := Lookup(n)
		assert.True(t, ok, "model %s missing from the manifest", n)
	}
	// The data terms that bind commercial use must be spelled out, not only the code licence.
	fe, _ := Lookup(FaceEmbedder)
	reid, _ := Lookup(PersonReID)
	assert.Contains(t, fe.DataTerms, "MS-Celeb-1M")
	assert.Contains(t, reid.DataTerms, "MSMT17")
}

func TestLoadRealModels(t *testing.T) {
	dir := sharedModels(t)
	for _, m := range Manifest() {
		data, got, err := Load(dir, m.Name)
		require.NoError(t, err, "load %s", m.Name)
		assert.EqualValues(t, m.Size, len(data), "load %s: bytes", m.Name)
		assert.Equal(t, m.Name, got.Name)
	}
}

func TestLoadRefusesBadFiles(t *testing.T) {
	src := sharedModels(t)
	m, _ := Lookup(FaceDetector)
	good, err := os.ReadFile(filepath.Join(src, m.File))
	require.NoError(t, err)
	flipped := append([]byte(nil), good...)
	flipped[len(flipped)/2] ^= 0xff

	tests := []struct {
		name    string
		content []byte // nil: no file at all
		is      error
		want    []string
	}{
		{"missing", nil, ErrNotFound, []string{m.File, m.SHA256, "345478 bytes", "make models", EnvDir}},
		{"truncated", good[:1000], ErrMismatch, []string{m.File, "truncated", "found 1000 bytes", "expected 345478", m.SHA256}},
		{"too long", append(append([]byte(nil), good...), 0), ErrMismatch, []string{"too long", "345479"}},
		{"wrong bytes", flipped, ErrMismatch, []string{m.File, "expected " + m.SHA256, "has sha256"}},
		{"empty", []byte{}, ErrMismatch, []string{"found 0 bytes"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if tc.content != nil {
				require.NoError(t, os.WriteFile(filepath.Join(dir, m.File), tc.content, 0o644))
			}
			data, _, err := Load(dir, FaceDetector)
			require.Error(t, err, "Load accepted a bad file")
			assert.True(t, data == nil, "Load returned %d bytes with its error", len(data)) // not Nil: it would print them
			assert.ErrorIs(t, err, tc.is)
			for _, w := range tc.want {
				assert.ErrorContains(t, err, w)
			}
		})
	}
}

func TestResolveDir(t *testing.T) {
	t.Setenv(EnvDir, "/from/env")
	assert.Equal(t, "/from/flag", ResolveDir("/from/flag"), "the flag wins")
	assert.Equal(t, "/from/env", ResolveDir(""), "the environment applies")
	t.Setenv(EnvDir, "")
	assert.Empty(t, ResolveDir(""), "no flag and no env must mean no models")
}

// TestFetch downloads the real weights from a local HTTP server standing in for GitHub.
func TestFetch(t *testing.T) {
	src := sharedModels(t)
	var hits atomic.Int32
	var corrupt atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		data, err := os.ReadFile(filepath.Join(src, filepath.Base(r.URL.Path)))
		if err != nil {
			http.NotFound(w, r)
			return
		}
		if corrupt.Load() {
			data = data[:len(data)-10]
		}
		w.Write(data)
	}))
	t.Cleanup(srv.Close)
	list := Manifest()
	for i := range list {
		list[i].URL = srv.URL + "/" + list[i].File
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	ctx := context.Background()
	dir := t.TempDir()

	require.NoError(t, Fetch(ctx, srv.Client(), dir, list, log))
	for _, m := range list {
		_, _, err := Load(dir, m.Name)
		assert.NoError(t, err, "after fetch")
	}
	before := hits.Load()
	require.NoError(t, Fetch(ctx, srv.Client(), dir, list, log))
	assert.Equal(t, before, hits.Load(), "the second fetch downloads nothing")

	// A source that serves the wrong bytes: refused, and nothing is written.
	corrupt.Store(true)
	dir2 := t.TempDir()
	err := Fetch(ctx, srv.Client(), dir2, list[:1], log)
	assert.ErrorIs(t, err, ErrMismatch, "corrupt download")
	assert.ErrorContains(t, err, list[0].URL, "corrupt download")
	entries, err := os.ReadDir(dir2)
	require.NoError(t, err)
	assert.Empty(t, entries, "corrupt download left files")

	// A 404 names the URL and the status.
	bad := list[:1]
	bad[0].URL = srv.URL + "/nothing-here.onnx"
	assert.ErrorContains(t, Fetch(ctx, srv.Client(), t.TempDir(), bad, log), "404")
}

func TestFetchOffline(t *testing.T) {
	// A port that was just free and is now closed: connection refused, as on a machine without a route.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	ln.Close()
	list := Manifest()[:1]
	list[0].URL = "http://" + addr + "/yunet.onnx"
	err = Fetch(context.Background(), http.DefaultClient, t.TempDir(), list,
		slog.New(slog.NewTextHandler(io.Discard, nil)))
	require.ErrorIs(t, err, ErrOffline)
	for _, w := range []string{"offline", "--models", EnvDir} {
		assert.ErrorContains(t, err, w)
	}
}
