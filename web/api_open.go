package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"

	"snowlight/audit"
	"snowlight/auth"
)

// What a user holds open: alert streams and live views, each bounded per user (a browser with a dozen
// tabs, or a script, must not take every subscription or every viewer place), and each ended with
// the login that opened it (see login.go).

// perUser counts what each user holds open.
type perUser struct {
	mu sync.Mutex
	n  map[int64]int
}

// take holds one of at most max places for user; false when they hold max already.
func (c *perUser) take(user int64, max int) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n == nil {
		c.n = map[int64]int{}
	}
	if c.n[user] >= max {
		return false
	}
	c.n[user]++
	return true
}

// give returns a place taken.
func (c *perUser) give(user int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n[user]--; c.n[user] <= 0 {
		delete(c.n, user)
	}
}

// tooMany answers 429 for a user at their limit of something held open.
func tooMany(w http.ResponseWriter, what string, max int) {
	w.Header().Set("Retry-After", "10")
	WriteError(w, http.StatusTooManyRequests, fmt.Sprintf("you have %d %s open, the most one user may: close one (another console tab?) and try again", max, what))
}

// liveViews are the live sessions opened through this API, by session id.
type liveViews struct {
	mu    sync.Mutex
	views map[string]*liveView
	users perUser
}

// liveView is one user's live session of one camera.
type liveView struct {
	id, camera string
	p          auth.Principal
	start      time.Time
	why        string // why it ended, when something here ended it
}

func (l *liveViews) add(v *liveView) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.views == nil {
		l.views = map[string]*liveView{}
	}
	l.views[v.id] = v
}

// get returns the view id of camera if p may close it: their own, or any for an admin.
func (l *liveViews) get(id, camera string, p auth.Principal) (*liveView, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	v, ok := l.views[id]
	if !ok || v.camera != camera || v.p.User.ID != p.User.ID && p.User.Role != auth.Admin {
		return nil, false
	}
	return v, true
}

// ending records why the view ends, if nothing said so before.
func (l *liveViews) ending(v *liveView, why string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if v.why == "" {
		v.why = why
	}
}

// remove forgets an ended view and frees its user's place; it returns why it ended.
func (l *liveViews) remove(v *liveView) string {
	l.mu.Lock()
	delete(l.views, v.id)
	why := v.why
	l.mu.Unlock()
	l.users.give(v.p.User.ID)
	if why == "" {
		why = "the viewer left or the server stopped"
	}
	return why
}

// superviseLive watches a live view until it ends: it closes the view when the login that opened it
// ends or may no longer see the camera, and then records the end with who watched, what, how long
// and why.
func (a *api) superviseLive(l login, v *liveView) {
	done := a.o.Live.Done(v.id)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-done:
			cancel()
		case <-ctx.Done():
		}
	}()
	u, err := l.watch(ctx)
	for errors.Is(err, errAccessChanged) && l.as(u).p.CanSeeCamera(v.camera, a.o.Cameras.Area(v.camera)) {
		l = l.as(u)
		u, err = l.watch(ctx)
	}
	if err != nil {
		a.live.ending(v, err.Error())
		if cerr := a.o.Live.Close(v.camera, v.id); cerr != nil {
			a.log.Warn("close a live view whose login ended", "camera", v.camera, "session", v.id, "err", cerr)
		}
		<-done
	}
	why := a.live.remove(v)
	rec := audit.Record{Actor: v.p.User.Name, Role: string(v.p.User.Role), Action: "live.stop", Target: v.camera,
		Details: map[string]string{"session": v.id, "reason": why,
			"seconds": strconv.FormatFloat(a.o.Now().Sub(v.start).Seconds(), 'f', 0, 64)}}
	actx, acancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer acancel()
	if _, err := a.o.Audit.Append(actx, rec); err != nil {
		a.log.Error("record the end of a live view", "camera", v.camera, "user", v.p.User.Name, "err", err)
	}
}
