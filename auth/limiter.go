package auth

import (
	"net/netip"
	"sync"
	"time"
)

// LoginLimits bound password guessing. Failures are counted per user name (whether or not the account
// exists, so a lockout says nothing about which names are real) and per client address; reaching either
// limit within Window locks that name or address for Lockout.
type LoginLimits struct {
	PerUser   int
	PerClient int
	Window    time.Duration
	Lockout   time.Duration
}

// DefaultLoginLimits: 5 failures per name or 20 per address in 15 minutes lock for 15 minutes.
func DefaultLoginLimits() LoginLimits {
	return LoginLimits{PerUser: 5, PerClient: 20, Window: 15 * time.Minute, Lockout: 15 * time.Minute}
}

// limiter counts failures per key in a fixed window that starts at the first failure.
//
// An attempt is counted when it starts, before its password is hashed: begin reserves one of the key's
// max attempts and end turns the reservation into a failure or releases it. Attempts still being checked
// use up the budget like failures do, so a burst of parallel guesses gets at most max answers and the
// rest are refused without a hash. Counting only after hashing let every request of a burst pass the
// lock check before the first failure was recorded.
type limiter struct {
	max             int
	window, lockout time.Duration

	mu        sync.Mutex
	m         map[string]*failures
	lastPrune time.Time
}

type failures struct {
	first       time.Time
	n           int // failures in the window starting at first
	pending     int // attempts begun and not yet ended
	lockedUntil time.Time
}

func newLimiter(max int, window, lockout time.Duration) *limiter {
	return &limiter{max: max, window: window, lockout: lockout, m: make(map[string]*failures)}
}

// begin reserves an attempt for key. It returns 0 when the attempt may go ahead (and must then be ended
// with end or cancel), or how long the key stays locked, or busy when the attempts already being checked
// fill the budget (they end within seconds, and lock the key if they all fail).
func (l *limiter) begin(key string, now time.Time) (locked time.Duration, busy bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.pruneLocked(now)
	f := l.m[key]
	if f == nil {
		f = &failures{}
		l.m[key] = f
	}
	if now.Before(f.lockedUntil) {
		return f.lockedUntil.Sub(now), false
	}
	if now.Sub(f.first) >= l.window {
		f.n = 0
	}
	if f.n+f.pending >= l.max {
		return 0, true
	}
	f.pending++
	return 0, false
}

// end closes an attempt begun with begin. A failure is counted and may lock the key (reported by
// lockedNow); a success clears the key's failures when reset is set. Either way it returns how long the
// key stays locked, so a correct password whose check overlapped a lockout is refused too.
func (l *limiter) end(key string, now time.Time, failed, reset bool) (lockedNow bool, locked time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	f := l.m[key]
	if f == nil { // cannot happen: begin created it and prune keeps entries with pending attempts
		return false, 0
	}
	f.pending--
	switch {
	case failed:
		if f.n == 0 || now.Sub(f.first) >= l.window {
			f.first, f.n = now, 0
		}
		f.n++
		if f.n >= l.max {
			f.lockedUntil = now.Add(l.lockout)
			f.n = 0
			lockedNow = true
		}
	case reset:
		f.n = 0
	}
	if now.Before(f.lockedUntil) {
		locked = f.lockedUntil.Sub(now)
	}
	return lockedNow, locked
}

// cancel releases an attempt that never checked a password (no hash slot, store error): it counts as
// nothing, since it told the caller nothing.
func (l *limiter) cancel(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if f := l.m[key]; f != nil {
		f.pending--
	}
}

// pruneLocked drops entries that neither lock, count nor wait any more, at most once per window, so
// memory follows the recent failure rate rather than growing for ever.
func (l *limiter) pruneLocked(now time.Time) {
	if now.Sub(l.lastPrune) < l.window {
		return
	}
	l.lastPrune = now
	for k, f := range l.m {
		if f.pending == 0 && (f.n == 0 || now.Sub(f.first) >= l.window) && !now.Before(f.lockedUntil) {
			delete(l.m, k)
		}
	}
}

// clientKey groups IPv6 clients by /64, the block one subscriber usually holds, so rotating addresses
// inside it does not reset the count.
func clientKey(a netip.Addr) string {
	if !a.IsValid() {
		return ""
	}
	a = a.Unmap()
	if a.Is6() {
		p, err := a.Prefix(64)
		if err == nil {
			return p.String()
		}
	}
	return a.String()
}
