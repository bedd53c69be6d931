package live

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/pion/rtp/codecs"
	"github.com/pion/webrtc/v3"

	"snowlight/ingest/av"
	"snowlight/media"
)

// camera plays a real H.264 file into a ring in real time, looping, as an ingest worker would.
func camera(t *testing.T, ctx context.Context) *media.Ring {
	t.Helper()
	const vtest = "/usr/share/doc/opencv-doc/examples/data/vtest.avi"
	if _, err := os.Stat(vtest); err != nil {
		t.Skip("vtest.avi missing: run scripts/setup.sh")
	}
	path := filepath.Join(t.TempDir(), "cam.mp4")
	out, err := exec.Command("ffmpeg", "-hide_banner", "-loglevel", "error", "-i", vtest, "-frames:v", "50",
		"-vf", "scale=384:288,fps=25", "-c:v", "libx264", "-profile:v", "main", "-bf", "0", "-g", "25",
		"-keyint_min", "25", "-sc_threshold", "0", path).CombinedOutput()
	if err != nil {
		t.Fatalf("ffmpeg: %v\n%s", err, out)
	}
	_, pkts, err := av.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	ring := media.NewRing(10*time.Second, 8<<20)
	push := func(i int) {
		p := pkts[i%len(pkts)]
		pts := time.Duration(i) * 40 * time.Millisecond
		ring.Push(media.H264, nil, media.AccessUnit{Camera: "cam-1", Time: time.Now(), PTS: pts, NALUs: p.AU, Keyframe: p.Keyframe})
	}
	for i := range 30 { // a GOP and a bit already buffered, as on a running camera
		push(i)
	}
	go func() {
		tick := time.NewTicker(40 * time.Millisecond)
		defer tick.Stop()
		for i := 30; ; i++ {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				push(i)
			}
		}
	}()
	return ring
}

// viewer is a WebRTC receiver that decodes what it gets, standing in for a browser.
type viewer struct {
	pc      *webrtc.PeerConnection
	decoded atomic.Int64
	first   chan time.Time
}

func newViewer(t *testing.T) (*viewer, string) {
	t.Helper()
	se := webrtc.SettingEngine{}
	se.SetIncludeLoopbackCandidate(true)
	me := &webrtc.MediaEngine{}
	if err := me.RegisterDefaultCodecs(); err != nil {
		t.Fatal(err)
	}
	pc, err := webrtc.NewAPI(webrtc.WithSettingEngine(se), webrtc.WithMediaEngine(me)).NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	v := &viewer{pc: pc, first: make(chan time.Time, 1)}
	if _, err := pc.AddTransceiverFromKind(webrtc.RTPCodecTypeVideo, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly}); err != nil {
		t.Fatal(err)
	}
	pc.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) { v.decode(tr) })
	offer, err := pc.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}
	gathered := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(offer); err != nil {
		t.Fatal(err)
	}
	<-gathered
	return v, pc.LocalDescription().SDP
}

func (v *viewer) decode(tr *webrtc.TrackRemote) {
	dec, err := av.NewDecoder(av.DecoderOptions{Codec: media.H264})
	if err != nil {
		return
	}
	defer dec.Close()
	var (
		depack codecs.H264Packet
		au     []byte
	)
	for {
		pkt, _, err := tr.ReadRTP()
		if err != nil {
			return
		}
		b, err := depack.Unmarshal(pkt.Payload)
		if err != nil {
			continue
		}
		au = append(au, b...)
		if !pkt.Marker {
			continue
		}
		var nalus h264.AnnexB
		if nalus.Unmarshal(au) == nil && dec.Send(nalus, int64(pkt.Timestamp)) == nil {
			for {
				pi, err := dec.Receive()
				if err != nil {
					break
				}
				if !pi.Corrupt {
					if v.decoded.Add(1) == 1 {
						v.first <- time.Now()
					}
				}
			}
		}
		au = au[:0]
	}
}

func (v *viewer) answer(t *testing.T, sdp string) {
	t.Helper()
	if err := v.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: sdp}); err != nil {
		t.Fatal(err)
	}
}

