package live

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/pion/rtp/codecs"
	"github.com/pion/webrtc/v3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

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
	require.NoError(t, err, "ffmpeg: %s", out)
	_, pkts, err := av.ReadFile(path)
	require.NoError(t, err)
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
	require.NoError(t, me.RegisterDefaultCodecs())
	pc, err := webrtc.NewAPI(webrtc.WithSettingEngine(se), webrtc.WithMediaEngine(me)).NewPeerConnection(webrtc.Configuration{})
	require.NoError(t, err)
	t.Cleanup(func() { pc.Close() })
	v := &viewer{pc: pc, first: make(chan time.Time, 1)}
	_, err = pc.AddTransceiverFromKind(webrtc.RTPCodecTypeVideo, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly})
	require.NoError(t, err)
	pc.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) { v.decode(tr) })
	offer, err := pc.CreateOffer(nil)
	require.NoError(t, err)
	gathered := webrtc.GatheringCompletePromise(pc)
	require.NoError(t, pc.SetLocalDescription(offer))
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
	require.NoError(t, v.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: sdp}))
}

func newServer(t *testing.T, rings map[string]*media.Ring, perCamera int) *Server {
	t.Helper()
	s, err := NewServer(Options{
		Rings:               func(id string) (*media.Ring, bool) { r, ok := rings[id]; return r, ok },
		IncludeLoopback:     true,
		MaxViewersPerCamera: perCamera,
	})
	require.NoError(t, err)
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
		require.NoError(t, err)
		v.answer(t, answer)
		viewers, ids = append(viewers, v), append(ids, id)
	}
	_, _, err := s.Offer(ctx, "cam-1", "v=0")
	require.ErrorIs(t, err, ErrTooMany, "fourth viewer over a limit of 3")
	for i, v := range viewers {
		select {
		case at := <-v.first:
			t.Logf("viewer %d: first decoded picture %v after the offer", i, at.Sub(start).Round(time.Millisecond))
		case <-time.After(20 * time.Second):
			require.Fail(t, "a viewer decoded nothing", "viewer %d", i)
		}
	}
	// The picture keeps moving: every viewer keeps decoding new pictures.
	before := make([]int64, len(viewers))
	for i, v := range viewers {
		before[i] = v.decoded.Load()
	}
	time.Sleep(time.Second)
	for i, v := range viewers {
		assert.GreaterOrEqual(t, v.decoded.Load()-before[i], int64(10), "viewer %d: pictures decoded in a second of 25 fps video", i)
	}
	require.Equal(t, 3, s.Viewers("cam-1"))
	require.ErrorIs(t, s.Close("cam-2", ids[0]), ErrNoSession, "closing a session through another camera")
	require.NoError(t, s.Close("cam-1", ids[0]))
	require.Eventually(t, func() bool { return s.Viewers("cam-1") == 2 }, 10*time.Second, 20*time.Millisecond, "viewers after Close")
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
		_, _, err := s.Offer(ctx, tc.camera, tc.offer)
		assert.ErrorIs(t, err, tc.want, "Offer(%q)", tc.camera)
	}
}

func TestBadSDPRefused(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s := newServer(t, map[string]*media.Ring{"cam-1": camera(t, ctx)}, 0)
	for _, sdp := range []string{"garbage", "v=0\r\no=- 0 0 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n"} {
		_, _, err := s.Offer(ctx, "cam-1", sdp)
		assert.ErrorIs(t, err, ErrBadOffer, "offer %q", sdp[:7])
	}
	assert.Zero(t, s.Viewers("cam-1"), "failed offers left sessions")
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
		require.Equal(t, s.want, tl.next(s.pts, s.burst), "step %d: timestamp", i)
	}
}
