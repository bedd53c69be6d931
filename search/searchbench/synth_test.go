package searchbench

import (
	"math"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func cosine(a, b []float32) float64 {
	var d, na, nb float64
	for i := range a {
		d += float64(a[i]) * float64(b[i])
		na += float64(a[i]) * float64(a[i])
		nb += float64(b[i]) * float64(b[i])
	}
	return d / math.Sqrt(na*nb)
}

// TestCityStatistics: the generated embeddings have the structure City's comment gives for real OSNet
// embeddings (cosine of different people about 0.44, of one person's sightings about 0.75, the mean
// about 0.68 of unit length; generated: 0.41, 0.74, 0.64), so benchmark figures say something about real data.
func TestCityStatistics(t *testing.T) {
	g := City{Sightings: 3000, Seed: 1}.Generate()
	require.Equal(t, 3000, g.Len())
	var same, diff []float64
	vecs := make([][]float32, g.Len())
	mean := make([]float64, 512)
	for i := range vecs {
		vecs[i] = g.Entry(i).Appearance
	}
	for i := range vecs {
		var norm float64
		for _, x := range vecs[i] {
			norm += float64(x) * float64(x)
		}
		for k, x := range vecs[i] {
			mean[k] += float64(x) / math.Sqrt(norm) / float64(len(vecs))
		}
		for j := i + 1; j < len(vecs) && j < i+400; j++ {
			if g.Person(i) == g.Person(j) {
				same = append(same, cosine(vecs[i], vecs[j]))
			} else {
				diff = append(diff, cosine(vecs[i], vecs[j]))
			}
		}
	}
	q := func(x []float64, p float64) float64 { slices.Sort(x); return x[int(p*float64(len(x)-1))] }
	var m float64
	for _, x := range mean {
		m += x * x
	}
	t.Logf("same n=%d p5/p50/p95 %.3f/%.3f/%.3f", len(same), q(same, .05), q(same, .5), q(same, .95))
	t.Logf("diff n=%d p5/p50/p95 %.3f/%.3f/%.3f", len(diff), q(diff, .05), q(diff, .5), q(diff, .95))
	t.Logf("|mean| %.3f", math.Sqrt(m))
	assert.InDelta(t, 0.44, q(diff, .5), 0.05)
	assert.InDelta(t, 0.75, q(same, .5), 0.05)
	assert.InDelta(t, 0.68, math.Sqrt(m), 0.06)
}
