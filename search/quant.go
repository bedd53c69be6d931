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

// encode writes v's binary code relative to centre: bit i is the sign of the i-th value of (v - centre)
// rotated. OSNet's outputs are all non-negative (a ReLU ends the network), so signs alone would say
// nothing; around the mean, the Hamming distance between codes ranks vectors by angle well enough to pick
// candidates. The rotation (rotate) spreads the variance over every bit: OSNet's dimensions range from
// dead to dominant, and a bit of a quiet dimension is mostly noise.
func encode(dst []uint64, v, centre []float32) {
	var t [Dim]float32
	for i := range t {
		t[i] = v[i] - centre[i]
	}
	rotate(&t)
	for w := range codeWords {
		var word uint64
		for b := range 64 {
			if t[w*64+b] > 0 {
				word |= 1 << b
			}
		}
		dst[w] = word
	}
}

// encodeInt8 is encode for a stored int8 vector.
func encodeInt8(dst []uint64, q []int8, scale float32, centre []float32) {
	var v [Dim]float32
	for i := range v {
		v[i] = float32(q[i]) * scale
	}
	encode(dst, v[:], centre)
}

// rotate applies a fixed orthogonal transform: two rounds of pseudo-random sign flips each followed by a
// fast Walsh-Hadamard transform (a randomised Hadamard transform, 2 x 512 x 9 additions instead of a
// 512 x 512 matrix). The scale is left out: only signs are kept.
func rotate(t *[Dim]float32) {
	f := flips()
	for round := range f {
		for i := range t {
			if f[round][i/64]>>(i%64)&1 == 1 {
				t[i] = -t[i]
			}
		}
		for h := 1; h < Dim; h *= 2 {
			for i := 0; i < Dim; i += 2 * h {
				for j := i; j < i+h; j++ {
					a, b := t[j], t[j+h]
					t[j], t[j+h] = a+b, a-b
				}
			}
		}
	}
}

// flips are rotate's sign flips, a bit per position and round: the lowest bit of SplitMix64 of
// round<<32 | position. Fixed: the codes in segment files depend on them.
func flips() [2][codeWords]uint64 {
	return [2][codeWords]uint64{
		{0xb345d63d0223b88b, 0x58d4c22f714ba6e7, 0xe8eb43e49496db16, 0x68b4d7676edc91ba,
			0x7bc502f1b7c0bbd1, 0x7608539b00af1ce4, 0x1eeb53d89871cd69, 0x5a3c65e82a47363b},
		{0x45fbee0a3bff3eda, 0xa3eea139ebde41d5, 0x564271b4cc0dff2a, 0x493d30da3c4a4955,
			0x8118686947d8d1c4, 0xf6585417fdf136e9, 0x041747c40945ac28, 0xf240f9919ad292f3},
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
