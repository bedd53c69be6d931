// Package detectbench measures what perception costs on real footage: milliseconds per frame for each
// stage, CPU per camera-second of the whole perception stage at a detection rate (5 fps) with and without
// the motion gate on a busy street (vtest) and a quiet scene, the gate's effect on recall, OSNet on every
// person against the cameras' appearance schedule (calls, CPU, and what the edge's tracker makes of the
// same detections with either), and the Go path's YuNet and YOLOX against OpenCV's own implementation of
// the same models timed on the same frames by a small C++ program built with g++ for the run.
//
// Frames are decoded before any measurement, so the figures are perception only; CPU is the process's
// user+system time (OpenCV's worker threads included).
package detectbench

import (
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"image"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"syscall"
	"time"

	"gocv.io/x/gocv"

	"snowlight/detect"
	"snowlight/detect/infer"
	"snowlight/models"
)

//go:embed ref/reference.cpp
var referenceSource []byte

// Options configure Run.
type Options struct {
	ModelsDir string
	Busy      string        // a busy street video (vtest)
	Quiet     string        // a quiet scene video
	FPS       float64       // detection rate
	Duration  time.Duration // of each video used
	// RefFrames frames of the busy video are timed RefRounds times by both the Go path and the C++
	// reference with OpenCV limited to RefThreads threads; RefRounds 0 skips the comparison.
	RefFrames, RefRounds, RefThreads int
	// Engines are compared side by side on the busy street; the first runs every other table too.
	Engines     []infer.Engine `json:"-"`
	EngineNames []string       `json:"engines"`
	Log         *slog.Logger   `json:"-"`
}

// DefaultOptions measures 20 s of each video at 5 detection fps and compares on 10 frames x 5 rounds.
func DefaultOptions() Options {
	return Options{FPS: 5, Duration: 20 * time.Second, RefFrames: 10, RefRounds: 5, RefThreads: 1}
}

// Stage is the cost of one stage.
type Stage struct {
	Name  string  `json:"name"`
	Input string  `json:"input"`
	Ms    float64 `json:"ms"` // median per call
	Calls int     `json:"calls"`
}

// Scene is the whole perception stage on one video in one mode.
type Scene struct {
	Scene string `json:"scene"`
	Gated bool   `json:"gated"`
	// Appearance is "every person" (OSNet on every person of every frame) or "scheduled"
	// (detect.DefaultAppearanceSchedule).
	Appearance    string  `json:"appearance"`
	Frames        int     `json:"frames"`
	DetectorRuns  int     `json:"detector_runs"`
	VideoSeconds  float64 `json:"video_seconds"`
	CPUSeconds    float64 `json:"cpu_seconds"`
	CPUPerCamSec  float64 `json:"cpu_ms_per_camera_second"`
	Persons       int     `json:"persons"`
	RecallUngated float64 `json:"recall_vs_ungated,omitempty"` // gated only
	// OSNet is how many appearance embeddings were computed, Why the schedule's reasons for them.
	OSNet int                    `json:"osnet_calls"`
	Why   detect.AppearanceStats `json:"appearance_reasons"`
	// AppearanceMs is the wall time of the appearance stage per camera-second: the part the schedule
	// changes, on its own (the whole stage's CPU varies between runs by more than the saving).
	AppearanceMs float64 `json:"appearance_ms_per_camera_second"`
}

// appearance modes of a scene
const (
	everyPerson = "every person"
	scheduled   = "scheduled"
)

// Reference compares a Go detector with OpenCV's own on the same frames: CPU milliseconds per frame (the
// comparison, robust to other load on the machine) and wall milliseconds.
type Reference struct {
	Model        string  `json:"model"`
	Input        string  `json:"input"`
	GoMs         float64 `json:"go_cpu_ms"`
	OpenCVMs     float64 `json:"opencv_cpu_ms"`
	GoWallMs     float64 `json:"go_wall_ms"`
	OpenCVWallMs float64 `json:"opencv_wall_ms"`
	Overhead     float64 `json:"overhead"` // GoMs/OpenCVMs - 1, on CPU time
	GoFound      int     `json:"go_found"`
	CVFound      int     `json:"opencv_found"`
}

