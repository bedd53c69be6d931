package ingest

import (
	"errors"
	"strings"
	"testing"
)

func TestRedact(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"rtsp://admin:s3cret@10.0.0.5:554/stream1", "rtsp://10.0.0.5:554/stream1"},
		{"rtsp://admin@cam/x", "rtsp://cam/x"},
		{"rtsp://cam/x", "rtsp://cam/x"},
		{"dial rtsp://u:p%40ss@cam:554/a failed", "dial rtsp://cam:554/a failed"},
		{"two rtsp://a:b@h1/x and rtsps://c:d@h2/y", "two rtsp://h1/x and rtsps://h2/y"},
		{"no url here", "no url here"},
	} {
		if got := Redact(tc.in); got != tc.want {
			t.Errorf("Redact(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	base := errors.New("describe rtsp://u:canary@h/x: EOF")
	err := redactError(base)
	if strings.Contains(err.Error(), "canary") || !errors.Is(err, base) {
		t.Fatalf("redactError: %q (chain kept: %v)", err, errors.Is(err, base))
	}
}
