package web

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"

	"snowlight/objstore"
)

// Evidence (snapshots, face crops, clips) is never served by key to a logged-in user: API answers carry
// short-lived links made here, presigned by MinIO or signed for the local store and served by the
// public objects route, whose signature is the credential. Keys never leave the server, and the
// objects route accepts only keys that objstore.ValidateKey passes (no "..", no escapes), so a link
// cannot be bent to another file.

func (a *api) mediaRoutes() []Route {
	return []Route{
		{Pattern: "GET " + ObjectsPath + "/{key...}", Name: "objects.get", Policy: Policy{Public: true}, Handler: http.HandlerFunc(a.object)},
	}
}

// link replaces m's key with a short-lived URL. An object still in the upload spool is marked pending.
func (a *api) link(ctx context.Context, m *Media) {
	m.Camera = ""
	if m.Key == "" {
		return
	}
	u, err := a.o.Media.PresignGet(ctx, m.Key, a.o.LinkExpiry)
	switch {
	case errors.Is(err, objstore.ErrPending):
		m.Pending = true
	case err != nil:
		// The answer stays useful without this one picture; the log says why it is missing.
		a.log.Warn("make evidence link", "err", err)
	default:
		m.URL = u
	}
}

// linkClip resolves a clip and keeps its state honest: a clip whose object is still spooled is
// preparing, not ready.
func (a *api) linkClip(ctx context.Context, c *Clip) {
	if c.State == "" {
		c.State = ClipNone
		if c.Key != "" {
			c.State = ClipReady
		}
	}
	a.link(ctx, &c.Media)
	if c.State == ClipReady && c.URL == "" {
		c.State = ClipPreparing
		if !c.Pending {
			c.State = ClipFailed
		}
	}
}

func (a *api) linkSightings(ctx context.Context, ss []SightingView) {
	for i := range ss {
		a.link(ctx, &ss[i].Snapshot)
		a.link(ctx, &ss[i].Face)
		a.linkClip(ctx, &ss[i].Clip)
	}
}

// object serves GET /api/v1/objects/{key...}?expires=&sig=, a signed link to a locally stored object.
// It says 403 for a bad or expired link without telling whether the object exists.
func (a *api) object(w http.ResponseWriter, r *http.Request) {
	if a.o.Signer == nil {
		WriteError(w, http.StatusNotFound, "object links are not served here: evidence links point at the object store")
		return
	}
	key := r.PathValue("key")
	if err := objstore.ValidateKey(key); err != nil {
		WriteError(w, http.StatusBadRequest, "not a valid evidence link: open the evidence from the console again")
		return
	}
	if err := a.o.Signer.Verify(key, r.URL.Query()); err != nil {
		WriteError(w, http.StatusForbidden, "this evidence link is invalid or has expired: open the evidence from the console again")
		return
	}
	rc, info, err := a.o.Media.Get(r.Context(), key)
	if errors.Is(err, objstore.ErrNotFound) {
		WriteError(w, http.StatusNotFound, "this evidence no longer exists (it may have passed its retention period)")
		return
	}
	if err != nil {
		Fail(w, r, err)
		return
	}
	defer rc.Close()
	ct := info.ContentType
	// Stored evidence must never be interpreted as a page or script of this origin.
	if ct == "" || !(strings.HasPrefix(ct, "image/") || strings.HasPrefix(ct, "video/")) {
		ct = "application/octet-stream"
	}
	h := w.Header()
	h.Set("Content-Type", ct)
	// Evidence identifies people: no cache, shared or the browser's, keeps a copy past the link.
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Disposition", "inline")
	if info.SHA256 != "" {
		h.Set("ETag", `"`+info.SHA256+`"`)
	}
	if rs, ok := rc.(io.ReadSeeker); ok {
		// Range requests let the browser seek in clips.
		http.ServeContent(w, r, "", info.Created, rs)
		return
	}
	if info.Size > 0 {
		h.Set("Content-Length", strconv.FormatInt(info.Size, 10))
	}
	if r.Method == http.MethodHead {
		return
	}
	io.Copy(w, rc)
}