// Report is the outcome of Run.
type Report struct {
	Date    time.Time `json:"date"`
	Machine string    `json:"machine"`
	Options Options   `json:"options"`
	Stages  []Stage   `json:"stages"`
	Scenes  []Scene   `json:"scenes"`
	// Tracks compares, per scene and gating, the tracks made of the scheduled appearance and of no
	// appearance at all with those made of every person's.
	Tracks    []TrackAgreement `json:"tracks"`
	Reference []Reference      `json:"reference,omitempty"`
	RefError  string           `json:"reference_error,omitempty"`
	// EngineScenes and ModelTimes compare the inference engines (Options.Engines).
	EngineScenes []EngineScene `json:"engine_scenes"`
	ModelTimes   []ModelTime   `json:"model_times"`
}

type frame struct {
	at  time.Duration
	img gocv.Mat
}

// Run measures; it takes a few minutes on two cores.
func Run(ctx context.Context, o Options) (*Report, error) {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if len(o.Engines) == 0 {
		o.Engines = []infer.Engine{infer.NewOpenCV()}
	}
	o.EngineNames = nil
	for _, e := range o.Engines {
		o.EngineNames = append(o.EngineNames, e.Name())
	}
	rep := &Report{Date: time.Now().UTC(), Machine: machine(), Options: o}
	rep.Options.Log, rep.Options.Engines = nil, nil
	busy, err := decodeSampled(o.Busy, o.FPS, o.Duration)
	if err != nil {
		return nil, err
	}
	defer closeFrames(busy)
	quiet, err := decodeSampled(o.Quiet, o.FPS, o.Duration)
	if err != nil {
		return nil, err
	}
	defer closeFrames(quiet)

	// Two pipelines on the same models: one embeds every person's appearance on every frame (as
	// before the schedule), the other as cameras do by default.
	pipelines := map[string]*detect.Pipeline{}
	for _, mode := range []string{everyPerson, scheduled} {
		cfg := detect.DefaultConfig(o.ModelsDir)
		cfg.Log, cfg.Engine = o.Log, o.Engines[0]
		if mode == everyPerson {
			cfg.AppearanceSchedule = detect.AppearanceSchedule{}
		}
		p, err := detect.NewPipeline(cfg)
		if err != nil {
			return nil, err
		}
		defer p.Close()
		pipelines[mode] = p
	}

	gcfg := detect.DefaultGateConfig()
	for _, v := range []struct {
		name   string
		frames []frame
	}{{"vtest (busy street)", busy}, {"quiet scene", quiet}} {
		o.Log.Info("bench perception: whole stage", "scene", v.name)
		var ref ungatedOutput
		var every [2][][]detect.Person // by gating
		// The two modes run back to back at each gating, so the machine's other load changes least
		// between the runs compared.
		for g, gate := range []*detect.GateConfig{nil, &gcfg} {
			for _, mode := range []string{everyPerson, scheduled} {
				var boxes [][]detect.Box
				if gate != nil {
					boxes = ref.boxes
				}
				sc, out, err := scene(ctx, pipelines[mode], v.name, mode, v.frames, o.FPS, gate, boxes)
				if err != nil {
					return nil, err
				}
				rep.Scenes = append(rep.Scenes, sc)
				switch {
				case gate == nil && mode == everyPerson:
					ref = out
					if len(rep.Stages) == 0 {
						rep.Stages = append(rep.Stages, out.stages...)
					}
				case mode == scheduled:
					times := frameTimes(v.frames)
					for _, c := range []struct {
						name    string
						persons [][]detect.Person
					}{{scheduled, out.persons}, {"none", withoutAppearance(every[g])}} {
						a, err := compareTracks(times, every[g], c.persons)
						if err != nil {
							return nil, fmt.Errorf("%s, gated %v: %w", v.name, gate != nil, err)
						}
						a.Scene, a.Gated, a.Appearance = v.name, gate != nil, c.name
						rep.Tracks = append(rep.Tracks, a)
					}
				}
				if mode == everyPerson {
					every[g] = out.persons
				}
			}
		}
	}

	o.Log.Info("bench perception: isolated stages")
	more, err := isolatedStages(ctx, o.ModelsDir, o.Engines[0], busy)
	if err != nil {
		return nil, err
	}
	rep.Stages = append(rep.Stages, more...)

	o.Log.Info("bench perception: engines side by side", "engines", o.EngineNames)
	if rep.EngineScenes, rep.ModelTimes, err = compareEngines(ctx, o, busy); err != nil {
		return nil, err
	}

	if o.RefRounds > 0 {
		o.Log.Info("bench perception: Go vs OpenCV reference")
		n := min(o.RefFrames, len(busy))
		refs, err := compareReference(ctx, o, busy[:n])
		if err != nil {
			rep.RefError = err.Error()
			o.Log.Warn("reference comparison failed", "err", err)
		}
		rep.Reference = refs
	}
	return rep, nil
}

