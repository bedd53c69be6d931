package detect

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gocv.io/x/gocv"

	"snowlight/internal/shareddata"
)

// sampledFrames calls fn with every frame of the video taken at detection rate fps (frames are skipped
// to approximate it), with the frame's time, for at most limit of video.
func sampledFrames(t testing.TB, path string, fps float64, limit time.Duration, fn func(i int, at time.Duration, img gocv.Mat)) {
	t.Helper()
	vc, err := gocv.VideoCaptureFile(path)
	require.NoError(t, err, "open %s", path)
	defer vc.Close()
	src := vc.Get(gocv.VideoCaptureFPS)
	require.Positive(t, src, "%s: frame rate", path)
	step := max(1, int(src/fps+0.5))
	img := gocv.NewMat()
	defer img.Close()
	for n, i := 0, 0; vc.Read(&img); n++ {
		at := time.Duration(float64(n) / src * float64(time.Second))
		if at >= limit {
			break
		}
		if n%step == 0 {
			fn(i, at, img)
			i++
		}
	}
}

// quietScene returns the generated quiet camera stream ($SNOWLIGHT_TESTVIDEOS/quiet.mp4, default
// out/testvideos), or makes a quiet clip with ffmpeg in a temporary directory: vtest's first frame held
// still with sensor noise.
func quietScene(t testing.TB) string {
	t.Helper()
	dir := os.Getenv("SNOWLIGHT_TESTVIDEOS")
	if dir == "" {
		dir = filepath.Join(shareddata.RepoRoot(t), "out", "testvideos")
	}
	if p := filepath.Join(dir, "quiet.mp4"); fileExists(p) {
		return p
	}
	out := filepath.Join(t.TempDir(), "quiet.mp4")
	cmd := exec.Command("ffmpeg", "-v", "error", "-i", vtestPath(t), "-vf",
		"trim=end_frame=1,loop=loop=299:size=1:start=0,setpts=N/10/TB,noise=alls=4:allf=t:all_seed=7",
		"-r", "10", "-c:v", "libx264", "-threads", "1", "-y", out)
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Skipf("no quiet scene and ffmpeg cannot make one: %v: %s", err, msg)
	}
	return out
}

func fileExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular()
}

// TestMotionGateRecallAndSavings runs the pipeline with and without the motion gate at 5 detection fps on
// the busy street (vtest) and on the quiet scene. On the busy street gating must lose (almost) nobody the
// ungated pipeline finds; on the quiet scene it must skip the detectors on most frames.
func TestMotionGateRecallAndSavings(t *testing.T) {
	p := newPipeline(t, false)
	gcfg := DefaultGateConfig()
	ctx := context.Background()
	start := time.Date(2024, 6, 1, 12, 0, 0, 0, time.UTC)

	type outcome struct {
		frames, ran, full                 int
		ungated, gatedFound, gatedMatched int
	}
	// run compares gated with ungated detection; the ungated reference runs on every refEvery-th frame.
	run := func(path string, limit time.Duration, refEvery int) outcome {
		cam := p.NewCamera("test", &gcfg)
		defer cam.Close()
		var o outcome
		sampledFrames(t, path, 5, limit, func(i int, at time.Duration, img gocv.Mat) {
			got, err := cam.Process(ctx, img, start.Add(at))
			require.NoError(t, err)
			o.frames++
			if !got.Skipped {
				o.ran++
			}
			if got.FullPass {
				o.full++
			}
			if i%refEvery != 0 {
				return
			}
			ref, err := p.Detect(ctx, img, start.Add(at))
			require.NoError(t, err)
			var rb, gb []Box
			for _, pr := range ref.Persons {
				rb = append(rb, pr.Box)
			}
			for _, pr := range got.Persons {
				gb = append(gb, pr.Box)
			}
			o.ungated += len(rb)
			o.gatedFound += len(gb)
			o.gatedMatched += matchBoxes(rb, gb, 0.5)
		})
		return o
	}

	busy := run(vtestPath(t), 12*time.Second, 1)
	recall := float64(busy.gatedMatched) / float64(max(busy.ungated, 1))
	t.Logf("vtest 12 s at 5 fps: %d frames, detectors ran on %d (%d full passes); ungated found %d persons, "+
		"gated %d, of which %d at IoU>=0.5 with an ungated one: recall vs ungated %.3f",
		busy.frames, busy.ran, busy.full, busy.ungated, busy.gatedFound, busy.gatedMatched, recall)
	assert.GreaterOrEqual(t, recall, 0.95, "gating lost people on the busy street: recall vs ungated")

	quiet := run(quietScene(t), 30*time.Second, 10)
	t.Logf("quiet scene 30 s at 5 fps: %d frames, detectors ran on %d (%d full passes); ungated, every 10th "+
		"frame, found %d persons, gated %d of them", quiet.frames, quiet.ran, quiet.full, quiet.ungated, quiet.gatedMatched)
	assert.LessOrEqual(t, quiet.ran*5, quiet.frames, "the gate opened on %d of %d quiet frames; the goal is at most a fifth", quiet.ran, quiet.frames)
}

