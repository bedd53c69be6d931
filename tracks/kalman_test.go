package tracks

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestKalmanFollowsConstantVelocity(t *testing.T) {
	// A person walking 6 px per reference interval to the right, 100 px tall.
	at := func(k float64) Box { return Box{X: 100 + 6*k, Y: 50, W: 40, H: 100} }
	kf := newKalman(at(0))
	for k := 1; k <= 20; k++ {
		kf.predict(1)
		kf.update(at(float64(k)))
	}
	require.InDelta(t, 6, kf.mean[4], 0.5, "velocity in px/interval")
	tests := []struct {
		name string
		tau  float64
	}{{"one interval", 1}, {"a skipped second at 30 fps", 30}, {"a fraction", 0.5}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k := kf
			k.predict(tt.tau)
			want := at(20 + tt.tau)
			assert.GreaterOrEqual(t, k.box().IoU(want), 0.85, "IoU of the prediction %+v with %+v", k.box(), want)
			// Uncertainty grows with the time stepped.
			assert.Greater(t, k.cov[0][0], kf.cov[0][0], "position variance did not grow")
		})
	}
	long, short := kf, kf
	long.predict(30)
	short.predict(1)
	assert.Greater(t, long.cov[0][0], short.cov[0][0], "variance after 30 intervals, after one")
}

func TestInvert4(t *testing.T) {
	m := [4][4]float64{{4, 1, 0, 0}, {1, 3, 0.5, 0}, {0, 0.5, 2, 0.1}, {0, 0, 0.1, 1}}
	inv, ok := invert4(m)
	require.True(t, ok, "not invertible")
	for i := range 4 {
		for j := range 4 {
			var v float64
			for l := range 4 {
				v += m[i][l] * inv[l][j]
			}
			want := 0.0
			if i == j {
				want = 1
			}
			require.InDelta(t, want, v, 1e-12, "m·inv[%d][%d]", i, j)
		}
	}
	_, ok = invert4([4][4]float64{})
	assert.False(t, ok, "zero matrix inverted")
}
