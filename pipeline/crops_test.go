package pipeline

import (
	"image"
	"image/color"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gocv.io/x/gocv"

	"snowlight/colour"
	"snowlight/tracks"
)

// TestBodyColours: the colours come from the person's box of the frame (a maroon top and navy
// trousers on a green background), not from around it, and a box outside the frame says nothing.
func TestBodyColours(t *testing.T) {
	frame := gocv.NewMatWithSizeFromScalar(gocv.NewScalar(40, 160, 40, 0), 480, 640, gocv.MatTypeCV8UC3)
	defer frame.Close()
	box := tracks.Box{X: 300, Y: 60, W: 120, H: 360}
	fill := func(r image.Rectangle, c color.RGBA) {
		gocv.Rectangle(&frame, r, c, -1)
	}
	fill(image.Rect(300, 60, 420, 240), color.RGBA{R: 0x7a, G: 0x2e, B: 0x2e})  // maroon
	fill(image.Rect(300, 240, 420, 420), color.RGBA{R: 0x2b, G: 0x3a, B: 0x5a}) // navy

	c := frameCrops{frame: frame, body: box, quality: 90}
	d := c.BodyColours()
	up, _ := d.Upper.Main()
	low, _ := d.Lower.Main()
	assert.Equal(t, colour.Red, up, "upper: %s", d.Upper)
	assert.Equal(t, colour.Blue, low, "lower: %s", d.Lower)
	assert.GreaterOrEqual(t, int(d.Lower.Dark), colour.MinShare, "navy trousers are dark: %s", d.Lower)
	q, err := colour.ParseQuery("red top, dark trousers")
	require.NoError(t, err)
	_, ok := q.Match(d)
	assert.True(t, ok, "the witness's description matches %s", d)

	out := frameCrops{frame: frame, body: tracks.Box{X: 700, Y: 10, W: 50, H: 100}}
	assert.True(t, out.BodyColours().IsZero(), "a box outside the frame")

	// A frame that is a view into a larger picture (rows not contiguous) describes the same.
	big := gocv.NewMatWithSizeFromScalar(gocv.NewScalar(0, 0, 0, 0), 500, 700, gocv.MatTypeCV8UC3)
	defer big.Close()
	view := big.Region(image.Rect(30, 10, 670, 490))
	defer view.Close()
	frame.CopyTo(&view)
	require.False(t, view.IsContinuous())
	assert.Equal(t, d, frameCrops{frame: view, body: box}.BodyColours(), "the same box of a view")
}

// BenchmarkBodyColours describes a 1080p frame's person box, as the tracker does whenever a track's
// body snapshot improves.
func BenchmarkBodyColours(b *testing.B) {
	frame := gocv.NewMatWithSizeFromScalar(gocv.NewScalar(40, 160, 40, 0), 1080, 1920, gocv.MatTypeCV8UC3)
	defer frame.Close()
	c := frameCrops{frame: frame, body: tracks.Box{X: 900, Y: 200, W: 250, H: 700}}
	for b.Loop() {
		c.BodyColours()
	}
}