func machine() string {
	cpu := runtime.GOARCH
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(data), "\n") {
			if strings.HasPrefix(l, "model name") {
				if i := strings.Index(l, ":"); i > 0 {
					cpu = strings.TrimSpace(l[i+1:])
				}
				break
			}
		}
	}
	return fmt.Sprintf("%s, %d cores, OpenCV %s", cpu, runtime.NumCPU(), gocv.OpenCVVersion())
}

// decodeSampled decodes up to limit of the video at about fps frames per second.
func decodeSampled(path string, fps float64, limit time.Duration) ([]frame, error) {
	vc, err := gocv.VideoCaptureFile(path)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	defer vc.Close()
	src := vc.Get(gocv.VideoCaptureFPS)
	if src <= 0 {
		return nil, fmt.Errorf("%s: unknown frame rate", path)
	}
	step := max(1, int(src/fps+0.5))
	img := gocv.NewMat()
	defer img.Close()
	var out []frame
	for n := 0; vc.Read(&img); n++ {
		at := time.Duration(float64(n) / src * float64(time.Second))
		if at >= limit {
			break
		}
		if n%step == 0 {
			out = append(out, frame{at, img.Clone()})
		}
	}
	if len(out) == 0 {
		closeFrames(out)
		return nil, fmt.Errorf("%s: no frames decoded", path)
	}
	return out, nil
}

func closeFrames(fs []frame) {
	for _, f := range fs {
		f.img.Close()
	}
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func median(ds []time.Duration) float64 {
	if len(ds) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(a, b int) bool { return s[a] < s[b] })
	return float64(s[len(s)/2]) / float64(time.Millisecond)
}

// ungatedOutput is what the ungated pass leaves for the gated one and for the stage table, and what
// every pass leaves for the tracker comparison.
type ungatedOutput struct {
	boxes   [][]detect.Box
	stages  []Stage
	persons [][]detect.Person
}

// scene runs the pipeline over the frames, gated when gcfg is set, and charges it the process CPU.
func scene(ctx context.Context, p *detect.Pipeline, name, mode string, frames []frame, fps float64,
	gcfg *detect.GateConfig, ref [][]detect.Box) (Scene, ungatedOutput, error) {
	cam := p.NewCamera(name, gcfg)
	defer cam.Close()
	times := frameTimes(frames)
	s := Scene{Scene: name, Gated: gcfg != nil, Appearance: mode, Frames: len(frames),
		VideoSeconds: float64(len(frames)) / fps}
	var out ungatedOutput
	var tPersons, tFaces, tEmbed, tApp, tGate []time.Duration
	var persons int
	var appTotal time.Duration
	var matched, refTotal int
	before := cpuTime()
	for i, f := range frames {
		res, err := cam.Process(ctx, f.img, times[i])
		if err != nil {
			return s, out, err
		}
		if !res.Skipped {
			s.DetectorRuns++
		}
		s.Persons += len(res.Persons)
		s.OSNet += res.Appearances
		out.persons = append(out.persons, res.Persons)
		var boxes []detect.Box
		for _, pr := range res.Persons {
			boxes = append(boxes, pr.Box)
		}
		if ref != nil {
			matched += pairs(ref[i], boxes, 0.5)
			refTotal += len(ref[i])
		}
		out.boxes = append(out.boxes, boxes)
		tGate = append(tGate, res.Timing.Gate)
		tPersons = append(tPersons, res.Timing.Persons)
		tFaces = append(tFaces, res.Timing.Faces)
		tEmbed = append(tEmbed, res.Timing.Embed)
		tApp = append(tApp, res.Timing.Appearance)
		persons += len(res.Persons)
		appTotal += res.Timing.Appearance
	}
	s.CPUSeconds = (cpuTime() - before).Seconds()
	s.Why = cam.AppearanceStats()
	s.CPUPerCamSec = 1000 * s.CPUSeconds / s.VideoSeconds
	s.AppearanceMs = float64(appTotal) / float64(time.Millisecond) / s.VideoSeconds
	if ref != nil {
		s.RecallUngated = float64(matched) / float64(max(refTotal, 1))
	}
	if gcfg == nil && mode == everyPerson {
		w, h := frames[0].img.Cols(), frames[0].img.Rows()
		in := fmt.Sprintf("%dx%d frame", w, h)
		out.stages = []Stage{
			{"person detection (YOLOX-nano 416)", in, median(tPersons), len(frames)},
			{"face detection (YuNet + verification)", in, median(tFaces), len(frames)},
			{"appearance (OSNet x0.25), per person", "128x256 crop", perCall(appTotal, persons), persons},
			{"face align + embed, per frame (vtest faces are too small: none)", in, median(tEmbed), len(frames)},
			{"appearance, per frame", in, median(tApp), len(frames)},
		}
	}
	return s, out, nil
}

