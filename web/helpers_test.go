package web_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"snowlight/web/webtest"

	"github.com/stretchr/testify/require"
)

func contains(s, sub string) bool { return strings.Contains(s, sub) }

func decode(t *testing.T, r webtest.Response, v any) {
	t.Helper()
	require.NoError(t, json.Unmarshal(r.Body, v), "%d %s", r.StatusCode, r.Body)
}

func wantStatus(t *testing.T, r webtest.Response, code int) {
	t.Helper()
	require.Equal(t, code, r.StatusCode, "%s", r.Body)
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
