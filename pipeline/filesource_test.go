package pipeline_test

import (
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"snowlight/center"
	"snowlight/media"
	"snowlight/pipeline"
)

// readAll decodes a recording to the end and returns its frames' wall times.
func readAll(t *testing.T, rec media.Recording) ([]time.Time, pipeline.SourceStats) {
	t.Helper()
	src, err := pipeline.OpenRecording(rec, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	var times []time.Time
	for {
		f, err := src.Next(context.Background())
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if f.Camera != rec.Camera || f.Mat.Cols() != 1280 || f.Mat.Rows() != 720 || f.Seq != uint64(len(times)+1) {
			t.Fatalf("frame %d: camera %s, %dx%d, seq %d", len(times)+1, f.Camera, f.Mat.Cols(), f.Mat.Rows(), f.Seq)
		}
		times = append(times, f.Time)
		f.Close()
	}
	return times, src.Stats()
}

// A recording is decoded at the detection rate, each frame at start + PTS: the 10 fps file gives 3,
// 4 or all 10 frames a second on a regular grid.
func TestFileSourceSamples(t *testing.T) {
	_, r := scenario(t, "city5")
	start := time.Date(2024, 5, 1, 8, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		fps    float64
		frames int
		gap    time.Duration // the longest step between frames
	}{{10, 620, 100 * time.Millisecond}, {4, 248, 300 * time.Millisecond}, {3, 186, 400 * time.Millisecond}} {
		times, st := readAll(t, media.Recording{Camera: "c5", File: r.VideoPath("c5"), Start: start, FPS: tc.fps})
		if len(times) != tc.frames || st.Frames != tc.frames || st.AccessUnits != 620 || st.Damaged != 0 || st.BrokenOff != nil {
			t.Errorf("%g fps: %d frames, stats %+v; want %d", tc.fps, len(times), st, tc.frames)
			continue
		}
		if !times[0].Equal(start) {
			t.Errorf("%g fps: first frame at %v, want the recording's start", tc.fps, times[0])
		}
		for i := 1; i < len(times); i++ {
			if d := times[i].Sub(times[i-1]); d <= 0 || d > tc.gap {
				t.Fatalf("%g fps: frame %d comes %v after the one before", tc.fps, i+1, d)
			}
		}
	}
}

// A file that is not video fails to open with an error naming the camera; a recording cut off in
// the middle plays up to the cut.
func TestFileSourceBadFiles(t *testing.T) {
	dir := t.TempDir()
	junk := filepath.Join(dir, "junk.mp4")
	if err := os.WriteFile(junk, []byte("not a video at all"), 0o600); err != nil {
		t.Fatal(err)
	}
	rec := media.Recording{Camera: "cam-9", File: junk, Start: time.Unix(0, 0), FPS: 5}
	if _, err := pipeline.OpenRecording(rec, nil); err == nil || !strings.Contains(err.Error(), "cam-9") {
		t.Errorf("junk file: %v", err)
	}
	for _, bad := range []media.Recording{{File: junk, Start: time.Unix(0, 0), FPS: 5}, {Camera: "c", File: junk, FPS: 5},
		{Camera: "c", File: junk, Start: time.Unix(0, 0)}} {
		if _, err := pipeline.OpenRecording(bad, nil); err == nil {
			t.Errorf("recording %+v accepted", bad)
		}
	}

	_, r := scenario(t, "city5")
	ts := filepath.Join(dir, "cut.ts")
	if out, err := exec.Command("ffmpeg", "-v", "error", "-i", r.VideoPath("c5"), "-t", "6", "-c", "copy", "-f", "mpegts", ts).CombinedOutput(); err != nil {
		t.Skipf("ffmpeg: %v: %s", err, out)
	}
	data, err := os.ReadFile(ts)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(ts, data[:len(data)*2/3], 0o600); err != nil {
		t.Fatal(err)
	}
	times, st := readAll(t, media.Recording{Camera: "c5", File: ts, Start: time.Unix(0, 0), FPS: 10})
	if len(times) < 30 || len(times) >= 60 {
		t.Errorf("cut recording gave %d frames (stats %+v), want those before the cut", len(times), st)
	}
}

// Cancelling a replay stops every camera promptly and leaves no goroutine behind.
func TestReplayStopsWhenCancelled(t *testing.T) {
	_, r := scenario(t, "city5")
	cfg := twoCameras(t)
	for i, id := range []string{"c1", "c2"} {
		cfg.Cameras[i].Recording.File = r.VideoPath(id)
	}
	recs, err := decode(t, cfg).Recordings()
	if err != nil {
		t.Fatal(err)
	}
	dets := detectors(t, 1)
	c := newCenter(t, cfg)
	before := runtime.NumGoroutine()
	ctx, cancel := context.WithCancel(context.Background())
	var cancelled time.Time
	c.cfg.OnEvent = func(center.Event) { // the first sighting stops it
		if cancelled.IsZero() {
			cancelled = time.Now()
			cancel()
		}
	}
	_, err = pipeline.Replay(ctx, pipeline.ReplayOptions{
		Recordings: recs, Detectors: dets, Center: c.cfg,
		Edge: pipeline.EdgeConfig{Tracker: pipeline.TrackerConfig()},
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("replay returned %v, want it cancelled", err)
	}
	t.Logf("the cancelled replay returned %v after the cancel", time.Since(cancelled).Round(time.Millisecond))
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		t.Errorf("%d goroutines after the replay, %d before", n, before)
	}
}
