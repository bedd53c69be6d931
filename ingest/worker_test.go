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
			if err != nil {
				t.Fatal(err)
			}
			r := runWorker(t, Config{Camera: "cam1", URL: srv.URL("cam"), Transport: tr, Metrics: m})
			waitFor(t, 20*time.Second, "60 frames", func() bool { f, _ := r.snapshot(); return len(f) >= 60 })
			frames, _ := r.snapshot()
			checkMonotonic(t, frames)
			if r.count(camevent.Online) != 1 {
				t.Errorf("online events: %d, want 1", r.count(camevent.Online))
			}
			s := r.w.Status()
			if s.Width != 768 || s.Height != 576 || s.Codec != "H264" || s.GOP != 25 {
				t.Errorf("status %+v: want 768x576 H264 GOP 25", s)
			}
			if s.FPS < 24.5 || s.FPS > 25.5 {
				t.Errorf("measured fps %.2f, want 25", s.FPS)
			}
			if s.ClockSource != ClockRTCP {
				t.Errorf("clock source %q, want rtcp (camsim sends sender reports)", s.ClockSource)
			}
			// Every picture decoded, none dropped (the first session starts at a keyframe, camsim's
			// first frame, or at the next one).
			if s.DecodeErrors != 0 || s.DroppedQueue != 0 || s.PacketsLost != 0 {
				t.Errorf("errors %d, queue drops %d, lost %d", s.DecodeErrors, s.DroppedQueue, s.PacketsLost)
			}
			// Frame PTS steps are one frame (40 ms) apart.
			for i := 1; i < len(frames); i++ {
				if d := frames[i].PTS - frames[i-1].PTS; d < 39*time.Millisecond || d > 41*time.Millisecond {
					t.Fatalf("frame %d: PTS step %v", frames[i].Seq, d)
				}
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
			if matched != 20 {
				best := time.Hour
				for _, c := range capture {
					if d := absDur(frames[len(frames)-1].Time.Sub(c)); d < best {
						best = d
					}
				}
				t.Logf("last frame %v pts %v; nearest capture %v away", frames[len(frames)-1].Time, frames[len(frames)-1].PTS, best)
				t.Errorf("%d of the last 20 frames carry camsim's capture time", matched)
			}
			if got := metricValue(t, reg, "snowlight_ingest_frames_decoded_total", "cam1"); got < 60 {
				t.Errorf("frames_decoded_total = %v", got)
			}
			ring := r.w.Ring().Stats()
			if ring.GOPs < 2 || ring.Bytes == 0 {
				t.Errorf("ring %+v", ring)
			}
			// A clip from the ring and a live subscription both start at a keyframe that carries its
			// parameter sets, and decode on their own without an error.
			clip, err := r.w.Ring().Window(frames[30].Time, frames[55].Time)
			if err != nil {
				t.Fatal(err)
			}
			if got := decodeStandalone(t, clip.AUs); got != len(clip.AUs) {
				t.Errorf("clip of %d access units decoded to %d pictures", len(clip.AUs), got)
			}
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
			if got := decodeStandalone(t, live); got != len(live) {
				t.Errorf("subscription of %d access units decoded to %d pictures", len(live), got)
			}
		})
	}
}

// decodeStandalone decodes access units with a fresh decoder, as a clip builder or a viewer would, and
// counts the pictures; any error fails the test.
func decodeStandalone(t *testing.T, aus []media.AccessUnit) int {
	t.Helper()
	if len(aus) == 0 || !aus[0].Keyframe {
		t.Fatal("does not start at a keyframe")
	}
	dec, err := av.NewDecoder(av.DecoderOptions{Codec: media.H264})
	if err != nil {
		t.Fatal(err)
	}
	defer dec.Close()
	n := 0
	for i, au := range aus {
		if err := dec.Send(au.NALUs, int64(i)); err != nil {
			t.Fatalf("access unit %d: %v", i, err)
		}
		for {
			pic, err := dec.Receive()
			if err != nil {
				break
			}
			if pic.Corrupt {
				t.Errorf("picture %d decoded with errors", pic.PTS)
			}
			n++
		}
	}
	return n
}

// metricValue finds one camera's sample of a metric in a registry.
func metricValue(t *testing.T, reg *prometheus.Registry, name, camera string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
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
	t.Fatalf("metric %s{camera=%q} not exported", name, camera)
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
		if d := fs[i].PTS - fs[i-1].PTS; d != 200*time.Millisecond {
			t.Fatalf("sampled frames %v apart, want 200ms (every 5th picture)", d)
		}
	}
	ks, _ := keys.snapshot()
	checkMonotonic(t, ks)
	for _, f := range ks {
		if !f.Keyframe {
			t.Fatalf("keyframe mode produced a non-key frame at %v", f.PTS)
		}
	}
	for i := 1; i < len(ks); i++ {
		if d := ks[i].PTS - ks[i-1].PTS; d != time.Second {
			t.Fatalf("keyframes %v apart, want 1s", d)
		}
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
	if s.Reconnects == 0 || s.FramesAfterReconnect < 25 {
		t.Errorf("reconnects %d, frames after reconnect %d", s.Reconnects, s.FramesAfterReconnect)
	}
	if r.count(camevent.Online) < 2 || r.count(camevent.Disconnected) < 1 {
		_, evs := r.snapshot()
		t.Errorf("events %v", evs)
	}
	// Media time across the outage advanced by about the outage, not by zero or by camsim's new start.
	gapAt := len(before)
	for gapAt < len(frames) && frames[gapAt].PTS-frames[gapAt-1].PTS < 500*time.Millisecond {
		gapAt++
	}
	if gapAt == len(frames) {
		t.Fatal("no gap in media time across a 1.5 s outage")
	}
	if d := frames[gapAt].PTS - frames[gapAt-1].PTS; d < time.Second || d > 10*time.Second {
		t.Errorf("media time advanced %v across the outage", d)
	}
}

