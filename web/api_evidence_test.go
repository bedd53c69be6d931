package web_test

import (
	"bytes"
	"context"
	"fmt"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"snowlight/auth"
	"snowlight/live"
	"snowlight/media"
	"snowlight/web"

	"github.com/pion/webrtc/v3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestEvidenceLinks(t *testing.T) {
	p := newProduct(t, nil, nil)
	ctx := context.Background()
	link, err := p.W.Media.PresignGet(ctx, p.SnapKey, 5*time.Minute)
	require.NoError(t, err)
	// Ranges work, so browsers can seek in clips.
	r := p.Do(t, "GET", link, "", "", "Range", "bytes=0-9")
	wantStatus(t, r, http.StatusPartialContent)
	assert.Equal(t, p.Snap[:10], r.Body, "the range's bytes")
	u, _ := url.Parse(link)
	q := u.Query()
	// A file outside the store, to check that no link reaches it.
	secret := filepath.Join(filepath.Dir(p.W.Media.Root()), "secret.txt")
	require.NoError(t, os.WriteFile(secret, []byte("canary-outside-the-store"), 0o600))
	for _, c := range []struct {
		name, path string
		want       int
	}{
		{"no signature", u.Path, http.StatusForbidden},
		{"altered signature", u.Path + "?expires=" + q.Get("expires") + "&sig=" + strings.Repeat("0", 64), http.StatusForbidden},
		{"another key with this signature", web.ObjectsPath + "/snapshot/" + strings.Repeat("a", 64) + ".png?" + q.Encode(), http.StatusForbidden},
		{"dot-dot", web.ObjectsPath + "/../../secret.txt?" + q.Encode(), http.StatusTemporaryRedirect}, // the router redirects to the cleaned /api/secret.txt
		{"escaped dot-dot", web.ObjectsPath + "/snapshot/%2e%2e/%2e%2e/secret.txt?" + q.Encode(), 0},
		{"escaped slash", web.ObjectsPath + "/..%2f..%2fsecret.txt?" + q.Encode(), http.StatusBadRequest},
		{"backslash", web.ObjectsPath + "/..%5c..%5csecret.txt?" + q.Encode(), http.StatusBadRequest},
		{"absolute", web.ObjectsPath + "//etc/passwd?" + q.Encode(), 0},
		{"hidden segment", web.ObjectsPath + "/.tmp/x?" + q.Encode(), http.StatusBadRequest},
		{"nul", web.ObjectsPath + "/snapshot/a%00b?" + q.Encode(), http.StatusBadRequest},
	} {
		req, err := http.NewRequest("GET", p.HTTP.URL+c.path, nil)
		require.NoError(t, err)
		r := p.Send(t, req)
		assert.NotEqual(t, http.StatusOK, r.StatusCode, "%s (%s): %s", c.name, c.path, r.Body)
		if c.want != 0 {
			assert.Equal(t, c.want, r.StatusCode, "%s (%s): %s", c.name, c.path, r.Body)
		}
		assert.NotContains(t, string(r.Body), "canary", "%s (%s)", c.name, c.path)
	}
	// Links expire.
	p.Clock.Advance(6 * time.Minute)
	r = p.Do(t, "GET", link, "", "")
	wantStatus(t, r, http.StatusForbidden)
	assert.Contains(t, string(r.Body), "expired", "an expired link's answer")
	// Evidence a retention job deleted is gone, and says so.
	p.Clock.Advance(-6 * time.Minute)
	require.NoError(t, p.W.Media.Delete(ctx, p.SnapKey))
	wantStatus(t, p.Do(t, "GET", link, "", ""), http.StatusNotFound)
}

func multipartBody(t *testing.T, fields map[string]string, photos map[string][]byte) (string, []byte) {
	t.Helper()
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	for k, v := range fields {
		require.NoError(t, mw.WriteField(k, v))
	}
	for name, data := range photos {
		w, err := mw.CreateFormFile("photo", name)
		require.NoError(t, err)
		_, err = w.Write(data)
		require.NoError(t, err)
	}
	require.NoError(t, mw.Close())
	return mw.FormDataContentType(), b.Bytes()
}

