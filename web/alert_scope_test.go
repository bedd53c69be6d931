package web_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"snowlight/audit"
	"snowlight/auth"
	"snowlight/watchlist"
	"snowlight/web"
)

// walk is an alert about p-anna raised at cam-1 (north) after she was seen at cam-1 and then at
// cam-2 (south): evidence from two cameras, of which an operator assigned cam-1 may see one.
type walk struct {
	faces, snaps [2]string // stored object keys by camera: cam-1, cam-2
}

func raiseWalk(t *testing.T, p *product) walk {
	t.Helper()
	ctx := context.Background()
	var w walk
	var sightings []web.SightingView
	var crops []web.FaceCrop
	for i, cam := range []struct{ id, name string }{{"cam-1", "Market St"}, {"cam-2", "Harbour"}} {
		face, err := p.W.Put(ctx, "face", "png", "image/png", testPNG(t, 40+i, 40))
		require.NoError(t, err)
		snap, err := p.W.Put(ctx, "snapshot", "png", "image/png", testPNG(t, 200+i, 100))
		require.NoError(t, err)
		w.faces[i], w.snaps[i] = face.Key, snap.Key
		s := web.SightingView{ID: "walk-" + cam.id, Trajectory: "walk", Camera: cam.id, CameraName: cam.name,
			Enter: t0.Add(time.Duration(i-2) * 10 * time.Minute), Exit: t0.Add(time.Duration(i-2)*10*time.Minute + time.Minute),
			PersonID: "p-anna", Score: 0.7, Snapshot: snap, Face: face}
		sightings = append(sightings, s)
		crops = append(crops, web.FaceCrop{Image: face, Similarity: 0.7, Time: s.Enter, Camera: cam.id})
	}
	p.W.Trajectories.Add(sightings...)
	p.W.Alerts.Raise(web.AlertDetail{AlertView: web.AlertView{ID: "a-walk", Rule: "watchlist_hit", Severity: "high", Title: "At-risk person seen",
		Camera: "cam-1", CameraName: "Market St", Area: "north", Position: &posCam1, PersonID: "p-anna", PersonName: "Anna K",
		Category: watchlist.AtRisk, Score: 0.7, Biometric: true, ConfirmationsRequired: 1, Snapshot: web.Media{Key: w.snaps[0]}, Face: web.Media{Key: w.faces[0]}},
		Crops: crops, Sightings: sightings})
	return w
}

// keyIn reports whether an answer links the object (links carry the key in their path).
func keyIn(body []byte, key string) bool { return strings.Contains(string(body), key) }

// TestAlertDetailShowsOnlyTheCallersCameras is the regression test of the leak found in review: an
// operator assigned one camera opened an alert and got the person's sightings, face crops and path on
// other cameras, with links that downloaded. The detail now carries the evidence of the caller's
// cameras only, and the path is a trajectory query with the roles, case and reason of one.
func TestAlertDetailShowsOnlyTheCallersCameras(t *testing.T) {
	p := newProduct(t, nil, map[auth.Role]auth.Scope{auth.Operator: {Cameras: []string{"cam-1"}}})
	w := raiseWalk(t, p)
	op := p.Token(t, auth.Operator)

	r := p.Do(t, "GET", "/api/v1/alerts/a-walk", op, "")
	require.Equal(t, http.StatusOK, r.StatusCode, string(r.Body))
	var d struct {
		Sightings []struct{ ID, Camera string }
		Crops     []struct{ Camera string }
		Path      []any
	}
	decode(t, r, &d)
	require.Len(t, d.Sightings, 1, string(r.Body))
	assert.Equal(t, "walk-cam-1", d.Sightings[0].ID)
	require.Len(t, d.Crops, 1)
	assert.Equal(t, "cam-1", d.Crops[0].Camera)
	assert.Empty(t, d.Path, "the path is a trajectory query, not part of the alert")
	for _, leak := range []string{"Harbour", "cam-2", "walk-cam-2", w.faces[1], w.snaps[1]} {
		assert.False(t, keyIn(r.Body, leak), "operator of cam-1 is shown %q: %s", leak, r.Body)
	}
	assert.True(t, keyIn(r.Body, w.faces[0]) && keyIn(r.Body, w.snaps[0]), "the evidence of cam-1 is linked: %s", r.Body)

	// The patrol sent to the alert sees the evidence of the camera it is sent to, not of others, and
	// no enrolment photos (the photo route does not admit patrols).
	admin := p.Token(t, auth.Admin)
	for _, step := range []string{"confirm", "dispatch"} {
		wantStatus(t, p.Do(t, "POST", "/api/v1/alerts/a-walk/"+step, admin, ""), http.StatusOK)
	}
	r = p.Do(t, "GET", "/api/v1/alerts/a-walk", p.Token(t, auth.Patrol), "")
	require.Equal(t, http.StatusOK, r.StatusCode, string(r.Body))
	var pd web.AlertDetail
	decode(t, r, &pd)
	require.Len(t, pd.Sightings, 1)
	assert.Equal(t, "cam-1", pd.Sightings[0].Camera)
	assert.Empty(t, pd.EnrolmentPhotos)
	assert.False(t, keyIn(r.Body, w.faces[1]) || keyIn(r.Body, w.snaps[1]), "the patrol is shown cam-2's evidence")

	// Objects are served by signed link only: without the link the server gave, nothing downloads.
	for _, key := range []string{w.faces[1], w.snaps[1]} {
		for _, token := range []string{"", op} {
			got := p.Do(t, "GET", web.ObjectsPath+"/"+key, token, "")
			assert.Equal(t, http.StatusForbidden, got.StatusCode, "unsigned download of %s", key)
		}
	}

	// The path: not for operators; for investigators with a case and a reason, recorded like a
	// trajectory query, with every camera.
	wantStatus(t, p.Do(t, "GET", "/api/v1/alerts/a-walk/path?case=K-1&reason=curious+operator+check", op, ""), http.StatusForbidden)
	inv := p.Token(t, auth.Investigator)
	wantStatus(t, p.Do(t, "GET", "/api/v1/alerts/a-walk/path", inv, ""), http.StatusBadRequest)
	r = p.Do(t, "GET", "/api/v1/alerts/a-walk/path?case=K-1&reason=where+did+she+go+from+here", inv, "")
	require.Equal(t, http.StatusOK, r.StatusCode, string(r.Body))
	var path web.TrajectoryView
	decode(t, r, &path)
	var ids []string
	for _, s := range path.Sightings {
		ids = append(ids, s.ID)
	}
	assert.Subset(t, ids, []string{"walk-cam-1", "walk-cam-2"})
	assert.True(t, keyIn(r.Body, w.faces[1]), "the investigator's path links the evidence of cam-2")
	es, err := p.Audit.List(context.Background(), audit.Filter{Actor: "t-investigator", Limit: audit.MaxPage})
	require.NoError(t, err)
	var recorded []string
	for _, e := range es {
		recorded = append(recorded, e.Action+" "+e.Target+" "+e.Case+": "+e.Reason)
	}
	assert.Contains(t, recorded, "trajectory.alert /api/v1/alerts/a-walk/path K-1: where did she go from here")
}
