package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"snowlight/detect"
	"snowlight/models"
	"snowlight/watchlist"
)

// repeated is a flag that may be given several times.
type repeated []string

var _ flag.Value = (*repeated)(nil)

func (r *repeated) String() string     { return strings.Join(*r, ",") }
func (r *repeated) Set(v string) error { *r = append(*r, v); return nil }

// runAnalyze finds people and faces in footage or photos an investigator was handed and names the faces
// that belong to people in a gallery folder.
func runAnalyze(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "analyze", "[--gallery DIR] [--models DIR] [--engine E] [--json] [--fps N] (--video FILE | --image FILE...)")
	gallery := fs.String("gallery", "", "folder of people to look for: DIR/<person name>/*.jpg|png")
	category := fs.String("category", string(watchlist.Missing), "watch-list category (and so threshold) for the gallery: at_risk, missing or suspect")
	modelsDir := fs.String("models", "", "models directory (default $"+models.EnvDir+"); without one, classical detectors and no recognition")
	engine := addEngineFlags(fs)
	asJSON := fs.Bool("json", false, "one JSON object per line, per frame or image")
	video := fs.String("video", "", "video file to analyse")
	var images repeated
	fs.Var(&images, "image", "photo to analyse (repeatable; further photos may follow as arguments)")
	fps := fs.Float64("fps", 0, "analyse this many frames per second of video (default: every frame)")
	gate := fs.Bool("gate", false, "skip frames without motion (faster on quiet footage; a full pass every 2 s)")
	progress := fs.String("progress", "auto", "progress bar on stderr: auto (when a terminal), always or never")
	facesOnly := fs.Bool("faces-only", false, "run no person detector (faster when only faces matter)")
	truthTracks := fs.String("truth", "", "score the names against labelled face tracks (pyannote-video's format; with --truth-identities, video only)")
	truthIDs := fs.String("truth-identities", "", `CSV "track,identity" naming each track of --truth`)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if len(images) > 0 {
		images = append(images, fs.Args()...)
	} else if fs.NArg() > 0 {
		fs.Usage()
		return errUsage
	}
	if (*video == "") == (len(images) == 0) || *fps < 0 || (*truthTracks == "") != (*truthIDs == "") ||
		*truthTracks != "" && (*video == "" || *gallery == "") {
		fs.Usage()
		return errUsage
	}
	cat, err := watchlist.ParseCategory(*category)
	if err != nil {
		return err
	}

	cfg := detect.DefaultConfig(models.ResolveDir(*modelsDir))
	cfg.Appearance = false
	cfg.FacesOnly = *facesOnly
	cfg.Log = e.log
	if err := engine.configure(&cfg, e.log); err != nil {
		return err
	}
	p, err := detect.NewPipeline(cfg)
	if err != nil {
		return err
	}
	defer p.Close()
	var ids []watchlist.Person
	var matcher *watchlist.Matcher
	if *gallery != "" {
		ids, err = loadGallery(ctx, e.log, p, *gallery, cat)
		if err != nil {
			return err
		}
		policy := watchlist.DefaultPolicy()
		if matcher, err = watchlist.NewMatcher(ids, policy, p.EmbeddingModel(), time.Now()); err != nil {
			return err
		}
		p.SetWatchList(matcher)
		var names []string
		for _, id := range ids {
			names = append(names, fmt.Sprintf("%s (%d photos)", id.Name, len(id.Photos)))
		}
		e.log.Info("gallery enrolled", "dir", *gallery, "people", strings.Join(names, ", "), "category", cat,
			"threshold", policy.Threshold[cat])
	}

	a := &analysis{e: e, json: *asJSON, sightings: map[string]*sighting{}}
	if *video != "" {
		src, err := openVideo(*video, *fps, e.log)
		if err != nil {
			return err
		}
		defer src.Close()
		namer, err := newTrackNamer(matcher, ids)
		if err != nil {
			return err
		}
		if *truthTracks != "" {
			var people []string
			for _, id := range ids {
				people = append(people, id.Name)
			}
			if a.truth, err = newTruthScorer(*truthTracks, *truthIDs, people); err != nil {
				return err
			}
		}
		return a.video(ctx, p, namer, src, *video, *fps, *gate, showProgress(*progress, e.stderr))
	}
	return a.images(ctx, p, images)
}

// needModels says that what was asked for needs the face models.
func needModels(what string) error {
	return fmt.Errorf("%s needs the face models to recognise anyone: run `make models` and pass --models DIR or set %s",
		what, models.EnvDir)
}

// loadGallery enrols a gallery folder for analyze and replay: a photo that cannot be used is left out
// with a warning naming it; the load fails only when a person is left without any photo.
func loadGallery(ctx context.Context, log *slog.Logger, p *detect.Pipeline, dir string, cat watchlist.Category) ([]watchlist.Person, error) {
	if !p.Recognition() {
		return nil, needModels("--gallery")
	}
	return detect.LoadGalleryDir(ctx, p, dir, cat, detect.DefaultEnrolmentRules(), func(photo string, err error) {
		log.Warn("gallery photo left out", "photo", photo, "err", err)
	})
}

