package ingest

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"snowlight/camevent"
	"snowlight/ingest/av"
	"snowlight/ingest/camsim"
	"snowlight/media"
	"snowlight/testvideos"
)

// Frames decoded from camsim over TCP and UDP: right size, every picture, times monotonic, wall times
// anchored by camsim's sender reports and close to when camsim sent each picture.
func TestWorkerDecodesCamsim(t *testing.T) {
	for _, tr := range []Transport{TCP, UDP} {
		t.Run(string(tr), func(t *testing.T) {
			var mu sync.Mutex
			sent := map[time.Duration]camsim.FrameSent{}
			srv := startCamsim(t, camsim.Options{OnFrame: func(f camsim.FrameSent) {
				mu.Lock()
				sent[f.PTS] = f
				mu.Unlock()
			}}, map[string]string{"cam": testVideo(t, testvideos.VTest)})
			reg := prometheus.NewRegistry()
			m, err := NewMetrics(reg)
			require.NoError(t, err)
			r := runWorker(t, Config{Camera: "cam1", URL: srv.URL("cam"), Transport: tr, Metrics: m})
			waitFor(t, 20*time.Second, "60 frames", func() bool { f, _ := r.snapshot(); return len(f) >= 60 })
			frames, _ := r.snapshot()
			checkMonotonic(t, frames)
			assert.Equal(t, 1, r.count(camevent.Online), "online events")
			s := r.w.Status()
			assert.Equal(t, 768, s.Width)
			assert.Equal(t, 576, s.Height)
			assert.Equal(t, "H264", s.Codec)
			assert.Equal(t, 25, s.GOP)
			assert.InDelta(t, 25, s.FPS, 0.5, "measured fps")
			assert.Equal(t, ClockRTCP, s.ClockSource, "camsim sends sender reports")
			// Every picture decoded, none dropped (the first session starts at a keyframe, camsim's
			// first frame, or at the next one).
			assert.Zero(t, s.DecodeErrors, "decode errors")
			assert.Zero(t, s.DroppedQueue, "queue drops")
			assert.Zero(t, s.PacketsLost, "packets lost")
			// Frame PTS steps are one frame (40 ms) apart.
			for i := 1; i < len(frames); i++ {
				require.InDelta(t, 40*time.Millisecond, frames[i].PTS-frames[i-1].PTS, float64(time.Millisecond), "frame %d: PTS step", frames[i].Seq)
			}
			// Wall time is the capture time camsim announced, to within a millisecond, for every frame.
			mu.Lock()
			var capture []time.Time
			for _, f := range sent {
				capture = append(capture, f.Wall)
			}
			mu.Unlock()
			matched := 0
			for _, f := range frames[len(frames)-20:] {
				for _, c := range capture {
					if d := f.Time.Sub(c); d > -time.Millisecond && d < time.Millisecond {
						matched++
						break
					}
				}
			}
			if !assert.Equal(t, 20, matched, "frames of the last 20 that carry camsim's capture time") {
				best := time.Hour
				for _, c := range capture {
					if d := absDur(frames[len(frames)-1].Time.Sub(c)); d < best {
						best = d
					}
				}
				t.Logf("last frame %v pts %v; nearest capture %v away", frames[len(frames)-1].Time, frames[len(frames)-1].PTS, best)
			}
			assert.GreaterOrEqual(t, metricValue(t, reg, "snowlight_ingest_frames_decoded_total", "cam1"), 60.0, "frames_decoded_total")
			ring := r.w.Ring().Stats()
			assert.GreaterOrEqual(t, ring.GOPs, 2, "GOPs in the ring")
			assert.NotZero(t, ring.Bytes, "bytes in the ring")
			// A clip from the ring and a live subscription both start at a keyframe that carries its
			// parameter sets, and decode on their own without an error.
			clip, err := r.w.Ring().Window(frames[30].Time, frames[55].Time)
			require.NoError(t, err)
			assert.Equal(t, len(clip.AUs), decodeStandalone(t, clip.AUs), "pictures decoded from the clip's access units")
			ctx, cancel := context.WithCancel(context.Background())
			var live []media.AccessUnit
			for au := range r.w.Ring().Subscribe(ctx, 50) {
				live = append(live, au)
				if len(live) == 40 {
					cancel()
					break
				}
			}
			cancel()
			assert.Equal(t, len(live), decodeStandalone(t, live), "pictures decoded from the subscription's access units")
		})
	}
}

