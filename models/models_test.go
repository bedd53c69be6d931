package models

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"snowlight/internal/shareddata"
)

func sharedModels(t *testing.T) string { return shareddata.Dir(t, EnvDir, "models") }

func TestManifestComplete(t *testing.T) {
	seen := map[string]bool{}
	for _, m := range Manifest() {
		if m.Name == "" || m.File == "" || len(m.SHA256) != 64 || m.Size <= 0 || m.URL == "" ||
			m.Licence == "" || m.DataTerms == "" || m.Source == "" || m.Input.Name == "" {
			t.Errorf("incomplete manifest entry %+v", m)
		}
		if seen[m.File] {
			t.Errorf("file %s listed twice", m.File)
		}
		seen[m.File] = true
	}
	for _, n := range []Name{FaceDetector, PersonDetector, FaceEmbedder, PersonReID} {
		if _, ok := Lookup(n); !ok {
			t.Errorf("model %s missing from the manifest", n)
		}
	}
	// The data terms that bind commercial use must be spelled out, not only the code licence.
	fe, _ := Lookup(FaceEmbedder)
	reid, _ := Lookup(PersonReID)
	if !strings.Contains(fe.DataTerms, "MS-Celeb-1M") || !strings.Contains(reid.DataTerms, "MSMT17") {
		t.Errorf("data terms do not name the training sets: %q / %q", fe.DataTerms, reid.DataTerms)
	}
}

func TestLoadRealModels(t *testing.T) {
	dir := sharedModels(t)
	for _, m := range Manifest() {
		data, got, err := Load(dir, m.Name)
		if err != nil {
			t.Fatalf("load %s: %v", m.Name, err)
		}
		if int64(len(data)) != m.Size || got.Name != m.Name {
			t.Errorf("load %s: %d bytes, entry %s", m.Name, len(data), got.Name)
		}
	}
}

func TestLoadRefusesBadFiles(t *testing.T) {
	src := sharedModels(t)
	m, _ := Lookup(FaceDetector)
	good, err := os.ReadFile(filepath.Join(src, m.File))
	if err != nil {
		t.Fatal(err)
	}
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
				if err := os.WriteFile(filepath.Join(dir, m.File), tc.content, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			data, _, err := Load(dir, FaceDetector)
			if err == nil || data != nil {
				t.Fatalf("Load accepted a bad file (err %v)", err)
			}
			if !errors.Is(err, tc.is) {
				t.Errorf("error %v is not %v", err, tc.is)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

func TestResolveDir(t *testing.T) {
	t.Setenv(EnvDir, "/from/env")
	if got := ResolveDir("/from/flag"); got != "/from/flag" {
		t.Errorf("flag should win, got %q", got)
	}
	if got := ResolveDir(""); got != "/from/env" {
		t.Errorf("env should apply, got %q", got)
	}
	t.Setenv(EnvDir, "")
	if got := ResolveDir(""); got != "" {
		t.Errorf("no flag and no env must mean no models, got %q", got)
	}
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

	if err := Fetch(ctx, srv.Client(), dir, list, log); err != nil {
		t.Fatal(err)
	}
	for _, m := range list {
		if _, _, err := Load(dir, m.Name); err != nil {
			t.Errorf("after fetch: %v", err)
		}
	}
	before := hits.Load()
	if err := Fetch(ctx, srv.Client(), dir, list, log); err != nil {
		t.Fatal(err)
	}
	if hits.Load() != before {
		t.Errorf("second fetch downloaded again (%d requests)", hits.Load()-before)
	}

	// A source that serves the wrong bytes: refused, and nothing is written.
	corrupt.Store(true)
	dir2 := t.TempDir()
	err := Fetch(ctx, srv.Client(), dir2, list[:1], log)
	if !errors.Is(err, ErrMismatch) || !strings.Contains(err.Error(), list[0].URL) {
		t.Errorf("corrupt download: got %v", err)
	}
	if entries, _ := os.ReadDir(dir2); len(entries) != 0 {
		t.Errorf("corrupt download left files: %v", entries)
	}

	// A 404 names the URL and the status.
	bad := list[:1]
	bad[0].URL = srv.URL + "/nothing-here.onnx"
	if err := Fetch(ctx, srv.Client(), t.TempDir(), bad, log); err == nil || !strings.Contains(err.Error(), "404") {
		t.Errorf("404: got %v", err)
	}
}

func TestFetchOffline(t *testing.T) {
	// A port that was just free and is now closed: connection refused, as on a machine without a route.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	list := Manifest()[:1]
	list[0].URL = "http://" + addr + "/yunet.onnx"
	err = Fetch(context.Background(), http.DefaultClient, t.TempDir(), list,
		slog.New(slog.NewTextHandler(io.Discard, nil)))
	if !errors.Is(err, ErrOffline) {
		t.Fatalf("got %v, want ErrOffline", err)
	}
	for _, w := range []string{"offline", "--models", EnvDir} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("offline error %q does not mention %q", err, w)
		}
	}
}
