package objstore_test

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"snowlight/objstore"
)

// TestDirLinks covers what the web server relies on when it serves local objects: links expire,
// cannot be bent to other paths, serve byte ranges (browsers seek in clips) and never serve HTML.
func TestDirLinks(t *testing.T) {
	now := time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	signer, err := objstore.NewSigner(bytes.Repeat([]byte("s"), 32), "/api/v1/objects", clock)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := objstore.NewSigner([]byte("short"), "/x", nil); err == nil {
		t.Fatal("short secret accepted")
	}
	d, err := objstore.OpenDir(t.TempDir(), objstore.DirOptions{Signer: signer, Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.StripPrefix("/api/v1/objects", d.Handler()))
	defer srv.Close()
	clip := []byte("0123456789abcdef")
	info, err := objstore.PutContent(t.Context(), d, "clip", "mp4", clip, "video/mp4", objstore.Meta{})
	if err != nil {
		t.Fatal(err)
	}
	page := []byte("<script>alert(1)</script>")
	htmlInfo, err := objstore.PutContent(t.Context(), d, "snapshot", "jpg", page, "text/html", objstore.Meta{})
	if err != nil {
		t.Fatal(err)
	}
	link, err := d.PresignGet(t.Context(), info.Key, 5*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("GET", srv.URL+link, nil)
	req.Header.Set("Range", "bytes=4-7")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusPartialContent || string(body) != "4567" || resp.Header.Get("Content-Type") != "video/mp4" {
		t.Fatalf("range: %d %q %q", resp.StatusCode, body, resp.Header.Get("Content-Type"))
	}
	hl, _ := d.PresignGet(t.Context(), htmlInfo.Key, time.Minute)
	if _, _, h := fetch(t, srv.URL, hl); h.Get("Content-Type") != "application/octet-stream" || h.Get("X-Content-Type-Options") != "nosniff" {
		t.Fatalf("stored HTML served as %q", h.Get("Content-Type"))
	}
	tests := []struct {
		name string
		path string
		want int
	}{
		{"valid", link, http.StatusOK},
		{"traversal", "/api/v1/objects/clip/../../../etc/passwd?" + link[len("/api/v1/objects/"+info.Key+"?"):], http.StatusForbidden},
		{"encoded traversal", "/api/v1/objects/clip/%2e%2e/%2e%2e/etc/passwd", http.StatusForbidden},
		{"no signature", "/api/v1/objects/" + info.Key, http.StatusForbidden},
	}
	for _, tc := range tests {
		if code, _, _ := fetch(t, srv.URL, tc.path); code != tc.want {
			t.Errorf("%s: %d, want %d", tc.name, code, tc.want)
		}
	}
	now = now.Add(6 * time.Minute)
	if code, _, _ := fetch(t, srv.URL, link); code != http.StatusForbidden {
		t.Fatalf("expired link: %d, want 403", code)
	}
}

// TestDirCrashLeftovers: half-written objects from a crash are not objects and are cleared on open.
func TestDirCrashLeftovers(t *testing.T) {
	root := t.TempDir()
	d, err := objstore.OpenDir(root, objstore.DirOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := objstore.PutContent(t.Context(), d, "clip", "mp4", []byte("whole"), "", objstore.Meta{}); err != nil {
		t.Fatal(err)
	}
	half := filepath.Join(root, ".tmp", "put-123")
	os.MkdirAll(half, 0o755)
	os.WriteFile(filepath.Join(half, "data"), []byte("half"), 0o644)
	d, err = objstore.OpenDir(root, objstore.DirOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(half); !os.IsNotExist(err) {
		t.Fatal("leftover not cleared")
	}
	n := 0
	for _, err := range d.List(t.Context(), "") {
		if err != nil {
			t.Fatal(err)
		}
		n++
	}
	if n != 1 {
		t.Fatalf("%d objects after reopening, want 1", n)
	}
}