func perCall(total time.Duration, n int) float64 {
	if n == 0 {
		return 0
	}
	return float64(total) / float64(n) / float64(time.Millisecond)
}

// isolatedStages times the gate and the fallback detectors alone, and YuNet at 640x480 (the size the
// models README quotes).
func isolatedStages(ctx context.Context, modelsDir string, engine infer.Engine, frames []frame) ([]Stage, error) {
	in := fmt.Sprintf("%dx%d frame", frames[0].img.Cols(), frames[0].img.Rows())
	var out []Stage
	time1 := func(name, input string, fn func(gocv.Mat) error, fs []gocv.Mat) error {
		var ds []time.Duration
		for _, f := range fs {
			if err := ctx.Err(); err != nil {
				return err
			}
			t0 := time.Now()
			if err := fn(f); err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
			ds = append(ds, time.Since(t0))
		}
		out = append(out, Stage{name, input, median(ds), len(ds)})
		return nil
	}
	var mats, small []gocv.Mat
	for _, f := range frames {
		mats = append(mats, f.img)
		s := gocv.NewMat()
		gocv.Resize(f.img, &s, image.Pt(640, 480), 0, 0, gocv.InterpolationArea)
		small = append(small, s)
	}
	defer func() {
		for _, s := range small {
			s.Close()
		}
	}()
	g := detect.NewGate(detect.DefaultGateConfig())
	defer g.Close()
	i := 0
	if err := time1("motion gate (160 px frame differencing)", in, func(m gocv.Mat) error {
		i++
		_, err := g.Check(m, time.Unix(int64(i), 0))
		return err
	}, mats); err != nil {
		return nil, err
	}
	ycfg := detect.DefaultYuNetConfig()
	ycfg.VerifyBelow = 0
	yn, err := detect.NewYuNet(engine, modelsDir, ycfg)
	if err != nil {
		return nil, err
	}
	defer yn.Close()
	if err := time1("face detection (YuNet alone)", "640x480 frame", func(m gocv.Mat) error {
		_, err := yn.DetectFaces(m)
		return err
	}, small); err != nil {
		return nil, err
	}
	emb, err := detect.NewFaceEmbedder(engine, modelsDir)
	if err != nil {
		return nil, err
	}
	defer emb.Close()
	face := templateFace()
	if err := time1("face align + embed (MobileFaceNet), per face", "90 px face", func(m gocv.Mat) error {
		_, err := emb.EmbedFace(m, face)
		return err
	}, mats); err != nil {
		return nil, err
	}
	hog := detect.NewHOG(detect.DefaultHOGConfig())
	defer hog.Close()
	if err := time1("fallback person detection (HOG, upscaled to 1152)", in, func(m gocv.Mat) error {
		_, err := hog.DetectPersons(m)
		return err
	}, mats[:min(len(mats), 20)]); err != nil {
		return nil, err
	}
	cas, err := detect.NewCascade(detect.DefaultConfig("").FaceCascade)
	if err != nil {
		return nil, err
	}
	defer cas.Close()
	if err := time1("fallback face detection (Haar cascade)", in, func(m gocv.Mat) error {
		_, err := cas.DetectFaces(m)
		return err
	}, mats[:min(len(mats), 20)]); err != nil {
		return nil, err
	}
	return out, nil
}

