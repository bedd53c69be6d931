// Package densitybench finds how many busy-street cameras one machine holds in real time: N simulated
// cameras (camsim, each playing the busy street as a 25 fps H.264 stream over RTSP) are read through the
// product's own path, one ingest worker sampling 5 frames a second, one detect pipeline and one edge
// (motion gate, detectors, appearance schedule, tracker) per camera, as `snowlight serve` runs them. A
// camera count holds when, over the measured window, no frame was dropped (the decoder falling behind the
// stream, or the detectors behind the decoder), every camera's frames all came through, and every frame
// was done within a second of its capture. The search grows N until a count does not hold.
//
// The cameras are served by a separate process (`snowlight camsim`) on the same machine, so its CPU is
// reported apart from the product's; both compete for the same cores.
package densitybench

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"snowlight/detect"
	"snowlight/detect/infer"
	"snowlight/ingest"
	"snowlight/ingest/camsim"
	"snowlight/internal/machine"
	"snowlight/pipeline"
)

// Options configure Run.
type Options struct {
	ModelsDir string
	Video     string // the busy street as a camera stream (testvideos' vtest.mp4)
	FPS       float64
	// Warmup lets the cameras connect and the first frames through before Window is measured.
	Warmup, Window time.Duration
	// Start is the first camera count tried; the search adds Step until a count fails, then tries the
	// counts between the last that held and the first that failed. Max bounds it.
	Start, Step, Max int
	// MaxLatency is the longest a frame may take from capture to the end of perception.
	MaxLatency time.Duration
	Engines    []infer.Engine `json:"-"` // a search each
	// Exe is the snowlight binary that serves the cameras as `Exe camsim`; empty serves them in this
	// process (tests), whose CPU then includes the serving.
	Exe string
	Log *slog.Logger `json:"-"`
}

// DefaultOptions measures 30 s after 10 s of warm-up at 5 detection fps, from 2 cameras up in steps of 2.
func DefaultOptions() Options {
	return Options{FPS: 5, Warmup: 10 * time.Second, Window: 30 * time.Second, Start: 2, Step: 2, Max: 24,
		MaxLatency: time.Second}
}

// Trial is one camera count on one engine.
type Trial struct {
	Engine  string `json:"engine"`
	Cameras int    `json:"cameras"`
	Holds   bool   `json:"holds"`
	Why     string `json:"why,omitempty"` // why it does not hold
	// Frames is how many frames perception finished in the window over all cameras; Expected how many
	// the cameras' sampling makes in it.
	Frames, Expected int
	Dropped          uint64  `json:"dropped"` // by the decoder queue or the consumer, in the window
	LatencyP50       float64 `json:"latency_p50_ms"`
	LatencyP99       float64 `json:"latency_p99_ms"`
	LatencyMax       float64 `json:"latency_max_ms"`
	// CPUPerCamSec is the product's CPU (ingest and perception, this process) per camera-second of the
	// window, CPUPerFrame per frame perception finished (the decoding of frames dropped included), and
	// Cores what the process got of the machine in the window; CamsimCPU is the serving process's share
	// of a core over the whole trial.
	CPUPerCamSec float64 `json:"cpu_ms_per_camera_second"`
	CPUPerFrame  float64 `json:"cpu_ms_per_frame"`
	Cores        float64 `json:"cores"`
	CamsimCPU    float64 `json:"camsim_cores,omitempty"`
}

// Projected is how many cameras the machine's cores would hold at the trials' median CPU per frame
// done, were the process given all of them: the figure to compare with Held when other load took
// part of the machine.
func (r *Report) Projected(engine string) float64 {
	var per []float64
	for _, t := range r.Trials {
		if t.Engine == engine && t.Frames > 0 {
			per = append(per, t.CPUPerFrame)
		}
	}
	if len(per) == 0 {
		return 0
	}
	slices.Sort(per)
	return float64(runtime.NumCPU()) * 1000 / (per[len(per)/2] * r.Options.FPS)
}

