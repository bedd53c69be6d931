package server_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"snowlight/alerts"
	"snowlight/config"
	"snowlight/edge"
	"snowlight/ingest/av"
	"snowlight/ingest/camsim"
	"snowlight/objstore"
	"snowlight/server"
	"snowlight/testvideos"
)

// rtspCamera serves a test video as an RTSP camera for the length of the test.
func rtspCamera(t *testing.T, name string) string {
	t.Helper()
	paths, err := testvideos.Ensure(t.Context(), name)
	require.NoError(t, err)
	sim := camsim.New(camsim.Options{Addr: "127.0.0.1:0", UDPAddr: "off"})
	require.NoError(t, sim.AddFile("cam", paths[name]))
	ctx, cancel := context.WithCancel(context.Background())
	require.NoError(t, sim.Start(ctx))
	t.Cleanup(func() { cancel(); sim.Close() })
	return "rtsp://" + sim.Addr() + "/cam"
}

// cameraServer is a server with one camera (the classical detectors: no models needed), run by the
// edge package in the same process; objects, when set, wraps the evidence store the camera side uses.
func cameraServer(t *testing.T, url string, extra string, o server.Options, objects func(objstore.Store) objstore.Store) *server.Server {
	t.Helper()
	text := fmt.Sprintf("listen: 127.0.0.1:0\ndata_dir: %s\ncameras:\n  - {id: cam, url: %q, detect_fps: 1}\n%s",
		t.TempDir(), url, extra)
	cfg, err := config.Parse(strings.NewReader(text), func(string) string { return "" })
	require.NoError(t, err)
	o.Config = cfg
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	o.Cameras = func(r server.Resources) (server.Cameras, error) {
		if objects != nil {
			r.Objects = objects(r.Objects)
		}
		return edge.Local(r)
	}
	s, err := server.New(t.Context(), o)
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	return s
}

// TestFailingStageStopsServer: a stage that fails while the cameras run stops the server within 5 s,
// and Run returns that stage's error.
func TestFailingStageStopsServer(t *testing.T) {
	url := rtspCamera(t, testvideos.Quiet)
	boom := errors.New("link to the message bus lost")
	online := make(chan struct{})
	s := cameraServer(t, url, "", server.Options{Stages: []server.Stage{{"bus", func(ctx context.Context) error {
		select {
		case <-online:
			return boom
		case <-ctx.Done():
			return nil
		}
	}}}}, nil)
	done := make(chan error, 1)
	go func() { done <- s.Run(context.Background()) }() // never cancelled: only the failure stops it
	require.Eventually(t, func() bool { return !s.Cameras().Health()["cam"].LastFrame.IsZero() }, 30*time.Second, 50*time.Millisecond,
		"the camera never delivered video")
	failed := time.Now()
	close(online)
	select {
	case err := <-done:
		require.ErrorIs(t, err, boom)
		assert.Contains(t, err.Error(), "bus: ")
		t.Logf("stopped %v after the failure", time.Since(failed).Round(time.Millisecond))
	case <-time.After(5 * time.Second):
		require.FailNow(t, "the server did not stop within 5 s of a stage failing")
	}
}

// gatedStore holds clip uploads until released, to stop the server in the middle of one.
type gatedStore struct {
	objstore.Store
	entered chan struct{} // closed when a clip upload began
	release chan struct{}
	once    sync.Once
}

func (g *gatedStore) Put(ctx context.Context, key string, r io.Reader, size int64, opts objstore.PutOptions) (objstore.Info, error) {
	if strings.HasPrefix(key, string(alerts.ClipEvidence)+"/") {
		g.once.Do(func() { close(g.entered) })
		<-g.release
	}
	return g.Store.Put(ctx, key, r, size, opts)
}

