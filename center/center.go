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
	"sync"
	"time"

	"snowlight/bus/ledger"
	"snowlight/camevent"
	"snowlight/objstore"
	"snowlight/store"
	"snowlight/tracks"
	"snowlight/tracks/stitch"
)

// Store is what the center needs of the database (the store package implements it): one write
// transaction for a batch of events.
type Store interface {
	Batch(ctx context.Context, fn func(*store.Tx) error) error
}

// Config assembles a center.
type Config struct {
	Store Store
	// Objects keeps the snapshots (face and body JPEGs) of events that carry their bytes (replay, and
	// edges of old); a distributed edge uploads them itself and sends their keys.
	Objects  objstore.Store
	Stitcher *stitch.Stitcher
	// OnEvent receives what the center did, in order, once committed: every sighting as stored,
	// then, for final sightings, every decision the stitcher made. It must not block.
	OnEvent func(Event)
	Metrics *Metrics
	Log     *slog.Logger
}

// Center stores sightings and stitches them into trajectories. It is safe for concurrent use, but
// applies one batch at a time: the stitcher sees every camera's events in the order they are applied.
type Center struct {
	cfg Config
	log *slog.Logger

	mu    sync.Mutex
	stats Stats
}

// Stats counts what the center stored and decided.
type Stats struct {
	Interim   int // interim sightings stored
	Sightings int // final sightings stored
	Decisions int
	Snapshots int // JPEGs stored (an identical one already there counts too)
	Again     int // events found applied already (delivered again)
	Dropped   int // events superseded by a newer version of their sighting
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

// Item is one event to apply: a sighting event, or a camera event when Camera is set (the center
// stores nothing of it; the rules act on it). When Key is set the apply is idempotent: the event is
// claimed under Key at Version (bus/ledger) in the transaction that stores it, so a redelivered or
// superseded event changes nothing.
type Item struct {
	Event   tracks.SightingEvent
	Camera  *camevent.Event
	Key     string
	Version ledger.Version
}

// Intake takes what the cameras report, in batches: the center's Apply and what the process does
// once it is committed (the alert rules). It returns an error per item, nil when the item is applied
// (or was before); an item that failed may be handed over again.
type Intake func(ctx context.Context, items []Item) []error

// Result is what became of one item.
type Result struct {
	// Outcome is ledger.Fresh when the event was applied now (always, for an item without a key),
	// Again when it had been applied before, Superseded when a newer version of its sighting had.
	Outcome ledger.Outcome
	// Sighting is the sighting as stored (snapshots as object-store keys): what the alert rules take,
	// for Fresh and Again items.
	Sighting *tracks.Sighting
	Err      error
}

// Handle applies one event without a key: Apply of one item.
func (c *Center) Handle(ctx context.Context, ev tracks.SightingEvent) error {
	return c.Apply(ctx, []Item{{Event: ev}})[0].Err
}

// Apply stores a batch of sighting events in one database transaction: their snapshots go to the
// object store first when they carry bytes, each sighting (with the snapshots' keys) to the
// database, and each final sighting through the stitcher, whose decisions are recorded in the same
// transaction. An interim sighting is stored so that alerts can point at it, but not stitched: its
// trajectory is decided once the person has left. When the transaction fails, each item is applied
// again on its own, so one bad event holds back no other; its Result carries the error.
func (c *Center) Apply(ctx context.Context, items []Item) []Result {
	c.mu.Lock()
	defer c.mu.Unlock()
	res := make([]Result, len(items))
	work := make([]int, 0, len(items))
	stored := make([]tracks.Sighting, len(items))
	for i, it := range items {
		if it.Camera != nil {
			if err := it.Camera.Validate(); err != nil {
				res[i].Err = err
				continue
			}
			work = append(work, i)
			continue
		}
		if err := it.Event.Validate(); err != nil {
			c.cfg.Metrics.failed("validate")
			res[i].Err = err
			continue
		}
		stored[i] = it.Event.Sighting
		if err := c.storeSnapshots(ctx, &stored[i]); err != nil {
			c.cfg.Metrics.failed("objects")
			res[i].Err = err
			continue
		}
		work = append(work, i)
	}
	if len(work) == 0 {
		return res
	}
	if err := c.commit(ctx, items, stored, work, res); err != nil {
		if len(work) == 1 {
			res[work[0]] = Result{Err: err}
		} else {
			// One item spoiled the batch: each on its own, so the others go through.
			for _, i := range work {
				if err := c.commit(ctx, items, stored, []int{i}, res); err != nil {
					res[i] = Result{Err: err}
				}
			}
		}
	}
	for _, r := range res {
		switch {
		case r.Err != nil:
		case r.Outcome == ledger.Again:
			c.stats.Again++
		case r.Outcome == ledger.Superseded:
			c.stats.Dropped++
		}
	}
	return res
}

// commit applies items[work] in one transaction and, once it is committed, counts and reports
// what it did.
func (c *Center) commit(ctx context.Context, items []Item, stored []tracks.Sighting, work []int, res []Result) error {
	var events []Event
	if err := c.cfg.Store.Batch(ctx, func(tx *store.Tx) error {
		events = events[:0]
		return c.applyAll(ctx, tx, items, stored, work, res, &events)
	}); err != nil {
		return err
	}
	c.committed(events)
	return nil
}

// applyAll applies items[work] inside tx, filling their results and the events to emit on commit.
func (c *Center) applyAll(ctx context.Context, tx *store.Tx, items []Item, stored []tracks.Sighting, work []int, res []Result, events *[]Event) error {
	for _, i := range work {
		it, s := items[i], &stored[i]
		res[i] = Result{Outcome: ledger.Fresh}
		if it.Key != "" {
			o, err := tx.Claim(ctx, it.Key, it.Version)
			if err != nil {
				c.cfg.Metrics.failed("store")
				return fmt.Errorf("center: %w", err)
			}
			res[i].Outcome = o
			if o == ledger.Again && it.Camera == nil {
				res[i].Sighting = s
			}
			if o != ledger.Fresh {
				continue
			}
		}
		if it.Camera != nil {
			continue
		}
		if err := tx.SaveSighting(ctx, *s); err != nil {
			c.cfg.Metrics.failed("store")
			return fmt.Errorf("center: %w", err)
		}
		res[i].Sighting = s
		ev := it.Event
		*events = append(*events, Event{Kind: ev.Kind, Camera: ev.Camera, Frame: ev.Frame, Sighting: s})
		if !s.Final {
			continue
		}
		ds, err := c.cfg.Stitcher.Add(*s)
		if err != nil {
			c.cfg.Metrics.failed("stitch")
			return fmt.Errorf("center: stitch sighting %s: %w", s.ID, err)
		}
		if err := tx.ApplyDecisions(ctx, ds); err != nil {
			c.cfg.Metrics.failed("store")
			return fmt.Errorf("center: %w", err)
		}
		for j := range ds {
			d := ds[j]
			*events = append(*events, Event{Kind: tracks.TrajectoryDecided, Camera: ev.Camera, Frame: ev.Frame, Decision: &d})
		}
	}
	return nil
}

// committed counts and reports what a committed transaction did.
func (c *Center) committed(events []Event) {
	for _, e := range events {
		switch {
		case e.Decision != nil:
			c.stats.Decisions++
			c.cfg.Metrics.decision(e.Decision.Link != nil)
		case e.Sighting.Final:
			c.stats.Sightings++
		default:
			c.stats.Interim++
		}
		c.emit(e)
	}
}

// storeSnapshots stores the sighting's snapshots (StoreSnapshots) and counts them.
func (c *Center) storeSnapshots(ctx context.Context, s *tracks.Sighting) error {
	n, err := StoreSnapshots(ctx, c.cfg.Objects, s)
	c.stats.Snapshots += n
	if err != nil {
		return fmt.Errorf("center: %w", err)
	}
	return nil
}

// StoreSnapshots puts the sighting's JPEGs in the object store under their content keys and replaces
// the bytes with the keys, returning how many it stored. The snapshots are copied first: the caller's
// own stay untouched. With MinIO down a spool keeps them and the keys hold all the same. The center
// calls it for what a camera in its process saw, an edge before it publishes.
func StoreSnapshots(ctx context.Context, objects objstore.Store, s *tracks.Sighting) (int, error) {
	n := 0
	for _, v := range []struct {
		kind string
		snap **tracks.Snapshot
	}{{"face", &s.Face}, {"body", &s.Body}} {
		if *v.snap == nil || len((*v.snap).JPEG) == 0 {
			continue
		}
		snap := **v.snap
		info, err := objstore.PutContent(ctx, objects, v.kind, "jpg", snap.JPEG, "image/jpeg",
			objstore.Meta{Camera: s.Camera, Start: snap.Time, End: snap.Time})
		if err != nil {
			return n, fmt.Errorf("store %s snapshot of sighting %s: %w", v.kind, s.ID, err)
		}
		snap.Ref, snap.JPEG = info.Key, nil
		*v.snap = &snap
		n++
	}
	return n, nil
}

func (c *Center) emit(e Event) {
	if c.cfg.OnEvent != nil {
		c.cfg.OnEvent(e)
	}
}

// Stats returns the counts so far.
func (c *Center) Stats() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stats
}

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
