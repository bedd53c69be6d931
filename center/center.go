// Package center is the central half of the pipeline: it takes the edges' sighting events, keeps their
// snapshots in the object store and the sightings in the database, and stitches final sightings into
// trajectories across cameras. It handles no picture: in a distributed deployment it runs where the
// database is, fed from the message bus, and links neither OpenCV nor libav.
package center

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"snowlight/objstore"
	"snowlight/tracks"
	"snowlight/tracks/stitch"
)

// Store is what the center needs of the database (the store package implements it).
type Store interface {
	// SaveSighting stores a sighting whose snapshots are object-store keys; saving an id again
	// replaces the interim version.
	SaveSighting(ctx context.Context, s tracks.Sighting) error
	// ApplyDecisions records the stitcher's decisions in order.
	ApplyDecisions(ctx context.Context, ds []tracks.Decision) error
}

// Config assembles a center.
type Config struct {
	Store Store
	// Objects keeps the snapshots (face and body JPEGs), named by their content.
	Objects  objstore.Store
	Stitcher *stitch.Stitcher
	// OnEvent receives what the center did, in order: every sighting as stored, then, for final
	// sightings, every decision the stitcher made. It runs on the center's goroutine and must not
	// block.
	OnEvent func(Event)
	Metrics *Metrics
	Log     *slog.Logger
}

// Center stores sightings and stitches them into trajectories. Not safe for concurrent use: one
// goroutine hands it the events of every camera, in the order they happened.
type Center struct {
	cfg   Config
	log   *slog.Logger
	stats Stats
}

// Stats counts what the center stored and decided.
type Stats struct {
	Interim   int // interim sightings stored
	Sightings int // final sightings stored
	Decisions int
	Snapshots int // JPEGs stored (an identical one already there counts too)
}

// New checks the configuration.
func New(cfg Config) (*Center, error) {
	if cfg.Store == nil || cfg.Objects == nil || cfg.Stitcher == nil {
		return nil, errors.New("center: store, object store and stitcher are required")
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	return &Center{cfg: cfg, log: cfg.Log}, nil
}

// Handle stores one sighting event: its snapshots go to the object store, the sighting (with their
// keys) to the database; a final sighting then goes through the stitcher, whose decisions are
// applied to the database in order. An interim sighting is stored so that alerts can point at it, but
// not stitched: its trajectory is decided once the person has left.
func (c *Center) Handle(ctx context.Context, ev tracks.SightingEvent) error {
	if err := ev.Validate(); err != nil {
		c.cfg.Metrics.failed("validate")
		return err
	}
	s := ev.Sighting
	if err := c.storeSnapshots(ctx, &s); err != nil {
		c.cfg.Metrics.failed("objects")
		return err
	}
	if err := c.cfg.Store.SaveSighting(ctx, s); err != nil {
		c.cfg.Metrics.failed("store")
		return fmt.Errorf("center: %w", err)
	}
	c.emit(Event{Kind: ev.Kind, Camera: ev.Camera, Frame: ev.Frame, Sighting: &s})
	if !s.Final {
		c.stats.Interim++
		return nil
	}
	c.stats.Sightings++
	ds, err := c.cfg.Stitcher.Add(s)
	if err != nil {
		c.cfg.Metrics.failed("stitch")
		return fmt.Errorf("center: stitch sighting %s: %w", s.ID, err)
	}
	if err := c.cfg.Store.ApplyDecisions(ctx, ds); err != nil {
		c.cfg.Metrics.failed("store")
		return fmt.Errorf("center: %w", err)
	}
	for i := range ds {
		d := ds[i]
		c.stats.Decisions++
		c.cfg.Metrics.decision(d.Link != nil)
		c.emit(Event{Kind: tracks.TrajectoryDecided, Camera: ev.Camera, Frame: ev.Frame, Decision: &d})
	}
	return nil
}

// storeSnapshots puts the sighting's JPEGs in the object store under their content keys and replaces
// the bytes with the keys. The snapshots are copied first: the event's own stay untouched.
func (c *Center) storeSnapshots(ctx context.Context, s *tracks.Sighting) error {
	for _, v := range []struct {
		kind string
		snap **tracks.Snapshot
	}{{"face", &s.Face}, {"body", &s.Body}} {
		if *v.snap == nil || len((*v.snap).JPEG) == 0 {
			continue
		}
		snap := **v.snap
		info, err := objstore.PutContent(ctx, c.cfg.Objects, v.kind, "jpg", snap.JPEG, "image/jpeg",
			objstore.Meta{Camera: s.Camera, Start: snap.Time, End: snap.Time})
		if err != nil {
			return fmt.Errorf("center: store %s snapshot of sighting %s: %w", v.kind, s.ID, err)
		}
		snap.Ref, snap.JPEG = info.Key, nil
		*v.snap = &snap
		c.stats.Snapshots++
	}
	return nil
}

func (c *Center) emit(e Event) {
	if c.cfg.OnEvent != nil {
		c.cfg.OnEvent(e)
	}
}

// Stats returns the counts so far.
func (c *Center) Stats() Stats { return c.stats }

// Event is what the center reports, for the alert engine and the console: a sighting as stored
// (snapshots as object-store keys), or a trajectory decision.
type Event struct {
	Kind   tracks.EventKind `json:"kind"`
	Camera string           `json:"camera,omitempty"`
	// Frame is the wall time of the frame that led to the event (see SightingEvent.Frame).
	Frame    time.Time        `json:"frame"`
	Sighting *tracks.Sighting `json:"sighting,omitempty"`
	Decision *tracks.Decision `json:"decision,omitempty"`
}
