// Package edge is the camera side of snowlight: for each camera it holds, an ingest worker, the
// detectors, the tracker and the tamper check, the ring of recent video for clips and live view; and
// what the center asks of the cameras: evidence clips and snapshots cut from a ring, WebRTC live view,
// enrolment photos embedded by the face models, the watch list the cameras match faces against.
//
// It runs in two ways. In one process with the center (`snowlight serve`), Local plugs it into the
// server: every configured camera runs, and what they report goes straight to the center's intake.
// As an edge of a distributed deployment (`snowlight edge`), RunNATS holds the cameras it is leased
// (bus/lease), publishes what they report through an on-disk outbox (bus), keeps the watch list the
// center distributes in memory (bus/watchsync) and answers the center's requests (bus/rpc).
//
// Snapshots of sightings are uploaded here, next to the pictures, and events carry their object keys:
// the center never handles a picture.
package edge

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"snowlight/camevent"
	"snowlight/config"
	"snowlight/deploy"
	"snowlight/detect"
	"snowlight/detect/infer"
	"snowlight/ingest"
	"snowlight/live"
	"snowlight/media"
	"snowlight/objstore"
	"snowlight/pipeline"
	"snowlight/server"
	"snowlight/watchlist"
)

// Options configure an Edge.
type Options struct {
	// Config gives the models and the inference engine; Deployment the cameras and policies.
	Config     *config.Config
	Deployment *deploy.Deployment
	// Objects is where snapshots and clips are uploaded.
	Objects  objstore.Store
	Registry prometheus.Registerer
	Log      *slog.Logger
	Now      func() time.Time
}

// Edge runs cameras and answers for them.
type Edge struct {
	o   Options
	log *slog.Logger

	infer    infer.Engine
	imetrics *ingest.Metrics
	dmetrics *detect.Metrics
	pmetrics *pipeline.Metrics
	live     *live.Server
	// enrol embeds enrolment photos and names the embedding model the matcher takes; nil without
	// models (then nobody is enrolled or matched).
	enrol   *detect.Pipeline
	matcher atomic.Pointer[watchlist.Matcher]

	mu      sync.Mutex
	persons map[string]watchlist.Person
	cams    map[string]*camera       // running, and stopped ones whose ring is kept for clips
	pending map[string]chan struct{} // cameras being started (closed when started or failed)
	sink    sink                     // where the cameras' reports go; set by Run or RunNATS before any camera starts

	notes chan note // camera events, from ingest callbacks that must not block
}

// note is a camera event and the camera it came from.
type note struct {
	cam *camera
	ev  camevent.Event
}

