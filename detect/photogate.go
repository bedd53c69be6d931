package detect

import (
	"context"
	"slices"
	"sync"
)

// DefaultPhotoMemory is how much memory photos being enrolled may take at once unless Config says
// otherwise: room for the largest photo the default limits admit (about 700 MB at its peak) to run
// alone, or several ordinary ones together.
const DefaultPhotoMemory = 768 << 20

// photoGate bounds the memory that photos being decoded and searched take at once. Each reserves what
// its header says it will need and waits its turn, first come first served, until that fits; a photo
// that needs more than the whole budget runs alone. Without it, parallel enrolment requests each
// decode their photos at once, and a handful of large ones exhaust memory.
type photoGate struct {
	budget int64

	mu      sync.Mutex
	used    int64
	peak    int64 // the most ever reserved at once
	waiting []*photoWaiter
}

type photoWaiter struct {
	n     int64
	ready chan struct{}
}

func newPhotoGate(budget int64) *photoGate { return &photoGate{budget: budget} }

// acquire reserves n bytes, waiting while ctx allows, and returns the function that gives them back.
func (g *photoGate) acquire(ctx context.Context, n int64) (release func(), err error) {
	n = min(max(n, 1), g.budget)
	release = func() {
		g.mu.Lock()
		defer g.mu.Unlock()
		g.used -= n
		g.grantLocked()
	}
	g.mu.Lock()
	if len(g.waiting) == 0 && g.used+n <= g.budget {
		g.reserveLocked(n)
		g.mu.Unlock()
		return release, nil
	}
	w := &photoWaiter{n: n, ready: make(chan struct{})}
	g.waiting = append(g.waiting, w)
	g.mu.Unlock()
	select {
	case <-w.ready:
		return release, nil
	case <-ctx.Done():
		g.mu.Lock()
		defer g.mu.Unlock()
		select {
		case <-w.ready: // granted meanwhile: give it back
			g.used -= n
		default:
			g.waiting = slices.DeleteFunc(g.waiting, func(o *photoWaiter) bool { return o == w })
		}
		g.grantLocked() // the first in line may have been this one
		return nil, ctx.Err()
	}
}

// grantLocked lets waiters go in order while the first of them fits.
func (g *photoGate) grantLocked() {
	for len(g.waiting) > 0 && g.used+g.waiting[0].n <= g.budget {
		w := g.waiting[0]
		g.waiting = g.waiting[1:]
		g.reserveLocked(w.n)
		close(w.ready)
	}
}

func (g *photoGate) reserveLocked(n int64) {
	g.used += n
	g.peak = max(g.peak, g.used)
}
