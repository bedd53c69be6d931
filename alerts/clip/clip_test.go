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
	if out, err := exec.Command("ffmpeg", append(args, path)...).CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg: %v\n%s", err, out)
	}
	info, pkts, err := av.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
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
	if err != nil {
		t.Fatalf("ffprobe %s: %v", path, err)
	}
	var p probe
	if err := json.Unmarshal(out, &p); err != nil {
		t.Fatal(err)
	}
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
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(t.TempDir(), "clip.mp4")
			if err := os.WriteFile(path, b, 0o644); err != nil {
				t.Fatal(err)
			}
			p := ffprobe(t, path)
			if len(p.Streams) != 1 || p.Streams[0].CodecName != tc.codec {
				t.Fatalf("ffprobe streams %+v, want one %s stream", p.Streams, tc.codec)
			}
			if len(p.Frames) == 0 || p.Frames[0].KeyFrame != 1 {
				t.Fatalf("first frame is not a keyframe: %+v", p.Frames)
			}
			dur, _ := strconv.ParseFloat(p.Streams[0].Duration, 64)
			// Starts at the keyframe at or before at-pre (2.0 s), ends at at+post (7.2 s).
			if dur < 5.2-0.05 || dur > 5.2+1.05 {
				t.Errorf("duration %.2f s, want pre+post (5.2 s) within the 1 s GOP", dur)
			}
			if !info.Start.Equal(t0.Add(2*time.Second)) || info.End.Before(at.Add(3*time.Second)) {
				t.Errorf("clip covers %v..%v", info.Start.Sub(t0), info.End.Sub(t0))
			}
			// Every picture decodes cleanly through libavcodec.
			dm, err := av.OpenFile(path)
			if err != nil {
				t.Fatal(err)
			}
			defer dm.Close()
			dec, err := av.NewDecoder(av.DecoderOptions{Codec: dm.Info().Codec})
			if err != nil {
				t.Fatal(err)
			}
			defer dec.Close()
			n := 0
			for {
				pkt, err := dm.Read()
				if errors.Is(err, io.EOF) {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				if err := dec.Send(pkt.AU, int64(pkt.PTS)); err != nil {
					t.Fatal(err)
				}
				for {
					pi, err := dec.Receive()
					if err != nil {
						break
					}
					if pi.Corrupt {
						t.Fatalf("picture %d corrupt", n)
					}
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
			if n != info.Frames {
				t.Errorf("decoded %d pictures, clip has %d", n, info.Frames)
			}
		})
	}
}

// A camera that dies during the post-roll gives the clip it has, promptly.
func TestCutCameraStopped(t *testing.T) {
	t0 := time.Now().Add(-10 * time.Second)
	ring := fill(t, []string{"-c:v", "libx264", "-bf", "0"}, 100, t0) // 4 s, then silence
	_, info, err := Cut(context.Background(), ring, "cam-1", t0.Add(3*time.Second), time.Second, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if info.End.After(t0.Add(4*time.Second)) || info.Frames < 25 {
		t.Errorf("clip %+v", info)
	}
}

func TestCutErrors(t *testing.T) {
	t0 := time.Now().Add(-time.Hour)
	ring := fill(t, []string{"-c:v", "libx264", "-bf", "0"}, 50, t0)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, _, err := Cut(ctx, ring, "cam-1", time.Now(), time.Second, time.Second); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
	if _, _, err := Cut(context.Background(), ring, "cam-1", t0.Add(-time.Hour), time.Second, time.Second); !errors.Is(err, media.ErrNotBuffered) {
		t.Errorf("before the ring: %v", err)
	}
	if _, _, err := Mux(media.Clip{Codec: media.H264}); err == nil {
		t.Error("empty clip muxed")
	}
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
			if err != nil {
				t.Fatal(err)
			}
			box := image.Rect(50, 60, 150, 200)
			jpg, shown, err := Snapshot(c, at, []Mark{{Box: box, Label: "suspect 0.71"}}, 85)
			if err != nil {
				t.Fatal(err)
			}
			if !shown.Equal(at) {
				t.Errorf("snapshot shows %v, want the picture at %v", shown.Sub(t0), at.Sub(t0))
			}
			img, err := gocv.IMDecode(jpg, gocv.IMReadColor)
			if err != nil {
				t.Fatal(err)
			}
			defer img.Close()
			if img.Cols() != 320 || img.Rows() != 240 {
				t.Fatalf("snapshot %dx%d", img.Cols(), img.Rows())
			}
			// The box's edge is drawn in the mark colour (BGR 32,64,255), JPEG loss allowed.
			v := img.GetVecbAt(box.Min.Y+(box.Dy()/2), box.Min.X)
			if v[2] < 200 || v[0] > 100 {
				t.Errorf("box edge pixel %v is not the mark colour", v)
			}
		})
	}
	if _, _, err := Snapshot(media.Clip{Codec: media.H264}, t0, nil, 85); err == nil {
		t.Error("snapshot of nothing succeeded")
	}
}
