package fake

import (
	"context"
	"crypto/rand"
	"fmt"
	"sync"

	"snowlight/live"
)

// Live is a live-view service that negotiates nothing: an offer for one of its cameras starts a
// session (the answer is a placeholder, not SDP a browser could use) that lasts until Close or Leave.
// It lets the API's rules around live views (limits, revocation, audit) be tested without video;
// live.Server is the real one.
type Live struct {
	mu       sync.Mutex
	cameras  map[string]bool
	sessions map[string]liveSession
}

type liveSession struct {
	camera string
	done   chan struct{}
}

// NewLive serves the cameras named; offers for others get live.ErrNoCamera.
func NewLive(cameras ...string) *Live {
	l := &Live{cameras: map[string]bool{}, sessions: map[string]liveSession{}}
	for _, c := range cameras {
		l.cameras[c] = true
	}
	return l
}

func (l *Live) Offer(ctx context.Context, camera, offer string) (string, string, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.cameras[camera] {
		return "", "", fmt.Errorf("%w: %q", live.ErrNoCamera, camera)
	}
	id := rand.Text()
	l.sessions[id] = liveSession{camera: camera, done: make(chan struct{})}
	return "v=0 (fake answer)", id, nil
}

func (l *Live) Close(camera, id string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	s, ok := l.sessions[id]
	if !ok || s.camera != camera {
		return live.ErrNoSession
	}
	delete(l.sessions, id)
	close(s.done)
	return nil
}

// Leave ends a session as a viewer who closed the page would.
func (l *Live) Leave(id string) {
	l.mu.Lock()
	s, ok := l.sessions[id]
	l.mu.Unlock()
	if ok {
		l.Close(s.camera, id)
	}
}

func (l *Live) Done(id string) <-chan struct{} {
	l.mu.Lock()
	defer l.mu.Unlock()
	if s, ok := l.sessions[id]; ok {
		return s.done
	}
	ended := make(chan struct{})
	close(ended)
	return ended
}

// Sessions is the number of sessions running.
func (l *Live) Sessions() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.sessions)
}