// TestEvidenceAtShutdown stops the server while an alert's clip is being collected: a clip already
// cut and being stored is stored whole before Run returns (so before the database can close); one
// still waiting for its post-roll is abandoned. Either way no truncated clip is stored.
func TestEvidenceAtShutdown(t *testing.T) {
	url := rtspCamera(t, testvideos.Quiet)
	for _, tc := range []struct {
		name     string
		postRoll time.Duration
		storing  bool // stop while the clip is being stored, else while it waits for its post-roll
	}{
		{name: "while storing", postRoll: time.Second, storing: true},
		{name: "while waiting for the post-roll", postRoll: time.Minute},
	} {
		t.Run(tc.name, func(t *testing.T) {
			gate := &gatedStore{entered: make(chan struct{}), release: make(chan struct{})}
			s := cameraServer(t, url, fmt.Sprintf("alerts: {pre_roll: 2s, post_roll: %s}\n", tc.postRoll), server.Options{},
				func(st objstore.Store) objstore.Store { gate.Store = st; return gate })
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			done := make(chan error, 1)
			go func() { done <- s.Run(ctx) }()

			var first time.Time
			require.Eventually(t, func() bool {
				st := cameras(s)
				if len(st) == 0 {
					return false
				}
				first = st[0].Ring.Oldest
				return !first.IsZero() && st[0].Ring.Newest.Sub(first) > 3*time.Second
			}, 30*time.Second, 50*time.Millisecond, "the ring never held 3 s of video")
			a, _, err := s.Alerts().Raise(ctx, alerts.Trigger{Kind: alerts.CameraTampered, At: first.Add(2500 * time.Millisecond),
				Place: alerts.Place{Camera: "cam"}, Detail: "test"})
			require.NoError(t, err)

			if tc.storing {
				select {
				case <-gate.entered:
				case <-time.After(30 * time.Second):
					require.FailNow(t, "the clip was never stored")
				}
			} else {
				// The snapshot needs no post-roll: once it is stored, the clip is waiting.
				require.Eventually(t, func() bool {
					got, err := s.Alerts().Alert(ctx, a.ID)
					return err == nil && got.Evidence.Snapshot != ""
				}, 30*time.Second, 50*time.Millisecond)
			}
			cancel()
			if tc.storing {
				select {
				case err := <-done:
					require.FailNow(t, "Run returned while a clip was being stored", "Run: %v", err)
				case <-time.After(time.Second):
				}
				close(gate.release)
			}
			select {
			case err := <-done:
				require.NoError(t, err)
			case <-time.After(30 * time.Second):
				require.FailNow(t, "Run did not return")
			}

			got, err := s.Alerts().Alert(context.Background(), a.ID)
			require.NoError(t, err)
			clips := 0
			for info, err := range s.Objects().List(context.Background(), string(alerts.ClipEvidence)+"/") {
				require.NoError(t, err)
				clips++
				assert.Equal(t, info.Key, got.Evidence.Clip, "the stored clip is the alert's")
			}
			if !tc.storing {
				assert.Zero(t, clips, "a clip without its post-roll was stored")
				assert.Empty(t, got.Evidence.Clip)
				return
			}
			require.Equal(t, 1, clips)
			// Whole: it demuxes, starts at a keyframe and spans the pre-roll and post-roll it was cut for.
			path := readToFile(t, s.Objects(), got.Evidence.Clip)
			info, pkts, err := av.ReadFile(path)
			require.NoError(t, err)
			require.NotEmpty(t, pkts)
			assert.True(t, pkts[0].Keyframe)
			span := pkts[len(pkts)-1].PTS - pkts[0].PTS
			assert.InDelta(t, got.Evidence.ClipEnd.Sub(got.Evidence.ClipStart).Seconds(), span.Seconds(), 0.1,
				"the file covers the clip's recorded span")
			assert.GreaterOrEqual(t, span, 3*time.Second-200*time.Millisecond, "pre-roll (from a keyframe) plus post-roll")
			t.Logf("clip: %d pictures over %v, %dx%d", len(pkts), span, info.Width, info.Height)
		})
	}
}

func readToFile(t *testing.T, st objstore.Store, key string) string {
	t.Helper()
	rc, _, err := st.Get(context.Background(), key)
	require.NoError(t, err)
	defer rc.Close()
	b, err := io.ReadAll(rc)
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "clip.mp4")
	require.NoError(t, os.WriteFile(path, b, 0o600))
	return path
}