// Report is the outcome of Run.
type Report struct {
	Date    time.Time `json:"date"`
	Machine string    `json:"machine"`
	Load    [2]string `json:"load_average"` // /proc/loadavg before and after
	Options Options   `json:"options"`
	Trials  []Trial   `json:"trials"`
	// Held is, per engine, the largest camera count that held.
	Held map[string]int `json:"held"`
}

// Run searches each engine's camera count.
func Run(ctx context.Context, o Options) (*Report, error) {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if len(o.Engines) == 0 || o.Start <= 0 || o.Step <= 0 || o.FPS <= 0 || o.Window <= 0 {
		return nil, errors.New("density: need engines, a start and step above zero, an fps and a window")
	}
	rep := &Report{Date: time.Now().UTC(), Machine: fmt.Sprintf("%s, %d cores", cpuModel(), runtime.NumCPU()),
		Options: o, Held: map[string]int{}}
	rep.Load[0] = machine.LoadAverage()
	// One OpenCV thread per call, as the server sets it: the cameras are the parallelism.
	old := detect.SetOpenCVThreads(1)
	defer detect.SetOpenCVThreads(old)
	for _, e := range o.Engines {
		held, err := search(o.Start, o.Step, o.Max, func(n int) (bool, error) {
			o.Log.Info("bench density: trial", "engine", e.Name(), "cameras", n)
			t, err := trial(ctx, o, e, n)
			if err != nil {
				return false, err
			}
			o.Log.Info("bench density: result", "engine", e.Name(), "cameras", n, "holds", t.Holds, "why", t.Why,
				"cpu_ms_per_camera_second", int(t.CPUPerCamSec), "latency_p99_ms", int(t.LatencyP99))
			rep.Trials = append(rep.Trials, t)
			return t.Holds, nil
		})
		if err != nil {
			return nil, err
		}
		rep.Held[e.Name()] = held
	}
	rep.Load[1] = machine.LoadAverage()
	rep.Options.Log, rep.Options.Engines = nil, nil
	return rep, nil
}

// search returns the largest count that holds: it tries start, start+step, ... up to limit until a count
// does not hold, then halves the gap between the last that held and the first that did not.
func search(start, step, limit int, holds func(n int) (bool, error)) (int, error) {
	held, failed := 0, 0
	try := func(n int) error {
		ok, err := holds(n)
		switch {
		case err != nil:
			return err
		case ok:
			held = max(held, n)
		case failed == 0 || n < failed:
			failed = n
		}
		return nil
	}
	for n := start; n <= limit && failed == 0; n += step {
		if err := try(n); err != nil {
			return held, err
		}
	}
	for failed-held > 1 {
		if err := try((held + failed) / 2); err != nil {
			return held, err
		}
	}
	return held, nil
}

// camera is one camera's worker, pipeline and edge, and what it measured.
type camera struct {
	id     string
	worker *ingest.Worker
	det    *detect.Pipeline
	dcam   *detect.Camera
	edge   *pipeline.Edge

	frames    int
	latencies []time.Duration
	dropped   uint64 // at the window's start
}

