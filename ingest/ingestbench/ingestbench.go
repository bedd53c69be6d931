// Package ingestbench measures what ingest costs against the alternatives on the same streams: N
// simulated 720p25 cameras served by camsim, read by (a) snowlight's ingest pipeline (RTSP, depacketize,
// libavcodec, BGR Mats), (b) ffmpeg decoding to BGR (`ffmpeg -i rtsp://... -pix_fmt bgr24 -f null -`,
// the practical limit), and (c) OpenCV's VideoCapture (the naive approach); plus ingest in keyframe-only
// mode and resident memory per camera. Each reader runs as its own child process, one after another, and
// is charged the CPU time and peak RSS the kernel accounts to it (for our own children, CPU from just
// before connecting, leaving out the start-up of loading OpenCV).
package ingestbench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"gocv.io/x/gocv"

	"snowlight/ingest"
	"snowlight/ingest/av"
	"snowlight/ingest/camsim"
	"snowlight/internal/machine"
)

// Clients a child process can run.
const (
	ClientPipeline     = "pipeline"     // ingest.Worker, every frame to BGR
	ClientKeyframes    = "keyframes"    // ingest.Worker, keyframes only
	ClientSampled      = "sampled"      // ingest.Worker, 5 frames a second
	ClientVideoCapture = "videocapture" // gocv.VideoCapture
)

// Options configure Run.
type Options struct {
	Video    string        // the camera stream (720p25 H.264)
	Cameras  int           // simulated cameras
	Duration time.Duration // per reader
	// Exe is the snowlight binary that runs child clients as `Exe bench ingest --client KIND ...`.
	Exe string
	Log *slog.Logger
}

// Result is one reader's cost.
type Result struct {
	Name        string  `json:"name"`
	Cameras     int     `json:"cameras"`
	Seconds     float64 `json:"seconds"` // wall time of the child(ren)
	Frames      uint64  `json:"frames"`  // decoded to BGR
	CPUSeconds  float64 `json:"cpu_seconds"`
	MaxRSSMiB   float64 `json:"max_rss_mib"` // summed over processes for ffmpeg
	CPUmsPerFrm float64 `json:"cpu_ms_per_frame"`
	// CPUPerCamSec is CPU seconds per camera per second of wall time.
	CPUPerCamSec float64 `json:"cpu_per_camera_second"`
}

// Report holds every reader's result and the ratios the goals are stated in.
type Report struct {
	Cameras  int      `json:"cameras"`
	Duration string   `json:"duration"`
	Video    string   `json:"video"`
	Results  []Result `json:"results"`
	// PipelineVsFFmpeg is (a)/(b) in CPU per frame: goal at most 1.15.
	PipelineVsFFmpeg float64 `json:"pipeline_vs_ffmpeg"`
	// VideoCaptureVsPipeline is (c)/(a) in CPU per frame: goal at least 2.
	VideoCaptureVsPipeline float64 `json:"videocapture_vs_pipeline"`
	// KeyframesVsFull is keyframe-only over full decode in CPU per camera-second: goal at most 0.1.
	KeyframesVsFull float64 `json:"keyframes_vs_full"`
	// SampledVsFull is 5 fps sampling over full decode in CPU per camera-second.
	SampledVsFull float64 `json:"sampled_vs_full"`
	// RSSPerCameraMiB is the pipeline's peak RSS growth per added camera.
	RSSPerCameraMiB float64 `json:"rss_per_camera_mib"`
	// KeyframeFloor is the same ratio for decoding the file in-process with no network: the share of
	// decode work the keyframes themselves carry, below which keyframe-only ingest cannot go.
	KeyframeFloor float64 `json:"keyframe_floor"`
	// KeyframeBytesShare is the keyframes' share of the stream's bytes.
	KeyframeBytesShare float64 `json:"keyframe_bytes_share"`
	NumCPU             int     `json:"num_cpu"`
	LoadAvg            string  `json:"loadavg_before"`
}

