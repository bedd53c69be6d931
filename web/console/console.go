// Package console holds the operator console: plain ES modules, one style sheet and the page that loads
// them, embedded in the binary. There is no build step and nothing is fetched from elsewhere, so the
// console works offline and under a CSP that allows only this origin's scripts.
package console

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"
	"time"
)

//go:embed index.html assets
var files embed.FS

// asset is one file, ready to serve: its bytes, a gzip copy when that is smaller, and an ETag.
type asset struct {
	body, gz []byte
	ctype    string
	etag     string
}

// Handler serves the console: "/" is the page, "/assets/..." its modules, style sheet and icons.
type Handler struct {
	assets map[string]*asset // by URL path
}

// New loads and compresses the embedded files once.
func New() (*Handler, error) {
	h := &Handler{assets: map[string]*asset{}}
	err := fs.WalkDir(files, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := files.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		a := &asset{body: b, etag: `"` + hex.EncodeToString(sum[:12]) + `"`, ctype: mime.TypeByExtension(path.Ext(p))}
		switch path.Ext(p) {
		case ".js":
			a.ctype = "text/javascript; charset=utf-8"
		case ".svg":
			a.ctype = "image/svg+xml"
		}
		if a.ctype == "" {
			a.ctype = "application/octet-stream"
		}
		var z bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&z, gzip.BestCompression)
		zw.Write(b)
		zw.Close()
		if z.Len() < len(b)*9/10 {
			a.gz = z.Bytes()
		}
		url := "/" + p
		if p == "index.html" {
			url = "/"
		}
		h.assets[url] = a
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("console: load embedded files: %w", err)
	}
	return h, nil
}

// Size returns the number of files and their total size as sent uncompressed and gzipped.
func (h *Handler) Size() (n int, raw, gz int64) {
	for _, a := range h.assets {
		n++
		raw += int64(len(a.body))
		if a.gz != nil {
			gz += int64(len(a.gz))
		} else {
			gz += int64(len(a.body))
		}
	}
	return n, raw, gz
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	a, ok := h.assets[r.URL.Path]
	if !ok {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.WriteHeader(http.StatusNotFound)
		w.Write([]byte(`{"error":"no such console file"}` + "\n"))
		return
	}
	hd := w.Header()
	hd.Set("Content-Type", a.ctype)
	hd.Set("ETag", a.etag)
	// Revalidate every time (answered by 304 when unchanged), so a new binary's console is picked up
	// at once and an old module never mixes with a new one.
	hd.Set("Cache-Control", "no-cache")
	hd.Add("Vary", "Accept-Encoding")
	body := a.body
	if a.gz != nil && acceptsGzip(r) {
		hd.Set("Content-Encoding", "gzip")
		body = a.gz
	}
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(body))
}

func acceptsGzip(r *http.Request) bool {
	for part := range strings.SplitSeq(r.Header.Get("Accept-Encoding"), ",") {
		enc, q, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.TrimSpace(enc) == "gzip" && strings.ReplaceAll(q, " ", "") != "q=0" {
			return true
		}
	}
	return false
}
