package ingest

import (
	"errors"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
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
		assert.Equal(t, tc.want, Redact(tc.in), "Redact(%q)", tc.in)
	}
	base := errors.New("describe rtsp://u:canary@h/x: EOF")
	err := redactError(base)
	assert.NotContains(t, err.Error(), "canary")
	assert.ErrorIs(t, err, base, "redactError keeps the chain")
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
			require.NotContains(t, out, pass, "Redact(%q) keeps the password", in)
			require.NotContains(t, out, u.User.String(), "Redact(%q) keeps the user info", in)
		}
	})
}
