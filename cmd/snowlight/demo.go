package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"snowlight/auth"
	"snowlight/config"
	"snowlight/edge"
	"snowlight/geo"
	"snowlight/ingest"
	"snowlight/ingest/camsim"
	"snowlight/models"
	"snowlight/server"
	"snowlight/testvideos"
	"snowlight/watchlist"
	"snowlight/web"
)

func runDemo(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "demo", "[--addr HOST:PORT] [--data DIR] [--models DIR] [--engine E] [--detect-fps F]")
	addr := fs.String("addr", "127.0.0.1:8080", "where the console and API listen")
	dataDir := fs.String("data", "", "keep the demo's database and evidence here (a fresh temporary directory when empty)")
	modelsDir := fs.String("models", os.Getenv(models.EnvDir), "model directory; without one the demo runs the classical detectors and names nobody")
	fps := fs.Float64("detect-fps", 2, "detections per second on each camera")
	engine := addEngineFlags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 || *fps <= 0 || *fps > 25 {
		fs.Usage()
		return errUsage
	}
	if *dataDir == "" {
		dir, err := os.MkdirTemp("", "snowlight-demo-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		*dataDir = dir
	}

	fmt.Fprintln(e.stdout, "snowlight demo: rendering the demo scene (once; cached afterwards) ...")
	spec, err := testvideos.BuiltinScenario("demo")
	if err != nil {
		return err
	}
	rendered, err := testvideos.RenderCached(ctx, spec, testvideos.ScenarioCacheDir(), testvideos.RenderOptions{Log: e.log})
	if err != nil {
		return fmt.Errorf("render the demo scene: %w", err)
	}
	truth, err := testvideos.ReadTruth(rendered.Dir)
	if err != nil {
		return err
	}

	// The cameras: each rendered video looped by the camera simulator on a free port.
	cams := camsim.New(camsim.Options{Addr: "127.0.0.1:0", Log: e.log})
	for _, c := range truth.Cameras {
		if err := cams.AddFile(c.ID, rendered.VideoPath(c.ID)); err != nil {
			return err
		}
	}
	if err := cams.Start(ctx); err != nil {
		return err
	}
	box, err := newInbox(e.log)
	if err != nil {
		return err
	}
	go box.serve(ctx)

	auditKey, err := demoAuditKey(*dataDir)
	if err != nil {
		return err
	}
	cfg, err := demoConfig(truth, demoSettings{addr: *addr, rtsp: cams.Addr(), data: *dataDir, models: *modelsDir, fps: *fps, inbox: box, auditKey: auditKey})
	if err != nil {
		return err
	}
	engine.override(&cfg.Engine, &cfg.ONNXRuntime)
	srv, err := server.New(ctx, server.Options{Config: cfg, Log: e.log, Stages: e.stages, Cameras: edge.Local})
	if err != nil {
		return err
	}
	defer srv.Close()

	var guarded []string
	for _, p := range truth.Persons {
		if cat, err := watchlist.ParseCategory(p.Category); p.Enrolled && err == nil && cat == watchlist.AtRisk {
			guarded = append(guarded, p.ID)
		}
	}
	fmt.Fprintln(e.stdout, "\nAccounts (passwords are shown once; set SNOWLIGHT_<ROLE>_PASSWORD to choose them):")
	if _, err := srv.Auth().EnsureDemoAccounts(ctx, auth.DemoOptions{Getenv: os.Getenv,
		GuardianScope: auth.Scope{Persons: guarded}}, e.stdout); err != nil {
		return err
	}
	if err := enrolDemo(ctx, e, srv, truth); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "\nConsole: http://%s/   metrics: http://%s/metrics (log in as admin)\n", srv.Addr(), srv.Addr())
	fmt.Fprintf(e.stdout, "%d cameras play a scene in which an at-risk man leaves his safe zone and a suspect crosses three\n"+
		"cameras; alerts arrive within a minute or two. Ctrl-C stops the demo.\n\n", len(truth.Cameras))
	go printStatus(ctx, e, srv)
	go patrolsReport(ctx, e, srv, truth)
	return srv.Run(ctx)
}

