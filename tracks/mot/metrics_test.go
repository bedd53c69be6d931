package mot

import (
	"encoding/csv"
	"os"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"snowlight/tracks/internal/evaldata"
)

func readFile(t *testing.T, path string) []Row {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	rows, err := Read(f)
	require.NoError(t, err, "read %s", path)
	return rows
}

// TestTUDStadtmitteMatchesPyMotmetrics scores the tracker output py-motmetrics ships against its
// ground truth and compares every metric with the values py-motmetrics' own test asserts.
func TestTUDStadtmitteMatchesPyMotmetrics(t *testing.T) {
	gt := readFile(t, evaldata.Path(t, "mot", "py-motmetrics", "TUD-Stadtmitte", "gt.txt"))
	res := readFile(t, evaldata.Path(t, "mot", "py-motmetrics", "TUD-Stadtmitte", "test.txt"))
	f, err := os.Open(evaldata.Path(t, "mot", "py-motmetrics", "expected_metrics.csv"))
	require.NoError(t, err)
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	require.NoError(t, err)
	require.Len(t, recs, 2, "expected_metrics.csv: a header and one row of values")
	want := map[string]float64{}
	for i, col := range recs[0] {
		if v, err := strconv.ParseFloat(recs[1][i], 64); err == nil {
			want[col] = v
		}
	}

	m, err := Evaluate(gt, res, Options{})
	require.NoError(t, err)
	got := map[string]float64{
		"idf1": m.IDF1, "idp": m.IDP, "idr": m.IDR, "recall": m.Recall, "precision": m.Precision,
		"num_unique_objects(GT)": float64(m.GT), "mostly_tracked(MT)": float64(m.MT),
		"partially_tracked(PT)": float64(m.PT), "mostly_lost(ML)": float64(m.ML),
		"num_false_positives(FP)": float64(m.FP), "num_misses(FN)": float64(m.FN),
		"num_switches(IDs)": float64(m.IDSW), "num_fragmentations(FM)": float64(m.Frag),
		"mota": m.MOTA, "motp_distance(1-IoU)": m.MOTP,
	}
	for key, g := range got {
		w, ok := want[key]
		if assert.True(t, ok, "expected_metrics.csv has no column %q", key) {
			assert.InDelta(t, w, g, 1e-3, "%s against py-motmetrics", key)
		}
	}
	assert.Equal(t, 1156, m.Objects, "ground-truth boxes scored")
	assert.Equal(t, 179, m.Frames, "frames scored")
	t.Logf("%+v", m)
}