// Connected but silent: the watchdog ends the session, the worker reconnects, frames resume.
func TestWorkerWatchdogFiresOnStall(t *testing.T) {
	srv := startCamsim(t, camsim.Options{}, map[string]string{"cam": testVideo(t, testvideos.VTest)})
	r := runWorker(t, Config{Camera: "c", URL: srv.URL("cam"), StallTimeout: 700 * time.Millisecond,
		MinBackoff: 50 * time.Millisecond, MaxBackoff: 200 * time.Millisecond})
	waitFor(t, 20*time.Second, "frames", func() bool { f, _ := r.snapshot(); return len(f) >= 10 })
	if err := srv.Stall("cam", 2*time.Second); err != nil {
		t.Fatal(err)
	}
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
	if err := srv.SetFaults("cam", camsim.Faults{LossPercent: 3}); err != nil {
		t.Fatal(err)
	}
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
	if s.PacketsLost > st.PacketsDropped {
		t.Errorf("counted %d lost, camsim dropped only %d", s.PacketsLost, st.PacketsDropped)
	}
}

// A camera whose RTP clock jumps (same session) or that reboots with a new SSRC and a jump: media and
// wall time stay continuous and monotonic.
func TestWorkerRebasesTimestampJumps(t *testing.T) {
	srv := startCamsim(t, camsim.Options{}, map[string]string{"cam": testVideo(t, testvideos.VTest)})
	r := runWorker(t, Config{Camera: "c", URL: srv.URL("cam"), MinBackoff: 50 * time.Millisecond,
		MaxBackoff: 200 * time.Millisecond})
	waitFor(t, 20*time.Second, "frames", func() bool { f, _ := r.snapshot(); return len(f) >= 10 })
	if err := srv.JumpTimestamps("cam", -3*time.Hour); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "jump event", func() bool { return r.count(camevent.TimestampJump) >= 1 })
	before, _ := r.snapshot()
	oldSSRC := mustStats(t, srv).SSRC
	if err := srv.Restart("cam", 7*time.Hour); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 15*time.Second, "frames after the restart", func() bool {
		f, _ := r.snapshot()
		return len(f) >= len(before)+25 && r.w.Status().Reconnects >= 1
	})
	frames, _ := r.snapshot()
	checkMonotonic(t, frames)
	for i := 1; i < len(frames); i++ {
		if d := frames[i].PTS - frames[i-1].PTS; d > 5*time.Second {
			t.Errorf("media time leapt %v at frame %d", d, frames[i].Seq)
		}
		if d := frames[i].Time.Sub(frames[i-1].Time); d > 5*time.Second {
			t.Errorf("wall time leapt %v at frame %d", d, frames[i].Seq)
		}
	}
	if s := r.w.Status(); s.TimestampJumps < 1 {
		t.Errorf("timestamp jumps %d", s.TimestampJumps)
	}
	if st := mustStats(t, srv); st.SSRC == oldSSRC || st.Restarts != 1 {
		t.Errorf("restart kept SSRC %08x (restarts %d)", st.SSRC, st.Restarts)
	}
}

func mustStats(t *testing.T, srv *camsim.Server) camsim.Stats {
	t.Helper()
	st, err := srv.Stats("cam")
	if err != nil {
		t.Fatal(err)
	}
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
	if n := r.count(camevent.Unauthorized); n != 1 {
		t.Errorf("%d unauthorized attempts in a second, want 1 (no retry storm)", n)
	}
	s := r.w.Status()
	if !strings.Contains(s.LastError, "rejected the credentials") {
		t.Errorf("last error %q does not say the credentials were rejected", s.LastError)
	}
	r.stop(t)
	_, evs := r.snapshot()
	mu.Lock()
	all := logs.String() + fmt.Sprint(evs) + fmt.Sprintf("%+v", s)
	mu.Unlock()
	if strings.Contains(all, canary) {
		t.Fatalf("password leaked:\n%s", all)
	}

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
	if n := r.count(camevent.Offline); n != 1 {
		t.Errorf("%d offline events, want 1", n)
	}
	if s := r.w.Status(); s.Reconnects < 3 || strings.Contains(s.LastError, "Canary") {
		t.Errorf("status %+v", s)
	}
}
