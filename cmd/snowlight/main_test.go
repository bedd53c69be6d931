package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"snowlight/ingest/camsim"
	"snowlight/server"
	"snowlight/testvideos"
)

// TestHelp: asking any command for help prints its usage and exits 0; a command line that is wrong
// still exits 2.
func TestHelp(t *testing.T) {
	for name := range commands() {
		for _, flag := range []string{"-h", "--help"} {
			t.Run(name+" "+flag, func(t *testing.T) {
				code, _, stderr := runCmd(t, name, flag)
				assert.Equal(t, 0, code, stderr)
				assert.Contains(t, stderr, "usage: snowlight "+name)
			})
		}
	}
	for _, args := range [][]string{{"-h"}, {"--help"}, {"help"}} {
		code, _, stderr := runCmd(t, args...)
		assert.Equal(t, 0, code, "snowlight %v", args)
		assert.Contains(t, stderr, "usage: snowlight <command>")
	}
	for _, args := range [][]string{{}, {"no-such-command"}, {"serve", "--config", "x.yaml", "extra"}, {"user", "no-such-verb"}} {
		code, _, _ := runCmd(t, args...)
		assert.Equal(t, 2, code, "snowlight %v", args)
	}
}

// TestServeStopsOnFailingStage: while serve ingests a camera, one of its stages fails; serve stops
// within 5 s, exits 1 and says which stage failed and why.
func TestServeStopsOnFailingStage(t *testing.T) {
	var once sync.Once
	streaming := make(chan struct{})
	// camsim sends only to a connected client: frames leaving it mean serve's camera is ingesting.
	cam := camsimFor(t, camsim.Options{OnFrame: func(camsim.FrameSent) { once.Do(func() { close(streaming) }) }}, testvideos.Quiet)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "snowlight.yaml")
	require.NoError(t, os.WriteFile(cfg, fmt.Appendf(nil, "listen: 127.0.0.1:0\ndata_dir: %s\ncameras:\n  - {id: cam, url: %q, detect_fps: 1}\n",
		filepath.Join(dir, "data"), "rtsp://"+cam.Addr()+"/cam"), 0o600))
	t.Setenv("SNOWLIGHT_MODELS", "") // the classical detectors: this is about lifetimes, not faces

	lost := errors.New("link to the message bus lost")
	var failed time.Time
	var stdout, stderr bytes.Buffer
	e := &env{stdout: &stdout, stderr: &stderr, log: newLogger(&stderr), stages: []server.Stage{{Name: "bus", Run: func(ctx context.Context) error {
		select {
		case <-streaming:
			time.Sleep(time.Second) // the frames reach the detectors
			failed = time.Now()
			return lost
		case <-ctx.Done():
			return nil
		}
	}}}}
	done := make(chan int, 1)
	go func() { done <- e.run(context.Background(), []string{"serve", "--config", cfg}) }() // nothing cancels it
	select {
	case code := <-done:
		require.False(t, failed.IsZero(), "serve exited before the stage failed: %s", stderr.String())
		assert.Less(t, time.Since(failed), 5*time.Second, "serve took too long to stop")
		assert.Equal(t, 1, code)
		assert.Contains(t, stderr.String(), "snowlight serve: bus: link to the message bus lost")
	case <-time.After(60 * time.Second):
		require.Fail(t, "serve did not exit after a stage failed", stderr.String())
	}
}
