package testvideos

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"
)

// scenarioRendererVersion changes whenever the renderer draws differently, so cached renders from an older
// renderer are not reused.
const scenarioRendererVersion = "scenario-renderer/5"

// SpecHash identifies what a render of spec contains: the spec itself, the renderer version, and the
// content of every file it reads.
func SpecHash(spec *Spec) (string, error) {
	h := sha256.New()
	fmt.Fprintln(h, scenarioRendererVersion)
	data, err := json.Marshal(spec)
	if err != nil {
		return "", fmt.Errorf("hash scenario %s: %w", spec.Name, err)
	}
	h.Write(data)
	files := append([]string(nil), spec.resolved.backgrounds...)
	for i := range spec.resolved.photos {
		files = append(files, spec.resolved.photos[i]...)
		files = append(files, spec.resolved.enrol[i]...)
	}
	for _, f := range files {
		sum, err := fileSHA256(f)
		if err != nil {
			return "", fmt.Errorf("hash scenario %s: %w", spec.Name, err)
		}
		fmt.Fprintf(h, "%s %s\n", f, sum)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("read %s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// ScenarioCacheDir is where rendered scenarios are kept between runs: the scenarios folder beside the
// generated test streams (Dir()).
func ScenarioCacheDir() string {
	return filepath.Join(Dir(), "scenarios")
}

// Rendered is a scenario rendered on disk.
type Rendered struct {
	Dir   string // holds truth.json and one <camera>.mp4 per camera
	Truth *Truth
}

// VideoPath is the file of one camera.
func (r *Rendered) VideoPath(camera string) string {
	if c := r.Truth.Camera(camera); c != nil {
		return filepath.Join(r.Dir, c.File)
	}
	return ""
}

// RenderCached returns the render of spec under cacheDir (ScenarioCacheDir() when empty), rendering it
// first if no earlier run did. Renders are keyed by SpecHash; processes that ask for the same scenario at
// once wait for one another instead of rendering it twice.
func RenderCached(ctx context.Context, spec *Spec, cacheDir string, opts RenderOptions) (*Rendered, error) {
	if cacheDir == "" {
		cacheDir = ScenarioCacheDir()
	}
	hash, err := SpecHash(spec)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cacheDir, 0o755); err != nil {
		return nil, fmt.Errorf("scenario cache: %w", err)
	}
	dir := filepath.Join(cacheDir, spec.Name+"-"+hash[:16])
	unlock, err := lockFile(ctx, dir+".lock")
	if err != nil {
		return nil, err
	}
	defer unlock()
	if t, err := ReadTruth(dir); err == nil && t.SpecHash == hash {
		return &Rendered{Dir: dir, Truth: t}, nil
	}
	tmp, err := os.MkdirTemp(cacheDir, "."+spec.Name+"-*")
	if err != nil {
		return nil, fmt.Errorf("scenario cache: %w", err)
	}
	defer os.RemoveAll(tmp)
	t, err := Render(ctx, spec, tmp, opts)
	if err != nil {
		return nil, err
	}
	if err := os.RemoveAll(dir); err != nil { // a partial leftover of an interrupted older run
		return nil, fmt.Errorf("scenario cache: %w", err)
	}
	if err := os.Rename(tmp, dir); err != nil {
		return nil, fmt.Errorf("scenario cache: %w", err)
	}
	return &Rendered{Dir: dir, Truth: t}, nil
}

// lockFile takes an exclusive advisory lock, waiting while another process holds it.
func lockFile(ctx context.Context, path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("scenario cache lock: %w", err)
	}
	done := make(chan error, 1)
	go func() { done <- syscall.Flock(int(f.Fd()), syscall.LOCK_EX) }()
	select {
	case err := <-done:
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("scenario cache lock %s: %w", path, err)
		}
		return func() { _ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN); f.Close() }, nil
	case <-ctx.Done():
		// Closing the file does not interrupt flock; the goroutine ends when the holder releases it.
		go func() {
			if <-done == nil {
				_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
			}
			f.Close()
		}()
		return nil, ctx.Err()
	}
}
