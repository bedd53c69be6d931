package tracks

import (
	"math"
	"testing"
)

func TestKalmanFollowsConstantVelocity(t *testing.T) {
	// A person walking 6 px per reference interval to the right, 100 px tall.
	at := func(k float64) Box { return Box{X: 100 + 6*k, Y: 50, W: 40, H: 100} }
	kf := newKalman(at(0))
	for k := 1; k <= 20; k++ {
		kf.predict(1)
		kf.update(at(float64(k)))
	}
	if v := kf.mean[4]; math.Abs(v-6) > 0.5 {
		t.Fatalf("velocity %.2f px/interval, want about 6", v)
	}
	tests := []struct {
		name string
		tau  float64
	}{{"one interval", 1}, {"a skipped second at 30 fps", 30}, {"a fraction", 0.5}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k := kf
			k.predict(tt.tau)
			want := at(20 + tt.tau)
			if iou := k.box().IoU(want); iou < 0.85 {
				t.Errorf("predicted %+v, want %+v (IoU %.2f)", k.box(), want, iou)
			}
			// Uncertainty grows with the time stepped.
			if k.cov[0][0] <= kf.cov[0][0] {
				t.Errorf("position variance did not grow: %v -> %v", kf.cov[0][0], k.cov[0][0])
			}
		})
	}
	long, short := kf, kf
	long.predict(30)
	short.predict(1)
	if long.cov[0][0] <= short.cov[0][0] {
		t.Errorf("variance after 30 intervals %v not above one interval's %v", long.cov[0][0], short.cov[0][0])
	}
}

func TestInvert4(t *testing.T) {
	m := [4][4]float64{{4, 1, 0, 0}, {1, 3, 0.5, 0}, {0, 0.5, 2, 0.1}, {0, 0, 0.1, 1}}
	inv, ok := invert4(m)
	if !ok {
		t.Fatal("not invertible")
	}
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
			if math.Abs(v-want) > 1e-12 {
				t.Fatalf("m·inv[%d][%d] = %v", i, j, v)
			}
		}
	}
	if _, ok := invert4([4][4]float64{}); ok {
		t.Error("zero matrix inverted")
	}
}