// trial runs n cameras on engine e and judges whether they held.
func trial(ctx context.Context, o Options, e infer.Engine, n int) (Trial, error) {
	t := Trial{Engine: e.Name(), Cameras: n}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	urls, stopCamsim, err := serveCameras(ctx, o, n)
	if err != nil {
		return t, err
	}
	cams := make([]*camera, n)
	defer func() {
		for _, c := range cams {
			if c != nil && c.det != nil {
				c.dcam.Close()
				c.det.Close()
			}
		}
	}()
	for i := range cams {
		c := &camera{id: fmt.Sprintf("cam%02d", i+1)}
		cams[i] = c
		if c.worker, err = ingest.NewWorker(ingest.Config{Camera: c.id, URL: urls[i], Decode: ingest.DecodeSampled,
			SampleFPS: o.FPS, Log: o.Log}); err != nil {
			return t, err
		}
		cfg := detect.DefaultConfig(o.ModelsDir)
		cfg.Engine = e
		if c.det, err = detect.NewPipeline(cfg); err != nil {
			return t, err
		}
		gate := pipeline.GateConfig()
		c.dcam = c.det.NewCamera(c.id, &gate)
		if c.edge, err = pipeline.NewEdge(c.id, c.dcam, pipeline.EdgeConfig{Tracker: pipeline.TrackerConfig(), Log: o.Log}); err != nil {
			return t, err
		}
	}

	var measuring atomic.Bool
	var wg sync.WaitGroup
	for _, c := range cams {
		wg.Add(2)
		go func() {
			defer wg.Done()
			c.worker.Run(ctx)
		}()
		go func() {
			defer wg.Done()
			for f := range c.worker.Frames() {
				if ctx.Err() == nil {
					_, err := c.edge.Process(ctx, f)
					if err != nil && ctx.Err() == nil {
						o.Log.Warn("bench density: frame failed", "camera", c.id, "err", err)
					}
					if measuring.Load() {
						c.frames++
						c.latencies = append(c.latencies, time.Since(f.Time))
					}
				}
				f.Close()
			}
		}()
	}
	select {
	case <-ctx.Done():
	case <-time.After(o.Warmup):
	}
	for _, c := range cams {
		s := c.worker.Status()
		c.dropped = s.DroppedConsumer + s.DroppedQueue
	}
	cpu0 := cpuTime()
	measuring.Store(true)
	select {
	case <-ctx.Done():
	case <-time.After(o.Window):
	}
	measuring.Store(false)
	cpu := cpuTime() - cpu0
	var dropped uint64
	for _, c := range cams {
		s := c.worker.Status()
		dropped += s.DroppedConsumer + s.DroppedQueue - c.dropped
	}
	cancel()
	wg.Wait()
	if err := context.Cause(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return t, err
	}
	t.CamsimCPU = stopCamsim()

	var all []time.Duration
	short := ""
	t.Expected = n * int(o.Window.Seconds()*o.FPS)
	for _, c := range cams {
		t.Frames += c.frames
		all = append(all, c.latencies...)
		// A camera's window holds Window*FPS frames, give or take the one at each edge.
		if float64(c.frames) < o.Window.Seconds()*o.FPS-2 && short == "" {
			short = fmt.Sprintf("%s finished %d frames of %.0f", c.id, c.frames, o.Window.Seconds()*o.FPS)
		}
	}
	slices.Sort(all)
	pct := func(p float64) float64 {
		if len(all) == 0 {
			return 0
		}
		return float64(all[min(len(all)-1, int(p*float64(len(all))))]) / float64(time.Millisecond)
	}
	t.Dropped = dropped
	t.LatencyP50, t.LatencyP99, t.LatencyMax = pct(0.5), pct(0.99), pct(1)
	t.CPUPerCamSec = 1000 * cpu.Seconds() / (float64(n) * o.Window.Seconds())
	t.CPUPerFrame = 1000 * cpu.Seconds() / float64(max(t.Frames, 1))
	t.Cores = cpu.Seconds() / o.Window.Seconds()
	switch {
	case dropped > 0:
		t.Why = fmt.Sprintf("%d frames dropped", dropped)
	case short != "":
		t.Why = short
	case t.LatencyMax > float64(o.MaxLatency/time.Millisecond):
		t.Why = fmt.Sprintf("a frame took %.0f ms from capture", t.LatencyMax)
	default:
		t.Holds = true
	}
	return t, nil
}

