package config_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"snowlight/config"
)

// The nats section has defaults that work on one server and refuses what would not, naming the field.
func TestNATSSection(t *testing.T) {
	parse := func(text string) (*config.Config, error) {
		return config.Parse(strings.NewReader(text), func(string) string { return "" })
	}
	c, err := parse("nats: {urls: [nats://10.0.0.5:4222], seed_file: /etc/snowlight/edge-a.nk, edge: edge-a, capacity: 6}\n" +
		"cameras:\n  - {id: gate, url: rtsp://10.0.1.2/s, edges: [edge-a]}\n")
	require.NoError(t, err)
	assert.Equal(t, []string{"nats://10.0.0.5:4222"}, c.NATS.URLs)
	assert.Equal(t, 1, c.NATS.Replicas)
	assert.Equal(t, 15*time.Second, c.NATS.SessionTTL)
	assert.EqualValues(t, 8<<30, c.NATS.StreamMaxBytes)
	assert.EqualValues(t, 1<<30, c.NATS.Outbox.MaxBytes)
	assert.Equal(t, []string{"edge-a"}, c.Cameras[0].Edges)

	for _, tc := range []struct{ text, field string }{
		{"nats: {urls: [http://10.0.0.5:4222]}", "nats.urls[0]"},
		{"nats: {urls: [\"nats://user:pw@10.0.0.5:4222\"]}", "nats.urls[0]"},
		{"nats: {edge: Edge.A}", "nats.edge"},
		{"nats: {replicas: 2}", "nats.replicas"},
		{"nats: {session_ttl: 100ms}", "nats.session_ttl"},
		{"nats: {capacity: -1}", "nats.capacity"},
		{"cameras: [{id: gate, url: rtsp://h/s, edges: [a, a]}]", "cameras[0].edges[1]"},
		{"cameras: [{id: gate, url: rtsp://h/s, edges: [\"a.b\"]}]", "cameras[0].edges[0]"},
	} {
		_, err := parse(tc.text + "\n")
		assert.ErrorContains(t, err, tc.field, tc.text)
	}
}
