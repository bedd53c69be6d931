// Package evaldata finds the shared evaluation data (../shared/eval) for the tracking tests.
package evaldata

import (
	"os"
	"path/filepath"
	"testing"

	"snowlight/internal/shareddata"
)

// Dir returns the evaluation data directory: $SNOWLIGHT_EVAL, else ../shared/eval beside the
// repository root. It skips the test, saying why, when neither holds the data.
func Dir(t testing.TB) string {
	t.Helper()
	d := shareddata.Dir(t, "SNOWLIGHT_EVAL", "eval")
	if _, err := os.Stat(filepath.Join(d, "mot")); err != nil {
		t.Skipf("%s holds no mot/ directory", d)
	}
	return d
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
