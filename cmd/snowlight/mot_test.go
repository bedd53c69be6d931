package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
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
	require.Equal(t, 0, code, "exit code: %s", errs)
	var m map[string]float64
	require.NoError(t, json.Unmarshal([]byte(out), &m), out)
	for _, k := range []string{"mota", "motp", "idf1", "idp", "idr", "recall", "precision", "fp", "fn", "idsw", "frag", "mt", "pt", "ml", "gt", "hota"} {
		assert.Contains(t, m, k, "keys of %s", out)
	}
	assert.Equal(t, 7.0, m["idsw"], "idsw, want py-motmetrics'")
	assert.Equal(t, 10.0, m["gt"], "gt, want py-motmetrics'")
}

func TestMotTrackThenEval(t *testing.T) {
	e := motEvalDir(t)
	det := filepath.Join(e, "mot", "sort_mot15_det", "train", "TUD-Stadtmitte", "det", "det.txt")
	gt := filepath.Join(e, "mot", "py-motmetrics", "TUD-Stadtmitte", "gt.txt")
	res := filepath.Join(t.TempDir(), "res.txt")
	mota := map[string]float64{}
	for _, tracker := range []string{"sort", "bytetrack"} {
		_, errs, code := runCLI(t, "mot", "track", "--det", det, "--out", res, "--fps", "25", "--tracker", tracker)
		require.Equal(t, 0, code, "%s: exit code: %s", tracker, errs)
		out, errs, code := runCLI(t, "mot", "eval", "--gt", gt, "--res", res, "--json")
		require.Equal(t, 0, code, "exit code: %s", errs)
		var m map[string]float64
		require.NoError(t, json.Unmarshal([]byte(out), &m))
		mota[tracker] = m["mota"]
	}
	assert.Greater(t, mota["bytetrack"], mota["sort"], "MOTA of bytetrack, of sort")
}

func TestMotBadInput(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "bad.txt")
	require.NoError(t, os.WriteFile(bad, []byte("1,1,0,0,10\n"), 0o644))
	tests := [][]string{
		{"mot"},
		{"mot", "frobnicate"},
		{"mot", "eval", "--gt", bad},
		{"mot", "eval", "--gt", bad, "--res", bad},
		{"mot", "track", "--det", bad, "--out", filepath.Join(t.TempDir(), "x")},
		{"mot", "track", "--det", bad, "--out", "x", "--tracker", "nope"},
	}
	for _, args := range tests {
		_, _, code := runCLI(t, args...)
		assert.NotZero(t, code, "%v: exit code", args)
	}
}
