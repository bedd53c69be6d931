package search

import (
	"math"
	"math/bits"
)

// Dim is the length of an appearance embedding (OSNet x0.25's output).
const Dim = 512

// codeWords is the length of a binary code in 64-bit words: one bit per dimension.
const codeWords = Dim / 64

// quantise stores v as int8 with one scale per vector (v[i] ≈ q[i]*scale): the exact stage's copy,
// a quarter of float32's size with a cosine error near 1e-3 (the tests bound it).
func quantise(dst []int8, v []float32) (scale float32) {
	var m float32
	for _, x := range v {
		m = max(m, float32(math.Abs(float64(x))))
	}
	if m == 0 {
		return 0
	}
	scale = m / 127
	inv := 1 / scale
	for i, x := range v {
		dst[i] = int8(math.Round(float64(x * inv)))
	}
	return scale
}

// encode writes v's binary code relative to centre: bit i is set when v[i] is above centre[i]. OSNet's
// outputs are all non-negative (a ReLU ends the network), so signs alone would say nothing; around the
// mean, the Hamming distance between codes ranks vectors by angle well enough to pick candidates.
func encode(dst []uint64, v, centre []float32) {
	for w := range codeWords {
		var word uint64
		base := w * 64
		for b := range 64 {
			if v[base+b] > centre[base+b] {
				word |= 1 << b
			}
		}
		dst[w] = word
	}
}

// encodeInt8 is encode for a stored int8 vector (a segment sealed before the centre existed is coded
// from its int8 copy when it is loaded or rewritten).
func encodeInt8(dst []uint64, q []int8, scale float32, centre []float32) {
	for w := range codeWords {
		var word uint64
		base := w * 64
		for b := range 64 {
			if float32(q[base+b])*scale > centre[base+b] {
				word |= 1 << b
			}
		}
		dst[w] = word
	}
}

// hamming is the number of differing bits of two codes.
func hamming(a *[codeWords]uint64, b []uint64) int {
	_ = b[codeWords-1]
	return bits.OnesCount64(a[0]^b[0]) + bits.OnesCount64(a[1]^b[1]) + bits.OnesCount64(a[2]^b[2]) +
		bits.OnesCount64(a[3]^b[3]) + bits.OnesCount64(a[4]^b[4]) + bits.OnesCount64(a[5]^b[5]) +
		bits.OnesCount64(a[6]^b[6]) + bits.OnesCount64(a[7]^b[7])
}

// dot is the inner product of a float32 query with an int8 vector (times its scale to get the cosine),
// four accumulators so the adds do not wait on each other.
func dot(q []float32, v []int8) float32 {
	q = q[:Dim]
	v = v[:Dim]
	var s0, s1, s2, s3 float32
	for i := 0; i < Dim; i += 4 {
		s0 += q[i] * float32(v[i])
		s1 += q[i+1] * float32(v[i+1])
		s2 += q[i+2] * float32(v[i+2])
		s3 += q[i+3] * float32(v[i+3])
	}
	return (s0 + s1) + (s2 + s3)
}

// normalised returns v scaled to unit length, or false when v has the wrong length, is zero or holds a
// NaN or infinity.
func normalised(v []float32) ([]float32, bool) {
	if len(v) != Dim {
		return nil, false
	}
	var n float64
	for _, x := range v {
		n += float64(x) * float64(x)
	}
	if n == 0 || math.IsNaN(n) || math.IsInf(n, 0) {
		return nil, false
	}
	inv := float32(1 / math.Sqrt(n))
	out := make([]float32, Dim)
	for i, x := range v {
		out[i] = x * inv
	}
	return out, true
}
