package edge_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"snowlight/alerts"
	"snowlight/bus/natstest"
	"snowlight/config"
	"snowlight/deploy"
	"snowlight/edge"
	"snowlight/ingest/camsim"
	"snowlight/server"
	"snowlight/testvideos"
)

// rig is a distributed deployment in one test process: NATS, a center and edges, cameras served by
// camsim playing the busy street.
type rig struct {
	t      *testing.T
	nats   *natstest.Cluster
	dir    string
	yaml   string
	center *server.Server
}

// newRig starts NATS (servers nodes) with users for the edges, camsim with the cameras (each given
// its allowed edges, none when empty) and the center.
func newRig(t *testing.T, servers int, edges []string, cams map[string][]string) *rig {
	t.Helper()
	paths, err := testvideos.Ensure(t.Context(), testvideos.VTest)
	require.NoError(t, err)
	sim := camsim.New(camsim.Options{Addr: "127.0.0.1:0", UDPAddr: "off"})
	for id := range cams {
		require.NoError(t, sim.AddFile(id, paths[testvideos.VTest]))
	}
	ctx, cancel := context.WithCancel(context.Background())
	require.NoError(t, sim.Start(ctx))
	t.Cleanup(func() { cancel(); sim.Close() })

	r := &rig{t: t, nats: natstest.StartCluster(t, servers, edges...), dir: t.TempDir()}
	var b strings.Builder
	fmt.Fprintf(&b, "listen: 127.0.0.1:0\nalerts: {pre_roll: 2s, post_roll: 2s}\ncameras:\n")
	for id, allowed := range cams {
		fmt.Fprintf(&b, "  - {id: %s, url: %q, detect_fps: 1, edges: [%s]}\n", id, "rtsp://"+sim.Addr()+"/"+id, strings.Join(allowed, ", "))
	}
	fmt.Fprintf(&b, "nats: {urls: [%s], replicas: %d, session_ttl: 3s, stream_max_bytes: 268435456}\n", strings.Join(r.nats.URLs(), ", "), servers)
	r.yaml = b.String()

	cfg := r.config(natstest.Center, "data_dir: "+filepath.Join(r.dir, "center"))
	r.center, err = server.New(t.Context(), server.Options{Config: cfg, Log: testLog(t, "center"), Cameras: server.NATS})
	require.NoError(t, err)
	t.Cleanup(func() { r.center.Close() }) // after Run stopped (cleanups run last first)
	run(t, "center", r.center.Run)
	return r
}

// config is the rig's configuration for a process with the credentials of user (the center or an
// edge), with extra YAML.
func (r *rig) config(user, extra string) *config.Config {
	seed := filepath.Join(r.dir, user+".nk")
	require.NoError(r.t, os.WriteFile(seed, r.nats.Credentials(r.t, user).Seed, 0o600))
	cfg, err := config.Parse(strings.NewReader(r.yaml+extra+"\n"), func(string) string { return "" })
	require.NoError(r.t, err)
	cfg.NATS.SeedFile = seed
	return cfg
}

// startEdge runs an edge in this process, uploading to the center's object directory, until the
// returned stop is called (a clean handover) or the test ends.
func (r *rig) startEdge(id string, capacity int) (stop func()) {
	cfg := r.config(id, "data_dir: "+filepath.Join(r.dir, id))
	cfg.NATS.Edge, cfg.NATS.Capacity = id, capacity
	dep, err := deploy.Decode(cfg)
	require.NoError(r.t, err)
	// In one process the edges upload to the center's own store (a real deployment's are MinIO).
	e, err := edge.New(edge.Options{Config: cfg, Deployment: dep, Objects: r.center.Objects(), Registry: prometheus.NewRegistry(), Log: testLog(r.t, id)})
	require.NoError(r.t, err)
	r.t.Cleanup(e.Shutdown)
	return run(r.t, id, e.RunNATS)
}

// holders reads who holds which camera from the center's API view of the lease table.
func (r *rig) holders() map[string]string {
	out := map[string]string{}
	for cam, h := range r.center.Cameras().Health() {
		out[cam] = h.State
	}
	return out
}

func run(t *testing.T, name string, fn func(context.Context) error) (stop func()) {
	return natstest.Run(t, func(ctx context.Context) error {
		if err := fn(ctx); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		return nil
	})
}

func testLog(t *testing.T, name string) *slog.Logger {
	level := slog.LevelWarn
	if testing.Verbose() {
		level = slog.LevelInfo
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level})).With("process", name)
}

// Two edges and a center: the cameras are spread over the edges (one pinned), what they see is stored
// at the center, an alert's clip and snapshot are cut on the edge that holds its camera, and when an
// edge hands over its cameras move to the other.
func TestTwoEdges(t *testing.T) {
	r := newRig(t, 1, []string{"edge-a", "edge-b"}, map[string][]string{"street": {"edge-a"}, "market": nil, "square": nil})
	stopA := r.startEdge("edge-a", 2)
	r.startEdge("edge-b", 2)
	require.Eventually(t, func() bool {
		h := r.holders()
		return len(h) == 3 && h["street"] == "online" && h["market"] == "online" && h["square"] == "online"
	}, 60*time.Second, 100*time.Millisecond, "every camera online on an edge")

	// An alert at the pinned camera once its ring holds a few seconds: its evidence comes from edge-a.
	time.Sleep(3 * time.Second)
	at := time.Now().Add(-500 * time.Millisecond)
	a, _, err := r.center.Alerts().Raise(t.Context(), alerts.Trigger{Kind: alerts.CameraTampered, At: at,
		Place: alerts.Place{Camera: "street"}, Detail: "test"})
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		got, err := r.center.Alerts().Alert(t.Context(), a.ID)
		return err == nil && got.Evidence.Clip != "" && got.Evidence.Snapshot != ""
	}, 30*time.Second, 100*time.Millisecond, "clip and snapshot attached")
	got, err := r.center.Alerts().Alert(t.Context(), a.ID)
	require.NoError(t, err)
	assert.False(t, got.Evidence.ClipStart.After(at.Add(-2*time.Second)), "the clip starts by the pre-roll")
	for _, key := range []string{got.Evidence.Clip, got.Evidence.Snapshot} {
		info, err := r.center.Objects().Stat(t.Context(), key)
		require.NoError(t, err, key)
		assert.Equal(t, "street", info.Meta.Camera)
		assert.Equal(t, a.ID, info.Meta.AlertID)
	}

	// edge-a hands over: the unpinned cameras go to edge-b; the pinned one waits for edge-a.
	stopA()
	require.Eventually(t, func() bool {
		h := r.holders()
		_, street := h["street"]
		return !street && h["market"] == "online" && h["square"] == "online"
	}, 30*time.Second, 100*time.Millisecond, "edge-a's unpinned cameras on edge-b")
}
