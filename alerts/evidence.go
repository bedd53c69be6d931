package alerts

import (
	"context"
	"fmt"
	"time"

	"snowlight/objstore"
)

// EvidenceKind is what a stored evidence object is; it is also the object key's prefix, which the
// bucket's retention rules select on.
type EvidenceKind string

// Evidence kinds.
const (
	SnapshotEvidence EvidenceKind = "snapshot" // JPEG with the boxes drawn
	ClipEvidence     EvidenceKind = "clip"     // MP4, pre-roll + post-roll
)

func (k EvidenceKind) file() (ext, contentType string, err error) {
	switch k {
	case SnapshotEvidence:
		return "jpg", "image/jpeg", nil
	case ClipEvidence:
		return "mp4", "video/mp4", nil
	}
	return "", "", fmt.Errorf("%w: unknown evidence kind %q", ErrInvalid, k)
}

// StoreEvidence writes a snapshot or clip of alert id to the object store under its content
// key, with metadata linking it to the alert, camera and times, and attaches it to the alert. With a
// spooling store and MinIO down the object is kept locally (Info.Pending) and attached all the same:
// the alert never waits for MinIO, and its link works once the upload lands.
func (e *Engine) StoreEvidence(ctx context.Context, store objstore.Store, id string, kind EvidenceKind, data []byte, start, end time.Time) (objstore.Info, Alert, error) {
	ext, ct, err := kind.file()
	if err != nil {
		return objstore.Info{}, Alert{}, err
	}
	a, err := e.store.Alert(ctx, id)
	if err != nil {
		return objstore.Info{}, Alert{}, fmt.Errorf("alert %s: %w", id, err)
	}
	info, err := objstore.PutContent(ctx, store, string(kind), ext, data, ct,
		objstore.Meta{AlertID: id, Camera: a.Place.Camera, Start: start, End: end})
	if err != nil {
		return objstore.Info{}, Alert{}, fmt.Errorf("store %s of alert %s: %w", kind, id, err)
	}
	var ev Evidence
	switch kind {
	case SnapshotEvidence:
		ev.Snapshot = info.Key
	case ClipEvidence:
		ev.Clip, ev.ClipStart, ev.ClipEnd = info.Key, start, end
	}
	a, err = e.AttachEvidence(ctx, id, ev)
	return info, a, err
}

// CameraBack resolves the open camera_offline alerts of a camera when it streams again; the system is
// the actor. It returns how many it resolved.
func (e *Engine) CameraBack(ctx context.Context, camera string, at time.Time) (int, error) {
	open, err := e.store.Alerts(ctx, Query{Kinds: []Kind{CameraOffline}, Camera: camera, Statuses: []Status{Open, Confirmed, Dispatched, OnScene}})
	if err != nil {
		return 0, fmt.Errorf("camera %s back: %w", camera, err)
	}
	n := 0
	for _, a := range open {
		if _, err := e.Resolve(ctx, a.ID, System, "camera streaming again at "+at.UTC().Format(time.RFC3339)); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}