func TestEnrolment(t *testing.T) {
	p := newProduct(t, nil, nil)
	inv := p.Token(t, auth.Investigator)
	good, tiny := testPNG(t, 200, 240), testPNG(t, 20, 20)
	fields := func(mod func(map[string]string)) map[string]string {
		f := map[string]string{"name": "Carla M", "category": "missing", "guardian_contact": "Dan M", "legal_basis": "missing-person report 2025-17",
			"approved_by": "duty officer Ruiz", "expires": "2025-06-30", "safe_zone": `[{"lat":52.0,"lon":4.3},{"lat":52.01,"lon":4.3},{"lat":52.01,"lon":4.31}]`}
		if mod != nil {
			mod(f)
		}
		return f
	}
	post := func(f map[string]string, photos map[string][]byte, caseHdr bool) (int, string) {
		ct, body := multipartBody(t, f, photos)
		req, _ := http.NewRequest("POST", p.HTTP.URL+"/api/v1/persons", bytes.NewReader(body))
		req.Header.Set("Content-Type", ct)
		req.Header.Set("Authorization", "Bearer "+inv)
		if caseHdr {
			req.Header.Set(web.CaseHeader, "MP-2025-17")
			req.Header.Set(web.ReasonHeader, "reported missing by her brother")
		}
		r := p.Send(t, req)
		return r.StatusCode, string(r.Body)
	}
	for _, c := range []struct {
		name   string
		f      map[string]string
		photos map[string][]byte
		nocase bool
		status int
		want   string
	}{
		{"no case", fields(nil), map[string][]byte{"a.png": good}, true, 400, "case number"},
		{"no legal basis", fields(func(f map[string]string) { delete(f, "legal_basis") }), map[string][]byte{"a.png": good}, false, 400, "legal basis"},
		{"no approver", fields(func(f map[string]string) { f["approved_by"] = " " }), map[string][]byte{"a.png": good}, false, 400, "approved"},
		{"no expiry", fields(func(f map[string]string) { delete(f, "expires") }), map[string][]byte{"a.png": good}, false, 400, "expiry"},
		{"past expiry", fields(func(f map[string]string) { f["expires"] = "2024-01-01" }), map[string][]byte{"a.png": good}, false, 400, "future"},
		{"bad category", fields(func(f map[string]string) { f["category"] = "vip" }), map[string][]byte{"a.png": good}, false, 400, "category"},
		{"bad zone", fields(func(f map[string]string) { f["safe_zone"] = `[{"lat":52,"lon":4}]` }), map[string][]byte{"a.png": good}, false, 400, "3 to"},
		{"no photo", fields(nil), nil, false, 400, "at least one photo"},
		{"not an image", fields(nil), map[string][]byte{"notes.txt": []byte("hello")}, false, 400, "notes.txt is not a JPEG or PNG"},
		{"no usable face", fields(nil), map[string][]byte{"tiny.png": tiny}, false, 422, "too small"},
	} {
		status, body := post(c.f, c.photos, !c.nocase)
		assert.Equal(t, c.status, status, "%s: %s", c.name, body)
		assert.Contains(t, body, c.want, c.name)
	}
	// The category is read as people type it and answered in its canonical spelling.
	status, body := post(fields(func(f map[string]string) { f["category"] = "At-Risk" }), map[string][]byte{"front.png": good, "tiny.png": tiny}, true)
	require.Equal(t, http.StatusCreated, status, "enrol: %s", body)
	for _, want := range []string{`"name":"tiny.png","used":false,"error":"too small`, `"name":"front.png","used":true`, `"photo_urls":["/api/v1/persons/p`,
		`"category":"at_risk"`} {
		assert.Contains(t, body, want, "the enrolment's answer")
	}
	var enrolled []string
	for _, e := range auditActions(t, p.Env, "t-investigator") {
		if e.Action == "watchlist.enrol" {
			enrolled = append(enrolled, fmt.Sprintf("%s %s %s %s", e.Case, e.Details["legal_basis"], e.Details["approved_by"], e.Details["photos"]))
		}
	}
	assert.Equal(t, []string{"MP-2025-17 missing-person report 2025-17 duty officer Ruiz 1 of 2 used"}, enrolled, "audited enrolments")
	r := p.Do(t, "DELETE", "/api/v1/persons/p-bob", inv, "")
	wantStatus(t, r, http.StatusBadRequest)
	r = p.Do(t, "DELETE", "/api/v1/persons/p-bob?case=W-77&reason=warrant+withdrawn+today", inv, "")
	wantStatus(t, r, http.StatusNoContent)
	wantStatus(t, p.Do(t, "GET", "/api/v1/persons/p-bob", inv, ""), http.StatusNotFound)
}

