// Package server assembles snowlight's center from a configuration: storage, the intake of what the
// cameras report (sightings stored and stitched), alerts with dispatch and notifications, retention,
// the watch list, and the web API with the console. It handles no picture: the cameras are behind the
// Cameras interface, which the cameras of the same process implement (package edge, `snowlight
// serve`) or edges over NATS (`snowlight center`, Options.NATS). The stages know nothing of each
// other's wiring; this package is the one place that does.
package server

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"snowlight/alerts"
	"snowlight/alerts/dispatch"
	"snowlight/alerts/notify"
	"snowlight/alerts/rules"
	"snowlight/audit"
	"snowlight/auth"
	"snowlight/center"
	"snowlight/config"
	"snowlight/deploy"
	"snowlight/detect/infer"
	"snowlight/objstore"
	"snowlight/retention"
	"snowlight/store"
	"snowlight/web"
)

// Options configure a Server.
type Options struct {
	// Config is the deployment; New decodes it (package deploy), alert rules included.
	Config *config.Config
	Log    *slog.Logger
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// Stages run beside the server's own, stopped with the last of them (a test's stage that fails).
	Stages []Stage
	// Cameras makes the camera side from the server's resources: edge.Local runs them in this
	// process (`snowlight serve`), NATS reaches edges over the message bus (`snowlight center`). Without
	// it the server has no cameras (tools and tests of the center alone).
	Cameras func(Resources) (Cameras, error)
}

// Resources are what the camera side shares with the server it reports to.
type Resources struct {
	Config     *config.Config
	Deployment *deploy.Deployment
	// Objects is the evidence store (snapshots, clips); Store the database (dead letters).
	Objects  objstore.Store
	Store    *store.DB
	Registry prometheus.Registerer
	Log      *slog.Logger
	Now      func() time.Time
}

// Server is the center: every stage, in memory, sharing one database.
type Server struct {
	cfg *config.Config
	dep *deploy.Deployment
	log *slog.Logger
	now func() time.Time
	reg *prometheus.Registry

	db       *store.DB
	objects  objstore.Store
	spool    *objstore.Spool // nil without MinIO
	signer   *objstore.Signer
	auth     *auth.Service
	audit    *audit.Log
	patrols  *dispatch.Registry
	hub      *notify.Hub[alerts.Event]
	notifier *notify.Worker
	engine   *alerts.Engine
	rules    *rules.Engine
	cameras  Cameras
	center   *center.Center
	evidence *evidence
	reten    *retention.Job
	holds    *retention.Holds
	index    *sightingIndex
	exporter *exporter
	// infer runs investigation's models (ONNX Runtime, or OpenCV dnn when its library does not load).
	infer infer.Engine

	web      *web.Server
	ln, opsL net.Listener

	watch  *watchList
	stages []Stage

	closeOnce sync.Once
}

// New opens the database and the object store and builds every stage; nothing runs until Run.
func New(ctx context.Context, o Options) (*Server, error) {
	cfg := o.Config
	if cfg == nil {
		return nil, errors.New("server: no configuration")
	}
	s := &Server{cfg: cfg, log: o.Log, now: o.Now, reg: prometheus.NewRegistry(), stages: o.Stages}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.now == nil {
		s.now = time.Now
	}
	s.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	ok := false
	defer func() {
		if !ok {
			s.Close()
		}
	}()
	var err error
	if s.dep, err = deploy.Decode(cfg); err != nil {
		return nil, fmt.Errorf("configuration: %w", err)
	}
	if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
		return nil, fmt.Errorf("data directory: %w", err)
	}
	if s.db, err = store.Open(ctx, filepath.Join(cfg.DataDir, "snowlight.db")); err != nil {
		return nil, err
	}
	if err := s.openObjects(ctx); err != nil {
		return nil, err
	}
	if s.auth, err = auth.NewService(auth.Config{Store: s.db, Now: s.now}); err != nil {
		return nil, fmt.Errorf("accounts: %w", err)
	}
	if err := s.openAudit(); err != nil {
		return nil, err
	}
	if err := s.buildAlerts(ctx); err != nil {
		return nil, err
	}
	if cfg.Models != "" {
		// Investigation runs models at the center: search by picture and the faces an export redacts.
		if s.infer, err = infer.Open(infer.Options{Engine: cfg.Engine, Library: cfg.ONNXRuntime, Log: s.log}); err != nil {
			return nil, fmt.Errorf("inference engine: %w", err)
		}
	}
	if s.index, err = openIndex(ctx, s); err != nil {
		return nil, err
	}
	if s.exporter, err = newExporter(ctx, s); err != nil {
		return nil, err
	}
	if err := s.buildCenter(ctx); err != nil {
		return nil, err
	}
	s.cameras = noCameras{}
	if o.Cameras != nil {
		if s.cameras, err = o.Cameras(Resources{Config: cfg, Deployment: s.dep, Objects: s.objects, Store: s.db,
			Registry: s.reg, Log: s.log, Now: s.now}); err != nil {
			return nil, fmt.Errorf("cameras: %w", err)
		}
	}
	s.watch = &watchList{s: s, policy: s.dep.Watchlist}
	if err := s.buildRetention(); err != nil {
		return nil, err
	}
	if err := s.buildWeb(); err != nil {
		return nil, err
	}
	ok = true
	return s, nil
}

