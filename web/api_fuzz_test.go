package web_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"snowlight/auth"
	"snowlight/web"
	"snowlight/web/fake"

	"github.com/stretchr/testify/require"
)

// FuzzProductAPI sends arbitrary requests to the product routes as an admin: whatever the path, query,
// body and content type, the answer is a client error or success with a JSON error body, never a
// server error or a panic. The seeds (run by plain go test) cover every route.
func FuzzProductAPI(f *testing.F) {
	for _, s := range []struct{ method, path, ctype, body string }{
		{"GET", "/api/v1/alerts?status=open,confirmed&limit=5", "", ""},
		{"GET", "/api/v1/alerts?status=bogus&limit=-1", "", ""},
		{"GET", "/api/v1/alerts/a-anna", "", ""},
		{"POST", "/api/v1/alerts/a-anna/confirm", "application/json", `{"note":"ok"}`},
		{"POST", "/api/v1/alerts/a-bob/dispatch", "application/json", `{"patrol":"u-far"}`},
		{"POST", "/api/v1/alerts/a-anna/dismiss", "application/json", `{"note":`},
		{"POST", "/api/v1/patrols", "application/json", `{"id":"u9","name":"n","position":{"lat":1e400,"lon":0}}`},
		{"POST", "/api/v1/patrols/u-near/position", "application/json", `{"position":{"lat":52,"lon":4},"status":"busy","at":"2025-01-01T00:00:00Z"}`},
		{"GET", "/api/v1/cameras", "", ""},
		{"POST", "/api/v1/cameras/cam-1/whep", "application/sdp", "v=0\r\n"},
		{"DELETE", "/api/v1/cameras/cam-1/whep/abc", "", ""},
		{"GET", "/api/v1/cameras/cam-1/sightings?from=2025-03-01T07:00:00Z&case=C&reason=0123456789", "", ""},
		{"GET", "/api/v1/persons", "", ""},
		{"GET", "/api/v1/persons/p-anna/photos/0", "", ""},
		{"GET", "/api/v1/persons/p-anna/photos/99999999999999999999", "", ""},
		{"POST", "/api/v1/persons?case=C&reason=0123456789", "multipart/form-data; boundary=X", "--X\r\nContent-Disposition: form-data; name=\"name\"\r\n\r\nA\r\n--X--\r\n"},
		{"POST", "/api/v1/persons?case=C&reason=0123456789", "multipart/form-data", "garbage"},
		{"DELETE", "/api/v1/persons/p-bob?case=C&reason=0123456789", "", ""},
		{"GET", "/api/v1/persons/p-anna/trajectory?from=2025-02-28T08:00:00Z&to=2025-03-01T08:00:00Z&case=C&reason=0123456789", "", ""},
		{"GET", "/api/v1/sightings/s1/trajectory?to=2025-03-01T08:00:00%2B01:00&case=C&reason=0123456789", "", ""},
		{"GET", "/api/v1/objects/snapshot/x.png?expires=1&sig=zz", "", ""},
		{"GET", "/api/v1/guardian", "", ""},
		{"GET", "/assets/../../etc/passwd", "", ""},
		{"GET", "/api/v1/alerts/%00", "", ""},
	} {
		f.Add(s.method, s.path, s.ctype, s.body)
	}
	p := newProduct(f, func(o *web.APIOptions) { o.Live = fake.NewLive(); o.Alerts = replayedStream{o.Alerts} }, nil)
	admin := p.Token(f, auth.Admin)
	f.Fuzz(func(t *testing.T, method, path, ctype, body string) {
		switch method {
		case "GET", "POST", "DELETE":
		default:
			return
		}
		if !strings.HasPrefix(path, "/") || strings.ContainsAny(path, " \r\n#") || strings.IndexFunc(ctype, func(r rune) bool { return r < 0x20 || r > 0x7e }) >= 0 {
			return // the client refuses to send these
		}
		req, err := http.NewRequest(method, p.HTTP.URL+path, strings.NewReader(body))
		if err != nil {
			return
		}
		if ctype != "" {
			req.Header.Set("Content-Type", ctype)
		}
		req.Header.Set("Authorization", "Bearer "+admin)
		r := p.Send(t, req)
		require.Less(t, r.StatusCode, 500, "%s %s (%q): %s", method, path, ctype, r.Body)
		ct := r.Header.Get("Content-Type")
		if r.StatusCode >= 400 && strings.HasPrefix(ct, "application/json") {
			var e struct{ Error string }
			require.NoError(t, json.Unmarshal(bytes.TrimSpace(r.Body), &e), "%s %s: error body %q", method, path, r.Body)
			require.NotEmpty(t, e.Error, "%s %s: error body %q", method, path, r.Body)
		}
	})
}
