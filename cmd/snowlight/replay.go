package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"snowlight/center"
	"snowlight/config"
	"snowlight/deploy"
	"snowlight/detect"
	"snowlight/media"
	"snowlight/models"
	"snowlight/objstore"
	"snowlight/pipeline"
	"snowlight/store"
	"snowlight/testvideos"
	"snowlight/tracks/stitch"
	"snowlight/watchlist"
)

// runReplay plays recorded cameras through the whole pipeline (decode at the detection rate, detect,
// track, stitch, store) with their real relative timing, as fast as the machine allows.
func runReplay(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "replay", "(--config FILE.yaml | --scenario DIR [--fps F]) --db FILE [--cameras ID,...] [--objects DIR] [--gallery DIR [--category C]] [--models DIR] [--engine E] [--workers N]")
	cfgPath := fs.String("config", "", "deployment configuration; cameras[].recording gives each camera's file and start time")
	scenarioDir := fs.String("scenario", "", "a rendered scenario (truth.json and a video per camera) instead of --config; its enrolled people are the watch list unless --gallery says otherwise")
	fps := fs.Float64("fps", 3, "with --scenario: detections per second on every camera")
	only := fs.String("cameras", "", "replay only these cameras (comma-separated ids)")
	dbPath := fs.String("db", "", "the snowlight database (SQLite) the sightings and trajectories go to; created if missing")
	objects := fs.String("objects", "", "directory for snapshot JPEGs (default: MinIO when the configuration's storage is minio, else objects/ beside the database)")
	gallery := fs.String("gallery", "", "watch list from a folder of people: DIR/<person name>/*.jpg|png (default: the database's watch list, which `snowlight enroll --db` fills)")
	category := fs.String("category", string(watchlist.Missing), "watch-list category (and so threshold) of the --gallery people: at_risk, missing or suspect")
	modelsDir := fs.String("models", "", "models directory (default $"+models.EnvDir+"); without one, classical detectors and no recognition")
	engine := addEngineFlags(fs)
	workers := fs.Int("workers", runtime.GOMAXPROCS(0), "detectors run in parallel (one per core is fastest)")
	gate := fs.Bool("gate", true, "motion gate: frames where nothing moves skip the detectors, as live")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if (*cfgPath == "") == (*scenarioDir == "") || *dbPath == "" || fs.NArg() > 0 || *workers < 1 || !(*fps > 0 && *fps <= 60) {
		fs.Usage()
		return errUsage
	}
	cat, err := watchlist.ParseCategory(*category)
	if err != nil {
		return err
	}
	var cfg *config.Config
	var truth *testvideos.Truth
	if *scenarioDir != "" {
		cfg, truth, err = scenarioConfig(*scenarioDir, *fps)
		*cfgPath = *scenarioDir
	} else {
		cfg, err = config.Load(*cfgPath)
	}
	if err != nil {
		return err
	}
	d, err := deploy.Decode(cfg)
	if err != nil {
		return fmt.Errorf("config %s: %w", *cfgPath, err)
	}
	recs, err := d.Recordings()
	if err != nil {
		return fmt.Errorf("config %s: %w", *cfgPath, err)
	}
	if *only != "" {
		if recs, err = selectRecordings(recs, strings.Split(*only, ",")); err != nil {
			return err
		}
	}
	policy := d.Watchlist
	topo, err := d.Topology()
	if err != nil {
		return fmt.Errorf("config %s: %w", *cfgPath, err)
	}
	stitcher, err := stitch.New(stitch.DefaultConfig(), topo)
	if err != nil {
		return err
	}

	db, err := store.Open(ctx, *dbPath)
	if err != nil {
		return err
	}
	defer db.Close()
	if err := db.SetCameras(ctx, d.CameraPositions()); err != nil {
		return err
	}
	objs, where, err := replayObjects(ctx, cfg, *objects, *dbPath)
	if err != nil {
		return err
	}

	dcfg := detect.DefaultConfig(models.ResolveDir(*modelsDir))
	dcfg.Log = e.log
	if err := engine.configure(&dcfg, e.log); err != nil {
		return err
	}
	var dets []*detect.Pipeline
	defer func() {
		for _, d := range dets {
			d.Close()
		}
	}()
	for range min(*workers, len(recs)) {
		d, err := detect.NewPipeline(dcfg)
		if err != nil {
			return err
		}
		dets = append(dets, d)
		dcfg.Log = nil // said once is enough
	}
	var ids []watchlist.Person
	var source string
	if truth != nil && *gallery == "" {
		if !dets[0].Recognition() {
			return needModels("the scenario's watch list")
		}
		ids, err = scenarioWatchList(ctx, dets[0], truth)
		source = "scenario " + *scenarioDir
	} else {
		ids, source, err = replayWatchList(ctx, e.log, dets[0], db, *gallery, cat)
	}
	if err != nil {
		return err
	}
	var matcher *watchlist.Matcher
	if len(ids) > 0 {
		if matcher, err = watchlist.NewMatcher(ids, policy, dets[0].EmbeddingModel(), time.Now()); err != nil {
			return err
		}
	}
	names := map[string]string{}
	for _, id := range ids {
		names[id.ID] = id.Name
	}
	e.log.Info("replay starting", "cameras", len(recs), "detectors", len(dets), "watch_list", source,
		"people", len(ids), "objects", where, "db", *dbPath)

	opts := pipeline.ReplayOptions{
		Recordings: recs,
		Detectors:  dets,
		Edge: pipeline.EdgeConfig{
			Tracker:   pipeline.TrackerConfig(),
			WatchList: func() *watchlist.Matcher { return matcher },
			Log:       e.log,
		},
		Center: center.Config{Store: db, Objects: objs, Stitcher: stitcher, Log: e.log},
		Log:    e.log,
	}
	if *gate {
		g := pipeline.GateConfig()
		opts.Gate = &g
	}
	cpu0 := cpuTime()
	st, err := pipeline.Replay(ctx, opts)
	if err != nil {
		return err
	}
	printReplay(e.stdout, st, cpuTime()-cpu0, names)
	return nil
}

