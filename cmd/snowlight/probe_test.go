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
)

func camsimFor(t *testing.T, o camsim.Options, name string) *camsim.Server {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	paths, err := testvideos.Ensure(ctx, name)
	if errors.Is(err, testvideos.ErrNoSource) {
		t.Skipf("test videos unavailable: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	o.Addr = "127.0.0.1:0"
	o.Log = slog.New(slog.DiscardHandler)
	srv := camsim.New(o)
	if err := srv.AddFile("cam", paths[name]); err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
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
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var got map[string]any
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("output is not one JSON object: %v\n%s", err, out)
	}
	var keys []string
	for k := range got {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range []string{"codec", "width", "height", "fps", "gop", "frames", "decode_ms_per_frame",
		"reconnects", "frames_after_reconnect", "errors"} {
		if _, ok := got[k]; !ok {
			t.Errorf("key %q missing; have %v", k, keys)
		}
	}
	if got["codec"] != "H264" || got["width"] != 768.0 || got["height"] != 576.0 || got["gop"] != 25.0 {
		t.Errorf("probe found %v", got)
	}
	if f := got["frames"].(float64); f < 40 {
		t.Errorf("frames %v, want at least 40", f)
	}
	if fps := got["fps"].(float64); fps < 24.5 || fps > 25.5 {
		t.Errorf("fps %v", fps)
	}
	if ms := got["decode_ms_per_frame"].(float64); ms <= 0 || ms > 100 {
		t.Errorf("decode_ms_per_frame %v", ms)
	}
}

// Through outages: sessions dropped every 2 s; the probe reconnects and reports frames after them.
func TestProbeDurationThroughOutages(t *testing.T) {
	srv := camsimFor(t, camsim.Options{}, testvideos.VTest)
	if err := srv.SetFaults("cam", camsim.Faults{DropSessionsEvery: 2 * time.Second}); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runCmd(t, "probe", "--duration", "5s", "--json", srv.URL("cam"))
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var r struct {
		Frames               int      `json:"frames"`
		Reconnects           int      `json:"reconnects"`
		FramesAfterReconnect int      `json:"frames_after_reconnect"`
		Errors               []string `json:"errors"`
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatal(err)
	}
	if r.Reconnects < 1 || r.FramesAfterReconnect < 10 || len(r.Errors) == 0 {
		t.Errorf("probe through outages: %+v", r)
	}
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
			if code == 0 {
				t.Fatalf("exit 0 for %s", tc.name)
			}
			if !strings.Contains(errOut, tc.want) {
				t.Errorf("message %q does not say %q", errOut, tc.want)
			}
			if strings.Contains(out+errOut, canary) {
				t.Errorf("password printed: %s %s", out, errOut)
			}
			if el := time.Since(start); el > 10*time.Second {
				t.Errorf("took %v to fail", el)
			}
		})
	}
}
