package web_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"snowlight/audit"
	"snowlight/auth"
	"snowlight/web"
)

// TestPatrolMovesAreScopedAndRecorded checks who may move a patrol unit and that a move made for a
// unit is in the audit log. Where a unit is decides whom the nearest-unit dispatch asks: an operator
// of the north moving a southern unit next to a northern alert would take that alert from the unit
// that is really near, so the move is refused and the dispatch goes where it should.
func TestPatrolMovesAreScopedAndRecorded(t *testing.T) {
	p := newProduct(t, nil, map[auth.Role]auth.Scope{auth.Operator: {Areas: []string{"north"}}})
	op, admin, patrol := p.Token(t, auth.Operator), p.Token(t, auth.Admin), p.Token(t, auth.Patrol)
	nextToCam1 := `{"position":{"lat":52.0101,"lon":4.3501}}`

	r := p.Do(t, "POST", "/api/v1/patrols/u-far/position", op, nextToCam1)
	assert.Equal(t, http.StatusForbidden, r.StatusCode, "operator of the north moved a southern unit: %s", r.Body)
	r = p.Do(t, "POST", "/api/v1/patrols/u-near/position", op, `{"position":{"lat":52.0102,"lon":4.3502},"status":"available"}`)
	require.Equal(t, http.StatusOK, r.StatusCode, string(r.Body))
	wantStatus(t, p.Do(t, "POST", "/api/v1/patrols/u-none/position", op, nextToCam1), http.StatusNotFound)

	// The nearest unit to the northern alert is still the northern one.
	wantStatus(t, p.Do(t, "POST", "/api/v1/alerts/a-bob/confirm", op, ""), http.StatusOK)
	wantStatus(t, p.Do(t, "POST", "/api/v1/alerts/a-bob/confirm", admin, ""), http.StatusOK)
	r = p.Do(t, "POST", "/api/v1/alerts/a-bob/dispatch", op, "")
	require.Equal(t, http.StatusOK, r.StatusCode, string(r.Body))
	var v web.AlertView
	decode(t, r, &v)
	assert.Equal(t, "u-near", v.Patrol)

	// An admin moves any unit; a unit's crew reports its own position (its telemetry, not recorded).
	wantStatus(t, p.Do(t, "POST", "/api/v1/patrols/u-far/position", admin, `{"position":{"lat":52.05,"lon":4.41},"status":"offline"}`), http.StatusOK)
	wantStatus(t, p.Do(t, "POST", "/api/v1/patrols/u-near/position", patrol, `{"position":{"lat":52.0103,"lon":4.3503}}`), http.StatusOK)
	es, err := p.Audit.List(t.Context(), audit.Filter{Action: "patrol.move", Limit: audit.MaxPage})
	require.NoError(t, err)
	var moves []string
	for _, e := range es {
		moves = append(moves, e.Actor+" "+e.Target+" "+e.Details["from"]+" -> "+e.Details["to"]+" "+e.Details["status"])
	}
	assert.Equal(t, []string{
		"t-operator u-near 52.010500,4.350500 -> 52.010200,4.350200 ",
		"t-admin u-far 52.050000,4.400000 -> 52.050000,4.410000 available -> offline",
	}, moves)
}
