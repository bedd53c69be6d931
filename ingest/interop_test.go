package ingest

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"snowlight/testvideos"
)

// startGStreamer runs GStreamer's RTSP server with a live x264 stream (of file, when given) and returns
// its URL. It stops when the test ends.
func startGStreamer(t *testing.T, file string) string {
	t.Helper()
	const python = "/usr/bin/python3"
	if err := exec.Command(python, "-c",
		"import gi; gi.require_version('GstRtspServer','1.0'); from gi.repository import GstRtspServer").Run(); err != nil {
		t.Skipf("GStreamer RTSP server bindings missing (python3-gi, gir1.2-gst-rtsp-server-1.0): %v", err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	args := []string{"testdata/gst_rtsp_server.py", fmt.Sprint(port)}
	if file != "" {
		args = append(args, file)
	}
	cmd := exec.Command(python, args...)
	cmd.Env = append(os.Environ(), "GST_DEBUG=0")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = testWriter{t}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stdin.Close() // the script exits when stdin closes
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	})
	ready := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if strings.TrimSpace(sc.Text()) == "READY" {
				ready <- true
			}
		}
		ready <- false
	}()
	select {
	case ok := <-ready:
		if !ok {
			t.Fatal("GStreamer RTSP server exited before it was ready")
		}
	case <-time.After(20 * time.Second):
		t.Fatal("GStreamer RTSP server not ready within 20 s")
	}
	return fmt.Sprintf("rtsp://127.0.0.1:%d/test", port)
}

// Our ingest reading a camera we did not write: GStreamer's RTSP server with a live x264 stream, over
// TCP and UDP, anchored by GStreamer's own RTCP sender reports.
func TestIngestFromGStreamerRTSPServer(t *testing.T) {
	for _, tc := range []struct {
		name      string
		file      string
		transport Transport
		w, h      int
	}{
		{"videotestsrc tcp", "", TCP, 640, 480},
		{"vtest file udp", testvideos.VTest, UDP, 768, 576},
	} {
		t.Run(tc.name, func(t *testing.T) {
			file := ""
			if tc.file != "" {
				file = testVideo(t, tc.file)
			}
			url := startGStreamer(t, file)
			r := runWorker(t, Config{Camera: "gst", URL: url, Transport: tc.transport})
			waitFor(t, 30*time.Second, "50 frames and an RTCP clock", func() bool {
				f, _ := r.snapshot()
				return len(f) >= 50 && r.w.Status().ClockSource == ClockRTCP
			})
			frames, _ := r.snapshot()
			checkMonotonic(t, frames)
			s := r.w.Status()
			if s.Width != tc.w || s.Height != tc.h || s.Codec != "H264" {
				t.Errorf("status %+v, want %dx%d H264", s, tc.w, tc.h)
			}
			if s.DecodeErrors != 0 {
				t.Errorf("%d decode errors", s.DecodeErrors)
			}
			// GStreamer stamps with the same machine clock: wall times must be close to arrival.
			last := frames[len(frames)-1]
			if d := time.Since(last.Time); d < -time.Second || d > 5*time.Second {
				t.Errorf("last frame's wall time is %v from now", d)
			}
		})
	}
}
