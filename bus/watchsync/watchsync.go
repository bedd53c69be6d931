// Package watchsync distributes the watch list from the center to the edges. The center is the
// source (Source): each active entry is a key of a KV bucket at the center, holding only what
// matching needs (id, category, threshold, embeddings and their model, negatives, expiry: no name,
// photos, legal basis or guardian contact). Each edge keeps a Replica in memory, fed by a KV watch;
// nothing of the watch list is written to the edge's disk (a stolen edge box holds no faces).
//
// Removal is a legal requirement, not a cache detail: an entry removed or expired must stop matching
// on every edge within 5 s. A removal reaches a connected edge in milliseconds; an edge that cannot
// hear the center cannot hear removals either, so the Replica fails closed: the center writes a
// heartbeat key every second into the same bucket, and an edge that has not seen one for StaleAfter
// (3 s) matches nobody until it hears one again. A watch delivers the bucket's changes in order, so a
// heartbeat written after a removal is never seen before it.
package watchsync

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"snowlight/bus"
	"snowlight/watchlist"
)

const (
	heartbeatKey = "heartbeat"
	personPrefix = "person."
)

// Entry is what an edge receives of a watch-list person.
type Entry struct {
	ID             string             `json:"id"`
	Category       watchlist.Category `json:"category"`
	Threshold      float32            `json:"threshold,omitempty"`
	Embeddings     [][]float32        `json:"embeddings"`
	EmbeddingModel string             `json:"embedding_model"`
	Negatives      [][]float32        `json:"negatives,omitempty"`
	Expires        time.Time          `json:"expires,omitzero"`
}

// EntryOf keeps of p what an edge needs to match faces to it.
func EntryOf(p watchlist.Person) Entry {
	return Entry{ID: p.ID, Category: p.Category, Threshold: p.Threshold, Embeddings: p.Embeddings,
		EmbeddingModel: p.EmbeddingModel, Negatives: p.Negatives, Expires: p.Expires}
}

// Person is the entry as a watchlist.Person for the edge's matcher (no name: the center names).
func (e Entry) Person() watchlist.Person {
	return watchlist.Person{ID: e.ID, Category: e.Category, Threshold: e.Threshold, Embeddings: e.Embeddings,
		EmbeddingModel: e.EmbeddingModel, Negatives: e.Negatives, Expires: e.Expires}
}

// key encodes a person id as a KV key: ids may hold characters a key may not end with.
func key(id string) string { return personPrefix + base64.RawURLEncoding.EncodeToString([]byte(id)) }

// Provision creates or updates the watch-list bucket (at the center, on disk, replicated).
func Provision(ctx context.Context, js jetstream.JetStream, replicas int) error {
	_, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: bus.BucketWatchlist,
		Description: "active watch-list entries for the edges' matchers, and the center's heartbeat",
		History:     1, Replicas: max(replicas, 1)})
	if err != nil {
		return fmt.Errorf("provision bucket %s: %w", bus.BucketWatchlist, err)
	}
	return nil
}

// Source is the center's side: it writes entries, removes them, and beats.
type Source struct {
	kv       jetstream.KeyValue
	interval time.Duration
	log      *slog.Logger

	mu      sync.Mutex
	expires map[string]time.Time // of the entries put, to remove them when they expire
}

// NewSource binds to the bucket. interval is the heartbeat's period (default 1 s).
func NewSource(ctx context.Context, js jetstream.JetStream, interval time.Duration, logger *slog.Logger) (*Source, error) {
	kv, err := js.KeyValue(ctx, bus.BucketWatchlist)
	if err != nil {
		return nil, fmt.Errorf("watch-list source: %w", err)
	}
	if interval <= 0 {
		interval = time.Second
	}
	if logger == nil {
		logger = slog.Default()
	}
	return &Source{kv: kv, interval: interval, log: logger, expires: map[string]time.Time{}}, nil
}