// openObjects opens the evidence store: MinIO behind a local spool, or a local directory whose links
// the web server signs and serves.
func (s *Server) openObjects(ctx context.Context) error {
	secret, err := s.secretFile("objects.key")
	if err != nil {
		return err
	}
	if s.signer, err = objstore.NewSigner(secret, web.ObjectsPath, s.now); err != nil {
		return fmt.Errorf("object links: %w", err)
	}
	if s.objects, s.spool, err = EvidenceStore(ctx, s.cfg, objstore.DirOptions{Signer: s.signer, Now: s.now}, s.reg, s.log); err != nil {
		return err
	}
	if s.spool != nil {
		s.signer = nil // MinIO signs its own links
	}
	return nil
}

// EvidenceStore opens the configuration's evidence store: MinIO behind a spool in the data directory
// (returned too, for its Run), or a local directory. An edge uploads to the same store as its center.
func EvidenceStore(ctx context.Context, cfg *config.Config, dir objstore.DirOptions, reg prometheus.Registerer, log *slog.Logger) (objstore.Store, *objstore.Spool, error) {
	st := cfg.Storage
	if st.Kind != "minio" {
		d, err := objstore.OpenDir(filepath.Join(cfg.DataDir, "objects"), dir)
		return d, nil, err
	}
	m, err := objstore.OpenMinIO(ctx, objstore.MinIOConfig{Endpoint: st.MinIO.Endpoint, AccessKey: st.MinIO.AccessKey,
		SecretKey: st.MinIO.SecretKey.Reveal(), Secure: st.MinIO.Secure, Bucket: st.MinIO.Bucket})
	if err != nil {
		return nil, nil, fmt.Errorf("object store: %w", err)
	}
	spool, err := objstore.NewSpool(m, objstore.SpoolOptions{Dir: filepath.Join(cfg.DataDir, "spool"),
		MaxBytes: st.SpoolMaxBytes, Logger: log, Registerer: reg})
	if err != nil {
		return nil, nil, fmt.Errorf("object spool: %w", err)
	}
	return spool, spool, nil
}

// secretFile returns the 32-byte secret kept in the data directory under name, creating it once, so
// signed links stay valid across restarts.
func (s *Server) secretFile(name string) ([]byte, error) {
	path := filepath.Join(s.cfg.DataDir, name)
	b, err := os.ReadFile(path)
	if err == nil && len(b) == 32 {
		return b, nil
	}
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("read secret %s: %w", path, err)
	}
	b = make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return nil, err
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		return nil, fmt.Errorf("write secret %s: %w", path, err)
	}
	return b, nil
}

// openAudit opens the audit log sealed with the configured keys, anchored in the evidence store.
func (s *Server) openAudit() error {
	ac := s.cfg.Audit
	previous := make([]string, len(ac.PreviousKeys))
	for i, k := range ac.PreviousKeys {
		previous[i] = k.Reveal()
	}
	keys, err := audit.NewKeyring(ac.Key.Reveal(), previous...)
	if err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	if !keys.Keyed() {
		s.log.Warn("audit.key is not set: audit entries are sealed with plain SHA-256, so whoever can write the database can rewrite those made since the last anchor")
	}
	s.audit = audit.NewLog(s.db, audit.Options{Now: s.now, Keys: keys,
		Anchors: objstore.Records{Store: s.objects, Prefix: audit.AnchorPrefix}})
	return nil
}

func (s *Server) buildRetention() error {
	var err error
	if s.holds, err = retention.NewHolds(s.db, s.audit, s.now); err != nil {
		return fmt.Errorf("case holds: %w", err)
	}
	s.reten, err = retention.New(retention.Options{Store: s.db, Objects: s.objects, Audit: s.audit,
		Policy: s.dep.Retention, Registerer: s.reg, Logger: s.log, Now: s.now, SightingsDeleted: s.index.deleted})
	if err != nil {
		return fmt.Errorf("retention: %w", err)
	}
	return nil
}