// decodeStandalone decodes access units with a fresh decoder, as a clip builder or a viewer would, and
// counts the pictures; any error fails the test.
func decodeStandalone(t *testing.T, aus []media.AccessUnit) int {
	t.Helper()
	require.NotEmpty(t, aus)
	require.True(t, aus[0].Keyframe, "the access units start at a keyframe")
	dec, err := av.NewDecoder(av.DecoderOptions{Codec: media.H264})
	require.NoError(t, err)
	defer dec.Close()
	n := 0
	for i, au := range aus {
		require.NoError(t, dec.Send(au.NALUs, int64(i)), "access unit %d", i)
		for {
			pic, err := dec.Receive()
			if err != nil {
				break
			}
			assert.False(t, pic.Corrupt, "picture %d decoded with errors", pic.PTS)
			n++
		}
	}
	return n
}

// metricValue finds one camera's sample of a metric in a registry.
func metricValue(t *testing.T, reg *prometheus.Registry, name, camera string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "camera" && l.GetValue() == camera {
					if c := m.GetCounter(); c != nil {
						return c.GetValue()
					}
					return m.GetGauge().GetValue()
				}
			}
		}
	}
	require.Fail(t, "metric not exported", "%s{camera=%q}", name, camera)
	return 0
}

func TestWorkerSampledAndKeyframeModes(t *testing.T) {
	srv := startCamsim(t, camsim.Options{}, map[string]string{"cam": testVideo(t, testvideos.VTest)})
	sampled := runWorker(t, Config{Camera: "s", URL: srv.URL("cam"), Decode: DecodeSampled, SampleFPS: 5})
	keys := runWorker(t, Config{Camera: "k", URL: srv.URL("cam"), Decode: DecodeKeyframes})
	waitFor(t, 20*time.Second, "3 keyframes", func() bool { f, _ := keys.snapshot(); return len(f) >= 3 })
	waitFor(t, 20*time.Second, "12 sampled frames", func() bool { f, _ := sampled.snapshot(); return len(f) >= 12 })
	fs, _ := sampled.snapshot()
	checkMonotonic(t, fs)
	for i := 1; i < len(fs); i++ {
		require.Equal(t, 200*time.Millisecond, fs[i].PTS-fs[i-1].PTS, "sampled frames are every 5th picture")
	}
	ks, _ := keys.snapshot()
	checkMonotonic(t, ks)
	for _, f := range ks {
		require.True(t, f.Keyframe, "keyframe mode produced a non-key frame at %v", f.PTS)
	}
	for i := 1; i < len(ks); i++ {
		require.Equal(t, time.Second, ks[i].PTS-ks[i-1].PTS, "keyframes apart")
	}
}

// A camera that goes away and comes back on the same address: the worker reconnects, frames resume, and
// times keep increasing across the outage.
func TestWorkerSurvivesCameraRestart(t *testing.T) {
	file := testVideo(t, testvideos.VTest)
	srv := startCamsim(t, camsim.Options{}, map[string]string{"cam": file})
	addr := srv.Addr()
	r := runWorker(t, Config{Camera: "c", URL: srv.URL("cam"), MinBackoff: 100 * time.Millisecond,
		MaxBackoff: 400 * time.Millisecond})
	waitFor(t, 20*time.Second, "frames", func() bool { f, _ := r.snapshot(); return len(f) >= 25 })
	srv.Close()
	time.Sleep(1500 * time.Millisecond)
	before, _ := r.snapshot()
	startCamsim(t, camsim.Options{Addr: addr}, map[string]string{"cam": file})
	waitFor(t, 20*time.Second, "frames after restart", func() bool {
		f, _ := r.snapshot()
		return len(f) >= len(before)+25
	})
	frames, _ := r.snapshot()
	checkMonotonic(t, frames)
	s := r.w.Status()
	assert.NotZero(t, s.Reconnects)
	assert.GreaterOrEqual(t, s.FramesAfterReconnect, uint64(25), "frames after the reconnect")
	_, evs := r.snapshot()
	assert.GreaterOrEqual(t, r.count(camevent.Online), 2, "online events in %v", evs)
	assert.GreaterOrEqual(t, r.count(camevent.Disconnected), 1, "disconnected events in %v", evs)
	// Media time across the outage advanced by about the outage, not by zero or by camsim's new start.
	gapAt := len(before)
	for gapAt < len(frames) && frames[gapAt].PTS-frames[gapAt-1].PTS < 500*time.Millisecond {
		gapAt++
	}
	require.Less(t, gapAt, len(frames), "no gap in media time across a 1.5 s outage")
	d := frames[gapAt].PTS - frames[gapAt-1].PTS
	assert.GreaterOrEqual(t, d, time.Second, "media time across the outage")
	assert.LessOrEqual(t, d, 10*time.Second, "media time across the outage")
}