// Put publishes an entry (enrolment or change). An expired entry is removed instead.
func (s *Source) Put(ctx context.Context, p watchlist.Person) error {
	if p.Expired(time.Now()) {
		return s.Remove(ctx, p.ID)
	}
	b, err := json.Marshal(EntryOf(p))
	if err != nil {
		return fmt.Errorf("watch-list entry %s: %w", p.ID, err)
	}
	if _, err := s.kv.Put(ctx, key(p.ID), b); err != nil {
		return fmt.Errorf("publish watch-list entry %s: %w", p.ID, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if p.Expires.IsZero() {
		delete(s.expires, p.ID)
	} else {
		s.expires[p.ID] = p.Expires
	}
	return nil
}

// Remove withdraws an entry from every edge.
func (s *Source) Remove(ctx context.Context, id string) error {
	if err := s.kv.Delete(ctx, key(id)); err != nil {
		return fmt.Errorf("withdraw watch-list entry %s: %w", id, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.expires, id)
	return nil
}

// Sync makes the bucket hold exactly the active entries of persons (at start, and to repair).
func (s *Source) Sync(ctx context.Context, persons []watchlist.Person) error {
	want := map[string]bool{}
	now := time.Now()
	for _, p := range persons {
		if !p.Expired(now) {
			want[key(p.ID)] = true
		}
	}
	keys, err := s.kv.Keys(ctx)
	if err != nil && !errors.Is(err, jetstream.ErrNoKeysFound) {
		return fmt.Errorf("watch-list sync: %w", err)
	}
	for _, k := range keys {
		if strings.HasPrefix(k, personPrefix) && !want[k] {
			if err := s.kv.Delete(ctx, k); err != nil {
				return fmt.Errorf("watch-list sync: %w", err)
			}
		}
	}
	for _, p := range persons {
		if err := s.Put(ctx, p); err != nil {
			return err
		}
	}
	return nil
}

// Run beats every interval and removes entries when they expire, until ctx ends.
func (s *Source) Run(ctx context.Context) error {
	t := time.NewTicker(s.interval)
	defer t.Stop()
	for {
		now := time.Now()
		b, _ := json.Marshal(now)
		if _, err := s.kv.Put(ctx, heartbeatKey, b); err != nil && ctx.Err() == nil {
			// Edges stop matching after StaleAfter without a beat: say why.
			s.log.Warn("watch-list heartbeat failed; edges stop matching if it goes on", "err", err)
		}
		s.mu.Lock()
		var expired []string
		for id, exp := range s.expires {
			if !now.Before(exp) {
				expired = append(expired, id)
			}
		}
		s.mu.Unlock()
		for _, id := range expired {
			if err := s.Remove(ctx, id); err != nil && ctx.Err() == nil {
				s.log.Warn("removing an expired watch-list entry failed; edges drop it by its expiry anyway", "id", id, "err", err)
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Replica is an edge's in-memory copy of the watch list.
type Replica struct {
	nc         *nats.Conn
	js         jetstream.JetStream
	staleAfter time.Duration
	log        *slog.Logger

	mu       sync.Mutex
	entries  map[string]Entry
	beat     time.Time // local clock: when the last heartbeat arrived
	fresh    bool
	revision uint64
	changed  chan struct{}
}

// NewReplica makes an edge's replica on nc. staleAfter (default 3 s) is how long without a heartbeat
// the replica still trusts itself; with the center beating every second, a removal stops matching
// within about staleAfter + 1 s even when the edge cannot hear it.
func NewReplica(nc *nats.Conn, staleAfter time.Duration, logger *slog.Logger) (*Replica, error) {
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("watch-list replica: %w", err)
	}
	if staleAfter <= 0 {
		staleAfter = 3 * time.Second
	}
	if logger == nil {
		logger = slog.Default()
	}
	return &Replica{nc: nc, js: js, staleAfter: staleAfter, log: logger, entries: map[string]Entry{}, changed: make(chan struct{})}, nil
}

// Snapshot is the watch list an edge may match against now.
type Snapshot struct {
	// Persons are the active entries; none while the replica is not Fresh.
	Persons []watchlist.Person
	// Fresh is false while the replica has not heard the center within StaleAfter.
	Fresh bool
	// Revision is the bucket revision of the last change applied.
	Revision uint64
}

// Snapshot returns the entries active at now, or none when the replica is stale.
func (r *Replica) Snapshot(now time.Time) Snapshot {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := Snapshot{Fresh: r.fresh && time.Since(r.beat) <= r.staleAfter, Revision: r.revision}
	if !s.Fresh {
		return s
	}
	for _, e := range r.entries {
		if e.Expires.IsZero() || now.Before(e.Expires) {
			s.Persons = append(s.Persons, e.Person())
		}
	}
	return s
}

// Changed returns a channel closed at the next change of what Snapshot returns: an entry added or
// removed, an entry expiring, the replica going stale or fresh. The edge then builds its matcher
// again.
func (r *Replica) Changed() <-chan struct{} {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.changed
}

func (r *Replica) notify() {
	close(r.changed)
	r.changed = make(chan struct{})
}

// Run keeps the replica current until ctx ends. After a reconnection it loads the bucket afresh.
func (r *Replica) Run(ctx context.Context) error {
	reconnected := r.nc.StatusChanged(nats.CONNECTED)
	defer r.nc.RemoveStatusListener(reconnected)
	for failing := false; ; {
		err := r.watch(ctx, reconnected)
		if ctx.Err() != nil {
			return nil
		}
		if err == nil {
			failing = false
		} else {
			// Said once per outage; the replica goes stale meanwhile, which it says too.
			if !failing {
				r.log.Warn("watch-list watch ended; starting again", "err", err)
			}
			failing = true
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(250 * time.Millisecond):
			}
		}
	}
}

// watch runs one KV watch until it ends, ctx ends or the connection was re-established.
func (r *Replica) watch(ctx context.Context, reconnected <-chan nats.Status) error {
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	kv, err := r.js.KeyValue(wctx, bus.BucketWatchlist)
	if err != nil {
		r.check(time.Now())
		return fmt.Errorf("watch-list bucket: %w", err)
	}
	w, err := kv.WatchAll(wctx)
	if err != nil {
		r.check(time.Now())
		return fmt.Errorf("watch the watch list: %w", err)
	}
	defer w.Stop()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	loaded := map[string]Entry{}
	initial := true
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-reconnected:
			return nil
		case now := <-tick.C:
			r.check(now)
		case e, ok := <-w.Updates():
			if !ok {
				return errors.New("watch closed")
			}
			if e == nil {
				initial = false
				r.mu.Lock()
				r.entries = loaded
				r.notify()
				r.mu.Unlock()
				continue
			}
			r.apply(e, loaded, initial)
		}
	}
}

// apply takes one change; during the initial load it goes into loaded, which replaces the entries
// once complete (so a reload never shows a half list).
func (r *Replica) apply(e jetstream.KeyValueEntry, loaded map[string]Entry, initial bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	target := r.entries
	if initial {
		target = loaded
	}
	switch {
	case e.Key() == heartbeatKey:
		// The initial load's heartbeat may be old (a center that died): only live ones count.
		if e.Operation() != jetstream.KeyValuePut || initial {
			return
		}
		r.beat = time.Now()
		if !r.fresh {
			r.fresh = true
			r.notify()
		}
		return
	case !strings.HasPrefix(e.Key(), personPrefix):
		return
	case e.Operation() != jetstream.KeyValuePut:
		id, err := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(e.Key(), personPrefix))
		if err != nil {
			return
		}
		delete(target, string(id))
	default:
		var en Entry
		if err := json.Unmarshal(e.Value(), &en); err != nil || key(en.ID) != e.Key() {
			r.log.Error("watch-list entry unreadable; ignored", "key", e.Key(), "err", err)
			return
		}
		target[en.ID] = en
	}
	r.revision = e.Revision()
	if !initial {
		r.notify()
	}
}

// check notices the replica going stale and entries expiring.
func (r *Replica) check(now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fresh && now.Sub(r.beat) > r.staleAfter {
		r.fresh = false
		r.log.Warn("no word from the center for too long: matching nobody until it comes back", "stale_after", r.staleAfter)
		r.notify()
	}
	for id, e := range r.entries {
		if !e.Expires.IsZero() && !now.Before(e.Expires) {
			delete(r.entries, id)
			r.notify()
		}
	}
}