func TestTrajectoryQueries(t *testing.T) {
	p := newProduct(t, nil, nil)
	inv := p.Token(t, auth.Investigator)
	caseQ := "case=C-9&reason=" + url.QueryEscape("looking for a missing woman")
	wantStatus(t, p.Do(t, "GET", "/api/v1/persons/p-anna/trajectory", inv, ""), http.StatusBadRequest)
	wantStatus(t, p.Do(t, "GET", "/api/v1/persons/p-anna/trajectory?case=C-9&reason=short", inv, ""), http.StatusBadRequest)
	wantStatus(t, p.Do(t, "GET", "/api/v1/persons/p-anna/trajectory?"+caseQ, p.Token(t, auth.Operator), ""), http.StatusForbidden)

	r := p.Do(t, "GET", "/api/v1/persons/p-anna/trajectory?"+caseQ, inv, "")
	wantStatus(t, r, http.StatusOK)
	var tv web.TrajectoryView
	decode(t, r, &tv)
	require.Len(t, tv.Sightings, 2, "%s", r.Body)
	assert.Equal(t, "s1", tv.Sightings[0].ID)
	assert.Equal(t, 0.93, tv.Sightings[1].Confidence)
	assert.NotEmpty(t, tv.Sightings[1].Snapshot.URL)
	r = p.Do(t, "GET", "/api/v1/sightings/s2/trajectory?"+caseQ, inv, "")
	var fromSighting web.TrajectoryView
	decode(t, r, &fromSighting)
	assert.Len(t, fromSighting.Sightings, 2, "from a sighting: %s", r.Body)
	assert.Equal(t, "s2", fromSighting.Sighting)
	r = p.Do(t, "GET", "/api/v1/cameras/cam-2/sightings?from=2025-03-01T07:00:00Z&to=2025-03-01T08:00:00Z&"+caseQ, inv, "")
	var cs struct{ Sightings []web.SightingView }
	decode(t, r, &cs)
	assert.Len(t, cs.Sightings, 2, "a camera's sightings: %s", r.Body)
	for _, c := range []struct{ q, want string }{
		{"from=yesterday", "from must be"},
		{"to=2025-03-01", "to must be"},
		{"from=2025-03-01T09:00:00Z&to=2025-03-01T08:00:00Z", "before"},
		{"from=2025-01-01T00:00:00Z&to=2025-03-01T00:00:00Z", "longer than"},
	} {
		r := p.Do(t, "GET", "/api/v1/persons/p-anna/trajectory?"+c.q+"&"+caseQ, inv, "")
		assert.Equal(t, http.StatusBadRequest, r.StatusCode, "%s: %s", c.q, r.Body)
		assert.Contains(t, string(r.Body), c.want, c.q)
	}
	wantStatus(t, p.Do(t, "GET", "/api/v1/sightings/nope/trajectory?"+caseQ, inv, ""), http.StatusNotFound)
	// The query is recorded with its case and reason before it runs.
	n := 0
	for _, e := range auditActions(t, p.Env, "t-investigator") {
		if e.Action == "trajectory.person" && e.Case == "C-9" && e.Reason == "looking for a missing woman" && e.Target == "/api/v1/persons/p-anna/trajectory" {
			n++
		}
	}
	// The good query and the four refused for their window: the guard records before the handler
	// checks the window. Those refused for their case or role never ran.
	assert.Equal(t, 5, n, "trajectory queries audited")
}

