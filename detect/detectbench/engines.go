package detectbench

import (
	"context"
	"fmt"
	"image"
	"time"

	"gocv.io/x/gocv"

	"snowlight/detect"
	"snowlight/detect/infer"
)

// EngineScene is the whole perception stage on one video with one inference engine, in the product's
// configuration (motion gate, appearance schedule), and how its detections compare with those of the
// first engine on the same frames.
type EngineScene struct {
	Engine       string  `json:"engine"`
	Scene        string  `json:"scene"`
	Gated        bool    `json:"gated"`
	Frames       int     `json:"frames"`
	DetectorRuns int     `json:"detector_runs"`
	CPUPerCamSec float64 `json:"cpu_ms_per_camera_second"` // the lower of the rounds
	Persons      int     `json:"persons"`
	Faces        int     `json:"faces"`
	// Same counts the detections paired with one of the first engine's at IoU >= 0.9 (persons and
	// faces); Different those without a partner, in either run.
	Same      int `json:"same_detections"`
	Different int `json:"different_detections"`
}

// ModelTime is one model's CPU time per call on each engine, measured back to back.
type ModelTime struct {
	Model string             `json:"model"`
	Input string             `json:"input"`
	Ms    map[string]float64 `json:"cpu_ms"` // by engine name, median per call
}

// engineRounds is how many times each engine runs each scene; runs of the engines alternate, and each
// keeps its lowest CPU, so that load from elsewhere on a shared machine falls on both alike.
const engineRounds = 2

// compareEngines runs the busy street through the whole stage on every engine, gated and ungated, and
// times each model alone on each engine.
func compareEngines(ctx context.Context, o Options, frames []frame) ([]EngineScene, []ModelTime, error) {
	// One OpenCV thread, as `snowlight serve` runs the cameras: each engine runs its models on one
	// thread, and the cameras are the parallelism.
	old := detect.SetOpenCVThreads(1)
	defer detect.SetOpenCVThreads(old)
	var out []EngineScene
	gcfg := detect.DefaultGateConfig()
	for _, gate := range []*detect.GateConfig{&gcfg, nil} {
		runs := make([]EngineScene, len(o.Engines))
		var first [][]detect.Box
		for round := 0; round < engineRounds; round++ {
			for i, e := range o.Engines {
				cfg := detect.DefaultConfig(o.ModelsDir)
				cfg.Engine = e
				p, err := detect.NewPipeline(cfg)
				if err != nil {
					return nil, nil, err
				}
				sc, found, err := engineScene(ctx, p, frames, o.FPS, gate)
				p.Close()
				if err != nil {
					return nil, nil, fmt.Errorf("%s: %w", e.Name(), err)
				}
				if round > 0 {
					sc.CPUPerCamSec = min(sc.CPUPerCamSec, runs[i].CPUPerCamSec)
				}
				if i == 0 {
					first = found
				}
				for f := range found {
					same := pairs(first[f], found[f], 0.9)
					sc.Same += same
					sc.Different += len(first[f]) + len(found[f]) - 2*same
				}
				runs[i] = sc
			}
		}
		out = append(out, runs...)
	}
	models, err := timeModels(ctx, o, frames)
	return out, models, err
}

// engineScene runs the frames through one camera of p and returns the scene's figures and, per frame,
// the boxes of its persons and then its faces.
func engineScene(ctx context.Context, p *detect.Pipeline, frames []frame, fps float64,
	gcfg *detect.GateConfig) (EngineScene, [][]detect.Box, error) {
	cam := p.NewCamera("busy", gcfg)
	defer cam.Close()
	times := frameTimes(frames)
	s := EngineScene{Engine: p.Engine(), Scene: "vtest (busy street)", Gated: gcfg != nil, Frames: len(frames)}
	found := make([][]detect.Box, len(frames))
	before := cpuTime()
	for i, f := range frames {
		res, err := cam.Process(ctx, f.img, times[i])
		if err != nil {
			return s, nil, err
		}
		if !res.Skipped {
			s.DetectorRuns++
		}
		s.Persons += len(res.Persons)
		s.Faces += len(res.Faces)
		for _, pr := range res.Persons {
			found[i] = append(found[i], pr.Box)
		}
		for _, fc := range res.Faces {
			found[i] = append(found[i], fc.Box)
		}
	}
	s.CPUPerCamSec = 1000 * (cpuTime() - before).Seconds() / (float64(len(frames)) / fps)
	return s, found, nil
}

// pairs counts boxes of b paired with one of a at IoU >= minIoU (greedy, best first).
func pairs(a, b []detect.Box, minIoU float32) int {
	used := make([]bool, len(b))
	n := 0
	for _, x := range a {
		best, bj := minIoU, -1
		for j, y := range b {
			if iou := x.IoU(y); !used[j] && iou >= best {
				best, bj = iou, j
			}
		}
		if bj >= 0 {
			used[bj] = true
			n++
		}
	}
	return n
}