// compareReference times YuNet and YOLOX in Go and in OpenCV's C++ on the same frames with the same
// OpenCV thread count. Each round runs one model over every frame and is charged the process CPU time;
// the two sides alternate four times so that load from elsewhere on the machine falls on both, and each
// keeps its best median.
func compareReference(ctx context.Context, o Options, frames []frame) ([]Reference, error) {
	dir, err := os.MkdirTemp("", "detectbench-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	src := filepath.Join(dir, "reference.cpp")
	exe := filepath.Join(dir, "reference")
	if err := os.WriteFile(src, referenceSource, 0o644); err != nil {
		return nil, err
	}
	flags, err := exec.CommandContext(ctx, "pkg-config", "--cflags", "--libs", "opencv4").Output()
	if err != nil {
		return nil, fmt.Errorf("pkg-config opencv4: %w", err)
	}
	args := append([]string{"-O2", "-std=c++17", "-o", exe, src}, strings.Fields(string(flags))...)
	if msg, err := exec.CommandContext(ctx, "g++", args...).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("build the C++ reference: %v: %s", err, msg)
	}
	var paths []string
	var imgs []gocv.Mat
	for i, f := range frames {
		p := filepath.Join(dir, fmt.Sprintf("frame%03d.png", i))
		if !gocv.IMWrite(p, f.img) {
			return nil, fmt.Errorf("write %s", p)
		}
		paths = append(paths, p)
		imgs = append(imgs, f.img)
	}
	yunetPath := filepath.Join(o.ModelsDir, mustFile(models.FaceDetector))
	yoloxPath := filepath.Join(o.ModelsDir, mustFile(models.PersonDetector))
	threads := max(o.RefThreads, 1)
	old := detect.SetOpenCVThreads(threads)
	defer detect.SetOpenCVThreads(old)

	ycfg := detect.DefaultYuNetConfig()
	ycfg.VerifyBelow = 0 // the same work as cv::FaceDetectorYN
	yn, err := detect.NewYuNet(nil, o.ModelsDir, ycfg)
	if err != nil {
		return nil, err
	}
	defer yn.Close()
	yx, err := detect.NewYOLOX(nil, o.ModelsDir, detect.DefaultYOLOXConfig())
	if err != nil {
		return nil, err
	}
	defer yx.Close()

	type result struct {
		YuNetCPU  float64 `json:"yunet_cpu_ms"`
		YuNetWall float64 `json:"yunet_wall_ms"`
		YOLOXCPU  float64 `json:"yolox_cpu_ms"`
		YOLOXWall float64 `json:"yolox_wall_ms"`
		Faces     int     `json:"faces"`
		Persons   int     `json:"persons"`
	}
	inf := result{YuNetCPU: 1e9, YuNetWall: 1e9, YOLOXCPU: 1e9, YOLOXWall: 1e9}
	bestCV, bestGo := inf, inf
	keep := func(best *result, r result) {
		best.YuNetCPU, best.YuNetWall = min(best.YuNetCPU, r.YuNetCPU), min(best.YuNetWall, r.YuNetWall)
		best.YOLOXCPU, best.YOLOXWall = min(best.YOLOXCPU, r.YOLOXCPU), min(best.YOLOXWall, r.YOLOXWall)
		best.Faces, best.Persons = r.Faces, r.Persons
	}
	n := time.Duration(len(imgs))
	for rep := 0; rep < 4; rep++ {
		cmd := exec.CommandContext(ctx, exe, append([]string{yunetPath, yoloxPath, fmt.Sprint(o.RefRounds),
			fmt.Sprint(threads)}, paths...)...)
		outb, err := cmd.Output()
		if err != nil {
			return nil, fmt.Errorf("run the C++ reference: %w", err)
		}
		var cv result
		if err := json.Unmarshal(outb, &cv); err != nil {
			return nil, fmt.Errorf("C++ reference output %q: %w", outb, err)
		}
		keep(&bestCV, cv)

		var ync, ynw, yxc, yxw []time.Duration
		var gr result
		for r := -1; r < o.RefRounds; r++ { // round -1 warms up, as in the C++
			c0, t0 := cpuTime(), time.Now()
			faces, persons := 0, 0
			for _, m := range imgs {
				fs, err := yn.DetectFaces(m)
				if err != nil {
					return nil, err
				}
				faces += len(fs)
			}
			c1, w1 := cpuTime(), time.Since(t0)
			t0 = time.Now()
			for _, m := range imgs {
				ps, err := yx.DetectPersons(m)
				if err != nil {
					return nil, err
				}
				persons += len(ps)
			}
			c2, w2 := cpuTime(), time.Since(t0)
			if r >= 0 {
				ync, ynw = append(ync, (c1-c0)/n), append(ynw, w1/n)
				yxc, yxw = append(yxc, (c2-c1)/n), append(yxw, w2/n)
				gr.Faces += faces
				gr.Persons += persons
			}
		}
		gr.YuNetCPU, gr.YuNetWall, gr.YOLOXCPU, gr.YOLOXWall = median(ync), median(ynw), median(yxc), median(yxw)
		keep(&bestGo, gr)
	}
	in := fmt.Sprintf("%dx%d, %d frames x %d rounds, %d OpenCV thread(s)", imgs[0].Cols(), imgs[0].Rows(),
		len(imgs), o.RefRounds, threads)
	return []Reference{
		{"YuNet (Go decode vs cv::FaceDetectorYN)", in, bestGo.YuNetCPU, bestCV.YuNetCPU, bestGo.YuNetWall,
			bestCV.YuNetWall, bestGo.YuNetCPU/bestCV.YuNetCPU - 1, bestGo.Faces, bestCV.Faces},
		{"YOLOX-nano (Go vs C++: letterbox, forward, decode, NMS)", in, bestGo.YOLOXCPU, bestCV.YOLOXCPU,
			bestGo.YOLOXWall, bestCV.YOLOXWall, bestGo.YOLOXCPU/bestCV.YOLOXCPU - 1, bestGo.Persons, bestCV.Persons},
	}, nil
}

