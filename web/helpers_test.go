package web_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"snowlight/web/webtest"
)

func contains(s, sub string) bool { return strings.Contains(s, sub) }

func decode(t *testing.T, r webtest.Response, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("%d %s: %v", r.StatusCode, r.Body, err)
	}
}

func wantStatus(t *testing.T, r webtest.Response, code int) {
	t.Helper()
	if r.StatusCode != code {
		t.Fatalf("got %d %s, want %d", r.StatusCode, r.Body, code)
	}
}

// cookie finds a Set-Cookie of the response.
func cookie(r webtest.Response, name string) *http.Cookie {
	for _, c := range r.Cookies() {
		if c.Name == name {
			return c
		}
	}
	return nil
}
