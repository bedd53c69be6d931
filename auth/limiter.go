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
type limiter struct {
	max             int
	window, lockout time.Duration

	mu        sync.Mutex
	m         map[string]*failures
	lastPrune time.Time
}

type failures struct {
	first       time.Time
	n           int
	lockedUntil time.Time
}

func newLimiter(max int, window, lockout time.Duration) *limiter {
	return &limiter{max: max, window: window, lockout: lockout, m: make(map[string]*failures)}
}

// locked reports how long key stays locked, or 0.
func (l *limiter) locked(key string, now time.Time) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	if f := l.m[key]; f != nil && now.Before(f.lockedUntil) {
		return f.lockedUntil.Sub(now)
	}
	return 0
}

// fail records a failure and reports whether it locked the key.
func (l *limiter) fail(key string, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.pruneLocked(now)
	f := l.m[key]
	if f == nil || now.Sub(f.first) >= l.window {
		f = &failures{first: now, lockedUntil: timeOrZero(f)}
		l.m[key] = f
	}
	f.n++
	if f.n >= l.max {
		f.lockedUntil = now.Add(l.lockout)
		f.n, f.first = 0, now
		return true
	}
	return false
}

func timeOrZero(f *failures) time.Time {
	if f == nil {
		return time.Time{}
	}
	return f.lockedUntil
}

func (l *limiter) reset(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.m, key)
}

// pruneLocked drops entries that neither lock nor count any more, at most once per window, so memory
// follows the recent failure rate rather than growing for ever.
func (l *limiter) pruneLocked(now time.Time) {
	if now.Sub(l.lastPrune) < l.window {
		return
	}
	l.lastPrune = now
	for k, f := range l.m {
		if now.Sub(f.first) >= l.window && !now.Before(f.lockedUntil) {
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