func mustFile(n models.Name) string {
	m, _ := models.Lookup(n)
	return m.File
}

// engineMarkdown renders the engines side by side: the whole stage per camera-second, the ratio to the
// first engine, whether the detections are the same, and each model alone.
func (r *Report) engineMarkdown(b *strings.Builder) {
	if len(r.EngineScenes) == 0 {
		return
	}
	names := r.Options.EngineNames
	b.WriteString("| whole perception stage, busy street | gated | engine | CPU ms per camera-second | share of a core | vs " + names[0] + " | detector runs | persons + faces | same detections (IoU >= 0.9) as " + names[0] + " |\n|---|---|---|---|---|---|---|---|---|\n")
	var base float64
	for i, s := range r.EngineScenes {
		if i%len(names) == 0 {
			base = s.CPUPerCamSec
		}
		fmt.Fprintf(b, "| %s | %v | %s | %.0f | %.2f | %.2fx | %d | %d | %d same, %d different |\n", s.Scene, s.Gated,
			s.Engine, s.CPUPerCamSec, s.CPUPerCamSec/1000, s.CPUPerCamSec/max(base, 1e-9), s.DetectorRuns,
			s.Persons+s.Faces, s.Same, s.Different)
	}
	b.WriteString("\n| model alone, CPU ms per call (median) | input |")
	for _, n := range names {
		b.WriteString(" " + n + " |")
	}
	b.WriteString(" " + names[len(names)-1] + " / " + names[0] + " |\n|---|---|" + strings.Repeat("---|", len(names)+1) + "\n")
	for _, m := range r.ModelTimes {
		fmt.Fprintf(b, "| %s | %s |", m.Model, m.Input)
		for _, n := range names {
			fmt.Fprintf(b, " %.1f |", m.Ms[n])
		}
		fmt.Fprintf(b, " %.1fx |\n", m.Ms[names[len(names)-1]]/max(m.Ms[names[0]], 1e-9))
	}
	b.WriteString("\n")
}

