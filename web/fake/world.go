package fake

import (
	"context"
	"crypto/rand"
	"fmt"
	"time"

	"snowlight/objstore"
	"snowlight/web"
)

// World is a complete set of fake services over a real local object store with signed links.
type World struct {
	Now          func() time.Time
	Alerts       *Alerts
	Patrols      *Patrols
	Cameras      *Cameras
	Watchlist    *Watchlist
	Trajectories *Trajectories
	Holds        *Holds
	Search       Search
	Exports      *Exports
	Media        *objstore.Dir
	Signer       *objstore.Signer
}

// NewWorld returns empty services whose evidence lives in dir.
func NewWorld(dir string, now func() time.Time) (*World, error) {
	if now == nil {
		now = time.Now
	}
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		return nil, err
	}
	signer, err := objstore.NewSigner(secret, web.ObjectsPath, now)
	if err != nil {
		return nil, err
	}
	media, err := objstore.OpenDir(dir, objstore.DirOptions{Signer: signer, Now: now})
	if err != nil {
		return nil, err
	}
	p := NewPatrols(now)
	a, t := NewAlerts(now, p), NewTrajectories()
	a.Trajectories = t
	ex, err := NewExports(now, t, media)
	if err != nil {
		return nil, err
	}
	return &World{Now: now, Alerts: a, Patrols: p, Cameras: NewCameras(now), Watchlist: NewWatchlist(now),
		Trajectories: t, Holds: NewHolds(now, a, t), Search: Search{T: t}, Exports: ex, Media: media, Signer: signer}, nil
}

// Options fills the service fields of web.APIOptions; the caller adds Audit and Live.
func (w *World) Options() web.APIOptions {
	return web.APIOptions{Alerts: w.Alerts, Patrols: w.Patrols, Cameras: w.Cameras, Watchlist: w.Watchlist,
		Trajectories: w.Trajectories, Holds: w.Holds, Search: w.Search, Exports: w.Exports, Media: w.Media, Signer: w.Signer, Now: w.Now}
}

// Put stores evidence and returns a Media naming it.
func (w *World) Put(ctx context.Context, kind, ext, contentType string, data []byte) (web.Media, error) {
	info, err := objstore.PutContent(ctx, w.Media, kind, ext, data, contentType, objstore.Meta{})
	if err != nil {
		return web.Media{}, fmt.Errorf("store %s evidence: %w", kind, err)
	}
	return web.Media{Key: info.Key}, nil
}
