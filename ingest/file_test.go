package ingest

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"snowlight/media"
	"snowlight/testvideos"
)

// readAll decodes a recording to the end and returns its frames' wall times.
func readAll(t *testing.T, rec media.Recording) ([]time.Time, FileStats) {
	t.Helper()
	src, err := OpenRecording(rec, nil)
	require.NoError(t, err)
	defer src.Close()
	var times []time.Time
	for {
		f, err := src.Next(context.Background())
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err)
		require.Equal(t, rec.Camera, f.Camera)
		require.Equal(t, [2]int{768, 576}, [2]int{f.Mat.Cols(), f.Mat.Rows()})
		require.Equal(t, uint64(len(times)+1), f.Seq)
		times = append(times, f.Time)
		f.Close()
	}
	return times, src.Stats()
}

// A recording is decoded at its rate, each frame at start + PTS: the 25 fps file (750 pictures) gives
// all of them without a rate, 5 or 2 a second on a regular grid with one.
func TestFileSourceSamples(t *testing.T) {
	file := testVideo(t, testvideos.Quiet)
	start := time.Date(2024, 5, 1, 8, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		fps    float64
		frames int
		gap    time.Duration // the longest step between frames: the grid's, rounded up to a picture
	}{{0, 750, 40 * time.Millisecond}, {5, 150, 200 * time.Millisecond}, {2, 60, 520 * time.Millisecond}} {
		times, st := readAll(t, media.Recording{Camera: "quiet", File: file, Start: start, FPS: tc.fps})
		assert.Len(t, times, tc.frames, "%g fps", tc.fps)
		assert.Equal(t, FileStats{AccessUnits: 750, Decoded: st.Decoded, Frames: tc.frames}, st, "%g fps", tc.fps)
		require.NotEmpty(t, times)
		assert.Equal(t, start, times[0], "%g fps: the first frame is at the recording's start", tc.fps)
		for i := 1; i < len(times); i++ {
			d := times[i].Sub(times[i-1])
			require.True(t, d > 0 && d <= tc.gap, "%g fps: frame %d comes %v after the one before", tc.fps, i+1, d)
		}
	}
}

// A file that is not video fails to open with an error naming the camera; a recording cut off in
// the middle plays up to the cut.
func TestFileSourceBadFiles(t *testing.T) {
	dir := t.TempDir()
	junk := filepath.Join(dir, "junk.mp4")
	require.NoError(t, os.WriteFile(junk, []byte("not a video at all"), 0o600))
	_, err := OpenRecording(media.Recording{Camera: "cam-9", File: junk, Start: time.Unix(0, 0), FPS: 5}, nil)
	assert.ErrorContains(t, err, "cam-9")
	for _, bad := range []media.Recording{{File: junk, Start: time.Unix(0, 0), FPS: 5}, {Camera: "c", File: junk, FPS: 5},
		{Camera: "c", File: junk, Start: time.Unix(0, 0), FPS: -1}} {
		_, err := OpenRecording(bad, nil)
		assert.Error(t, err, "recording %+v", bad)
	}

	ts := shortClip(t, testvideos.Quiet, 6, ".ts") // 150 pictures
	data, err := os.ReadFile(ts)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(ts, data[:len(data)*2/3], 0o600))
	times, st := readAll(t, media.Recording{Camera: "quiet", File: ts, Start: time.Unix(0, 0), FPS: 10})
	assert.True(t, len(times) >= 20 && len(times) < 60, "the cut recording gave %d frames (stats %+v), want those before the cut", len(times), st)
}
