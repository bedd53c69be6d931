package ingest

import (
	"errors"
	"net/url"
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

// Whatever the credentials, Redact leaves no trace of the password in a URL or in text quoting it.
func FuzzRedact(f *testing.F) {
	f.Add("admin", "s3cret", "cam.local:554", "/stream1")
	f.Add("a@b", "p:w/@?#", "10.0.0.1", "/x y")
	f.Add("", "onlypass", "h", "")
	f.Fuzz(func(t *testing.T, user, pass, host, path string) {
		if len(pass) < 4 {
			return
		}
		u := &url.URL{Scheme: "rtsp", User: url.UserPassword(user, pass), Host: host, Path: path}
		s := u.String()
		rest := strings.Replace(s, u.User.String()+"@", "", 1)
		if strings.Contains(rest, pass) || strings.Contains(rest, url.QueryEscape(pass)) {
			return // the password also appears outside the credentials
		}
		for _, in := range []string{s, "describe " + s + ": EOF"} {
			out := Redact(in)
			if strings.Contains(out, pass) {
				t.Fatalf("Redact(%q) = %q keeps the password", in, out)
			}
			if esc := u.User.String(); strings.Contains(out, esc) {
				t.Fatalf("Redact(%q) = %q keeps the user info", in, out)
			}
		}
	})
}
