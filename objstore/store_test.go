package objstore_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

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
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
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
			if err != nil {
				t.Fatal(err)
			}
			d, err := objstore.OpenDir(t.TempDir(), objstore.DirOptions{Signer: signer})
			if err != nil {
				t.Fatal(err)
			}
			srv := httptest.NewServer(http.StripPrefix("/objects", d.Handler()))
			t.Cleanup(srv.Close)
			return d, srv.URL
		}},
		{"minio", func(t *testing.T) (objstore.Store, string) {
			srv := miniotest.Start(t)
			m, err := objstore.OpenMinIO(t.Context(), srv.Config("evidence"))
			if err != nil {
				t.Fatal(err)
			}
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
			if err != nil {
				t.Fatal(err)
			}
			if want := "clip/" + sum(clip) + ".mp4"; info.Key != want {
				t.Fatalf("key %s, want %s", info.Key, want)
			}

			// Create-only: a second Put of the key fails and leaves the object as it was, whatever its
			// content; PutContent of the same content is idempotent.
			other := []byte("other content")
			_, err = s.Put(ctx, info.Key, bytes.NewReader(other), int64(len(other)), objstore.PutOptions{SHA256: sum(other)})
			if !errors.Is(err, objstore.ErrExists) {
				t.Fatalf("second put: %v, want ErrExists", err)
			}
			again, err := objstore.PutContent(ctx, s, "clip", "mp4", clip, "video/mp4", meta)
			if err != nil || again.Key != info.Key {
				t.Fatalf("idempotent put: %v %v", again, err)
			}

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
				if !errors.Is(err, objstore.ErrChecksum) {
					t.Errorf("%s: %v, want ErrChecksum", c.name, err)
				}
			}
			for _, key := range []string{"../etc/passwd", "a//b", "", "a/.hidden", "sp ace", `back\slash`, "pct%2e"} {
				if _, err := s.Put(ctx, key, strings.NewReader("x"), 1, objstore.PutOptions{SHA256: sum([]byte("x"))}); !errors.Is(err, objstore.ErrInvalidKey) {
					t.Errorf("key %q: %v, want ErrInvalidKey", key, err)
				}
			}

			st, err := s.Stat(ctx, info.Key)
			if err != nil {
				t.Fatal(err)
			}
			if st.SHA256 != sum(clip) || st.Size != int64(len(clip)) || st.ContentType != "video/mp4" ||
				st.Meta.AlertID != "A1" || st.Meta.Camera != "cam-3" || !st.Meta.Start.Equal(meta.Start) || !st.Meta.End.Equal(meta.End) {
				t.Fatalf("stat %+v", st)
			}
			rc, _, err := s.Get(ctx, info.Key)
			if err != nil {
				t.Fatal(err)
			}
			got, _ := io.ReadAll(rc)
			rc.Close()
			if !bytes.Equal(got, clip) {
				t.Fatal("content differs")
			}

			snap := []byte("jpeg")
			if _, err := objstore.PutContent(ctx, s, "snapshot", "jpg", snap, "image/jpeg", objstore.Meta{AlertID: "A1"}); err != nil {
				t.Fatal(err)
			}
			var keys []string
			for info, err := range s.List(ctx, "clip/") {
				if err != nil {
					t.Fatal(err)
				}
				keys = append(keys, info.Key)
				if info.SHA256 == "" || info.Meta.AlertID != "A1" {
					t.Errorf("listed %+v without metadata", info)
				}
			}
			if len(keys) != 1 || keys[0] != info.Key {
				t.Fatalf("list clip/: %v", keys)
			}
			n := 0
			for _, err := range s.List(ctx, "") {
				if err != nil {
					t.Fatal(err)
				}
				n++
			}
			if n != 2 {
				t.Fatalf("list all: %d objects, want 2", n)
			}

			link, err := s.PresignGet(ctx, info.Key, time.Minute)
			if err != nil {
				t.Fatal(err)
			}
			code, body, hdr := fetch(t, base, link)
			if code != http.StatusOK || !bytes.Equal(body, clip) {
				t.Fatalf("presigned GET: %d, %d bytes", code, len(body))
			}
			assert.Equal(t, "no-store", hdr.Get("Cache-Control"), "evidence must not be cached")
			if code, _, _ := fetch(t, base, strings.Replace(link, "clip/", "snapshot/", 1)); code != http.StatusForbidden {
				t.Fatalf("link altered to another key: %d, want 403", code)
			}
			if _, err := s.PresignGet(ctx, info.Key, 48*time.Hour); err == nil {
				t.Fatal("presign accepted a 48 h expiry")
			}

			if err := s.Delete(ctx, info.Key); err != nil {
				t.Fatal(err)
			}
			if err := s.Delete(ctx, info.Key); !errors.Is(err, objstore.ErrNotFound) {
				t.Fatalf("second delete: %v", err)
			}
			if _, err := s.Stat(ctx, info.Key); !errors.Is(err, objstore.ErrNotFound) {
				t.Fatalf("stat after delete: %v", err)
			}
			if code, _, _ := fetch(t, base, link); code != http.StatusNotFound {
				t.Fatalf("link to a deleted object: %d, want 404", code)
			}
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
				switch {
				case err == nil:
					won++
				case !errors.Is(err, objstore.ErrExists):
					t.Errorf("racing put: %v", err)
				}
			}
			if won != 1 {
				t.Fatalf("%d puts succeeded, want exactly 1", won)
			}
		})
	}
}
