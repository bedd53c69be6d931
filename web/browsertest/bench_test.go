package browsertest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/pion/webrtc/v3"
	"github.com/stretchr/testify/require"
)

// BenchmarkWHEPFirstFrame measures, in Chromium, the time from posting the WHEP offer to the first
// decoded frame of a camera that is already running (the ring holds a GOP and a bit). Run with
// -benchtime 20x.
func BenchmarkWHEPFirstFrame(b *testing.B) {
	f := newFixture(b)
	br := StartBrowser(b, b.TempDir())
	tab := br.NewTab(b)
	require.NoError(b, tab.Login(f.URL, f.Accounts["operator"]))
	var d []time.Duration
	b.ResetTimer()
	for range b.N {
		v, err := FirstFrame(tab, "cam-market")
		require.NoError(b, err)
		d = append(d, v)
	}
	b.StopTimer()
	ReportFirstFrames(b, d)
}

// BenchmarkConsoleFirstLoad measures the console's first load with an empty cache (a new browser
// context each time): time to the load event and to the login form, bytes over the wire, requests.
func BenchmarkConsoleFirstLoad(b *testing.B) {
	f := newFixture(b)
	br := StartBrowser(b, b.TempDir())
	var ls []Load
	b.ResetTimer()
	for range b.N {
		l, err := br.FirstLoad(b, f.URL)
		require.NoError(b, err)
		ls = append(ls, l)
	}
	b.StopTimer()
	ReportLoads(b, ls)
}

// BenchmarkLiveViewerCPU measures what each additional WebRTC viewer of one camera costs the server:
// the server (this process: HTTP, live view, a 1280x720 25 fps 2 Mbit/s camera feeding its ring) runs
// while a child process holds 0, 1, 4 and 16 pion receivers of that camera, and this process's CPU
// time is measured over a window at each step. Run with -benchtime 1x.
func BenchmarkLiveViewerCPU(b *testing.B) {
	f := newFixture(b)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	f.World.Cameras.SetRing("cam-hd", camera(b, ctx, "cam-hd", "scale=1280:720,fps=25", "2M"))
	token := login(b, f.URL, f.Accounts["operator"])
	const window = 10 * time.Second
	time.Sleep(2 * time.Second)
	share := map[int]float64{0: cpuShare(window)}
	b.Logf("0 viewers: %.2f%% of a core", 100*share[0])
	for _, n := range []int{1, 4, 16} {
		stop := viewers(b, f.URL+"/api/v1/cameras/cam-hd/whep", token, n)
		time.Sleep(2 * time.Second) // past the burst of the newest GOP and the DTLS handshakes
		share[n] = cpuShare(window)
		stop()
		b.Logf("%d viewers: %.2f%% of a core", n, 100*share[n])
		b.ReportMetric(100*share[n], fmt.Sprintf("%%core-%d-viewers", n))
	}
	b.ReportMetric(100*share[0], "%core-0-viewers")
	b.ReportMetric(100*(share[16]-share[1])/15, "%core/added-viewer")
}

// cpuShare is the CPU this process uses over d, as a fraction of one core.
func cpuShare(d time.Duration) float64 {
	t0, c0 := time.Now(), cpuTime()
	time.Sleep(d)
	return float64(cpuTime()-c0) / float64(time.Since(t0))
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func login(b testing.TB, base string, a Account) string {
	b.Helper()
	body, err := json.Marshal(map[string]string{"user": a.User, "password": a.Password})
	require.NoError(b, err)
	resp, err := http.Post(base+"/api/v1/login", "application/json", bytes.NewReader(body))
	require.NoError(b, err)
	defer resp.Body.Close()
	var r struct{ Token string }
	require.NoError(b, json.NewDecoder(resp.Body).Decode(&r), "login: %d", resp.StatusCode)
	require.NotEmpty(b, r.Token, "login: %d", resp.StatusCode)
	return r.Token
}

// viewers starts a child process (this test binary, TestViewerChild) holding n receivers, waits until
// all receive video, and returns a func that stops it.
func viewers(b testing.TB, whep, token string, n int) func() {
	b.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestViewerChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), "SNOWLIGHT_VIEWER_URL="+whep, "SNOWLIGHT_VIEWER_TOKEN="+token,
		"SNOWLIGHT_VIEWER_N="+strconv.Itoa(n))
	stdin, err := cmd.StdinPipe()
	require.NoError(b, err)
	out, err := cmd.StdoutPipe()
	require.NoError(b, err)
	cmd.Stderr = os.Stderr
	require.NoError(b, cmd.Start())
	sc := bufio.NewScanner(out)
	ready := make(chan error, 1)
	go func() {
		var said []string
		for sc.Scan() {
			if sc.Text() == "viewers ready" {
				ready <- nil
				io.Copy(io.Discard, out)
				return
			}
			said = append(said, sc.Text())
		}
		ready <- fmt.Errorf("viewer process ended before its viewers were ready: %q", said)
	}()
	select {
	case err := <-ready:
		require.NoError(b, err)
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		require.Fail(b, "viewers not ready within 60 s")
	}
	return func() {
		stdin.Close() // the child stops when its stdin closes
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	}
}

// TestViewerChild is the viewer process of BenchmarkLiveViewerCPU: n pion receivers of one camera that
// count the RTP they get without decoding it (the viewers' cost is not what is measured). It does
// nothing in a normal test run.
func TestViewerChild(t *testing.T) {
	url, token := os.Getenv("SNOWLIGHT_VIEWER_URL"), os.Getenv("SNOWLIGHT_VIEWER_TOKEN")
	n, _ := strconv.Atoi(os.Getenv("SNOWLIGHT_VIEWER_N"))
	if url == "" || n <= 0 {
		t.Skip("viewer process of BenchmarkLiveViewerCPU")
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var packets atomic.Int64
	var pcs []*webrtc.PeerConnection
	defer func() {
		for _, pc := range pcs {
			pc.Close()
		}
	}()
	se := webrtc.SettingEngine{}
	se.SetIncludeLoopbackCandidate(true)
	me := &webrtc.MediaEngine{}
	require.NoError(t, me.RegisterDefaultCodecs())
	api := webrtc.NewAPI(webrtc.WithSettingEngine(se), webrtc.WithMediaEngine(me))
	for range n {
		pc, err := api.NewPeerConnection(webrtc.Configuration{})
		require.NoError(t, err)
		pcs = append(pcs, pc)
		_, err = pc.AddTransceiverFromKind(webrtc.RTPCodecTypeVideo, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly})
		require.NoError(t, err)
		pc.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
			buf := make([]byte, 1500)
			for ctx.Err() == nil {
				if _, _, err := tr.Read(buf); err != nil {
					return
				}
				packets.Add(1)
			}
		})
		offer, err := pc.CreateOffer(nil)
		require.NoError(t, err)
		gathered := webrtc.GatheringCompletePromise(pc)
		require.NoError(t, pc.SetLocalDescription(offer))
		<-gathered
		req, err := http.NewRequest("POST", url, bytes.NewReader([]byte(pc.LocalDescription().SDP)))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/sdp")
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		answer, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.NoError(t, err)
		require.Equal(t, http.StatusCreated, resp.StatusCode, "WHEP: %s", answer)
		require.NoError(t, pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: string(answer)}))
	}
	for packets.Load() < int64(50*n) {
		time.Sleep(20 * time.Millisecond)
	}
	fmt.Println("viewers ready")
	io.Copy(io.Discard, os.Stdin)
}