// demoAuditKey returns the file holding the demo's audit key, making one the first time. A real
// deployment keeps its key away from the data directory (docs/SECURITY.md); the demo keeps everything
// in one place so that --data can be reused.
func demoAuditKey(dataDir string) (string, error) {
	path := filepath.Join(dataDir, "audit.key")
	if _, err := os.Stat(path); err == nil {
		return path, nil
	}
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	if err := os.MkdirAll(dataDir, 0o750); err != nil {
		return "", err
	}
	if err := os.WriteFile(path, []byte(base64.StdEncoding.EncodeToString(b)+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("demo audit key: %w", err)
	}
	return path, nil
}

// demoSettings are what the demo's configuration is made from besides the scene.
type demoSettings struct {
	addr, rtsp, data, models string
	auditKey                 string // file holding the audit key
	fps                      float64
	inbox                    *inbox
	// extra is more YAML (a distributed deployment's storage and nats sections), edges cameras' edges.
	extra string
	edges map[string][]string
}

// demoConfig is a deployment for the rendered demo scene: its cameras (served by camsim), a small grid
// with a district and the city command centre, the scene's patrol units, and a guardian for every
// at-risk person, all notified through the demo inbox.
func demoConfig(t *testvideos.Truth, s demoSettings) (*config.Config, error) {
	cfg, err := config.Parse(strings.NewReader(demoYAML(t, s)), os.Getenv)
	if err != nil {
		return nil, fmt.Errorf("demo configuration: %w", err)
	}
	return cfg, nil
}

// demoYAML is demoConfig's text.
func demoYAML(t *testvideos.Truth, s demoSettings) string {
	var b strings.Builder
	fmt.Fprintf(&b, "listen: %q\ndata_dir: %q\nmodels: %q\n", s.addr, s.data, s.models)
	url, secret := s.inbox.receiver("supervisor/city")
	fmt.Fprintf(&b, "areas:\n  - {id: city, name: City command centre, level: city, supervisor: {name: duty officer, webhook: %q, secret: %q}}\n", url, secret)
	districts := map[string]bool{}
	for _, p := range t.Patrols {
		if p.Area != "" && !districts[p.Area] {
			districts[p.Area] = true
			url, secret := s.inbox.receiver("supervisor/" + p.Area)
			fmt.Fprintf(&b, "  - {id: %q, level: district, parent: city, supervisor: {name: %q, webhook: %q, secret: %q}}\n",
				p.Area, p.Area+" supervisor", url, secret)
		}
	}
	area := ""
	if len(t.Patrols) > 0 {
		area = t.Patrols[0].Area
	}
	b.WriteString("cameras:\n")
	for _, c := range t.Cameras {
		fmt.Fprintf(&b, "  - id: %q\n    name: %q\n    url: %q\n    detect_fps: %g\n", c.ID, c.ID, "rtsp://"+s.rtsp+"/"+c.ID, s.fps)
		if area != "" {
			fmt.Fprintf(&b, "    area: %q\n", area)
		}
		if c.Position != nil {
			fmt.Fprintf(&b, "    position: {lat: %.7f, lon: %.7f}\n", c.Position.Lat, c.Position.Lon)
		}
		if e := s.edges[c.ID]; len(e) > 0 {
			fmt.Fprintf(&b, "    edges: [%s]\n", strings.Join(e, ", "))
		}
		if len(c.Neighbours) > 0 {
			b.WriteString("    neighbours:\n")
			for _, n := range c.Neighbours {
				fmt.Fprintf(&b, "      - {camera: %q, min: %gs, max: %gs}\n", n.Camera, n.Transit[0], n.Transit[1])
			}
		}
	}
	if len(t.Patrols) > 0 {
		b.WriteString("patrols:\n")
		for _, p := range t.Patrols {
			url, secret := s.inbox.receiver("patrol/" + p.ID)
			fmt.Fprintf(&b, "  - {id: %q, name: %q, area: %q, position: {lat: %.7f, lon: %.7f}, receiver: {webhook: %q, secret: %q}}\n",
				p.ID, p.ID, p.Area, p.Position.Lat, p.Position.Lon, url, secret)
		}
	}
	var guardians []string
	for _, p := range t.Persons {
		if cat, err := watchlist.ParseCategory(p.Category); p.Enrolled && err == nil && cat == watchlist.AtRisk {
			url, secret := s.inbox.receiver("guardian/" + p.ID)
			guardians = append(guardians, fmt.Sprintf("  - {id: %q, name: %q, persons: [%q], receiver: {webhook: %q, secret: %q}}\n",
				"guardian-"+p.ID, "family of "+p.Name, p.ID, url, secret))
		}
	}
	if len(guardians) > 0 {
		b.WriteString("guardians:\n" + strings.Join(guardians, ""))
	}
	b.WriteString("alerts: {ack_timeout: 45s}\n")
	if s.auditKey != "" {
		fmt.Fprintf(&b, "audit: {key: %q}\n", "file:"+s.auditKey)
	}
	b.WriteString(s.extra)
	return b.String()
}

// enrolDemo puts the scene's enrolled people on the watch list, from photos other than the ones the
// scene shows, with their safe zones.
func enrolDemo(ctx context.Context, e *env, srv *server.Server, t *testvideos.Truth) error {
	zones := map[string][]geo.LatLon{}
	for _, z := range t.Zones {
		for _, p := range z.Polygon {
			zones[z.ID] = append(zones[z.ID], geo.LatLon{Lat: p[0], Lon: p[1]})
		}
	}
	for _, p := range t.Persons {
		if !p.Enrolled {
			continue
		}
		cat, err := watchlist.ParseCategory(p.Category)
		if err != nil {
			return fmt.Errorf("demo person %s: %w", p.ID, err)
		}
		en := web.Enrolment{Name: p.Name, Category: cat, SafeZone: zones[p.SafeZone], Expires: time.Now().Add(7 * 24 * time.Hour),
			LegalBasis: "demo scene", ApprovedBy: "demo", EnrolledBy: "demo"}
		for _, path := range p.Enrol {
			data, err := os.ReadFile(path)
			if err != nil {
				return fmt.Errorf("demo person %s: enrolment photo: %w", p.ID, err)
			}
			en.Photos = append(en.Photos, web.PhotoUpload{Name: filepath.Base(path), Data: data})
		}
		_, _, err = srv.Enrol(ctx, p.ID, en)
		switch {
		case errors.Is(err, web.ErrConflict): // enrolled on an earlier run with --data
		case errors.Is(err, web.ErrUnavailable):
			fmt.Fprintln(e.stdout, "\nNo models directory: the demo runs the classical detectors and names nobody. "+
				"Run `make models` (or pass --models DIR) for face recognition.")
			return nil
		case err != nil:
			return fmt.Errorf("enrol demo person %s: %w", p.ID, err)
		default:
			fmt.Fprintf(e.stdout, "watch list: %s (%s)\n", p.Name, cat)
		}
	}
	return nil
}

// patrolsReport stands in for the patrol units' apps, which report where they are: the units stand
// where the scene places them.
func patrolsReport(ctx context.Context, e *env, srv *server.Server, t *testvideos.Truth) {
	tick := time.NewTicker(5 * time.Minute)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			for _, p := range t.Patrols {
				if err := srv.ReportPosition(ctx, p.ID, p.Position.Lat, p.Position.Lon); err != nil {
					e.log.Warn("demo patrol position", "unit", p.ID, "err", err)
				}
			}
		}
	}
}

// printStatus prints a status line per camera now and then.
func printStatus(ctx context.Context, e *env, srv *server.Server) {
	t := time.NewTicker(30 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			for _, st := range srv.Cameras().(*edge.Edge).Status() {
				fmt.Fprintln(e.stdout, ingest.StatusLine(st))
			}
		}
	}
}
