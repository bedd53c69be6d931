package mot

import (
	"encoding/csv"
	"math"
	"os"
	"strconv"
	"testing"

	"snowlight/tracks/internal/evaldata"
)

func readFile(t *testing.T, path string) []Row {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := Read(f)
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	return rows
}

// TestTUDStadtmitteMatchesPyMotmetrics scores the tracker output py-motmetrics ships against its
// ground truth and compares every metric with the values py-motmetrics' own test asserts.
func TestTUDStadtmitteMatchesPyMotmetrics(t *testing.T) {
	gt := readFile(t, evaldata.Path(t, "mot", "py-motmetrics", "TUD-Stadtmitte", "gt.txt"))
	res := readFile(t, evaldata.Path(t, "mot", "py-motmetrics", "TUD-Stadtmitte", "test.txt"))
	f, err := os.Open(evaldata.Path(t, "mot", "py-motmetrics", "expected_metrics.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]float64{}
	for i, col := range recs[0] {
		if v, err := strconv.ParseFloat(recs[1][i], 64); err == nil {
			want[col] = v
		}
	}

	m, err := Evaluate(gt, res, Options{})
	if err != nil {
		t.Fatal(err)
	}
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
		if !ok {
			t.Errorf("expected_metrics.csv has no column %q", key)
			continue
		}
		if math.Abs(g-w) > 1e-3 {
			t.Errorf("%s = %.6f, py-motmetrics %.6f", key, g, w)
		}
	}
	if m.Objects != 1156 || m.Frames != 179 {
		t.Errorf("scored %d boxes over %d frames, want 1156 over 179", m.Objects, m.Frames)
	}
	t.Logf("%+v", m)
}
