// Package testvideos turns real footage into deterministic camera-like test streams and finds them for
// tests and the demo.
//
// The streams look like what IP cameras send: H.264 Main, no B-frames, 25 fps, one IDR every 25 frames,
// no encoder SEI. They are generated with ffmpeg (libx264, one thread, bit-exact muxing), so the same
// source, arguments and ffmpeg version give byte-identical files; each output carries a recorded spec hash
// and is regenerated only when that hash changes.
package testvideos

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// Names of the generated camera-like streams; each is served by camsim at rtsp://ADDR/<name>.
const (
	VTest     = "vtest"      // vtest.avi, real pedestrians, 768x576
	VTest720p = "vtest_720p" // the same scene cropped to 16:9 and scaled to 1280x720
	Quiet     = "quiet"      // vtest's empty background held still with light sensor noise, 768x576
)

// DefaultSource is the real pedestrian footage that opencv-doc installs.
const DefaultSource = "/usr/share/doc/opencv-doc/examples/data/vtest.avi"

// Stream describes one generated stream.
type Stream struct {
	Name          string
	Width, Height int
	FPS           int
	GOP           int
	Frames        int
	// filter is the ffmpeg -vf chain that turns the source into this stream.
	filter string
	// limit caps the output length (ffmpeg -t) when the filter would run forever.
	limit time.Duration
}

// Duration is the length of one play-through.
func (s Stream) Duration() time.Duration {
	return time.Duration(s.Frames) * time.Second / time.Duration(s.FPS)
}

// File is the base name of the generated file.
func (s Stream) File() string { return s.Name + ".mp4" }

// Specs lists the generated streams.
func Streams() []Stream {
	return []Stream{
		{Name: VTest, Width: 768, Height: 576, FPS: 25, GOP: 25, Frames: 1988,
			// vtest.avi is 10 fps; duplicating frames keeps walkers at their real speed, which tracking
			// and wall-clock tests rely on.
			filter: "fps=25"},
		{Name: VTest720p, Width: 1280, Height: 720, FPS: 25, GOP: 25, Frames: 1988,
			filter: "fps=25,crop=768:432,scale=1280:720:flags=bicubic"},
		{Name: Quiet, Width: 768, Height: 576, FPS: 25, GOP: 25, Frames: 750,
			// A temporal median of 31 frames a second apart removes every walker and leaves the empty
			// scene; holding it with temporal noise gives a stream with no motion but a live sensor.
			filter: "select='not(mod(n\\,25))',tmedian=radius=15,trim=end_frame=1," +
				"loop=loop=749:size=1:start=0,setpts=N/25/TB," +
				"noise=alls=4:allf=t:all_seed=20240601",
			limit: 30 * time.Second},
	}
}

// encoderArgs are the x264 settings of a typical IP camera, fixed so that output is reproducible.
func streamEncoderArgs(s Stream) []string {
	args := []string{
		"-r", fmt.Sprint(s.FPS),
		"-c:v", "libx264", "-profile:v", "main", "-preset", "veryfast",
		"-bf", "0", "-g", fmt.Sprint(s.GOP), "-keyint_min", fmt.Sprint(s.GOP), "-sc_threshold", "0",
		"-crf", "23", "-maxrate", "4M", "-bufsize", "8M", "-pix_fmt", "yuv420p", "-threads", "1",
		// Cameras send no x264 version SEI; dropping it also keeps the bitstream free of encoder text.
		"-bsf:v", "filter_units=remove_types=6",
		"-an", "-map_metadata", "-1", "-fflags", "+bitexact", "-flags:v", "+bitexact",
		"-movflags", "+faststart",
	}
	if s.limit > 0 {
		args = append(args, "-t", fmt.Sprintf("%.3f", s.limit.Seconds()))
	}
	return args
}

func streamFFmpegArgs(s Stream, source, out string) []string {
	args := []string{"-hide_banner", "-loglevel", "error", "-nostdin", "-y", "-i", source,
		"-vf", s.filter}
	args = append(args, streamEncoderArgs(s)...)
	return append(args, "-f", "mp4", out)
}

// Dir is where the streams live: $SNOWLIGHT_TESTVIDEOS, else out/testvideos at the root of the
// checkout that contains the working directory (so tests in any package find the same files).
func Dir() string {
	if d := os.Getenv("SNOWLIGHT_TESTVIDEOS"); d != "" {
		return d
	}
	if root, ok := genRepoRoot(); ok {
		return filepath.Join(root, "out", "testvideos")
	}
	return filepath.Join("out", "testvideos")
}

func genRepoRoot() (string, bool) {
	dir, err := os.Getwd()
	if err != nil {
		return "", false
	}
	for {
		if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil &&
			strings.HasPrefix(strings.TrimSpace(string(b)), "module snowlight") {
			return dir, true
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", false
		}
		dir = parent
	}
}

// GenerateOptions configure Generate.
type GenerateOptions struct {
	Dir    string       // output folder; Dir() when empty
	Source string       // the footage; DefaultSource when empty
	FFmpeg string       // the ffmpeg binary; found on PATH when empty
	Log    *slog.Logger // progress; discarded when nil
	Only   []string     // names to generate; all when empty
}