func TestCamerasAndWHEP(t *testing.T) {
	ring := media.NewRing(10*time.Second, 1<<20)
	// A parameter set and a keyframe make the ring ready for viewers; the answer does not need real video.
	ring.Push(media.H264, [][]byte{{0x67, 0x42, 0xc0, 0x1f}, {0x68, 0xce, 0x3c, 0x80}}, media.AccessUnit{Camera: "cam-1", Time: time.Now(),
		NALUs: [][]byte{{0x65, 0x88, 0x84}}, Keyframe: true})
	ls, err := live.NewServer(live.Options{Rings: func(id string) (*media.Ring, bool) {
		if id == "cam-1" {
			return ring, true
		}
		return nil, false
	}, IncludeLoopback: true})
	require.NoError(t, err)
	t.Cleanup(ls.Shutdown)
	p := newProduct(t, func(o *web.APIOptions) { o.Live = ls }, map[auth.Role]auth.Scope{auth.Operator: {Areas: []string{"north"}}})
	op := p.Token(t, auth.Operator)
	var l struct{ Cameras []web.CameraView }
	r := p.Do(t, "GET", "/api/v1/cameras", op, "")
	decode(t, r, &l)
	if assert.Len(t, l.Cameras, 1, "the operator of area north sees %s", r.Body) {
		assert.Equal(t, "cam-1", l.Cameras[0].ID)
	}
	r = p.Do(t, "GET", "/api/v1/cameras", p.Token(t, auth.Admin), "")
	var all struct{ Cameras []web.CameraView }
	decode(t, r, &all)
	if assert.Len(t, all.Cameras, 2, "the admin sees %s", r.Body) {
		assert.False(t, all.Cameras[1].Online)
		assert.Equal(t, -1.0, all.Cameras[1].LastFrameAge)
	}

	pc, err := webrtc.NewPeerConnection(webrtc.Configuration{})
	require.NoError(t, err)
	defer pc.Close()
	_, err = pc.AddTransceiverFromKind(webrtc.RTPCodecTypeVideo, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly})
	require.NoError(t, err)
	offer, err := pc.CreateOffer(nil)
	require.NoError(t, err)
	gathered := webrtc.GatheringCompletePromise(pc)
	require.NoError(t, pc.SetLocalDescription(offer))
	<-gathered
	sdp := pc.LocalDescription().SDP
	send := func(cam, ct, body string) (int, http.Header, string) {
		req, _ := http.NewRequest("POST", p.HTTP.URL+"/api/v1/cameras/"+cam+"/whep", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+op)
		req.Header.Set("Content-Type", ct)
		r := p.Send(t, req)
		return r.StatusCode, r.Header, string(r.Body)
	}
	code, hdr, body := send("cam-1", "application/sdp", sdp)
	require.Equal(t, http.StatusCreated, code, "WHEP: %.80s", body)
	assert.Equal(t, "application/sdp", hdr.Get("Content-Type"))
	assert.True(t, strings.HasPrefix(body, "v=0"), "WHEP answer %.80s", body)
	require.True(t, strings.HasPrefix(hdr.Get("Location"), "/api/v1/cameras/cam-1/whep/"), "WHEP location %q", hdr.Get("Location"))
	assert.Equal(t, 1, ls.Viewers("cam-1"), "viewers")
	code, _, body = send("cam-1", "application/json", sdp)
	assert.Equal(t, http.StatusUnsupportedMediaType, code, "an offer as JSON: %s", body)
	code, _, body = send("cam-1", "application/sdp", "garbage")
	assert.Equal(t, http.StatusBadRequest, code, "a bad offer: %s", body)
	code, _, body = send("cam-2", "application/sdp", sdp)
	assert.Equal(t, http.StatusForbidden, code, "a camera outside the operator's area: %s", body)
	wantStatus(t, p.Do(t, "DELETE", hdr.Get("Location"), op, ""), http.StatusNoContent)
	waitFor(t, func() bool { return ls.Viewers("cam-1") == 0 })
	wantStatus(t, p.Do(t, "DELETE", hdr.Get("Location"), op, ""), http.StatusNotFound)
}
