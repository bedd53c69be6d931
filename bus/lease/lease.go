// Package lease assigns cameras to edges. The center publishes the camera list; each edge keeps a
// session alive and claims cameras within its capacity; when an edge dies its session expires and the
// live edges take its cameras; when an edge joins, edges above their share hand cameras on, with
// hysteresis so nothing flaps. Every event an edge sends carries the camera's lease epoch, and the
// center refuses events of an epoch that was no longer the camera's when they were made (fencing),
// so a camera is never ingested by two edges at once as far as the center is concerned.
//
// Three KV buckets hold the state (docs/ARCHITECTURE.md argues the design):
//
//   - cameras (bus.BucketCameras): the center's list, one key per camera (Camera).
//   - edges (bus.BucketEdges): one key per live edge (Session), with a bucket TTL (15 s): each edge
//     renews its key every TTL/3; an edge that stops renewing is deleted by the server (a marker every watcher
//     sees), on the server's clock, whatever the edges' clocks say.
//   - leases (bus.BucketLeases): one key per camera (Record: edge and session), written only when the
//     camera changes hands, by compare-and-set on the revision last seen. A lease is valid while its
//     session lives, so an edge renews one key, not one per camera. The revision of the write that
//     gave the camera to an edge is the lease's epoch; the bucket keeps the last 64 per camera, with the
//     server's time of each, which is what the center's fence checks against.
package lease

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"snowlight/bus"
	"snowlight/camevent"
)

// Camera is one camera of the center's list.
type Camera struct {
	ID string `json:"id"`
	// Edges, when not empty, are the only edges that may hold the camera (those on its network). A
	// camera only one edge may hold is pinned to it: that edge keeps it through an outage of its
	// link, since no other can take over.
	Edges []string `json:"edges,omitempty"`
}

// Eligible reports whether edge may hold the camera.
func (c Camera) Eligible(edge string) bool {
	return len(c.Edges) == 0 || slices.Contains(c.Edges, edge)
}

// PinnedTo reports whether edge is the only edge that may hold the camera.
func (c Camera) PinnedTo(edge string) bool { return len(c.Edges) == 1 && c.Edges[0] == edge }

// Session is an edge's presence: its key in the edges bucket, renewed while the edge lives.
type Session struct {
	Edge string `json:"edge"`
	// ID is random per session: a restarted edge has a new one, so leases of its previous life are
	// recognisably dead.
	ID       string `json:"id"`
	Capacity int    `json:"capacity"`
	// Load reported at each renewal: cameras held, and the outbox's undelivered events and the age
	// of the oldest (what the center shows as the edge's lag before its events reach the stream).
	Cameras       int       `json:"cameras"`
	OutboxRecords int       `json:"outbox_records"`
	OutboxOldest  time.Time `json:"outbox_oldest,omitzero"`
	// Health is each held camera's stream as the edge saw it at the renewal (the console's grid).
	Health map[string]camevent.Health `json:"health,omitempty"`
}

// Record is a lease's value: which edge holds the camera, under which of its sessions.
type Record struct {
	Edge    string `json:"edge"`
	Session string `json:"session"`
}

// Options configure the buckets (Provision).
type Options struct {
	// Replicas is 1 for a single server, 3 for a cluster.
	Replicas int
	// SessionTTL is how long an edge's session outlives its last renewal (default 15 s): the time a
	// dead edge's cameras wait before moving. Edges renew every TTL/3 and stop ingesting (cameras
	// other edges may take) when they could not renew for TTL minus a margin. It must outlast a
	// JetStream leader election (writes to a bucket stop for 4.3-7.9 s when its leader is killed,
	// BenchmarkWriteGapAfterLeaderKill; nats-server's election timeout is 4-9 s) plus a renewal
	// period, or losing one NATS server would move every camera.
	SessionTTL time.Duration
}

// history is how many lease changes per camera the bucket keeps (the KV maximum): the fence refuses
// events of epochs older than that.
const history = 64

