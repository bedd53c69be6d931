package web_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"snowlight/auth"
)

// TestIdentityAnswersAreNeverCached checks Cache-Control: no-store on evidence served by signed link
// (it used to be cacheable for five minutes, outliving the link in the browser's cache) and on the
// API's answers that name people or places.
func TestIdentityAnswersAreNeverCached(t *testing.T) {
	p := newProduct(t, nil, nil)
	admin := p.Token(t, auth.Admin)
	d := alertDetail(t, p, admin, "a-anna")
	require.NotEmpty(t, d.Snapshot.URL)
	require.NotEmpty(t, d.Crops)
	for _, link := range []string{d.Snapshot.URL, d.Crops[0].Image.URL} {
		r := p.Do(t, "GET", link, "", "")
		require.Equal(t, http.StatusOK, r.StatusCode)
		assert.Equal(t, "no-store", r.Header.Get("Cache-Control"), link)
	}
	for _, path := range []string{"/api/v1/alerts", "/api/v1/alerts/a-anna", "/api/v1/persons", "/api/v1/persons/p-anna",
		"/api/v1/patrols", "/api/v1/cameras", "/api/v1/persons/p-anna/photos/0", "/api/v1/me",
		"/api/v1/persons/p-anna/trajectory?case=K-1&reason=cache+header+check"} {
		r := p.Do(t, "GET", path, admin, "")
		require.Equal(t, http.StatusOK, r.StatusCode, path)
		assert.Equal(t, "no-store", r.Header.Get("Cache-Control"), path)
	}
}