// analysis accumulates output and a summary.
type analysis struct {
	e         *env
	json      bool
	truth     *truthScorer // nil: no --truth
	width     int          // of the video's pictures
	height    int
	frames    int
	persons   int
	faces     int
	sightings map[string]*sighting // by identity name
}

type sighting struct {
	frames      int
	first, last float64 // seconds (video) or -1 (images)
	best        float64
	where       []string // images
}

type jsonPerson struct {
	Box   [4]float64 `json:"box"`
	Score float64    `json:"score"`
}

type jsonFace struct {
	Box     [4]float64 `json:"box"`
	Score   float64    `json:"score"`
	Quality float64    `json:"quality"`
	// Track is the face track (video only); Identity its name, "" when unknown; Source says where the
	// name came from: "face" when this face alone is named so by the photos, "track" when its track's
	// other frames were, "video" when the photos named no frame of the track but the person's faces
	// they named elsewhere in the video (LocalTracks) name it.
	Track    uint64 `json:"track,omitempty"`
	Identity string `json:"identity"`
	Source   string `json:"source,omitempty"`
	// Similarity is this face's to its nearest person's photos (its name's when named by itself);
	// TrackSimilarity the track template's to the named person: to their photos, or with source
	// "video" to their faces on LocalTracks.
	Similarity      float64  `json:"similarity"`
	TrackSimilarity float64  `json:"track_similarity,omitempty"`
	LocalTracks     []uint64 `json:"local_tracks,omitempty"`
}

type frameRecord struct {
	Frame   int          `json:"frame"`
	T       float64      `json:"t"`
	Persons []jsonPerson `json:"persons"`
	Faces   []jsonFace   `json:"faces"`
}

type imageRecord struct {
	Image   string       `json:"image"`
	Persons []jsonPerson `json:"persons"`
	Faces   []jsonFace   `json:"faces"`
}

func round(v float32, digits int) float64 {
	p := math.Pow(10, float64(digits))
	return math.Round(float64(v)*p) / p
}

func jsonBox(b detect.Box) [4]float64 {
	return [4]float64{round(b.X, 1), round(b.Y, 1), round(b.W, 1), round(b.H, 1)}
}

// convert turns a result into output records, each face named by its own match; a video's faces are
// named again by track (trackNamer) before they are counted.
func convert(res detect.Result) ([]jsonPerson, []jsonFace) {
	persons := make([]jsonPerson, 0, len(res.Persons))
	for _, pr := range res.Persons {
		persons = append(persons, jsonPerson{jsonBox(pr.Box), round(pr.Score, 3)})
	}
	faces := make([]jsonFace, 0, len(res.Faces))
	for _, f := range res.Faces {
		jf := jsonFace{Box: jsonBox(f.Box), Score: round(f.Score, 3), Quality: round(f.Quality.Value(), 3)}
		if f.Nearest != nil {
			jf.Similarity = round(f.Nearest.Similarity, 3)
		}
		if f.Match != nil {
			jf.Identity, jf.Source, jf.Similarity = f.Match.Name, "face", round(f.Match.Similarity, 3)
		}
		faces = append(faces, jf)
	}
	return persons, faces
}

// count adds a frame's or image's named faces to the summary; at is the time in seconds (video) or
// negative (image), where names the image.
func (a *analysis) count(persons []jsonPerson, faces []jsonFace, at float64, where string) {
	for _, f := range faces {
		if f.Identity == "" {
			continue
		}
		s := a.sightings[f.Identity]
		if s == nil {
			s = &sighting{first: at}
			a.sightings[f.Identity] = s
		}
		s.frames++
		s.last = at
		if f.Source != "video" { // a local template's similarity is not to the person's photos
			s.best = max(s.best, f.TrackSimilarity)
		}
		if f.Source == "face" { // Similarity is then the named person's, not some nearer one's
			s.best = max(s.best, f.Similarity)
		}
		if where != "" {
			s.where = append(s.where, where)
		}
	}
	a.frames++
	a.persons += len(persons)
	a.faces += len(faces)
}

func (a *analysis) images(ctx context.Context, p *detect.Pipeline, paths []string) error {
	enc := json.NewEncoder(a.e.stdout)
	rules := detect.DefaultEnrolmentRules()
	for _, path := range paths {
		if err := ctx.Err(); err != nil {
			return err
		}
		img, _, err := detect.ReadPhoto(path, rules.Limits)
		if err != nil {
			return err
		}
		res, err := p.DetectPhoto(ctx, img)
		img.Close()
		if err != nil {
			return fmt.Errorf("analyse %s: %w", path, err)
		}
		persons, faces := convert(res)
		a.count(persons, faces, -1, path)
		if a.json {
			if err := enc.Encode(imageRecord{Image: path, Persons: persons, Faces: faces}); err != nil {
				return err
			}
			continue
		}
		var names []string
		for _, f := range faces {
			if f.Identity != "" {
				names = append(names, fmt.Sprintf("%s (%.2f)", f.Identity, f.Similarity))
			} else {
				names = append(names, "unknown")
			}
		}
		fmt.Fprintf(a.e.stdout, "%s: %d person(s), %d face(s)", path, len(persons), len(faces))
		if len(names) > 0 {
			fmt.Fprintf(a.e.stdout, ": %s", strings.Join(names, ", "))
		}
		fmt.Fprintln(a.e.stdout)
	}
	return nil
}

