package ingest

import (
	"math/rand/v2"
	"time"
)

// backoff is capped exponential backoff with jitter: each wait is drawn from [d/2, d) where d doubles
// from min up to max, so many cameras failing together do not reconnect in lockstep.
type backoff struct {
	min, max time.Duration
	cur      time.Duration
}

func (b *backoff) next() time.Duration {
	if b.cur <= 0 {
		b.cur = b.min
	} else {
		b.cur = min(b.cur*2, b.max)
	}
	half := b.cur / 2
	return half + rand.N(half+1)
}

// reset starts again from min, after a connection that worked.
func (b *backoff) reset() { b.cur = 0 }