// selectRecordings keeps the recordings of the named cameras.
func selectRecordings(recs []media.Recording, ids []string) ([]media.Recording, error) {
	var out []media.Recording
	for _, id := range ids {
		i := slices.IndexFunc(recs, func(r media.Recording) bool { return r.Camera == id })
		if i < 0 {
			return nil, fmt.Errorf("--cameras: no recording of camera %q", id)
		}
		out = append(out, recs[i])
	}
	return out, nil
}

// replayObjects picks where snapshots go: --objects, else MinIO when the configuration says so, else
// a directory beside the database.
func replayObjects(ctx context.Context, cfg *config.Config, dir, dbPath string) (objstore.Store, string, error) {
	if dir == "" && cfg.Storage.Kind == "minio" {
		m := cfg.Storage.MinIO
		s, err := objstore.OpenMinIO(ctx, objstore.MinIOConfig{Endpoint: m.Endpoint, AccessKey: m.AccessKey,
			SecretKey: m.SecretKey.Reveal(), Secure: m.Secure, Bucket: m.Bucket})
		if err != nil {
			return nil, "", err
		}
		return s, "minio://" + m.Endpoint + "/" + m.Bucket, nil
	}
	if dir == "" {
		dir = filepath.Join(filepath.Dir(dbPath), "objects")
	}
	s, err := objstore.OpenDir(dir, objstore.DirOptions{})
	if err != nil {
		return nil, "", err
	}
	return s, dir, nil
}

// replayWatchList loads the people to look for: a gallery folder, or else the database's active
// watch list.
func replayWatchList(ctx context.Context, log *slog.Logger, p *detect.Pipeline, db *store.DB, gallery string,
	cat watchlist.Category) ([]watchlist.Person, string, error) {
	if gallery != "" {
		ids, err := loadGallery(ctx, log, p, gallery, cat)
		return ids, "gallery " + gallery, err
	}
	persons, err := db.Watchlist().Active(ctx, time.Now())
	if err != nil {
		return nil, "", err
	}
	if len(persons) > 0 && !p.Recognition() {
		return nil, "", needModels("the database's watch list")
	}
	return persons, "database", nil
}

// cpuTime is the process's user plus system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func printReplay(w io.Writer, st pipeline.ReplayStats, cpu time.Duration, names map[string]string) {
	var ided []string
	for _, id := range st.Identified {
		if n := names[id]; n != "" && n != id {
			id = fmt.Sprintf("%s (%s)", n, id)
		}
		ided = append(ided, id)
	}
	if len(ided) == 0 {
		ided = []string{"nobody"}
	}
	fmt.Fprintf(w, "replayed %d cameras: %d frames sampled, %d through the detectors, in %v (CPU %v)\n",
		len(st.Cameras), st.Frames(), detectedFrames(st), st.Elapsed.Round(time.Millisecond), cpu.Round(time.Millisecond))
	fmt.Fprintf(w, "sightings %d, trajectories %d (%d of them joining several sightings by %d links)\n",
		st.Center.Sightings, st.Trajectories, st.Linked, st.Links)
	fmt.Fprintf(w, "identified: %s\n", strings.Join(ided, ", "))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "CAMERA\tFRAMES\tDETECTED\tSKIPPED\tSIGHTINGS\tNOTE")
	for _, c := range st.Cameras {
		note := ""
		if c.Source.BrokenOff != nil {
			note = "file breaks off: " + c.Source.BrokenOff.Error()
		} else if c.Source.Damaged > 0 {
			note = fmt.Sprintf("%d damaged pictures skipped", c.Source.Damaged)
		}
		if c.Edge.Errors > 0 {
			note = strings.TrimPrefix(note+fmt.Sprintf("; %d frames failed in the detectors", c.Edge.Errors), "; ")
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%s\n", c.Camera, c.Source.Frames, c.Edge.Detected, c.Edge.Skipped, c.Edge.Ended, dash(note))
	}
	tw.Flush()
}

func detectedFrames(st pipeline.ReplayStats) int {
	n := 0
	for _, c := range st.Cameras {
		n += c.Edge.Detected
	}
	return n
}
