package auth

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// hashQueue bounds password hashing: at most cap(slots) hashes run at once (each takes
// Argon2.MemoryKiB), at most maxWaiting callers wait for a slot, and none waits longer than maxWait.
// Past either bound a password check is refused at once, so a flood of logins costs the attacker a
// quick 429 instead of making every real login wait behind it.
type hashQueue struct {
	slots      chan struct{}
	maxWaiting int
	maxWait    time.Duration

	mu      sync.Mutex
	waiting int
}

func newHashQueue(slots, maxWaiting int, maxWait time.Duration) *hashQueue {
	return &hashQueue{slots: make(chan struct{}, slots), maxWaiting: maxWaiting, maxWait: maxWait}
}

// acquire takes a slot. With bounded set it gives up past the queue's length or wait with a *LockedError
// (Busy); otherwise it waits as long as ctx allows (for hashes an administrator asked for).
func (q *hashQueue) acquire(ctx context.Context, bounded bool) error {
	select {
	case q.slots <- struct{}{}:
		return nil
	default:
	}
	var timeout <-chan time.Time
	if bounded {
		if !q.enqueue() {
			return &LockedError{RetryAfter: q.maxWait, Busy: true}
		}
		defer q.dequeue()
		t := time.NewTimer(q.maxWait)
		defer t.Stop()
		timeout = t.C
	}
	select {
	case q.slots <- struct{}{}:
		return nil
	case <-timeout:
		return &LockedError{RetryAfter: q.maxWait, Busy: true}
	case <-ctx.Done():
		return fmt.Errorf("wait to hash password: %w", ctx.Err())
	}
}

func (q *hashQueue) release() { <-q.slots }

func (q *hashQueue) enqueue() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.waiting >= q.maxWaiting {
		return false
	}
	q.waiting++
	return true
}

func (q *hashQueue) dequeue() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.waiting--
}
