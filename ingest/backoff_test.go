package ingest

import (
	"testing"
	"time"
)

func TestBackoffDoublesWithJitterUpToCap(t *testing.T) {
	b := backoff{min: 100 * time.Millisecond, max: time.Second}
	for i, ceil := range []time.Duration{100, 200, 400, 800, 1000, 1000} {
		ceil *= time.Millisecond
		d := b.next()
		if d < ceil/2 || d > ceil {
			t.Errorf("attempt %d waits %v, want within [%v, %v]", i, d, ceil/2, ceil)
		}
	}
	b.reset()
	if d := b.next(); d > 100*time.Millisecond {
		t.Errorf("after reset waits %v", d)
	}
	// Jitter: many workers failing together spread out.
	seen := map[time.Duration]bool{}
	for range 20 {
		b := backoff{min: time.Second, max: time.Second}
		seen[b.next()] = true
	}
	if len(seen) < 10 {
		t.Errorf("only %d distinct waits among 20 workers", len(seen))
	}
}