// Run serves Options.Cameras copies of the video with camsim and measures each reader in turn.
func Run(ctx context.Context, o Options) (Report, error) {
	if o.Cameras <= 0 {
		o.Cameras = 4
	}
	if o.Duration <= 0 {
		o.Duration = 20 * time.Second
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	rep := Report{Cameras: o.Cameras, Duration: o.Duration.String(), Video: o.Video, NumCPU: runtime.NumCPU()}
	rep.LoadAvg = machine.LoadAverage()
	srv := camsim.New(camsim.Options{Addr: "127.0.0.1:0", UDPAddr: "off", Log: o.Log})
	for i := range o.Cameras {
		if err := srv.AddFile(fmt.Sprintf("cam%d", i+1), o.Video); err != nil {
			return rep, err
		}
	}
	if err := srv.Start(ctx); err != nil {
		return rep, err
	}
	defer srv.Close()
	urls := make([]string, o.Cameras)
	for i := range urls {
		urls[i] = srv.URL(fmt.Sprintf("cam%d", i+1))
	}
	secs := strconv.FormatFloat(o.Duration.Seconds(), 'f', 3, 64)
	child := func(kind string, urls []string) []string {
		return append([]string{o.Exe, "bench", "ingest", "--client", kind, "--duration", o.Duration.String()}, urls...)
	}
	runs := []struct {
		name    string
		cameras int
		cmds    [][]string
	}{
		{"(a) snowlight ingest", o.Cameras, [][]string{child(ClientPipeline, urls)}},
		{"(b) ffmpeg -pix_fmt bgr24", o.Cameras, ffmpegCmds(urls, secs)},
		{"(c) gocv VideoCapture", o.Cameras, [][]string{child(ClientVideoCapture, urls)}},
		{"snowlight ingest, keyframes only", o.Cameras, [][]string{child(ClientKeyframes, urls)}},
		{"snowlight ingest, sampled to 5 fps", o.Cameras, [][]string{child(ClientSampled, urls)}},
		{"snowlight ingest, 1 camera", 1, [][]string{child(ClientPipeline, urls[:1])}},
	}
	for _, r := range runs {
		o.Log.Info("measuring", "reader", r.name, "cameras", r.cameras, "for", o.Duration)
		res, err := measure(ctx, r.name, r.cmds)
		if err != nil {
			return rep, fmt.Errorf("%s: %w", r.name, err)
		}
		res.Cameras = r.cameras
		res.finish()
		rep.Results = append(rep.Results, res)
	}
	srv.Close() // idle cameras still packetize; stop them before the in-process measurement
	var err error
	if rep.KeyframeFloor, rep.KeyframeBytesShare, err = keyframeFloor(o.Video); err != nil {
		return rep, err
	}
	a, b, c, kf, sampled, one := rep.Results[0], rep.Results[1], rep.Results[2], rep.Results[3], rep.Results[4], rep.Results[5]
	rep.PipelineVsFFmpeg = ratio(a.CPUmsPerFrm, b.CPUmsPerFrm)
	rep.VideoCaptureVsPipeline = ratio(c.CPUmsPerFrm, a.CPUmsPerFrm)
	rep.KeyframesVsFull = ratio(kf.CPUPerCamSec, a.CPUPerCamSec)
	rep.SampledVsFull = ratio(sampled.CPUPerCamSec, a.CPUPerCamSec)
	if o.Cameras > 1 {
		rep.RSSPerCameraMiB = (a.MaxRSSMiB - one.MaxRSSMiB) / float64(o.Cameras-1)
	}
	return rep, nil
}

func ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

func (r *Result) finish() {
	if r.Frames > 0 {
		r.CPUmsPerFrm = r.CPUSeconds * 1000 / float64(r.Frames)
	}
	if r.Seconds > 0 && r.Cameras > 0 {
		r.CPUPerCamSec = r.CPUSeconds / r.Seconds / float64(r.Cameras)
	}
}

// keyframeFloor decodes the file to BGR twice in this process, every picture and keyframes only, and
// returns the keyframes' share of the CPU time and of the bytes.
func keyframeFloor(path string) (cpuShare, byteShare float64, err error) {
	info, aus, err := av.ReadFile(path)
	if err != nil {
		return 0, 0, err
	}
	var all, key int
	for _, p := range aus {
		for _, n := range p.AU {
			all += len(n)
			if p.Keyframe {
				key += len(n)
			}
		}
	}
	run := func(keysOnly bool) (time.Duration, error) {
		dec, err := av.NewDecoder(av.DecoderOptions{Codec: info.Codec, Threads: 1})
		if err != nil {
			return 0, err
		}
		defer dec.Close()
		start := processCPU()
		for i, p := range aus {
			if keysOnly && !p.Keyframe {
				continue
			}
			if err := dec.Send(p.AU, int64(i)); err != nil {
				return 0, err
			}
			for {
				if _, err := dec.Receive(); err != nil {
					break
				}
				m, err := dec.BGR()
				if err != nil {
					return 0, err
				}
				m.Close()
			}
		}
		return processCPU() - start, nil
	}
	full, err := run(false)
	if err != nil {
		return 0, 0, err
	}
	keys, err := run(true)
	if err != nil {
		return 0, 0, err
	}
	return ratio(keys.Seconds(), full.Seconds()), ratio(float64(key), float64(all)), nil
}

// ffmpegCmds is one ffmpeg per camera, as a deployment of ffmpeg readers would run.
func ffmpegCmds(urls []string, secs string) [][]string {
	var cmds [][]string
	for _, u := range urls {
		cmds = append(cmds, []string{"ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "info",
			"-rtsp_transport", "tcp", "-i", u, "-t", secs, "-pix_fmt", "bgr24", "-f", "null", "-"})
	}
	return cmds
}

var ffmpegFrames = regexp.MustCompile(`frame=\s*(\d+)`)

// measure runs cmds in parallel and sums their CPU time, peak RSS and frame counts.
func measure(ctx context.Context, name string, cmds [][]string) (Result, error) {
	res := Result{Name: name}
	type out struct {
		stdout, stderr bytes.Buffer
		cmd            *exec.Cmd
	}
	outs := make([]*out, len(cmds))
	start := time.Now()
	for i, c := range cmds {
		o := &out{cmd: exec.CommandContext(ctx, c[0], c[1:]...)}
		o.cmd.Stdout, o.cmd.Stderr = &o.stdout, &o.stderr
		// OpenCV's FFmpeg backend defaults to UDP; every reader uses TCP.
		o.cmd.Env = append(os.Environ(), "OPENCV_FFMPEG_CAPTURE_OPTIONS=rtsp_transport;tcp")
		if err := o.cmd.Start(); err != nil {
			return res, err
		}
		outs[i] = o
	}
	var firstErr error
	for _, o := range outs {
		err := o.cmd.Wait()
		if err != nil && firstErr == nil {
			firstErr = fmt.Errorf("%s: %w: %s", o.cmd.Path, err, tail(o.stderr.String()))
		}
		var cpu float64
		if ru, ok := o.cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
			cpu = time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
			res.MaxRSSMiB += float64(ru.Maxrss) / 1024
		}
		if strings.HasSuffix(o.cmd.Path, "ffmpeg") {
			res.CPUSeconds += cpu
			m := ffmpegFrames.FindAllStringSubmatch(o.stderr.String(), -1)
			if len(m) > 0 {
				n, _ := strconv.ParseUint(m[len(m)-1][1], 10, 64)
				res.Frames += n
			}
			continue
		}
		var cr ClientResult
		if err := json.Unmarshal(o.stdout.Bytes(), &cr); err != nil && firstErr == nil {
			firstErr = fmt.Errorf("child output %q: %w", tail(o.stdout.String()), err)
		}
		res.Frames += cr.Frames
		res.CPUSeconds += cr.CPUSeconds
	}
	res.Seconds = time.Since(start).Seconds()
	return res, firstErr
}

