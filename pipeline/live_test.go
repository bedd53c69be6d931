package pipeline_test

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"snowlight/center"
	"snowlight/config"
	"snowlight/ingest"
	"snowlight/ingest/camsim"
	"snowlight/pipeline"
	"snowlight/testvideos"
	"snowlight/watchlist"
)

// TestLiveCameras runs the same pipeline on RTSP: camsim plays two rendered cameras of city5 in real
// time, ingest workers decode them at the detection rate, and the edges and center store what they
// see. Obama crosses c1 (2-10 s), Lin crosses c2 (1-9 s). Obama's identity must be reported while he
// is still in view, long before his track ends; the delay from the first frame that showed his face
// (as camsim sent it) to that report is logged (the alert benchmark measures it end to end).
func TestLiveCameras(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: plays 13 s of two cameras in real time")
	}
	spec, r := scenario(t, "city5")
	const fps = 4.0
	cfg, err := config.Load(writeConfig(t, r, fps, "c1", "c2"))
	require.NoError(t, err)
	policy := decode(t, cfg).Watchlist
	dets := detectors(t, 2)
	watch := enrol(t, dets[0], spec, policy)

	// When camsim sent each picture of c1: the latency clock starts there.
	var mu sync.Mutex
	sent := map[uint64]time.Time{}
	sim := camsim.New(camsim.Options{Addr: "127.0.0.1:0", UDPAddr: "off", Log: slog.New(slog.DiscardHandler),
		OnFrame: func(f camsim.FrameSent) {
			if f.Path == "c1" && f.Loop == 0 {
				mu.Lock()
				sent[f.Index] = time.Now()
				mu.Unlock()
			}
		}})
	for _, cam := range []string{"c1", "c2"} {
		require.NoError(t, sim.AddFile(cam, r.VideoPath(cam)))
	}
	require.NoError(t, sim.Start(context.Background()))
	t.Cleanup(sim.Close)

	reg := prometheus.NewRegistry()
	metrics, err := pipeline.NewMetrics(reg)
	require.NoError(t, err)
	c := newCenter(t, cfg)
	type seen struct {
		ev center.Event
		at time.Time
	}
	var events []seen
	c.cfg.OnEvent = func(e center.Event) { events = append(events, seen{e, time.Now()}) } // the center's goroutine
	c.cfg.Metrics, err = center.NewMetrics(reg)
	require.NoError(t, err)
	cn, err := center.New(c.cfg)
	require.NoError(t, err)
	edgeCfg := pipeline.EdgeConfig{Tracker: pipeline.TrackerConfig(), Metrics: metrics,
		WatchList: func() *watchlist.Matcher { return watch }}
	var cams []pipeline.LiveCamera
	for i, id := range []string{"c1", "c2"} {
		w, err := ingest.NewWorker(ingest.Config{Camera: id, URL: sim.URL(id), Decode: ingest.DecodeSampled, SampleFPS: fps})
		require.NoError(t, err)
		gate := pipeline.GateConfig()
		det := dets[i].NewCamera(id, &gate)
		t.Cleanup(func() { det.Close() })
		edge, err := pipeline.NewEdge(id, det, edgeCfg)
		require.NoError(t, err)
		cams = append(cams, pipeline.LiveCamera{Worker: w, Edge: edge})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 13*time.Second)
	defer cancel()
	err = pipeline.RunLive(ctx, pipeline.LiveOptions{Cameras: cams, Center: cn, Metrics: metrics})
	require.Equal(t, context.DeadlineExceeded, err, "RunLive, want the deadline")

	// Obama: named while in view, then a final sighting; Lin: a final sighting without a name.
	var named *seen
	finals := map[string][]center.Event{}
	for i, s := range events {
		if s.ev.Sighting == nil {
			continue
		}
		if s.ev.Sighting.Final {
			finals[s.ev.Camera] = append(finals[s.ev.Camera], s.ev)
		} else if named == nil && s.ev.Sighting.PersonID() == "obama" {
			named = &events[i]
		}
		if p := s.ev.Sighting.PersonID(); p != "" {
			assert.Equal(t, "obama", p, "%s on %s was named", s.ev.Sighting.ID, s.ev.Camera)
		}
	}
	require.NotNil(t, named, "obama was never named while in view; events %d, finals %v", len(events), finals)
	var obamaFinal *center.Event
	for i, f := range finals["c1"] {
		if f.Sighting.PersonID() == "obama" {
			obamaFinal = &finals["c1"][i]
		}
	}
	require.NotNil(t, obamaFinal, "no final sighting of obama on c1: %+v", finals["c1"])
	assert.True(t, named.ev.Frame.Before(obamaFinal.Sighting.Exit), "obama named at frame %v, not before his track ended at %v", named.ev.Frame, obamaFinal.Sighting.Exit)
	assert.True(t, slices.ContainsFunc(finals["c2"], func(e center.Event) bool { return e.Sighting.Exit.Sub(e.Sighting.Enter) > 3*time.Second }),
		"no sighting of lin on c2: %+v", finals["c2"])
	// The store has both, as final sightings with their snapshots in the object store.
	for _, f := range []center.Event{*obamaFinal} {
		s, err := c.db.Sighting(context.Background(), f.Sighting.ID)
		require.NoError(t, err)
		assert.True(t, s.Final, "stored sighting %s is final", s.ID)
		require.NotNil(t, s.Face, "stored sighting %+v lacks its face snapshot", s)
		assert.NotEmpty(t, s.Face.Ref, "stored sighting %+v lacks its face snapshot", s)
		if assert.NotNil(t, s.Body, "stored sighting %+v lacks its body snapshot", s) {
			assert.NotEmpty(t, s.Body.Ref, "stored sighting %+v lacks its body snapshot", s)
		}
		_, err = c.objects.Stat(context.Background(), s.Face.Ref)
		assert.NoError(t, err, "face snapshot")
	}

	// Latency, from the first frame camsim sent with Obama's whole face in view.
	if k, ok := firstFace(r.Truth.Camera("c1"), "obama"); ok {
		mu.Lock()
		at, ok := sent[uint64(k-1)]
		mu.Unlock()
		if ok {
			t.Logf("obama's face fully in view from frame %d; named %v after camsim sent it (the deciding frame came %v after it)",
				k, named.at.Sub(at).Round(time.Millisecond), named.ev.Frame.Sub(at).Round(time.Millisecond))
		}
	}
	assert.GreaterOrEqual(t, histogramCount(t, reg, "snowlight_pipeline_identity_latency_seconds"), uint64(1), "times identity latency was observed")
}

// firstFace is the number of the first frame that shows the person's whole face.
func firstFace(c *testvideos.CameraTruth, person string) (int, bool) {
	for _, fr := range c.Frames {
		for _, o := range fr.Objects {
			if o.Person == person && o.Face != nil && o.FaceVisible >= 0.95 {
				return fr.Frame, true
			}
		}
	}
	return 0, false
}

// histogramCount is the number of observations of a histogram in reg.
func histogramCount(t *testing.T, reg *prometheus.Registry, name string) uint64 {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() == name && len(mf.GetMetric()) > 0 {
			return mf.GetMetric()[0].GetHistogram().GetSampleCount()
		}
	}
	return 0
}
