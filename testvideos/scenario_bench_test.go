package testvideos

import (
	"image"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// cpuSeconds is the CPU time (user + system) of this process and of its waited-for children (ffmpeg): on
// a shared machine it says what the work costs where wall time says how busy the neighbours are.
func cpuSeconds(b *testing.B) (self, children float64) {
	var ru syscall.Rusage
	sec := func(tv syscall.Timeval) float64 { return float64(tv.Sec) + float64(tv.Usec)/1e6 }
	require.NoError(b, syscall.Getrusage(syscall.RUSAGE_SELF, &ru))
	self = sec(ru.Utime) + sec(ru.Stime)
	require.NoError(b, syscall.Getrusage(syscall.RUSAGE_CHILDREN, &ru))
	return self, sec(ru.Utime) + sec(ru.Stime)
}

// BenchmarkScenarioComposite measures the renderer's own work per 720p frame, without decoding or
// encoding: three people walking over a still plate (the dirty regions of the last frame restored, each
// figure drawn). One op is one frame; frames/s on one core is the renderer's ceiling.
func BenchmarkScenarioComposite(b *testing.B) {
	spec, err := BuiltinScenario("perception")
	if err != nil {
		b.Skip(err)
	}
	c := spec.Cameras[0]
	c.Background = BackgroundSpec{Video: c.Background.Video, Mode: BackgroundStill, From: 5}
	bg, err := openBackground(b.Context(), &c, spec.resolved.backgrounds[0])
	require.NoError(b, err)
	cast, err := loadCast(spec)
	require.NoError(b, err)
	defer cast.close()
	var walkers []*walker
	for i := range spec.Walks {
		w, err := newWalker(spec, i, cast)
		require.NoError(b, err)
		defer w.fig.close()
		walkers = append(walkers, w)
	}
	frame := append([]byte(nil), bg.plate...)
	labels := make([]byte, c.Width*c.Height)
	var dirty []image.Rectangle
	frameRect := image.Rect(0, 0, c.Width, c.Height)
	n := 0
	cpu0, _ := cpuSeconds(b)
	b.ResetTimer()
	for b.Loop() {
		// Loop over the seconds in which all three are in view, so every frame draws three figures.
		t := 6 + float64(n%90)/10
		n++
		bg.restore(frame, c.Width, dirty)
		dirty = dirty[:0]
		clear(labels)
		for i, w := range walkers {
			p, ok := w.poseAt(t)
			require.True(b, ok, "walk %d not active at %v", i, t)
			d, err := w.fig.draw(frame, c.Width, c.Height, p, labels, byte(i+1))
			require.NoError(b, err)
			dirty = append(dirty, d.region.Intersect(frameRect))
		}
	}
	cpu1, _ := cpuSeconds(b)
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "frames/s")
	b.ReportMetric((cpu1-cpu0)*1000/float64(b.N), "cpu-ms/frame")
}

// BenchmarkScenarioRender renders the perception scenario end to end (looped real video background at
// 720p, three people, x264 encoding) and reports how many seconds of video it makes per second.
func BenchmarkScenarioRender(b *testing.B) {
	spec, err := BuiltinScenario("perception")
	if err != nil {
		b.Skip(err)
	}
	var video float64
	self0, kids0 := cpuSeconds(b)
	start := time.Now()
	for b.Loop() {
		_, err := Render(b.Context(), spec, b.TempDir(), RenderOptions{})
		require.NoError(b, err)
		video += spec.Cameras[0].Duration
	}
	self1, kids1 := cpuSeconds(b)
	b.ReportMetric(video/time.Since(start).Seconds(), "video-s/s")
	b.ReportMetric((self1-self0)/video, "go-cpu-s/video-s")
	b.ReportMetric((kids1-kids0)/video, "ffmpeg-cpu-s/video-s")
}