func newServer(t *testing.T, rings map[string]*media.Ring, perCamera int) *Server {
	t.Helper()
	s, err := NewServer(Options{
		Rings:               func(id string) (*media.Ring, bool) { r, ok := rings[id]; return r, ok },
		IncludeLoopback:     true,
		MaxViewersPerCamera: perCamera,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Shutdown)
	return s
}

func TestViewersDecodeLiveVideo(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s := newServer(t, map[string]*media.Ring{"cam-1": camera(t, ctx)}, 3)

	var viewers []*viewer
	var ids []string
	start := time.Now()
	for range 3 {
		v, offer := newViewer(t)
		answer, id, err := s.Offer(ctx, "cam-1", offer)
		if err != nil {
			t.Fatal(err)
		}
		v.answer(t, answer)
		viewers, ids = append(viewers, v), append(ids, id)
	}
	if _, _, err := s.Offer(ctx, "cam-1", "v=0"); !errors.Is(err, ErrTooMany) {
		t.Fatalf("fourth viewer over a limit of 3: %v", err)
	}
	for i, v := range viewers {
		select {
		case at := <-v.first:
			t.Logf("viewer %d: first decoded picture %v after the offer", i, at.Sub(start).Round(time.Millisecond))
		case <-time.After(20 * time.Second):
			t.Fatalf("viewer %d decoded nothing", i)
		}
	}
	// The picture keeps moving: every viewer keeps decoding new pictures.
	before := make([]int64, len(viewers))
	for i, v := range viewers {
		before[i] = v.decoded.Load()
	}
	time.Sleep(time.Second)
	for i, v := range viewers {
		if got := v.decoded.Load() - before[i]; got < 10 {
			t.Errorf("viewer %d decoded %d pictures in a second of 25 fps video", i, got)
		}
	}
	if n := s.Viewers("cam-1"); n != 3 {
		t.Fatalf("Viewers = %d, want 3", n)
	}
	if err := s.Close("cam-2", ids[0]); !errors.Is(err, ErrNoSession) {
		t.Fatalf("closing a session through another camera: %v", err)
	}
	if err := s.Close("cam-1", ids[0]); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for s.Viewers("cam-1") != 2 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if n := s.Viewers("cam-1"); n != 2 {
		t.Fatalf("after Close, Viewers = %d, want 2", n)
	}
}

func TestOfferErrors(t *testing.T) {
	ctx := context.Background()
	s := newServer(t, map[string]*media.Ring{"empty": media.NewRing(time.Second, 1<<20)}, 0)
	_, offer := newViewer(t)
	for _, tc := range []struct {
		camera, offer string
		want          error
	}{
		{"nope", offer, ErrNoCamera},
		{"empty", offer, ErrNoVideo},
		{"empty", "", ErrBadOffer},
	} {
		if _, _, err := s.Offer(ctx, tc.camera, tc.offer); !errors.Is(err, tc.want) {
			t.Errorf("Offer(%q): %v, want %v", tc.camera, err, tc.want)
		}
	}
}

func TestBadSDPRefused(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s := newServer(t, map[string]*media.Ring{"cam-1": camera(t, ctx)}, 0)
	for _, sdp := range []string{"garbage", "v=0\r\no=- 0 0 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n"} {
		if _, _, err := s.Offer(ctx, "cam-1", sdp); !errors.Is(err, ErrBadOffer) {
			t.Errorf("offer %q: %v, want ErrBadOffer", sdp[:7], err)
		}
	}
	if n := s.Viewers("cam-1"); n != 0 {
		t.Fatalf("failed offers left %d sessions", n)
	}
}

func TestTimeline(t *testing.T) {
	var tl timeline
	ms := time.Millisecond
	steps := []struct {
		pts   time.Duration
		burst bool
		want  uint32
	}{
		{0, true, 0},
		{40 * ms, true, 90},
		{80 * ms, true, 180},
		{120 * ms, false, 180 + 3600},
		{160 * ms, false, 180 + 7200},
		{100 * time.Second, false, 180 + 10800}, // a jump continues one frame later
	}
	for i, s := range steps {
		if got := tl.next(s.pts, s.burst); got != s.want {
			t.Fatalf("step %d: timestamp %d, want %d", i, got, s.want)
		}
	}
}