func (a *analysis) video(ctx context.Context, p *detect.Pipeline, namer *trackNamer, src videoSource, path string,
	fps float64, gated bool, bar io.Writer) error {
	a.e.log.Info("analysing video", "file", path, "stream", src.Describe(), "fps", fps, "gate", gated)
	var cam *detect.Camera
	if gated {
		gcfg := detect.DefaultGateConfig()
		cam = p.NewCamera(path, &gcfg)
		defer cam.Close()
	}
	enc := json.NewEncoder(a.e.stdout)
	total := src.Frames()
	began := time.Now()
	// Wall time anchored at the start of analysis: the gate only needs time to advance as the video does.
	anchor := time.Now()
	lastBar := time.Time{}
	analysed := 0 // a.frames counts frames once named, which waits for their tracks to end
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		n, t, img, err := src.Next(ctx)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("analyse %s: %w", path, err)
		}
		var res detect.Result
		if cam != nil {
			res, err = cam.Process(ctx, img, anchor.Add(t))
		} else {
			res, err = p.Detect(ctx, img, anchor.Add(t))
		}
		a.width, a.height = img.Cols(), img.Rows()
		img.Close()
		if err != nil {
			return fmt.Errorf("analyse %s frame %d: %w", path, n, err)
		}
		analysed++
		persons, faces := convert(res)
		rec := frameRecord{Frame: n, T: math.Round(t.Seconds()*1000) / 1000, Persons: persons, Faces: faces}
		if err := a.emit(enc, namer.add(anchor.Add(t), res, rec)); err != nil {
			return err
		}
		if bar != nil && time.Since(lastBar) > 250*time.Millisecond {
			lastBar = time.Now()
			drawProgress(bar, n, total, analysed, time.Since(began))
		}
	}
	if err := a.emit(enc, namer.finish()); err != nil {
		return err
	}
	if bar != nil {
		drawProgress(bar, total, total, a.frames, time.Since(began))
		fmt.Fprintln(bar)
	}
	a.e.log.Info("video analysed", "file", path, "frames", a.frames, "seconds", time.Since(began).Round(time.Millisecond),
		"persons", a.persons, "faces", a.faces, "identified", len(a.sightings))
	if !a.json {
		a.summary()
	}
	if a.truth != nil {
		return a.truth.report(a.e.stdout, a.json)
	}
	return nil
}

// emit counts named frames and writes them as JSON lines when asked.
func (a *analysis) emit(enc *json.Encoder, recs []frameRecord) error {
	for _, rec := range recs {
		a.count(rec.Persons, rec.Faces, rec.T, "")
		if a.truth != nil {
			a.truth.add(rec, a.width, a.height)
		}
		if a.json {
			if err := enc.Encode(rec); err != nil {
				return err
			}
		}
	}
	return nil
}

func (a *analysis) summary() {
	fmt.Fprintf(a.e.stdout, "analysed %d frames: %d person detections, %d faces\n", a.frames, a.persons, a.faces)
	if len(a.sightings) == 0 {
		fmt.Fprintln(a.e.stdout, "nobody from the gallery identified")
		return
	}
	names := make([]string, 0, len(a.sightings))
	for n := range a.sightings {
		names = append(names, n)
	}
	sort.Strings(names)
	tw := tabwriter.NewWriter(a.e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "IDENTITY\tFRAMES\tFIRST\tLAST\tBEST SIMILARITY")
	for _, n := range names {
		s := a.sightings[n]
		fmt.Fprintf(tw, "%s\t%d\t%.1fs\t%.1fs\t%.3f\n", n, s.frames, s.first, s.last, s.best)
	}
	tw.Flush()
}

// showProgress decides where the progress bar goes: stderr when it is a terminal (auto) or when asked.
func showProgress(mode string, stderr io.Writer) io.Writer {
	switch mode {
	case "always":
		return stderr
	case "never":
		return nil
	}
	if f, ok := stderr.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			return stderr
		}
	}
	return nil
}

func drawProgress(w io.Writer, n, total, analysed int, elapsed time.Duration) {
	rate := float64(analysed) / max(elapsed.Seconds(), 1e-3)
	if total <= 0 {
		fmt.Fprintf(w, "\rframe %d, %d analysed, %.1f frames/s", n, analysed, rate)
		return
	}
	frac := min(float64(n)/float64(total), 1)
	const width = 30
	done := int(frac * width)
	eta := time.Duration(0)
	if frac > 0 {
		eta = time.Duration(float64(elapsed) * (1 - frac) / frac).Round(time.Second)
	}
	fmt.Fprintf(w, "\r[%s%s] %3.0f%% frame %d/%d, %.1f frames/s, %s left ", strings.Repeat("#", done),
		strings.Repeat(".", width-done), 100*frac, n, total, rate, eta)
}