// timeModels times each model alone on each engine over the frames: YOLOX at both input sizes (the
// frame, and the frame scaled to 1280x720, which the default configuration runs at 640), YuNet, and the
// two embedders on a face and a person of the frame.
func timeModels(ctx context.Context, o Options, frames []frame) ([]ModelTime, error) {
	var hd []gocv.Mat
	defer func() {
		for _, m := range hd {
			m.Close()
		}
	}()
	for _, f := range frames {
		m := gocv.NewMat()
		gocv.Resize(f.img, &m, image.Pt(1280, 720), 0, 0, gocv.InterpolationLinear)
		hd = append(hd, m)
	}
	w, h := frames[0].img.Cols(), frames[0].img.Rows()
	in := fmt.Sprintf("%dx%d frame", w, h)
	face := templateFace()
	person := detect.Box{X: float32(w) / 2, Y: float32(h) / 4, W: 60, H: 150}
	type model struct {
		name, input string
		pics        func(i int) gocv.Mat
		open        func(e infer.Engine) (func(gocv.Mat) error, func() error, error)
	}
	yolox := func(e infer.Engine) (func(gocv.Mat) error, func() error, error) {
		y, err := detect.NewYOLOX(e, o.ModelsDir, detect.DefaultYOLOXConfig())
		if err != nil {
			return nil, nil, err
		}
		return func(m gocv.Mat) error { _, err := y.DetectPersons(m); return err }, y.Close, nil
	}
	embedder := func(open func(infer.Engine, string) (*detect.Embedder, error), run func(*detect.Embedder, gocv.Mat) error) func(infer.Engine) (func(gocv.Mat) error, func() error, error) {
		return func(e infer.Engine) (func(gocv.Mat) error, func() error, error) {
			emb, err := open(e, o.ModelsDir)
			if err != nil {
				return nil, nil, err
			}
			return func(m gocv.Mat) error { return run(emb, m) }, emb.Close, nil
		}
	}
	list := []model{
		{"person detection (YOLOX-nano at 416)", in, func(i int) gocv.Mat { return frames[i].img }, yolox},
		{"person detection (YOLOX-nano at 640)", "1280x720 frame", func(i int) gocv.Mat { return hd[i] }, yolox},
		{"face detection (YuNet alone)", in, func(i int) gocv.Mat { return frames[i].img },
			func(e infer.Engine) (func(gocv.Mat) error, func() error, error) {
				cfg := detect.DefaultYuNetConfig()
				cfg.VerifyBelow = 0
				y, err := detect.NewYuNet(e, o.ModelsDir, cfg)
				if err != nil {
					return nil, nil, err
				}
				return func(m gocv.Mat) error { _, err := y.DetectFaces(m); return err }, y.Close, nil
			}},
		{"face align + embed (MobileFaceNet)", "90 px face", func(i int) gocv.Mat { return frames[i].img },
			embedder(detect.NewFaceEmbedder, func(emb *detect.Embedder, m gocv.Mat) error {
				_, err := emb.EmbedFace(m, face)
				return err
			})},
		{"appearance (OSNet x0.25)", "60x150 person", func(i int) gocv.Mat { return frames[i].img },
			embedder(detect.NewAppearanceEmbedder, func(emb *detect.Embedder, m gocv.Mat) error {
				_, err := emb.EmbedPerson(m, person)
				return err
			})},
	}
	var out []ModelTime
	for _, m := range list {
		mt := ModelTime{Model: m.name, Input: m.input, Ms: map[string]float64{}}
		for round := 0; round < engineRounds; round++ {
			for _, e := range o.Engines {
				run, closeFn, err := m.open(e)
				if err != nil {
					return nil, err
				}
				var ds []time.Duration
				for i := -1; i < len(frames); i++ { // frame -1 warms up
					if err := ctx.Err(); err != nil {
						closeFn()
						return nil, err
					}
					pic := m.pics(max(i, 0))
					c0 := cpuTime()
					if err := run(pic); err != nil {
						closeFn()
						return nil, fmt.Errorf("%s on %s: %w", m.name, e.Name(), err)
					}
					if i >= 0 {
						ds = append(ds, cpuTime()-c0)
					}
				}
				closeFn()
				ms := median(ds)
				if old, ok := mt.Ms[e.Name()]; ok {
					ms = min(ms, old)
				}
				mt.Ms[e.Name()] = ms
			}
		}
		out = append(out, mt)
	}
	return out, nil
}

// templateFace is a face whose landmarks sit where the ArcFace template puts them, 90 pixels tall: the
// embedding's cost does not depend on what the face shows (vtest's faces are too small to embed).
func templateFace() detect.Face {
	face := detect.Face{HasLandmarks: true, Box: detect.Box{X: 300, Y: 100, W: 80, H: 100}}
	for k, p := range [5][2]float32{{38.3, 51.7}, {73.5, 51.5}, {56.0, 71.7}, {41.5, 92.4}, {70.7, 92.2}} {
		face.Landmarks[k] = detect.Point{X: 300 + p[0]*0.8, Y: 100 + p[1]*0.8}
	}
	return face
}