// Addr is the console's and API's listening address.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Auth is the account service, for creating accounts before Run.
func (s *Server) Auth() *auth.Service { return s.auth }

// Registry is the Prometheus registry /metrics serves.
func (s *Server) Registry() *prometheus.Registry { return s.reg }

// Alerts is the alert engine (for tools and tests that raise or read alerts directly).
func (s *Server) Alerts() *alerts.Engine { return s.engine }

// Store is the database (for tools and tests that read it directly).
func (s *Server) Store() *store.DB { return s.db }

// Objects is the evidence store.
func (s *Server) Objects() objstore.Store { return s.objects }

// Cameras is the camera side the server reports from.
func (s *Server) Cameras() Cameras { return s.cameras }

// credentialsPurgeEvery is how often expired sessions and tokens are deleted: a few times per idle limit.
const credentialsPurgeEvery = 10 * time.Minute

// Run runs every stage until ctx ends or one of them stops, then stops them in order: the cameras
// first, so their last sightings are stored and go through the rules; then the rest (notifications,
// escalation, evidence, retention, upkeep, the web server), each waiting for the work it started; and
// anchors the audit chain's final head. It returns the first stage's error, or nil when ctx ended and
// every stage stopped cleanly. Call Close after Run returned.
func (s *Server) Run(ctx context.Context) error {
	if err := s.watch.sync(ctx); err != nil {
		return err
	}
	rest := []Stage{
		{"notifications", s.notifier.Run},
		{"alert escalation", func(c context.Context) error { return s.engine.Run(c, time.Second) }},
		{"watch list", s.watch.run},
		{"evidence", s.evidence.run},
		{"exports", s.exporter.run},
		{"retention", func(c context.Context) error { return s.reten.Run(c, s.dep.RetentionEvery) }},
		{"credentials purge", s.periodically("purge expired sessions", credentialsPurgeEvery, func(c context.Context) error {
			_, err := s.auth.PurgeExpired(c)
			return err
		})},
		{"audit anchors", s.periodically("anchor the audit chain", s.cfg.Audit.AnchorEvery, func(c context.Context) error {
			_, _, err := s.audit.Anchor(c)
			return err
		})},
		{"web", func(c context.Context) error { return web.Serve(c, s.ln, s.web.Handler(), s.log) }},
	}
	if s.spool != nil {
		rest = append(rest, Stage{"object spool", s.spool.Run})
	}
	if s.opsL != nil {
		rest = append(rest, Stage{"ops", func(c context.Context) error { return web.Serve(c, s.opsL, s.web.OpsHandler(), s.log) }})
	}
	rest = append(rest, s.stages...)
	err := runGroup(ctx, s.log, []tier{
		{stages: []Stage{{"cameras", func(c context.Context) error { return s.cameras.Run(c, s.intake) }}}},
		// The search index finishes what the cameras left in its queue.
		{stages: []Stage{{"search index", s.index.run}}},
		{stages: rest},
	})
	// Everything that writes audit entries has stopped: anchor the final head.
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if _, _, err := s.audit.Anchor(actx); err != nil {
		s.log.Error("audit anchor not written at shutdown", "err", err)
	}
	return err
}

// periodically calls f now and then every interval until ctx ends. A failure is logged and f tried again
// next time: these are upkeep, which a later round makes up for.
func (s *Server) periodically(what string, every time.Duration, f func(context.Context) error) func(context.Context) error {
	return func(ctx context.Context) error {
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			if err := f(ctx); err != nil && ctx.Err() == nil {
				s.log.Error(what+" failed", "err", err)
			}
			select {
			case <-ctx.Done():
				return nil
			case <-t.C:
			}
		}
	}
}

// Close releases the database and the object store. Call it after Run returned.
func (s *Server) Close() error {
	var err error
	s.closeOnce.Do(func() {
		for _, l := range []net.Listener{s.ln, s.opsL} {
			if l != nil {
				l.Close()
			}
		}
		if s.cameras != nil {
			s.cameras.Shutdown()
		}
		if s.exporter != nil {
			s.exporter.close()
		}
		if s.index != nil {
			if e := s.index.close(); e != nil {
				s.log.Error("search index not closed cleanly: the next start rebuilds it", "err", e)
			}
		}
		if s.db != nil {
			err = s.db.Close()
		}
	})
	return err
}