// Connected but silent: the watchdog ends the session, the worker reconnects, frames resume.
func TestWorkerWatchdogFiresOnStall(t *testing.T) {
	srv := startCamsim(t, camsim.Options{}, map[string]string{"cam": testVideo(t, testvideos.VTest)})
	r := runWorker(t, Config{Camera: "c", URL: srv.URL("cam"), StallTimeout: 700 * time.Millisecond,
		MinBackoff: 50 * time.Millisecond, MaxBackoff: 200 * time.Millisecond})
	waitFor(t, 20*time.Second, "frames", func() bool { f, _ := r.snapshot(); return len(f) >= 10 })
	require.NoError(t, srv.Stall("cam", 2*time.Second))
	waitFor(t, 5*time.Second, "stalled event", func() bool { return r.count(camevent.Stalled) >= 1 })
	n, _ := r.snapshot()
	waitFor(t, 10*time.Second, "frames after the stall", func() bool {
		f, _ := r.snapshot()
		return len(f) >= len(n)+25
	})
	frames, _ := r.snapshot()
	checkMonotonic(t, frames)
}

// Lost RTP packets are counted, damaged pictures are skipped or concealed, and decoding goes on.
func TestWorkerCountsPacketLoss(t *testing.T) {
	srv := startCamsim(t, camsim.Options{Seed: 7}, map[string]string{"cam": testVideo(t, testvideos.VTest)})
	require.NoError(t, srv.SetFaults("cam", camsim.Faults{LossPercent: 3}))
	r := runWorker(t, Config{Camera: "c", URL: srv.URL("cam"), Transport: UDP})
	waitFor(t, 30*time.Second, "lost packets and frames", func() bool {
		f, _ := r.snapshot()
		return r.w.Status().PacketsLost > 10 && len(f) > 50
	})
	frames, _ := r.snapshot()
	checkMonotonic(t, frames)
	st, _ := srv.Stats("cam")
	s := r.w.Status()
	t.Logf("camsim dropped %d of %d packets; worker saw %d lost, %d decode errors, %d frames decoded",
		st.PacketsDropped, st.PacketsSent+st.PacketsDropped, s.PacketsLost, s.DecodeErrors, s.FramesDecoded)
	assert.LessOrEqual(t, s.PacketsLost, st.PacketsDropped, "packets counted lost, against those camsim dropped")
}

