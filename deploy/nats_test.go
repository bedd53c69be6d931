package deploy_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"snowlight/bus/lease"
	"snowlight/config"
	"snowlight/deploy"
)

// The nats section becomes what the bus packages take; cameras an edge can connect to are given out
// with the edges they may go to, recorded-only cameras are not.
func TestNATS(t *testing.T) {
	cfg, err := config.Parse(strings.NewReader(`data_dir: /var/lib/snowlight
nats: {urls: [nats://a:4222, nats://b:4222, nats://c:4222], seed_file: /etc/snowlight/center.nk, replicas: 3, session_ttl: 20s}
cameras:
  - {id: gate, url: rtsp://10.0.1.2/s, edges: [edge-a]}
  - {id: yard, url: rtsp://10.0.1.3/s}
  - {id: old, recording: {file: /v/old.mp4, start: "2024-05-01T08:00:00Z"}}
`), func(string) string { return "" })
	require.NoError(t, err)
	d, err := deploy.Decode(cfg)
	require.NoError(t, err)
	n := d.NATS
	assert.Equal(t, []string{"nats://a:4222", "nats://b:4222", "nats://c:4222"}, n.Connect.URLs)
	assert.Equal(t, "/etc/snowlight/center.nk", n.Connect.SeedFile)
	assert.Equal(t, 3, n.Stream.Replicas)
	assert.Equal(t, 3, n.Leases.Replicas)
	assert.Equal(t, 20*time.Second, n.Leases.SessionTTL)
	assert.Equal(t, "/var/lib/snowlight/outbox", n.OutboxDir)
	assert.Equal(t, []lease.Camera{{ID: "gate", Edges: []string{"edge-a"}}, {ID: "yard"}}, d.LeaseCameras())
}
