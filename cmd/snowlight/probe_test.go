package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"sort"
	"strings"
	"testing"
	"time"

	"snowlight/ingest/camsim"
	"snowlight/testvideos"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func camsimFor(t *testing.T, o camsim.Options, name string) *camsim.Server {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	paths, err := testvideos.Ensure(ctx, name)
	if errors.Is(err, testvideos.ErrNoSource) {
		t.Skipf("test videos unavailable: %v", err)
	}
	require.NoError(t, err)
	o.Addr = "127.0.0.1:0"
	o.Log = slog.New(slog.DiscardHandler)
	srv := camsim.New(o)
	require.NoError(t, srv.AddFile("cam", paths[name]))
	require.NoError(t, srv.Start(context.Background()))
	t.Cleanup(srv.Close)
	return srv
}

func runCmd(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestProbeJSON(t *testing.T) {
	srv := camsimFor(t, camsim.Options{}, testvideos.VTest)
	code, out, errOut := runCmd(t, "probe", "--frames", "40", "--json", srv.URL("cam"))
	require.Equal(t, 0, code, "exit code: %s", errOut)
	var got map[string]any
	require.NoError(t, json.Unmarshal([]byte(out), &got), "output is not one JSON object:\n%s", out)
	var keys []string
	for k := range got {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range []string{"codec", "width", "height", "fps", "gop", "frames", "decode_ms_per_frame",
		"reconnects", "frames_after_reconnect", "errors"} {
		assert.Contains(t, keys, k, "keys")
	}
	assert.Equal(t, "H264", got["codec"])
	assert.Equal(t, 768.0, got["width"])
	assert.Equal(t, 576.0, got["height"])
	assert.Equal(t, 25.0, got["gop"])
	assert.GreaterOrEqual(t, got["frames"], 40.0, "frames")
	assert.InDelta(t, 25, got["fps"], 0.5, "fps")
	assert.Greater(t, got["decode_ms_per_frame"], 0.0, "decode_ms_per_frame")
	assert.LessOrEqual(t, got["decode_ms_per_frame"], 100.0, "decode_ms_per_frame")
}

// Through outages: sessions dropped every 2 s; the probe reconnects and reports frames after them.
func TestProbeDurationThroughOutages(t *testing.T) {
	srv := camsimFor(t, camsim.Options{}, testvideos.VTest)
	require.NoError(t, srv.SetFaults("cam", camsim.Faults{DropSessionsEvery: 2 * time.Second}))
	code, out, errOut := runCmd(t, "probe", "--duration", "5s", "--json", srv.URL("cam"))
	require.Equal(t, 0, code, "exit code: %s", errOut)
	var r struct {
		Frames               int      `json:"frames"`
		Reconnects           int      `json:"reconnects"`
		FramesAfterReconnect int      `json:"frames_after_reconnect"`
		Errors               []string `json:"errors"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &r))
	assert.GreaterOrEqual(t, r.Reconnects, 1, "reconnects: %+v", r)
	assert.GreaterOrEqual(t, r.FramesAfterReconnect, 10, "frames after a reconnect: %+v", r)
	assert.NotEmpty(t, r.Errors, "errors: %+v", r)
}

func TestProbeFailsClearly(t *testing.T) {
	srv := camsimFor(t, camsim.Options{User: "admin", Pass: "right"}, testvideos.Quiet)
	const canary = "Wr0ng-Canary"
	for _, tc := range []struct {
		name, url, want string
	}{
		{"wrong password", strings.Replace(srv.URL("cam"), "rtsp://", "rtsp://admin:"+canary+"@", 1), "rejected the credentials"},
		{"nobody there", "rtsp://admin:" + canary + "@127.0.0.1:1/cam", "nothing could be decoded"},
		{"not rtsp", "http://example.invalid/x", "scheme must be rtsp"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			code, out, errOut := runCmd(t, "probe", "--frames", "10", tc.url)
			require.NotZero(t, code, "exit code")
			assert.Contains(t, errOut, tc.want, "the message")
			assert.NotContains(t, out+errOut, canary, "password printed")
			assert.LessOrEqual(t, time.Since(start), 10*time.Second, "time to fail")
		})
	}
}