// Provision creates or updates the three buckets.
func Provision(ctx context.Context, js jetstream.JetStream, o Options) error {
	if o.Replicas <= 0 {
		o.Replicas = 1
	}
	if o.SessionTTL <= 0 {
		o.SessionTTL = 15 * time.Second
	}
	for _, cfg := range []jetstream.KeyValueConfig{
		{Bucket: bus.BucketCameras, Description: "cameras the center assigns", History: 1, Replicas: o.Replicas},
		{Bucket: bus.BucketEdges, Description: "live edges, expiring unless renewed", History: 1, Replicas: o.Replicas,
			TTL: o.SessionTTL, LimitMarkerTTL: max(o.SessionTTL, time.Second)},
		{Bucket: bus.BucketLeases, Description: "camera leases; each write's revision is an epoch", History: history, Replicas: o.Replicas},
	} {
		if _, err := js.CreateOrUpdateKeyValue(ctx, cfg); err != nil {
			return fmt.Errorf("provision bucket %s: %w", cfg.Bucket, err)
		}
	}
	return nil
}

// PublishCameras makes the cameras bucket hold exactly these cameras (the center calls it at start
// and whenever its configuration changes). Holders of a removed camera release it.
func PublishCameras(ctx context.Context, js jetstream.JetStream, cams []Camera) error {
	kv, err := js.KeyValue(ctx, bus.BucketCameras)
	if err != nil {
		return fmt.Errorf("camera list: %w", err)
	}
	want := map[string]Camera{}
	for _, c := range cams {
		if err := bus.CheckID("camera", c.ID); err != nil {
			return err
		}
		for _, e := range c.Edges {
			if err := bus.CheckID("edge", e); err != nil {
				return fmt.Errorf("camera %s: %w", c.ID, err)
			}
		}
		if _, dup := want[c.ID]; dup {
			return fmt.Errorf("camera list: %s twice", c.ID)
		}
		want[c.ID] = c
	}
	// The bucket's present values in one pass (a watch delivers them all), then the changes with
	// several writes in flight: 10,000 cameras took a Get and a Put round trip each, one at a time.
	have, err := values(ctx, kv)
	if err != nil {
		return fmt.Errorf("camera list: %w", err)
	}
	var (
		wg    sync.WaitGroup
		slots = make(chan struct{}, 32)
		mu    sync.Mutex
		first error
	)
	do := func(write func() error) {
		slots <- struct{}{}
		wg.Go(func() {
			defer func() { <-slots }()
			if err := write(); err != nil {
				mu.Lock()
				first = cmp.Or(first, err)
				mu.Unlock()
			}
		})
	}
	for k := range have {
		if _, ok := want[k]; !ok {
			do(func() error {
				if err := kv.Delete(ctx, k); err != nil {
					return fmt.Errorf("camera list: remove %s: %w", k, err)
				}
				return nil
			})
		}
	}
	for id, c := range want {
		b, err := json.Marshal(c)
		if err != nil {
			return fmt.Errorf("camera list: %w", err)
		}
		if v, ok := have[id]; ok && bytes.Equal(v, b) {
			continue
		}
		do(func() error {
			if _, err := kv.Put(ctx, id, b); err != nil {
				return fmt.Errorf("camera list: put %s: %w", id, err)
			}
			return nil
		})
	}
	wg.Wait()
	return first
}

// values reads every key's present value in the bucket.
func values(ctx context.Context, kv jetstream.KeyValue) (map[string][]byte, error) {
	w, err := kv.WatchAll(ctx, jetstream.IgnoreDeletes())
	if err != nil {
		return nil, err
	}
	defer w.Stop()
	out := map[string][]byte{}
	for {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case e, ok := <-w.Updates():
			if !ok {
				return nil, errors.New("watch closed")
			}
			if e == nil { // the present values are all delivered
				return out, nil
			}
			out[e.Key()] = e.Value()
		}
	}
}