// TestCameraHonoursCancellation: a cancelled context stops processing with the context's error.
func TestCameraHonoursCancellation(t *testing.T) {
	p := newPipeline(t, false)
	frames := readVideoFrames(t, vtestPath(t), 0)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	gcfg := DefaultGateConfig()
	cam := p.NewCamera("c", &gcfg)
	defer cam.Close()
	_, err := cam.Process(ctx, frames[0], time.Now())
	assert.ErrorIs(t, err, context.Canceled, "a camera")
	_, err = p.Detect(ctx, frames[0], time.Now())
	assert.ErrorIs(t, err, context.Canceled, "the pipeline")
}

// TestPipelineConcurrentCameras runs two cameras on one pipeline from two goroutines (run with -race):
// frames are serialised through the networks, results stay per camera.
func TestPipelineConcurrentCameras(t *testing.T) {
	p := newPipeline(t, true)
	frames := readVideoFrames(t, vtestPath(t), 0, 100)
	errs := make(chan error, 2)
	counts := make(chan string, 2)
	for _, n := range []int{0, 100} {
		go func() {
			gcfg := DefaultGateConfig()
			cam := p.NewCamera(fmt.Sprint("cam", n), &gcfg)
			defer cam.Close()
			var persons int
			for i := 0; i < 3; i++ {
				res, err := cam.Process(context.Background(), frames[n], time.Unix(int64(i), 0))
				if err != nil {
					errs <- err
					return
				}
				persons = len(res.Persons)
				embedded := 0
				for _, pr := range res.Persons {
					if len(pr.Appearance) > 0 {
						embedded++
					}
					if len(pr.Appearance) != 0 && len(pr.Appearance) != 512 {
						errs <- fmt.Errorf("appearance of %d values", len(pr.Appearance))
						return
					}
				}
				// Frames 0 and 2 are full passes 2 s apart: every person is new, then due.
				if embedded != len(res.Persons) {
					errs <- fmt.Errorf("frame %d: %d of %d persons embedded", i, embedded, len(res.Persons))
					return
				}
			}
			counts <- fmt.Sprintf("%d:%d", n, persons)
			errs <- nil
		}()
	}
	for i := 0; i < 2; i++ {
		require.NoError(t, <-errs)
	}
	got := map[string]bool{<-counts: true, <-counts: true}
	assert.Equal(t, map[string]bool{"0:4": true, "100:7": true}, got, "per-camera person counts")
}

// TestMetrics: a camera's frames show up in the Prometheus metrics by outcome, without identities.
func TestMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := NewMetrics(reg)
	require.NoError(t, err)
	cfg := DefaultConfig(modelsDir(t))
	cfg.Appearance, cfg.Metrics = false, m
	p, err := NewPipeline(cfg)
	require.NoError(t, err)
	defer p.Close()
	frames := readVideoFrames(t, vtestPath(t), 0)
	gcfg := DefaultGateConfig()
	cam := p.NewCamera("cam-1", &gcfg)
	defer cam.Close()
	t0 := time.Unix(1000, 0)
	for i := 0; i < 3; i++ { // the first frame is a full pass, the same frame again has no motion
		_, err := cam.Process(context.Background(), frames[0], t0.Add(time.Duration(i)*200*time.Millisecond))
		require.NoError(t, err)
	}
	want := `
# HELP snowlight_detect_frames_total Frames given to perception, by outcome: skipped (no motion), regions, full.
# TYPE snowlight_detect_frames_total counter
snowlight_detect_frames_total{camera="cam-1",outcome="full"} 1
snowlight_detect_frames_total{camera="cam-1",outcome="skipped"} 2
# HELP snowlight_detect_persons_total Person detections.
# TYPE snowlight_detect_persons_total counter
snowlight_detect_persons_total{camera="cam-1"} 4
`
	assert.NoError(t, testutil.GatherAndCompare(reg, strings.NewReader(want), "snowlight_detect_frames_total",
		"snowlight_detect_persons_total"))
	assert.NotZero(t, testutil.CollectAndCount(m.stage), "no stage timings recorded")
}
