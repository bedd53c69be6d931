package objstore_test

import (
	"bytes"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"snowlight/objstore"
)

// TestDirLinks covers what the web server relies on when it serves local objects: links expire,
// cannot be bent to other paths, serve byte ranges (browsers seek in clips) and never serve HTML.
func TestDirLinks(t *testing.T) {
	now := time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	signer, err := objstore.NewSigner(bytes.Repeat([]byte("s"), 32), "/api/v1/objects", clock)
	require.NoError(t, err)
	_, err = objstore.NewSigner([]byte("short"), "/x", nil)
	require.Error(t, err, "short secret accepted")
	d, err := objstore.OpenDir(t.TempDir(), objstore.DirOptions{Signer: signer, Now: clock})
	require.NoError(t, err)
	srv := httptest.NewServer(http.StripPrefix("/api/v1/objects", d.Handler()))
	defer srv.Close()
	clip := []byte("0123456789abcdef")
	info, err := objstore.PutContent(t.Context(), d, "clip", "mp4", clip, "video/mp4", objstore.Meta{})
	require.NoError(t, err)
	page := []byte("<script>alert(1)</script>")
	htmlInfo, err := objstore.PutContent(t.Context(), d, "snapshot", "jpg", page, "text/html", objstore.Meta{})
	require.NoError(t, err)
	link, err := d.PresignGet(t.Context(), info.Key, 5*time.Minute)
	require.NoError(t, err)
	req, err := http.NewRequest("GET", srv.URL+link, nil)
	require.NoError(t, err)
	req.Header.Set("Range", "bytes=4-7")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	require.Equal(t, http.StatusPartialContent, resp.StatusCode, "range")
	require.Equal(t, "4567", string(body), "range")
	require.Equal(t, "video/mp4", resp.Header.Get("Content-Type"), "range")
	hl, err := d.PresignGet(t.Context(), htmlInfo.Key, time.Minute)
	require.NoError(t, err)
	_, _, h := fetch(t, srv.URL, hl)
	require.Equal(t, "application/octet-stream", h.Get("Content-Type"), "stored HTML")
	require.Equal(t, "nosniff", h.Get("X-Content-Type-Options"), "stored HTML")
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
		code, _, _ := fetch(t, srv.URL, tc.path)
		assert.Equal(t, tc.want, code, tc.name)
	}
	now = now.Add(6 * time.Minute)
	code, _, _ := fetch(t, srv.URL, link)
	require.Equal(t, http.StatusForbidden, code, "expired link")
}

// TestDirCrashLeftovers: half-written objects from a crash are not objects and are cleared on open.
func TestDirCrashLeftovers(t *testing.T) {
	root := t.TempDir()
	d, err := objstore.OpenDir(root, objstore.DirOptions{})
	require.NoError(t, err)
	_, err = objstore.PutContent(t.Context(), d, "clip", "mp4", []byte("whole"), "", objstore.Meta{})
	require.NoError(t, err)
	half := filepath.Join(root, ".tmp", "put-123")
	require.NoError(t, os.MkdirAll(half, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(half, "data"), []byte("half"), 0o644))
	d, err = objstore.OpenDir(root, objstore.DirOptions{})
	require.NoError(t, err)
	_, err = os.Stat(half)
	require.ErrorIs(t, err, fs.ErrNotExist, "leftover not cleared")
	n := 0
	for _, err := range d.List(t.Context(), "") {
		require.NoError(t, err)
		n++
	}
	require.Equal(t, 1, n, "objects after reopening")
}
