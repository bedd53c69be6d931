package search

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestRotate: the rotation is orthogonal up to its scale (two unnormalised Hadamard rounds multiply
// lengths by 512), so angles, which the codes stand for, are kept.
func TestRotate(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var a, b [Dim]float32
	for i := range a {
		a[i], b[i] = float32(rng.NormFloat64()), float32(rng.NormFloat64())
	}
	dotf := func(x, y *[Dim]float32) float64 {
		var s float64
		for i := range x {
			s += float64(x[i]) * float64(y[i])
		}
		return s
	}
	before, na, nb := dotf(&a, &b), dotf(&a, &a), dotf(&b, &b)
	rotate(&a)
	rotate(&b)
	assert.InDelta(t, before/math.Sqrt(na*nb), dotf(&a, &b)/math.Sqrt(dotf(&a, &a)*dotf(&b, &b)), 1e-4)
	assert.InDelta(t, 512, math.Sqrt(dotf(&a, &a)/na), 0.01)
}

// TestQuantise: the int8 copy keeps a vector's cosine with a query to within 0.005.
func TestQuantise(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for range 100 {
		v, q := make([]float32, Dim), make([]float32, Dim)
		for i := range v {
			v[i], q[i] = float32(math.Abs(rng.NormFloat64())), float32(math.Abs(rng.NormFloat64()))
		}
		vn, ok := normalised(v)
		require.True(t, ok)
		qn, _ := normalised(q)
		var exact float32
		for i := range vn {
			exact += vn[i] * qn[i]
		}
		c := make([]int8, Dim)
		scale := quantise(c, vn)
		assert.InDelta(t, exact, dot(qn, c)*scale, 0.005)
	}
}