// A camera whose RTP clock jumps (same session) or that reboots with a new SSRC and a jump: media and
// wall time stay continuous and monotonic.
func TestWorkerRebasesTimestampJumps(t *testing.T) {
	srv := startCamsim(t, camsim.Options{}, map[string]string{"cam": testVideo(t, testvideos.VTest)})
	r := runWorker(t, Config{Camera: "c", URL: srv.URL("cam"), MinBackoff: 50 * time.Millisecond,
		MaxBackoff: 200 * time.Millisecond})
	waitFor(t, 20*time.Second, "frames", func() bool { f, _ := r.snapshot(); return len(f) >= 10 })
	require.NoError(t, srv.JumpTimestamps("cam", -3*time.Hour))
	waitFor(t, 5*time.Second, "jump event", func() bool { return r.count(camevent.TimestampJump) >= 1 })
	before, _ := r.snapshot()
	oldSSRC := mustStats(t, srv).SSRC
	require.NoError(t, srv.Restart("cam", 7*time.Hour))
	waitFor(t, 15*time.Second, "frames after the restart", func() bool {
		f, _ := r.snapshot()
		return len(f) >= len(before)+25 && r.w.Status().Reconnects >= 1
	})
	frames, _ := r.snapshot()
	checkMonotonic(t, frames)
	for i := 1; i < len(frames); i++ {
		assert.LessOrEqual(t, frames[i].PTS-frames[i-1].PTS, 5*time.Second, "media time leapt at frame %d", frames[i].Seq)
		assert.LessOrEqual(t, frames[i].Time.Sub(frames[i-1].Time), 5*time.Second, "wall time leapt at frame %d", frames[i].Seq)
	}
	assert.NotZero(t, r.w.Status().TimestampJumps, "timestamp jumps")
	st := mustStats(t, srv)
	assert.NotEqual(t, oldSSRC, st.SSRC, "the restart kept the SSRC")
	assert.EqualValues(t, 1, st.Restarts)
}

func mustStats(t *testing.T, srv *camsim.Server) camsim.Stats {
	t.Helper()
	st, err := srv.Stats("cam")
	require.NoError(t, err)
	return st
}

// Wrong credentials: one clear error, no retry storm, and the password appears in no log line, event,
// error or status.
func TestWorkerWrongPasswordAndRedaction(t *testing.T) {
	const canary = "Canary-7f3a9"
	srv := startCamsim(t, camsim.Options{User: "admin", Pass: "right"}, map[string]string{"cam": testVideo(t, testvideos.Quiet)})
	var logs bytes.Buffer
	var mu sync.Mutex
	log := slog.New(slog.NewTextHandler(lockedWriter{&mu, &logs}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	url := strings.Replace(srv.URL("cam"), "rtsp://", "rtsp://admin:"+canary+"@", 1)
	r := runWorker(t, Config{Camera: "c", URL: url, Log: log, MinBackoff: 10 * time.Millisecond,
		MaxBackoff: 20 * time.Millisecond})
	waitFor(t, 10*time.Second, "unauthorized", func() bool { return r.w.State() == StateUnauthorized })
	time.Sleep(time.Second)
	assert.Equal(t, 1, r.count(camevent.Unauthorized), "unauthorized attempts in a second (no retry storm)")
	s := r.w.Status()
	assert.Contains(t, s.LastError, "rejected the credentials")
	r.stop(t)
	_, evs := r.snapshot()
	mu.Lock()
	all := logs.String() + fmt.Sprint(evs) + fmt.Sprintf("%+v", s)
	mu.Unlock()
	require.NotContains(t, all, canary, "the password leaked")

	// The right password works.
	good := runWorker(t, Config{Camera: "g", URL: strings.Replace(srv.URL("cam"), "rtsp://", "rtsp://admin:right@", 1)})
	waitFor(t, 20*time.Second, "frames with the right password", func() bool { f, _ := good.snapshot(); return len(f) >= 5 })
}

type lockedWriter struct {
	mu *sync.Mutex
	b  *bytes.Buffer
}

func (w lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

// Nobody listening: the worker keeps retrying with backoff and reports the camera offline once.
func TestWorkerReportsOffline(t *testing.T) {
	r := runWorker(t, Config{Camera: "c", URL: "rtsp://u:Canary-x@127.0.0.1:1/none", OfflineAfter: 600 * time.Millisecond,
		MinBackoff: 50 * time.Millisecond, MaxBackoff: 100 * time.Millisecond, Decode: DecodeNone})
	waitFor(t, 5*time.Second, "offline", func() bool { return r.w.State() == StateOffline })
	time.Sleep(500 * time.Millisecond)
	assert.Equal(t, 1, r.count(camevent.Offline), "offline events")
	s := r.w.Status()
	assert.GreaterOrEqual(t, s.Reconnects, uint64(3))
	assert.NotContains(t, s.LastError, "Canary")
}
