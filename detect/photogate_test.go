package detect

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"snowlight/detect/photo"
)

func (g *photoGate) state() (used, peak int64, waiting int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.used, g.peak, len(g.waiting)
}

func waitForWaiters(t *testing.T, g *photoGate, n int) {
	t.Helper()
	require.Eventually(t, func() bool { _, _, w := g.state(); return w == n }, 10*time.Second, time.Millisecond)
}

func TestPhotoGateOrderAndBudget(t *testing.T) {
	g := newPhotoGate(100)
	ctx := context.Background()
	relA, err := g.acquire(ctx, 60)
	require.NoError(t, err)
	granted := make(chan string, 3)
	take := func(name string, n int64) {
		rel, err := g.acquire(ctx, n)
		if err == nil {
			granted <- name
			defer rel()
		}
	}
	var wg sync.WaitGroup
	wg.Go(func() { take("B", 60) })
	waitForWaiters(t, g, 1)
	wg.Go(func() { take("C", 10) }) // would fit now, but does not overtake B
	waitForWaiters(t, g, 2)
	assert.Empty(t, granted)

	// A waiter that gives up leaves the queue.
	cctx, cancel := context.WithCancel(ctx)
	errs := make(chan error)
	go func() { _, err := g.acquire(cctx, 30); errs <- err }()
	waitForWaiters(t, g, 3)
	cancel()
	assert.ErrorIs(t, <-errs, context.Canceled)

	relA()
	wg.Wait()
	assert.ElementsMatch(t, []string{"B", "C"}, []string{<-granted, <-granted})
	used, peak, waiting := g.state()
	assert.Zero(t, used)
	assert.Zero(t, waiting)
	assert.LessOrEqual(t, peak, int64(100))

	// More than the whole budget runs alone.
	rel, err := g.acquire(ctx, 1000)
	require.NoError(t, err)
	used, _, _ = g.state()
	assert.EqualValues(t, 100, used)
	rel()
}

// TestParallelEnrolmentPhotosShareTheMemoryBudget sends enrolment photos in parallel, as concurrent
// API requests do, through a budget that holds one photo: they are decoded one after another, all
// succeed, and the memory reserved never exceeds the budget. A caller that gives up while waiting
// gets its context's error.
func TestParallelEnrolmentPhotosShareTheMemoryBudget(t *testing.T) {
	p := newPipeline(t, false)
	data, err := os.ReadFile(filepath.Join(evalDir(t), "faces", "face_recognition", "examples", "obama.jpg"))
	require.NoError(t, err)
	h, err := photo.Inspect(data, photo.DefaultLimits())
	require.NoError(t, err)
	one := photoMemory(h)
	p.photos = newPhotoGate(one + one/2)

	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Go(func() {
			_, _, errs[i] = p.EmbedPhoto(t.Context(), PhotoInput{Name: "obama.jpg", Data: data}, DefaultEnrolmentRules())
		})
	}
	wg.Wait()
	for _, err := range errs {
		assert.NoError(t, err)
	}
	_, peak, _ := p.photos.state()
	assert.Equal(t, one, peak, "more than one photo in memory at once")

	release, err := p.photos.acquire(t.Context(), one)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error)
	go func() {
		_, _, err := p.EmbedPhoto(ctx, PhotoInput{Name: "obama.jpg", Data: data}, DefaultEnrolmentRules())
		done <- err
	}()
	waitForWaiters(t, p.photos, 1)
	cancel()
	err = <-done
	assert.ErrorIs(t, err, context.Canceled)
	assert.ErrorContains(t, err, "obama.jpg: waiting for memory to decode it")
	release()
}
