package fake

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"sync"
	"time"

	"snowlight/casebundle"
	"snowlight/objstore"
	"snowlight/web"
)

// Search is a stand-in for the search index over the trajectories' sightings: it has no appearance
// embeddings or colours, so it ranks the example's trajectory first (score 0.9) and every other
// sighting in the window after it (0.3), and a description alone matches every sighting (1).
type Search struct{ T *Trajectories }

func (s Search) Sightings(ctx context.Context, q web.SearchQuery) ([]web.SearchHit, error) {
	s.T.mu.Lock()
	defer s.T.mu.Unlock()
	var seed *web.SightingView
	if q.Example != "" {
		i := slices.IndexFunc(s.T.sightings, func(v web.SightingView) bool { return v.ID == q.Example })
		if i < 0 || q.Cameras != nil && !slices.Contains(q.Cameras, s.T.sightings[i].Camera) {
			return nil, fmt.Errorf("no sighting %s: %w", q.Example, web.ErrNotFound)
		}
		seed = &s.T.sightings[i]
	}
	var out []web.SearchHit
	for _, v := range s.T.sightings {
		if v.Enter.Before(q.From) || v.Enter.After(q.To) || q.Cameras != nil && !slices.Contains(q.Cameras, v.Camera) ||
			seed != nil && v.ID == seed.ID {
			continue
		}
		h := web.SearchHit{Sighting: v, Score: 1, Colour: 1}
		if seed != nil || len(q.Crop) > 0 {
			h.Score = 0.3
			if seed != nil && seed.Trajectory != "" && v.Trajectory == seed.Trajectory {
				h.Score = 0.9
			}
		}
		out = append(out, h)
	}
	slices.SortStableFunc(out, func(a, b web.SearchHit) int {
		if a.Score != b.Score {
			return map[bool]int{true: -1, false: 1}[a.Score > b.Score]
		}
		return b.Sighting.Enter.Compare(a.Sighting.Enter)
	})
	return out[:min(len(out), q.Limit)], nil
}

// Exports writes real signed bundles (casebundle) of a trajectory's JSON and its sightings' pictures,
// in the background like the real exporter, without redaction (there is no face detector here).
type Exports struct {
	Now   func() time.Time
	T     *Trajectories
	Media objstore.Store
	key   ed25519.PrivateKey

	mu      sync.Mutex
	exports []web.ExportView
	seq     int
	wg      sync.WaitGroup
}

// NewExports returns an exporter with a new signing key.
func NewExports(now func() time.Time, t *Trajectories, media objstore.Store) (*Exports, error) {
	_, key, err := ed25519.GenerateKey(nil)
	if err != nil {
		return nil, err
	}
	return &Exports{Now: now, T: t, Media: media, key: key}, nil
}

func (e *Exports) Start(ctx context.Context, r web.ExportRequest) (web.ExportView, error) {
	var tv web.TrajectoryView
	var err error
	subject := "person/" + r.PersonID
	if r.PersonID != "" {
		tv, err = e.T.PersonTrajectory(ctx, r.PersonID, r.From, r.To)
	} else {
		subject = "sighting/" + r.Sighting
		tv, err = e.T.FromSighting(ctx, r.Sighting, r.From, r.To)
	}
	if err != nil {
		return web.ExportView{}, err
	}
	if len(tv.Sightings) == 0 {
		return web.ExportView{}, fmt.Errorf("%s was not seen in that window: %w", subject, web.ErrNotFound)
	}
	e.mu.Lock()
	e.seq++
	v := web.ExportView{ID: fmt.Sprintf("x%d", e.seq), Case: r.Case, Reason: r.Reason, Subject: subject, CreatedBy: r.Actor,
		Created: e.Now(), Status: web.ExportRunning}
	e.exports = append(e.exports, v)
	e.mu.Unlock()
	e.wg.Go(func() { e.finish(context.WithoutCancel(ctx), v, tv) })
	return v, nil
}

// Wait waits for the exports started so far.
func (e *Exports) Wait() { e.wg.Wait() }

func (e *Exports) finish(ctx context.Context, v web.ExportView, tv web.TrajectoryView) {
	var buf bytes.Buffer
	m, err := func() (casebundle.Manifest, error) {
		w := casebundle.NewWriter(&buf, casebundle.Meta{Case: v.Case, Reason: v.Reason, Subject: v.Subject, CreatedBy: v.CreatedBy, Created: v.Created})
		b, err := json.MarshalIndent(tv, "", "  ")
		if err != nil {
			return casebundle.Manifest{}, err
		}
		if err := w.Add("trajectory.json", bytes.NewReader(b)); err != nil {
			return casebundle.Manifest{}, err
		}
		for i, s := range tv.Sightings {
			if s.Snapshot.Key == "" {
				continue
			}
			r, _, err := e.Media.Get(ctx, s.Snapshot.Key)
			if err != nil {
				return casebundle.Manifest{}, err
			}
			err = w.Add(fmt.Sprintf("sightings/%03d-body.jpg", i+1), r)
			r.Close()
			if err != nil {
				return casebundle.Manifest{}, err
			}
		}
		return w.Close(e.key)
	}()
	if err == nil {
		sum := sha256.Sum256(buf.Bytes())
		var key string
		if key, err = objstore.ContentKey("export", hex.EncodeToString(sum[:]), "zip"); err == nil {
			_, err = e.Media.Put(ctx, key, io.Reader(&buf), int64(buf.Len()), objstore.PutOptions{SHA256: hex.EncodeToString(sum[:]),
				ContentType: "application/zip"})
		}
		v.Bundle = web.Media{Key: key}
	}
	v.Finished, v.Status = e.Now(), web.ExportDone
	if err != nil {
		v.Status, v.Error, v.Bundle = web.ExportFailed, err.Error(), web.Media{}
	} else {
		v.Files, v.Size = len(m.Files), int64(buf.Len())
		v.ManifestSHA256, _ = m.Digest()
		v.Fingerprint = e.SigningKey().Fingerprint
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	for i := range e.exports {
		if e.exports[i].ID == v.ID {
			e.exports[i] = v
		}
	}
}

func (e *Exports) Get(ctx context.Context, caseNumber, id string) (web.ExportView, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, v := range e.exports {
		if v.ID == id && v.Case == caseNumber {
			return v, nil
		}
	}
	return web.ExportView{}, fmt.Errorf("case %s has no export %s: %w", caseNumber, id, web.ErrNotFound)
}

func (e *Exports) List(ctx context.Context, caseNumber string) ([]web.ExportView, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []web.ExportView
	for i := len(e.exports) - 1; i >= 0; i-- {
		if e.exports[i].Case == caseNumber {
			out = append(out, e.exports[i])
		}
	}
	return out, nil
}

func (e *Exports) SigningKey() web.SigningKeyView {
	pub := e.key.Public().(ed25519.PublicKey)
	return web.SigningKeyView{Algorithm: "Ed25519", PublicKey: casebundle.EncodePublicKey(pub), Fingerprint: casebundle.Fingerprint(pub)}
}
