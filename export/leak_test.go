//go:build matprofile

package export_test

import (
	"context"
	"io"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gocv.io/x/gocv"

	"snowlight/export"
)

// TestNoMatLeaks: writing a bundle (pictures decoded, redacted and encoded, a clip re-encoded) leaves
// no gocv Mat alive. Run with: go test -tags matprofile -run TestNoMatLeaks ./export/
func TestNoMatLeaks(t *testing.T) {
	w := newWorld(t)
	before := gocv.MatProfile.Count()
	_, err := export.Write(context.Background(), w.opts, w.req, io.Discard)
	require.NoError(t, err)
	assert.Equal(t, before, gocv.MatProfile.Count())
}
