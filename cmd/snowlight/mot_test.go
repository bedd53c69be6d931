package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// motEvalDir finds ../shared/eval (or $SNOWLIGHT_EVAL) and skips when the MOT data is absent.
func motEvalDir(t *testing.T) string {
	t.Helper()
	d := os.Getenv("SNOWLIGHT_EVAL")
	if d == "" {
		d = filepath.Join("..", "..", "..", "shared", "eval")
	}
	if _, err := os.Stat(filepath.Join(d, "mot", "py-motmetrics")); err != nil {
		t.Skipf("MOT evaluation data absent (%v): set SNOWLIGHT_EVAL", err)
	}
	return d
}

func runCLI(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), args, &out, &errb)
	return out.String(), errb.String(), code
}

func TestMotEvalJSONKeys(t *testing.T) {
	dir := filepath.Join(motEvalDir(t), "mot", "py-motmetrics", "TUD-Stadtmitte")
	out, errs, code := runCLI(t, "mot", "eval", "--gt", filepath.Join(dir, "gt.txt"), "--res", filepath.Join(dir, "test.txt"), "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var m map[string]float64
	if err := json.Unmarshal([]byte(out), &m); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	for _, k := range []string{"mota", "motp", "idf1", "idp", "idr", "recall", "precision", "fp", "fn", "idsw", "frag", "mt", "pt", "ml", "gt", "hota"} {
		if _, ok := m[k]; !ok {
			t.Errorf("key %q missing from %s", k, out)
		}
	}
	if m["idsw"] != 7 || m["gt"] != 10 {
		t.Errorf("idsw %v gt %v, want py-motmetrics' 7 and 10", m["idsw"], m["gt"])
	}
}

func TestMotTrackThenEval(t *testing.T) {
	e := motEvalDir(t)
	det := filepath.Join(e, "mot", "sort_mot15_det", "train", "TUD-Stadtmitte", "det", "det.txt")
	gt := filepath.Join(e, "mot", "py-motmetrics", "TUD-Stadtmitte", "gt.txt")
	res := filepath.Join(t.TempDir(), "res.txt")
	mota := map[string]float64{}
	for _, tracker := range []string{"sort", "bytetrack"} {
		if _, errs, code := runCLI(t, "mot", "track", "--det", det, "--out", res, "--fps", "25", "--tracker", tracker); code != 0 {
			t.Fatalf("%s: exit %d: %s", tracker, code, errs)
		}
		out, errs, code := runCLI(t, "mot", "eval", "--gt", gt, "--res", res, "--json")
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errs)
		}
		var m map[string]float64
		if err := json.Unmarshal([]byte(out), &m); err != nil {
			t.Fatal(err)
		}
		mota[tracker] = m["mota"]
	}
	if mota["bytetrack"] <= mota["sort"] {
		t.Errorf("MOTA bytetrack %.3f not above sort %.3f", mota["bytetrack"], mota["sort"])
	}
}

func TestMotBadInput(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "bad.txt")
	if err := os.WriteFile(bad, []byte("1,1,0,0,10\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := [][]string{
		{"mot"},
		{"mot", "frobnicate"},
		{"mot", "eval", "--gt", bad},
		{"mot", "eval", "--gt", bad, "--res", bad},
		{"mot", "track", "--det", bad, "--out", filepath.Join(t.TempDir(), "x")},
		{"mot", "track", "--det", bad, "--out", "x", "--tracker", "nope"},
	}
	for _, args := range tests {
		if _, _, code := runCLI(t, args...); code == 0 {
			t.Errorf("%v: exit 0", args)
		}
	}
}
