package auth

import "testing"

// HoldHashSlots takes every hash slot of s, as long-running hashes would, until the returned function
// gives them back.
func HoldHashSlots(t testing.TB, s *Service) (release func()) {
	t.Helper()
	for range cap(s.hashes.slots) {
		s.hashes.slots <- struct{}{}
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
