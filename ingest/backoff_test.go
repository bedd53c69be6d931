package ingest

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestBackoffDoublesWithJitterUpToCap(t *testing.T) {
	b := backoff{min: 100 * time.Millisecond, max: time.Second}
	for i, ceil := range []time.Duration{100, 200, 400, 800, 1000, 1000} {
		ceil *= time.Millisecond
		d := b.next()
		assert.GreaterOrEqual(t, d, ceil/2, "attempt %d", i)
		assert.LessOrEqual(t, d, ceil, "attempt %d", i)
	}
	b.reset()
	assert.LessOrEqual(t, b.next(), 100*time.Millisecond, "the wait after reset")
	// Jitter: many workers failing together spread out.
	seen := map[time.Duration]bool{}
	for range 20 {
		b := backoff{min: time.Second, max: time.Second}
		seen[b.next()] = true
	}
	assert.GreaterOrEqual(t, len(seen), 10, "distinct waits among 20 workers")
}
