package auth

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// HoldHashSlots takes every hash slot of s, as long-running hashes would, until the returned function
// gives them back. A slot already taken (a login still hashing) fails the test rather than hanging it.
func HoldHashSlots(t testing.TB, s *Service) (release func()) {
	t.Helper()
	for i := range cap(s.hashes.slots) {
		select {
		case s.hashes.slots <- struct{}{}:
		default:
			require.FailNow(t, "a hash slot is taken already", "slot %d of %d", i+1, cap(s.hashes.slots))
		}
	}
	return func() {
		for range cap(s.hashes.slots) {
			s.hashes.release()
		}
	}
}

// HashWaiting is how many password checks wait for a slot.
func HashWaiting(s *Service) int {
	s.hashes.mu.Lock()
	defer s.hashes.mu.Unlock()
	return s.hashes.waiting
}