func tail(s string) string {
	if len(s) > 600 {
		return "..." + s[len(s)-600:]
	}
	return s
}

// ClientResult is what a child client prints.
type ClientResult struct {
	Frames uint64 `json:"frames"`
	// CPUSeconds is the process's CPU time from just before it connected to the end: process start-up
	// (loading OpenCV and libav, which ffmpeg's own start-up does not pay in the same way) is left out.
	CPUSeconds float64 `json:"cpu_seconds"`
}

func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// RunClient reads urls with one reader kind for d and returns the frames decoded to BGR.
func RunClient(ctx context.Context, kind string, urls []string, d time.Duration) (ClientResult, error) {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	cpu0 := processCPU()
	var frames atomic.Uint64
	var wg sync.WaitGroup
	errs := make(chan error, len(urls))
	for i, u := range urls {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var err error
			switch kind {
			case ClientPipeline, ClientKeyframes, ClientSampled:
				err = runWorker(ctx, fmt.Sprint("cam", i+1), u, kind, &frames)
			case ClientVideoCapture:
				err = runVideoCapture(ctx, u, &frames)
			default:
				err = fmt.Errorf("unknown client %q", kind)
			}
			if err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	return ClientResult{Frames: frames.Load(), CPUSeconds: (processCPU() - cpu0).Seconds()}, <-errs
}

func runWorker(ctx context.Context, id, url, kind string, frames *atomic.Uint64) error {
	cfg := ingest.Config{Camera: id, URL: url, Decode: ingest.DecodeAll, FrameBuffer: 8}
	switch kind {
	case ClientKeyframes:
		cfg.Decode = ingest.DecodeKeyframes
	case ClientSampled:
		cfg.Decode, cfg.SampleFPS = ingest.DecodeSampled, 5
	}
	w, err := ingest.NewWorker(cfg)
	if err != nil {
		return err
	}
	go func() {
		for f := range w.Frames() {
			f.Close()
			frames.Add(1)
		}
	}()
	if err := w.Run(ctx); !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}

func runVideoCapture(ctx context.Context, url string, frames *atomic.Uint64) error {
	vc, err := gocv.OpenVideoCapture(url)
	if err != nil {
		return fmt.Errorf("VideoCapture %s: %w", url, err)
	}
	defer vc.Close()
	m := gocv.NewMat()
	defer m.Close()
	for ctx.Err() == nil {
		if !vc.Read(&m) || m.Empty() {
			return fmt.Errorf("VideoCapture %s: read failed", url)
		}
		frames.Add(1)
	}
	return nil
}

// Markdown renders the report as the table docs/BENCHMARKS.md records.
func (r Report) Markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d cameras, 1280x720 25 fps H.264 Main (GOP 25), %s per reader, RTSP over TCP from camsim on loopback; "+
		"%d CPUs, load average before the run %s.\n\n", r.Cameras, r.Duration, r.NumCPU, r.LoadAvg)
	b.WriteString("| reader | cameras | frames | CPU s | CPU ms/frame | CPU s per camera-second | peak RSS MiB |\n")
	b.WriteString("|---|---:|---:|---:|---:|---:|---:|\n")
	for _, x := range r.Results {
		fmt.Fprintf(&b, "| %s | %d | %d | %.2f | %.3f | %.4f | %.0f |\n", x.Name, x.Cameras, x.Frames,
			x.CPUSeconds, x.CPUmsPerFrm, x.CPUPerCamSec, x.MaxRSSMiB)
	}
	fmt.Fprintf(&b, "\n- (a)/(b) CPU per frame: **%.2f** (goal at most 1.15)\n", r.PipelineVsFFmpeg)
	fmt.Fprintf(&b, "- (c)/(a) CPU per frame: **%.2f** (goal at least 2)\n", r.VideoCaptureVsPipeline)
	fmt.Fprintf(&b, "- keyframes only / full decode, CPU per camera-second: **%.3f** (goal at most 0.1); the floor, decoding "+
		"the file's keyframes vs all its pictures in-process with no network: **%.3f** (keyframes are %.0f%% of the bytes)\n",
		r.KeyframesVsFull, r.KeyframeFloor, 100*r.KeyframeBytesShare)
	fmt.Fprintf(&b, "- sampled to 5 fps / full decode, CPU per camera-second: **%.3f** (every picture is still decoded, as "+
		"each is a reference; only the kept ones are converted to BGR)\n", r.SampledVsFull)
	fmt.Fprintf(&b, "- resident memory per added camera (pipeline): **%.1f MiB**\n", r.RSSPerCameraMiB)
	return b.String()
}