// New loads the inference engine and the enrolment detector and makes the live-view server; no
// camera runs yet.
func New(o Options) (*Edge, error) {
	if o.Config == nil || o.Deployment == nil || o.Objects == nil || o.Registry == nil {
		return nil, errors.New("edge: configuration, deployment, object store and registry are required")
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	e := &Edge{o: o, log: o.Log, persons: map[string]watchlist.Person{}, cams: map[string]*camera{},
		pending: map[string]chan struct{}{}, notes: make(chan note, 256)}
	ok := false
	defer func() {
		if !ok {
			e.Shutdown()
		}
	}()
	var err error
	if o.Config.Models != "" {
		if e.infer, err = infer.Open(infer.Options{Engine: o.Config.Engine, Library: o.Config.ONNXRuntime, Log: o.Log}); err != nil {
			return nil, fmt.Errorf("inference engine: %w", err)
		}
		dc := detect.DefaultConfig(o.Config.Models)
		dc.Log, dc.Engine = o.Log, e.infer
		if e.enrol, err = detect.NewPipeline(dc); err != nil {
			return nil, fmt.Errorf("enrolment detector: %w", err)
		}
	}
	if e.pmetrics, err = pipeline.NewMetrics(o.Registry); err != nil {
		return nil, err
	}
	if e.imetrics, err = ingest.NewMetrics(o.Registry); err != nil {
		return nil, err
	}
	if e.dmetrics, err = detect.NewMetrics(o.Registry); err != nil {
		return nil, err
	}
	e.live, err = live.NewServer(live.Options{
		Rings: e.ring,
		// The console usually runs on the same host or network; loopback candidates let a browser on
		// this machine connect too.
		IncludeLoopback: true,
		Log:             o.Log,
		Registerer:      o.Registry,
	})
	if err != nil {
		return nil, err
	}
	// One OpenCV thread per network: the cameras themselves are the parallelism.
	detect.SetOpenCVThreads(1)
	ok = true
	return e, nil
}

// Local is the hook of server.Options.Cameras for a process that runs its cameras itself.
func Local(r server.Resources) (server.Cameras, error) {
	e, err := New(Options{Config: r.Config, Deployment: r.Deployment, Objects: r.Objects, Registry: r.Registry, Log: r.Log, Now: r.Now})
	if err != nil {
		return nil, err
	}
	return e, nil
}

// Status reports the state of every camera that runs here, by camera id (for status lines and tests).
func (e *Edge) Status() []ingest.Status {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []ingest.Status
	for _, id := range slices.Sorted(maps.Keys(e.cams)) {
		if c := e.cams[id]; c.running() {
			out = append(out, c.worker.Status())
		}
	}
	return out
}

// Health is the stream of each camera that runs here.
func (e *Edge) Health() map[string]camevent.Health {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make(map[string]camevent.Health, len(e.cams))
	for id, c := range e.cams {
		if c.running() {
			out[id] = health(c.worker.Status())
		}
	}
	return out
}

func health(st ingest.Status) camevent.Health {
	return camevent.Health{State: string(st.State), FPS: st.FPS, Width: st.Width, Height: st.Height, Codec: st.Codec, LastFrame: st.LastFrame}
}

// ring is a camera's ring, also for a while after the camera stopped here (clips of a camera just
// handed on to another edge).
func (e *Edge) ring(id string) (*media.Ring, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	c, ok := e.cams[id]
	if !ok || c.worker == nil {
		return nil, false
	}
	return c.worker.Ring(), true
}

// Offer, Close and Done are the live view of the cameras here (web.Live).
func (e *Edge) Offer(ctx context.Context, camera, offer string) (string, string, error) {
	return e.live.Offer(ctx, camera, offer)
}

func (e *Edge) Close(camera, id string) error  { return e.live.Close(camera, id) }
func (e *Edge) Done(id string) <-chan struct{} { return e.live.Done(id) }

// Shutdown frees the detectors, the live-view server and the rings; call it once nothing runs.
func (e *Edge) Shutdown() {
	if e.live != nil {
		e.live.Shutdown()
	}
	e.mu.Lock()
	cams := slices.Collect(maps.Values(e.cams))
	e.cams = map[string]*camera{}
	e.mu.Unlock()
	for _, c := range cams {
		c.stop()
		c.free()
	}
	if e.enrol != nil {
		e.enrol.Close()
	}
}

// ringFor is how much compressed video each camera keeps: a clip's pre- and post-roll, with room for
// the GOP a clip must start at and for a late alert. A camera handed on keeps its ring this long too.
func (e *Edge) ringFor() time.Duration {
	return e.o.Deployment.PreRoll + e.o.Deployment.PostRoll + 20*time.Second
}

// forget drops the rings of cameras that stopped here longer than a ring lasts, until ctx ends.
func (e *Edge) forget(ctx context.Context) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			e.mu.Lock()
			var old []*camera
			for id, c := range e.cams {
				if stopped := c.stoppedAt(); !stopped.IsZero() && now.Sub(stopped) > e.ringFor() {
					delete(e.cams, id)
					old = append(old, c)
				}
			}
			e.mu.Unlock()
			for _, c := range old {
				c.free()
			}
		}
	}
}