// Markdown renders the report as the tables of docs/BENCHMARKS.md.
func (r *Report) Markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "Measured %s on %s; %.0f detection fps, %s of each video; engine %s (compared: %s).\n\n",
		r.Date.Format("2006-01-02"), r.Machine, r.Options.FPS, r.Options.Duration, r.Options.EngineNames[0],
		strings.Join(r.Options.EngineNames, ", "))
	r.engineMarkdown(&b)
	b.WriteString("| perception stage, whole | gated | appearance | frames | detector runs | CPU ms per camera-second | persons | OSNet calls per frame (new / near / doubt / larger / due) | appearance stage ms per camera-second | recall vs ungated |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|---|---|\n")
	for _, s := range r.Scenes {
		rec := "-"
		if s.Gated && s.RecallUngated > 0 {
			rec = fmt.Sprintf("%.3f", s.RecallUngated)
		}
		why := ""
		if s.Appearance == scheduled {
			w := s.Why
			why = fmt.Sprintf(" (%d / %d / %d / %d / %d)", w.New, w.Near, w.Doubt, w.Larger, w.Due)
		}
		fmt.Fprintf(&b, "| %s | %v | %s | %d | %d | %.0f | %d | %.2f%s | %.0f | %s |\n", s.Scene, s.Gated, s.Appearance,
			s.Frames, s.DetectorRuns, s.CPUPerCamSec, s.Persons, float64(s.OSNet)/float64(max(s.Frames, 1)), why,
			s.AppearanceMs, rec)
	}
	find := func(name string, gated bool, mode string) float64 {
		for _, s := range r.Scenes {
			if s.Scene == name && s.Gated == gated && s.Appearance == mode {
				return s.CPUPerCamSec
			}
		}
		return 0
	}
	for _, name := range []string{"vtest (busy street)", "quiet scene"} {
		every, gated, both := find(name, false, everyPerson), find(name, true, everyPerson), find(name, true, scheduled)
		if gated > 0 && both > 0 {
			fmt.Fprintf(&b, "\n%s: gating cuts CPU %.2fx, the appearance schedule %.2fx more, both %.2fx.\n", name,
				every/gated, gated/both, every/both)
		}
	}
	if len(r.Tracks) > 0 {
		b.WriteString("\n| tracks of the same detections against every person's appearance | gated | appearance | tracked detections | IDF1 | ID switches | MOTA | sightings | sighting appearance cosine (median / min) |\n|---|---|---|---|---|---|---|---|---|\n")
		for _, a := range r.Tracks {
			if a.Detections == 0 {
				fmt.Fprintf(&b, "| %s | %v | %s | 0 | - | - | - | %d | - |\n", a.Scene, a.Gated, a.Appearance, a.Sightings)
				continue
			}
			cos := "-"
			if a.Sightings > 0 {
				cos = fmt.Sprintf("%.3f / %.3f", a.SightingCosineMedian, a.SightingCosineMin)
			}
			fmt.Fprintf(&b, "| %s | %v | %s | %d | %.3f | %d | %.3f | %d | %s |\n", a.Scene, a.Gated, a.Appearance,
				a.Detections, a.IDF1, a.IDSW, a.MOTA, a.Sightings, cos)
		}
	}
	b.WriteString("\n| stage | input | ms (median) | calls |\n|---|---|---|---|\n")
	for _, s := range r.Stages {
		fmt.Fprintf(&b, "| %s | %s | %.1f | %d |\n", s.Name, s.Input, s.Ms, s.Calls)
	}
	if len(r.Reference) > 0 {
		b.WriteString("\n| model | frames | Go CPU ms | OpenCV CPU ms | Go overhead (CPU) | Go / OpenCV wall ms | found (Go / OpenCV) |\n|---|---|---|---|---|---|---|\n")
		for _, x := range r.Reference {
			fmt.Fprintf(&b, "| %s | %s | %.1f | %.1f | %+.1f%% | %.1f / %.1f | %d / %d |\n", x.Model, x.Input,
				x.GoMs, x.OpenCVMs, 100*x.Overhead, x.GoWallMs, x.OpenCVWallMs, x.GoFound, x.CVFound)
		}
	}
	if r.RefError != "" {
		fmt.Fprintf(&b, "\nReference comparison failed: %s\n", r.RefError)
	}
	return b.String()
}
