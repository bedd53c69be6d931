package auth_test

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"snowlight/auth"
)

// gatedStore holds every user lookup until open is closed, and counts them: each lookup is followed by
// exactly one password hash, so entered is the number of guesses that were checked.
type gatedStore struct {
	auth.Store
	open    chan struct{}
	entered atomic.Int64
}

func (g *gatedStore) UserByName(ctx context.Context, name string) (auth.User, string, error) {
	g.entered.Add(1)
	<-g.open
	return g.Store.UserByName(ctx, name)
}

type outcomes struct{ failed, locked, ok, other int }

func (o *outcomes) add(err error) {
	_, locked := errors.AsType[*auth.LockedError](err)
	switch {
	case err == nil:
		o.ok++
	case locked:
		o.locked++
	case errors.Is(err, auth.ErrBadCredentials):
		o.failed++
	default:
		o.other++
	}
}

// burst starts n logins at once and holds their lookups until every one has either been refused or
// reached the store, so all of them are in flight together whatever the scheduler does.
func burst(t *testing.T, s *auth.Service, g *gatedStore, n int, req func(i int) auth.LoginRequest) outcomes {
	t.Helper()
	var returned atomic.Int64
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			_, errs[i] = s.Login(context.Background(), req(i))
			returned.Add(1)
		})
	}
	require.Eventually(t, func() bool { return returned.Load()+g.entered.Load() >= int64(n) },
		10*time.Second, time.Millisecond, "the burst never got under way")
	close(g.open)
	wg.Wait()
	var o outcomes
	for _, err := range errs {
		o.add(err)
	}
	return o
}

func TestParallelGuessesStopAtTheLimit(t *testing.T) {
	limits := auth.DefaultLoginLimits()
	for _, c := range []struct {
		name  string
		req   func(i int) auth.LoginRequest
		limit int
	}{
		{"one name from many addresses", func(i int) auth.LoginRequest {
			return auth.LoginRequest{Name: "ana", Password: fmt.Sprintf("guess number %d", i), Client: netip.AddrFrom4([4]byte{10, 0, 1, byte(i)}), Kind: auth.KindToken}
		}, limits.PerUser},
		{"many names from one address", func(i int) auth.LoginRequest {
			return auth.LoginRequest{Name: fmt.Sprintf("user%d", i), Password: "guess guess guess", Client: ip1, Kind: auth.KindToken}
		}, limits.PerClient},
	} {
		t.Run(c.name, func(t *testing.T) {
			g := &gatedStore{open: make(chan struct{})}
			s, _, _ := newService(t, func(cfg *auth.Config) {
				g.Store = cfg.Store
				cfg.Store = g
				cfg.MaxConcurrentHashes, cfg.MaxHashQueue = 2, 50 // the queue is not what this tests
			})
			close(g.open) // for adding the account
			addUser(t, s, "ana", auth.Operator, auth.Scope{})
			g.open, g.entered = make(chan struct{}), atomic.Int64{}

			o := burst(t, s, g, 50, c.req)
			assert.Equal(t, outcomes{failed: c.limit, locked: 50 - c.limit}, o)
			assert.EqualValues(t, c.limit, g.entered.Load(), "passwords checked")
			// The limit was reached, so the right password is refused now too.
			_, err := s.Login(context.Background(), c.req(0))
			assert.True(t, isLocked(err), "after the burst: %v", err)
		})
	}
}

// TestCorrectPasswordPastTheLimitRefused: once the guesses in flight fill the name's budget, the right
// password is refused without a check, like any guess inside a lockout; it cannot slip in among them.
func TestCorrectPasswordPastTheLimitRefused(t *testing.T) {
	g := &gatedStore{open: make(chan struct{})}
	s, _, _ := newService(t, func(cfg *auth.Config) { g.Store, cfg.Store = cfg.Store, g })
	close(g.open)
	addUser(t, s, "ana", auth.Operator, auth.Scope{})
	g.open, g.entered = make(chan struct{}), atomic.Int64{}

	o := burst(t, s, g, 51, func(i int) auth.LoginRequest {
		if i == 50 {
			for g.entered.Load() < 5 { // the right password comes last
				time.Sleep(time.Millisecond)
			}
			return auth.LoginRequest{Name: "ana", Password: pw, Client: ip2, Kind: auth.KindSession}
		}
		return auth.LoginRequest{Name: "ana", Password: "a wrong guess", Client: ip1, Kind: auth.KindToken}
	})
	assert.Equal(t, outcomes{failed: 5, locked: 46}, o)
}

// TestBurstDoesNotStarveRealLogins: a burst of guesses costs at most the name's budget in hashes, so
// another user's login in the middle of it finds room in a short queue.
func TestBurstDoesNotStarveRealLogins(t *testing.T) {
	g := &gatedStore{open: make(chan struct{})}
	s, _, _ := newService(t, func(cfg *auth.Config) {
		g.Store, cfg.Store = cfg.Store, g
		// One hash at a time, and room in the queue for the five guesses the limit lets through and bob.
		cfg.MaxConcurrentHashes, cfg.MaxHashQueue = 1, 5
	})
	close(g.open)
	addUser(t, s, "ana", auth.Operator, auth.Scope{})
	addUser(t, s, "bob", auth.Operator, auth.Scope{})
	g.open, g.entered = make(chan struct{}), atomic.Int64{}

	o := burst(t, s, g, 51, func(i int) auth.LoginRequest {
		if i == 50 {
			return auth.LoginRequest{Name: "bob", Password: pw, Client: ip2, Kind: auth.KindSession}
		}
		return auth.LoginRequest{Name: "ana", Password: "a wrong guess", Client: netip.AddrFrom4([4]byte{10, 0, 2, byte(i)}), Kind: auth.KindToken}
	})
	assert.Equal(t, outcomes{failed: 5, locked: 45, ok: 1}, o)
}

// TestHashQueueBounds: past the queue's length or wait a login is refused as busy (HTTP 429) without
// waiting further, and counts as no attempt.
func TestHashQueueBounds(t *testing.T) {
	s, _, _ := newService(t, func(cfg *auth.Config) {
		cfg.MaxConcurrentHashes, cfg.MaxHashQueue, cfg.MaxHashWait = 1, 1, 100*time.Millisecond
	})
	addUser(t, s, "ana", auth.Operator, auth.Scope{})
	release := auth.HoldHashSlots(t, s)
	busy := func(err error) {
		t.Helper()
		le, ok := errors.AsType[*auth.LockedError](err)
		require.True(t, ok, "%v", err)
		assert.True(t, le.Busy)
		assert.Equal(t, "too many logins at once: try again in 0 seconds", le.Error())
	}
	// The first waiter fills the queue, so the second is turned away at once; then the first gives up.
	first := make(chan error)
	go func() { _, err := login(s, "ana", pw, ip1, auth.KindToken); first <- err }()
	require.Eventually(t, func() bool { return auth.HashWaiting(s) == 1 }, 10*time.Second, time.Millisecond)
	_, err := login(s, "ana", pw, ip2, auth.KindToken)
	busy(err)
	busy(<-first)
	release()
	for range 10 { // refused checks counted nothing: the name is not locked
		_, err := login(s, "ana", pw, ip1, auth.KindToken)
		require.NoError(t, err)
	}
}
