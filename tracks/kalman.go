package tracks

import "math"

// kalman is the constant-velocity filter of ByteTrack over (centre x, centre y, aspect w/h, height)
// and their velocities. Velocities are per reference interval (Config.FrameInterval) and every
// prediction steps by tau = elapsed wall time / reference interval, so skipped frames widen the
// uncertainty instead of being ignored. Noise scales with the box height, as in ByteTrack.
type kalman struct {
	mean [8]float64
	cov  [8][8]float64
}

const (
	stdWeightPosition = 1.0 / 20
	stdWeightVelocity = 1.0 / 160
)

func measurement(b Box) [4]float64 {
	cx, cy := b.Center()
	return [4]float64{cx, cy, b.W / b.H, b.H}
}

func newKalman(b Box) kalman {
	var k kalman
	z := measurement(b)
	copy(k.mean[:4], z[:])
	h := z[3]
	std := [8]float64{
		2 * stdWeightPosition * h, 2 * stdWeightPosition * h, 1e-2, 2 * stdWeightPosition * h,
		10 * stdWeightVelocity * h, 10 * stdWeightVelocity * h, 1e-5, 10 * stdWeightVelocity * h,
	}
	for i, s := range std {
		k.cov[i][i] = s * s
	}
	return k
}

// predict advances the state by tau reference intervals.
func (k *kalman) predict(tau float64) {
	if tau <= 0 {
		return
	}
	for i := range 4 {
		k.mean[i] += tau * k.mean[i+4]
	}
	// P' = F P Fᵀ with F = [[I, τI], [0, I]], done block-wise.
	var p [8][8]float64
	for i := range 4 {
		for j := range 4 {
			a, b, c, d := k.cov[i][j], k.cov[i][j+4], k.cov[i+4][j], k.cov[i+4][j+4]
			p[i][j] = a + tau*(b+c) + tau*tau*d
			p[i][j+4] = b + tau*d
			p[i+4][j] = c + tau*d
			p[i+4][j+4] = d
		}
	}
	// Process noise of one reference interval, growing linearly with the time stepped.
	h := k.mean[3]
	q := [8]float64{
		stdWeightPosition * h, stdWeightPosition * h, 1e-2, stdWeightPosition * h,
		stdWeightVelocity * h, stdWeightVelocity * h, 1e-5, stdWeightVelocity * h,
	}
	for i, s := range q {
		p[i][i] += s * s * tau
	}
	k.cov = p
}

// update corrects the state with a measured box.
func (k *kalman) update(b Box) {
	z := measurement(b)
	h := k.mean[3]
	r := [4]float64{stdWeightPosition * h, stdWeightPosition * h, 1e-1, stdWeightPosition * h}
	var s [4][4]float64
	for i := range 4 {
		for j := range 4 {
			s[i][j] = k.cov[i][j]
		}
		s[i][i] += r[i] * r[i]
	}
	si, ok := invert4(s)
	if !ok {
		return
	}
	// K = P Hᵀ S⁻¹ (8x4); P Hᵀ is the first four columns of P.
	var gain [8][4]float64
	for i := range 8 {
		for j := range 4 {
			var v float64
			for l := range 4 {
				v += k.cov[i][l] * si[l][j]
			}
			gain[i][j] = v
		}
	}
	var y [4]float64
	for i := range 4 {
		y[i] = z[i] - k.mean[i]
	}
	for i := range 8 {
		for j := range 4 {
			k.mean[i] += gain[i][j] * y[j]
		}
	}
	// P' = P - K H P; H P is the first four rows of P.
	var p [8][8]float64
	for i := range 8 {
		for j := range 8 {
			var v float64
			for l := range 4 {
				v += gain[i][l] * k.cov[l][j]
			}
			p[i][j] = k.cov[i][j] - v
		}
	}
	k.cov = p
}

// box returns the filtered box.
func (k *kalman) box() Box {
	h := k.mean[3]
	w := k.mean[2] * h
	return Box{X: k.mean[0] - w/2, Y: k.mean[1] - h/2, W: w, H: h}
}

// invert4 inverts a 4x4 matrix by Gauss-Jordan elimination with partial pivoting.
func invert4(m [4][4]float64) ([4][4]float64, bool) {
	var inv [4][4]float64
	for i := range 4 {
		inv[i][i] = 1
	}
	for c := range 4 {
		p := c
		for r := c + 1; r < 4; r++ {
			if math.Abs(m[r][c]) > math.Abs(m[p][c]) {
				p = r
			}
		}
		if math.Abs(m[p][c]) < 1e-300 {
			return inv, false
		}
		m[c], m[p] = m[p], m[c]
		inv[c], inv[p] = inv[p], inv[c]
		d := m[c][c]
		for j := range 4 {
			m[c][j] /= d
			inv[c][j] /= d
		}
		for r := range 4 {
			if r == c || m[r][c] == 0 {
				continue
			}
			f := m[r][c]
			for j := range 4 {
				m[r][j] -= f * m[c][j]
				inv[r][j] -= f * inv[c][j]
			}
		}
	}
	return inv, true
}