// GenerateResult reports one stream.
type GenerateResult struct {
	Stream
	Path      string
	Generated bool // false when an up-to-date file was already there
}

// ErrNoSource means the footage or ffmpeg is missing; tests skip on it.
var ErrNoSource = errors.New("test video source unavailable")

// Generate writes every stream that is missing or out of date. Concurrent callers (test binaries of
// several packages run at once) serialise on a lock file in the output folder.
func Generate(ctx context.Context, o GenerateOptions) ([]GenerateResult, error) {
	if o.Dir == "" {
		o.Dir = Dir()
	}
	if o.Source == "" {
		o.Source = DefaultSource
	}
	if o.Log == nil {
		o.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if o.FFmpeg == "" {
		p, err := exec.LookPath("ffmpeg")
		if err != nil {
			return nil, fmt.Errorf("find ffmpeg: %w (%w)", err, ErrNoSource)
		}
		o.FFmpeg = p
	}
	if _, err := os.Stat(o.Source); err != nil {
		return nil, fmt.Errorf("open source footage: %w (%w; install opencv-doc)", err, ErrNoSource)
	}
	if err := os.MkdirAll(o.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("create test video folder: %w", err)
	}
	unlock, err := genLockDir(o.Dir)
	if err != nil {
		return nil, err
	}
	defer unlock()

	version, err := genFFmpegVersion(ctx, o.FFmpeg)
	if err != nil {
		return nil, err
	}
	srcSum, err := genFileSHA256(o.Source)
	if err != nil {
		return nil, fmt.Errorf("hash source footage: %w", err)
	}
	var out []GenerateResult
	for _, s := range Streams() {
		if len(o.Only) > 0 && !genContains(o.Only, s.Name) {
			continue
		}
		r, err := generateStream(ctx, o, s, version, srcSum)
		if err != nil {
			return out, err
		}
		out = append(out, r)
	}
	return out, nil
}

func generateStream(ctx context.Context, o GenerateOptions, s Stream, version, srcSum string) (GenerateResult, error) {
	path := filepath.Join(o.Dir, s.File())
	hash := streamSpecHash(s, version, srcSum)
	r := GenerateResult{Stream: s, Path: path}
	if genUpToDate(path, hash) {
		return r, nil
	}
	o.Log.Info("generating test video", "name", s.Name, "path", path)
	start := time.Now()
	tmp := path + ".tmp"
	cmd := exec.CommandContext(ctx, o.FFmpeg, streamFFmpegArgs(s, o.Source, tmp)...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		os.Remove(tmp)
		return r, fmt.Errorf("encode test video %s: %w: %s", s.Name, err, strings.TrimSpace(stderr.String()))
	}
	if err := os.Rename(tmp, path); err != nil {
		return r, fmt.Errorf("install test video %s: %w", s.Name, err)
	}
	if err := os.WriteFile(path+".spec", []byte(hash+"\n"), 0o644); err != nil {
		return r, fmt.Errorf("record spec of test video %s: %w", s.Name, err)
	}
	o.Log.Info("generated test video", "name", s.Name, "took", time.Since(start).Round(time.Millisecond))
	r.Generated = true
	return r, nil
}

// specHash covers everything that decides the output bytes: the arguments, the ffmpeg build and the
// source footage.
func streamSpecHash(s Stream, version, srcSum string) string {
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00%s\x00", s.Name, version, srcSum)
	for _, a := range streamFFmpegArgs(s, "SOURCE", "OUT") {
		fmt.Fprintf(h, "%s\x00", a)
	}
	return hex.EncodeToString(h.Sum(nil))
}

func genUpToDate(path, hash string) bool {
	if st, err := os.Stat(path); err != nil || st.Size() == 0 {
		return false
	}
	b, err := os.ReadFile(path + ".spec")
	return err == nil && strings.TrimSpace(string(b)) == hash
}

func genFFmpegVersion(ctx context.Context, ffmpeg string) (string, error) {
	out, err := exec.CommandContext(ctx, ffmpeg, "-version").Output()
	if err != nil {
		return "", fmt.Errorf("run %s -version: %w", ffmpeg, err)
	}
	line, _, _ := strings.Cut(string(out), "\n")
	return line, nil
}

func genFileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func genLockDir(dir string) (func(), error) {
	f, err := os.OpenFile(filepath.Join(dir, ".lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("lock test video folder: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock test video folder: %w", err)
	}
	return func() {
		syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}

func genContains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// Ensure generates what is missing and returns the path of each named stream (all when none named).
func Ensure(ctx context.Context, names ...string) (map[string]string, error) {
	rs, err := Generate(ctx, GenerateOptions{Only: names})
	if err != nil {
		return nil, err
	}
	paths := make(map[string]string, len(rs))
	for _, r := range rs {
		paths[r.Name] = r.Path
	}
	for _, n := range names {
		if _, ok := paths[n]; !ok {
			return nil, fmt.Errorf("unknown test video %q", n)
		}
	}
	return paths, nil
}
