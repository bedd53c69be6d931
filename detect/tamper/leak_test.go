//go:build matprofile

package tamper_test

import (
	"image"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gocv.io/x/gocv"

	"snowlight/detect/tamper"
)

// TestNoMatLeaks runs the detector over real frames, tampered and not, with a resolution change and
// a reset, and checks that every Mat it made is closed. Run with:
// go test -tags matprofile -run TestNoMatLeaks ./detect/tamper/
func TestNoMatLeaks(t *testing.T) {
	before := gocv.MatProfile.Count()
	func() {
		vc := video(t, "vtest.avi")
		frame, small := gocv.NewMat(), gocv.NewMat()
		defer frame.Close()
		defer small.Close()
		d, err := tamper.New(testConfig())
		require.NoError(t, err)
		t0 := time.Unix(1_700_000_000, 0)
		cover := uniform(0)
		work := gocv.NewMat()
		defer work.Close()
		for i := 0; i < 200 && vc.Read(&frame); i++ {
			img := frame
			switch {
			case i >= 150:
				// A new resolution: the detector's own Mats are remade.
				gocv.Resize(frame, &small, image.Pt(384, 288), 0, 0, gocv.InterpolationArea)
				img = small
			case i >= 80:
				img = cover(0, frame, &work)
			}
			_, err := d.Update(img, t0.Add(time.Duration(i)*100*time.Millisecond))
			require.NoError(t, err)
		}
		d.Reset()
		d.Close()
		d.Close()
	}()
	assert.Equal(t, before, gocv.MatProfile.Count(), "Mats left open")
}
