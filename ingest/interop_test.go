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

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

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
	require.NoError(t, err)
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	args := []string{"testdata/gst_rtsp_server.py", fmt.Sprint(port)}
	if file != "" {
		args = append(args, file)
	}
	cmd := exec.Command(python, args...)
	cmd.Env = append(os.Environ(), "GST_DEBUG=0")
	stdin, err := cmd.StdinPipe()
	require.NoError(t, err)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	cmd.Stderr = testWriter{t}
	require.NoError(t, cmd.Start())
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
		require.True(t, ok, "GStreamer RTSP server exited before it was ready")
	case <-time.After(20 * time.Second):
		require.Fail(t, "GStreamer RTSP server not ready within 20 s")
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
			assert.Equal(t, tc.w, s.Width)
			assert.Equal(t, tc.h, s.Height)
			assert.Equal(t, "H264", s.Codec)
			assert.Zero(t, s.DecodeErrors, "decode errors")
			// GStreamer stamps with the same machine clock: wall times must be close to arrival.
			d := time.Since(frames[len(frames)-1].Time)
			assert.GreaterOrEqual(t, d, -time.Second, "the last frame's wall time is in the future")
			assert.LessOrEqual(t, d, 5*time.Second, "the last frame's wall time is long past")
		})
	}
}
