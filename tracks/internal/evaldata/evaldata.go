// Package evaldata finds the shared evaluation data (../shared/eval) for the tracking tests.
package evaldata

import (
	"os"
	"path/filepath"
	"testing"
)

// Dir returns the evaluation data directory: $SNOWLIGHT_EVAL, else ../shared/eval beside the
// repository root. It skips the test, saying why, when neither holds the data.
func Dir(t testing.TB) string {
	t.Helper()
	if d := os.Getenv("SNOWLIGHT_EVAL"); d != "" {
		if _, err := os.Stat(filepath.Join(d, "mot")); err == nil {
			return d
		}
		t.Skipf("SNOWLIGHT_EVAL=%s holds no mot/ directory", d)
	}
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for dir := wd; ; dir = filepath.Dir(dir) {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			d := filepath.Join(dir, "..", "shared", "eval")
			if _, err := os.Stat(filepath.Join(d, "mot")); err != nil {
				t.Skipf("evaluation data absent: set SNOWLIGHT_EVAL or provide %s", d)
			}
			return d
		}
		if filepath.Dir(dir) == dir {
			t.Skip("evaluation data absent: no go.mod above the test directory and SNOWLIGHT_EVAL unset")
		}
	}
}

// Path joins elem under Dir and skips when that file is absent.
func Path(t testing.TB, elem ...string) string {
	t.Helper()
	p := filepath.Join(append([]string{Dir(t)}, elem...)...)
	if _, err := os.Stat(p); err != nil {
		t.Skipf("evaluation file absent: %v", err)
	}
	return p
}