// serveCameras serves n copies of the video and returns their URLs and a function that stops the
// serving and returns its share of a core (0 when served in this process).
func serveCameras(ctx context.Context, o Options, n int) ([]string, func() float64, error) {
	if o.Exe == "" {
		srv := camsim.New(camsim.Options{Addr: "127.0.0.1:0", UDPAddr: "off", Log: o.Log})
		for i := range n {
			if err := srv.AddFile(fmt.Sprintf("cam%02d", i+1), o.Video); err != nil {
				return nil, nil, err
			}
		}
		if err := srv.Start(ctx); err != nil {
			return nil, nil, err
		}
		var urls []string
		for _, p := range srv.Paths() {
			urls = append(urls, srv.URL(p))
		}
		return urls, func() float64 { srv.Close(); return 0 }, nil
	}
	// camsim names each path after its file: one link per camera.
	dir, err := os.MkdirTemp("", "density-")
	if err != nil {
		return nil, nil, err
	}
	args := []string{"camsim", "--addr", "127.0.0.1:0", "--udp", "off"}
	video, err := filepath.Abs(o.Video)
	if err != nil {
		return nil, nil, err
	}
	for i := range n {
		link := filepath.Join(dir, fmt.Sprintf("cam%02d.mp4", i+1))
		if err := os.Symlink(video, link); err != nil {
			os.RemoveAll(dir)
			return nil, nil, err
		}
		args = append(args, link)
	}
	cmd := exec.CommandContext(ctx, o.Exe, args...)
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	out, err := cmd.StdoutPipe()
	if err != nil {
		os.RemoveAll(dir)
		return nil, nil, err
	}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, nil, fmt.Errorf("start camsim: %w", err)
	}
	stop := func() float64 {
		cmd.Process.Signal(os.Interrupt)
		cmd.Wait()
		os.RemoveAll(dir)
		if ps := cmd.ProcessState; ps != nil {
			return (ps.UserTime() + ps.SystemTime()).Seconds() / time.Since(start).Seconds()
		}
		return 0
	}
	var urls []string
	sc := bufio.NewScanner(out)
	for len(urls) < n && sc.Scan() {
		if u := strings.TrimSpace(sc.Text()); strings.HasPrefix(u, "rtsp://") {
			urls = append(urls, u)
		}
	}
	if len(urls) < n {
		stop()
		return nil, nil, fmt.Errorf("camsim printed %d of %d camera URLs", len(urls), n)
	}
	go func() { // keep the pipe drained
		for sc.Scan() {
		}
	}()
	return urls, stop, nil
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func cpuModel() string {
	data, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return runtime.GOARCH
	}
	for _, l := range strings.Split(string(data), "\n") {
		if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return runtime.GOARCH
}

// Markdown renders the report as the table of docs/BENCHMARKS.md.
func (r *Report) Markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "Measured %s on %s (load average %s before, %s after); busy street at %.0f detection fps, "+
		"%s measured after %s of warm-up.\n\n", r.Date.Format("2006-01-02"), r.Machine, r.Load[0], r.Load[1],
		r.Options.FPS, r.Options.Window, r.Options.Warmup)
	b.WriteString("| engine | cameras | holds | frames done / due | dropped | latency p50 / p99 / max ms | CPU ms per camera-second | CPU ms per frame done | cores the process got | camsim (cores) | why not |\n|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, t := range r.Trials {
		fmt.Fprintf(&b, "| %s | %d | %v | %d / %d | %d | %.0f / %.0f / %.0f | %.0f | %.1f | %.2f | %.2f | %s |\n", t.Engine,
			t.Cameras, t.Holds, t.Frames, t.Expected, t.Dropped, t.LatencyP50, t.LatencyP99, t.LatencyMax,
			t.CPUPerCamSec, t.CPUPerFrame, t.Cores, t.CamsimCPU, t.Why)
	}
	names := make([]string, 0, len(r.Held))
	for n := range r.Held {
		names = append(names, n)
	}
	slices.Sort(names)
	b.WriteString("\n")
	for _, n := range names {
		fmt.Fprintf(&b, "%s holds %d cameras; its CPU per frame projects %.1f on all %d cores.\n", n, r.Held[n],
			r.Projected(n), runtime.NumCPU())
	}
	return b.String()
}
