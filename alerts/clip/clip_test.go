package clip

import (
	"context"
	"encoding/json"
	"errors"
	"image"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gocv.io/x/gocv"

	"snowlight/ingest/av"
	"snowlight/media"
)

const vtest = "/usr/share/doc/opencv-doc/examples/data/vtest.avi"

// fill encodes real footage with x264 args and pushes it into a ring as a 25 fps camera that started at t0.
func fill(t *testing.T, codec []string, frames int, t0 time.Time) *media.Ring {
	t.Helper()
	if _, err := os.Stat(vtest); err != nil {
		t.Skip("vtest.avi missing: run scripts/setup.sh")
	}
	path := filepath.Join(t.TempDir(), "cam.mkv")
	args := append([]string{"-hide_banner", "-loglevel", "error", "-i", vtest, "-frames:v", strconv.Itoa(frames),
		"-vf", "scale=320:240,fps=25", "-g", "25", "-keyint_min", "25", "-sc_threshold", "0"}, codec...)
	out, err := exec.Command("ffmpeg", append(args, path)...).CombinedOutput()
	require.NoError(t, err, "ffmpeg: %s", out)
	info, pkts, err := av.ReadFile(path)
	require.NoError(t, err)
	ring := media.NewRing(time.Minute, 64<<20)
	for _, p := range pkts {
		ring.Push(info.Codec, info.ParamSets, media.AccessUnit{
			Camera: "cam-1", Time: t0.Add(p.PTS), PTS: p.PTS, NALUs: p.AU, Keyframe: p.Keyframe,
		})
	}
	return ring
}

type probe struct {
	Streams []struct {
		CodecName string `json:"codec_name"`
		NbFrames  string `json:"nb_frames"`
		Duration  string `json:"duration"`
	} `json:"streams"`
	Frames []struct {
		KeyFrame int `json:"key_frame"`
	} `json:"frames"`
}

func ffprobe(t *testing.T, path string) probe {
	t.Helper()
	out, err := exec.Command("ffprobe", "-v", "error", "-of", "json", "-show_entries", "stream=codec_name,nb_frames,duration",
		"-show_entries", "frame=key_frame", "-read_intervals", "%+#1", path).Output()
	require.NoError(t, err, "ffprobe %s", path)
	var p probe
	require.NoError(t, json.Unmarshal(out, &p))
	return p
}

func TestCutIsValidMP4(t *testing.T) {
	tests := []struct {
		name, codec string
		args        []string
	}{
		{"h264 camera-like", "h264", []string{"-c:v", "libx264", "-profile:v", "main", "-bf", "0"}},
		{"h264 with b-frames", "h264", []string{"-c:v", "libx264", "-bf", "3"}},
		{"h265", "hevc", []string{"-c:v", "libx265", "-x265-params", "log-level=error:keyint=25:min-keyint=25:scenecut=0:open-gop=0"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t0 := time.Date(2026, 11, 26, 8, 5, 0, 0, time.UTC)
			ring := fill(t, tc.args, 250, t0) // 10 s
			at := t0.Add(4200 * time.Millisecond)
			b, info, err := Cut(context.Background(), ring, "cam-1", at, 2*time.Second, 3*time.Second)
			require.NoError(t, err)
			path := filepath.Join(t.TempDir(), "clip.mp4")
			require.NoError(t, os.WriteFile(path, b, 0o644))
			p := ffprobe(t, path)
			require.Len(t, p.Streams, 1)
			require.Equal(t, tc.codec, p.Streams[0].CodecName)
			require.NotEmpty(t, p.Frames)
			require.Equal(t, 1, p.Frames[0].KeyFrame, "the first frame is a keyframe")
			dur, err := strconv.ParseFloat(p.Streams[0].Duration, 64)
			require.NoError(t, err, "ffprobe duration")
			// Starts at the keyframe at or before at-pre (2.0 s), ends at at+post (7.2 s).
			assert.GreaterOrEqual(t, dur, 5.2-0.05, "duration: want pre+post (5.2 s)")
			assert.LessOrEqual(t, dur, 5.2+1.05, "duration: want pre+post (5.2 s) within the 1 s GOP")
			assert.WithinDuration(t, t0.Add(2*time.Second), info.Start, 0, "clip start")
			assert.False(t, info.End.Before(at.Add(3*time.Second)), "clip ends at %v, before at+post", info.End.Sub(t0))
			// Every picture decodes cleanly through libavcodec.
			dm, err := av.OpenFile(path)
			require.NoError(t, err)
			defer dm.Close()
			dec, err := av.NewDecoder(av.DecoderOptions{Codec: dm.Info().Codec})
			require.NoError(t, err)
			defer dec.Close()
			n := 0
			for {
				pkt, err := dm.Read()
				if errors.Is(err, io.EOF) {
					break
				}
				require.NoError(t, err)
				require.NoError(t, dec.Send(pkt.AU, int64(pkt.PTS)))
				for {
					pi, err := dec.Receive()
					if err != nil {
						break
					}
					require.False(t, pi.Corrupt, "picture %d corrupt", n)
					n++
				}
			}
			_ = dec.Drain()
			for {
				if _, err := dec.Receive(); err != nil {
					break
				}
				n++
			}
			assert.Equal(t, info.Frames, n, "pictures decoded")
		})
	}
}

