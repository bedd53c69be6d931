package objstore_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"snowlight/objstore"
	"snowlight/objstore/miniotest"
)

func sum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// fetch GETs a URL, resolving a path-only URL against base.
func fetch(t *testing.T, base, u string) (int, []byte, http.Header) {
	t.Helper()
	if strings.HasPrefix(u, "/") {
		u = base + u
	}
	resp, err := http.Get(u)
	require.NoError(t, err, "GET %s", u)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err, "GET %s", u)
	return resp.StatusCode, b, resp.Header
}

type backend struct {
	name string
	open func(t *testing.T) (objstore.Store, string) // the store and the base URL its links are relative to
}

func backends() []backend {
	return []backend{
		{"dir", func(t *testing.T) (objstore.Store, string) {
			signer, err := objstore.NewSigner(bytes.Repeat([]byte("k"), 32), "/objects", nil)
			require.NoError(t, err)
			d, err := objstore.OpenDir(t.TempDir(), objstore.DirOptions{Signer: signer})
			require.NoError(t, err)
			srv := httptest.NewServer(http.StripPrefix("/objects", d.Handler()))
			t.Cleanup(srv.Close)
			return d, srv.URL
		}},
		{"minio", func(t *testing.T) (objstore.Store, string) {
			srv := miniotest.Start(t)
			m, err := objstore.OpenMinIO(t.Context(), srv.Config("evidence"))
			require.NoError(t, err)
			return m, ""
		}},
	}
}

// TestStoreSemantics runs the same contract against the local directory and a real MinIO server.
func TestStoreSemantics(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			ctx := t.Context()
			s, base := b.open(t)
			clip := bytes.Repeat([]byte("clip-bytes-"), 5000)
			start := time.Date(2025, 3, 1, 10, 0, 0, 123e6, time.UTC)
			meta := objstore.Meta{AlertID: "A1", Camera: "cam-3", Start: start, End: start.Add(15 * time.Second)}
			info, err := objstore.PutContent(ctx, s, "clip", "mp4", clip, "video/mp4", meta)
			require.NoError(t, err)
			require.Equal(t, "clip/"+sum(clip)+".mp4", info.Key)

			// Create-only: a second Put of the key fails and leaves the object as it was, whatever its
			// content; PutContent of the same content is idempotent.
			other := []byte("other content")
			_, err = s.Put(ctx, info.Key, bytes.NewReader(other), int64(len(other)), objstore.PutOptions{SHA256: sum(other)})
			require.ErrorIs(t, err, objstore.ErrExists, "second put")
			again, err := objstore.PutContent(ctx, s, "clip", "mp4", clip, "video/mp4", meta)
			require.NoError(t, err, "idempotent put")
			require.Equal(t, info.Key, again.Key, "idempotent put")

			// Content that does not match its declared checksum or size is refused and not stored.
			bad := []struct {
				name string
				data []byte
				size int64
				sha  string
			}{
				{"wrong hash", []byte("tampered"), 8, sum([]byte("original"))},
				{"short", []byte("abc"), 4, sum([]byte("abcd"))},
				{"long", []byte("abcde"), 4, sum([]byte("abcd"))},
			}
			for _, c := range bad {
				_, err := s.Put(ctx, "snapshot/bad-"+strings.ReplaceAll(c.name, " ", "-")+".jpg", bytes.NewReader(c.data), c.size, objstore.PutOptions{SHA256: c.sha})
				assert.ErrorIs(t, err, objstore.ErrChecksum, c.name)
			}
			for _, key := range []string{"../etc/passwd", "a//b", "", "a/.hidden", "sp ace", `back\slash`, "pct%2e"} {
				_, err := s.Put(ctx, key, strings.NewReader("x"), 1, objstore.PutOptions{SHA256: sum([]byte("x"))})
				assert.ErrorIs(t, err, objstore.ErrInvalidKey, "key %q", key)
			}

			st, err := s.Stat(ctx, info.Key)
			require.NoError(t, err)
			assert.Equal(t, sum(clip), st.SHA256)
			assert.EqualValues(t, len(clip), st.Size)
			assert.Equal(t, "video/mp4", st.ContentType)
			assert.Equal(t, "A1", st.Meta.AlertID)
			assert.Equal(t, "cam-3", st.Meta.Camera)
			assert.WithinDuration(t, meta.Start, st.Meta.Start, 0)
			assert.WithinDuration(t, meta.End, st.Meta.End, 0)
			rc, _, err := s.Get(ctx, info.Key)
			require.NoError(t, err)
			got, err := io.ReadAll(rc)
			rc.Close()
			require.NoError(t, err)
			require.True(t, bytes.Equal(clip, got), "the content differs") // not Equal: it would print 55 kB

			snap := []byte("jpeg")
			_, err = objstore.PutContent(ctx, s, "snapshot", "jpg", snap, "image/jpeg", objstore.Meta{AlertID: "A1"})
			require.NoError(t, err)
			var keys []string
			for info, err := range s.List(ctx, "clip/") {
				require.NoError(t, err)
				keys = append(keys, info.Key)
				assert.NotEmpty(t, info.SHA256, "listed %+v without metadata", info)
				assert.Equal(t, "A1", info.Meta.AlertID, "listed %+v without metadata", info)
			}
			require.Equal(t, []string{info.Key}, keys, "list clip/")
			n := 0
			for _, err := range s.List(ctx, "") {
				require.NoError(t, err)
				n++
			}
			require.Equal(t, 2, n, "objects listed")

			link, err := s.PresignGet(ctx, info.Key, time.Minute)
			require.NoError(t, err)
			code, body, hdr := fetch(t, base, link)
			require.Equal(t, http.StatusOK, code, "presigned GET")
			require.True(t, bytes.Equal(clip, body), "presigned GET: %d bytes differ from the clip", len(body))
			assert.Equal(t, "no-store", hdr.Get("Cache-Control"), "evidence must not be cached")
			code, _, _ = fetch(t, base, strings.Replace(link, "clip/", "snapshot/", 1))
			require.Equal(t, http.StatusForbidden, code, "link altered to another key")
			_, err = s.PresignGet(ctx, info.Key, 48*time.Hour)
			require.Error(t, err, "presign accepted a 48 h expiry")

			require.NoError(t, s.Delete(ctx, info.Key))
			require.ErrorIs(t, s.Delete(ctx, info.Key), objstore.ErrNotFound, "second delete")
			_, err = s.Stat(ctx, info.Key)
			require.ErrorIs(t, err, objstore.ErrNotFound, "stat after delete")
			code, _, _ = fetch(t, base, link)
			require.Equal(t, http.StatusNotFound, code, "link to a deleted object")
		})
	}
}

// TestConcurrentPutsOneWinner races uploads of one key: exactly one may succeed.
func TestConcurrentPutsOneWinner(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			s, _ := b.open(t)
			data := bytes.Repeat([]byte{7}, 1<<16)
			const n = 8
			errs := make(chan error, n)
			for range n {
				go func() {
					_, err := s.Put(context.Background(), "clip/race.mp4", bytes.NewReader(data), int64(len(data)), objstore.PutOptions{SHA256: sum(data)})
					errs <- err
				}()
			}
			won := 0
			for range n {
				err := <-errs
				if err == nil {
					won++
				} else {
					assert.ErrorIs(t, err, objstore.ErrExists, "racing put")
				}
			}
			require.Equal(t, 1, won, "puts that succeeded")
		})
	}
}
