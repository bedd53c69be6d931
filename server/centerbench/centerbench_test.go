package centerbench_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"snowlight/bus/natsproc"
	"snowlight/server/centerbench"
)

// A few cameras through the whole harness: leased, their sightings stored, named ones alerted.
func TestSmallCity(t *testing.T) {
	if _, err := natsproc.Binary(); err != nil {
		t.Skipf("skipping: needs a real nats-server: %v", err)
	}
	o := centerbench.DefaultOptions()
	o.Cameras, o.Edges, o.Rate = 12, 2, 5
	o.Warmup, o.Duration, o.LeaseLimit = time.Second, 3*time.Second, time.Minute
	o.Dir = t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	rep, err := centerbench.Run(ctx, o)
	require.NoError(t, err)
	assert.Positive(t, rep.Leased)
	assert.Positive(t, rep.Offered)
	assert.Greater(t, rep.Stored, 0.0)
	assert.GreaterOrEqual(t, rep.Alerts, 3, "one named sighting a second")
	assert.LessOrEqual(t, rep.AlertP50, rep.AlertP99)
	assert.Contains(t, rep.Markdown(), "12 cameras at 5.00 sightings/s on 2 edges")
}

func TestRefusesBadOptions(t *testing.T) {
	for name, tune := range map[string]func(*centerbench.Options){
		"no cameras":  func(o *centerbench.Options) { o.Cameras = 0 },
		"no rate":     func(o *centerbench.Options) { o.Rate = 0 },
		"two servers": func(o *centerbench.Options) { o.NATSServers = 2 },
		"no edges":    func(o *centerbench.Options) { o.Edges = 0 },
	} {
		t.Run(name, func(t *testing.T) {
			o := centerbench.DefaultOptions()
			o.Dir = t.TempDir()
			tune(&o)
			_, err := centerbench.Run(context.Background(), o)
			assert.Error(t, err)
		})
	}
}
