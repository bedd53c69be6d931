package store

import (
	"database/sql"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestRetentionQueryPlans checks that the retention job's per-row work goes through indexes: the
// scan by exit time, the hold and listing checks for each sighting, the key lookups, and the
// trajectory repairs.
func TestRetentionQueryPlans(t *testing.T) {
	db := openTestDB(t)
	seed(t, db)
	named := []any{sql.Named("now", 0), sql.Named("live", 0), sql.Named("ucut", 0), sql.Named("lcut", 0),
		sql.Named("aexit", 0), sql.Named("arid", 0), sql.Named("maxcut", 1), sql.Named("n", 10)}
	refs := objectReferenceQueries()
	queries := map[string]struct {
		q    string
		args []any
		// scans are the tables a plan may scan (small ones, or the JSON list being matched).
		scans []string
	}{
		"candidates":    {sightingCandidatesSQL, named, []string{"persons"}},
		"face refs":     {refs[0].sql, []any{`["a"]`}, []string{"json_each"}},
		"body refs":     {refs[1].sql, []any{`["a"]`}, []string{"json_each"}},
		"members":       {`SELECT id FROM sightings WHERE trajectory = ? ORDER BY enter_ns, rid`, []any{1}, nil},
		"persons of":    {`DELETE FROM trajectory_persons WHERE trajectory = ?1 AND NOT EXISTS (SELECT 1 FROM sightings s WHERE s.trajectory = ?1 AND s.person_id = trajectory_persons.person_id)`, []any{1}, nil},
		"holds of case": {`SELECT ` + holdColumns + ` FROM case_holds WHERE case_number = ? AND kind = ? AND ref = ? AND released_ns IS NULL`, []any{"c", "sighting", "x"}, nil},
	}
	for name, q := range queries {
		rows, err := db.R.Query(`EXPLAIN QUERY PLAN `+q.q, q.args...)
		require.NoError(t, err, name)
		var plan []string
		for rows.Next() {
			var id, parent, notused int
			var detail string
			require.NoError(t, rows.Scan(&id, &parent, &notused, &detail))
			plan = append(plan, detail)
		}
		rows.Close()
		t.Logf("%s: %s", name, strings.Join(plan, "; "))
	next:
		for _, p := range plan {
			if !strings.HasPrefix(p, "SCAN ") && !strings.Contains(p, "USE TEMP B-TREE FOR ORDER BY") {
				continue
			}
			for _, ok := range q.scans {
				if strings.Contains(p, ok) {
					continue next
				}
			}
			assert.Fail(t, "the plan scans a table", "%s: plan %q", name, strings.Join(plan, "; "))
			break
		}
	}
}