// A camera that dies during the post-roll gives the clip it has, promptly.
func TestCutCameraStopped(t *testing.T) {
	t0 := time.Now().Add(-10 * time.Second)
	ring := fill(t, []string{"-c:v", "libx264", "-bf", "0"}, 100, t0) // 4 s, then silence
	_, info, err := Cut(context.Background(), ring, "cam-1", t0.Add(3*time.Second), time.Second, 10*time.Second)
	require.NoError(t, err)
	assert.False(t, info.End.After(t0.Add(4*time.Second)), "clip %+v ends after the camera stopped", info)
	assert.GreaterOrEqual(t, info.Frames, 25)
}

func TestCutErrors(t *testing.T) {
	t0 := time.Now().Add(-time.Hour)
	ring := fill(t, []string{"-c:v", "libx264", "-bf", "0"}, 50, t0)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, _, err := Cut(ctx, ring, "cam-1", time.Now(), time.Second, time.Second)
	assert.ErrorIs(t, err, context.Canceled)
	_, _, err = Cut(context.Background(), ring, "cam-1", t0.Add(-time.Hour), time.Second, time.Second)
	assert.ErrorIs(t, err, media.ErrNotBuffered, "before the ring")
	_, _, err = Mux(media.Clip{Codec: media.H264})
	assert.Error(t, err, "empty clip muxed")
}

func TestSnapshotDrawsOnThePictureAtTheTime(t *testing.T) {
	t0 := time.Date(2026, 11, 26, 8, 5, 0, 0, time.UTC)
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"camera-like", []string{"-c:v", "libx264", "-bf", "0"}},
		{"b-frames", []string{"-c:v", "libx264", "-bf", "3"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ring := fill(t, tc.args, 100, t0)
			at := t0.Add(2600 * time.Millisecond) // frame 65
			c, err := ring.Window(at.Add(-time.Second), at)
			require.NoError(t, err)
			box := image.Rect(50, 60, 150, 200)
			jpg, shown, err := Snapshot(c, at, []Mark{{Box: box, Label: "suspect 0.71"}}, 85)
			require.NoError(t, err)
			assert.WithinDuration(t, at, shown, 0, "the snapshot shows the picture at the time")
			img, err := gocv.IMDecode(jpg, gocv.IMReadColor)
			require.NoError(t, err)
			defer img.Close()
			require.Equal(t, 320, img.Cols())
			require.Equal(t, 240, img.Rows())
			// The box's edge is drawn in the mark colour (BGR 32,64,255), JPEG loss allowed.
			v := img.GetVecbAt(box.Min.Y+(box.Dy()/2), box.Min.X)
			assert.GreaterOrEqual(t, v[2], uint8(200), "box edge pixel %v is not the mark colour", v)
			assert.LessOrEqual(t, v[0], uint8(100), "box edge pixel %v is not the mark colour", v)
		})
	}
	_, _, err := Snapshot(media.Clip{Codec: media.H264}, t0, nil, 85)
	assert.Error(t, err, "snapshot of nothing succeeded")
}
