package rpc

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestSubtract(t *testing.T) {
	at := func(s int) time.Time { return time.Unix(int64(s), 0) }
	iv := func(a, b int) Interval { return Interval{at(a), at(b)} }
	for _, tc := range []struct {
		name string
		cov  []Interval
		want []Interval
	}{
		{"nothing covered", nil, []Interval{iv(0, 10)}},
		{"all covered", []Interval{iv(-5, 20)}, nil},
		{"middle", []Interval{iv(3, 5)}, []Interval{iv(0, 3), iv(5, 10)}},
		{"overlapping, unordered", []Interval{iv(6, 8), iv(2, 4), iv(3, 7)}, []Interval{iv(0, 2), iv(8, 10)}},
		{"outside", []Interval{iv(12, 15), iv(-3, -1)}, []Interval{iv(0, 10)}},
		{"empty interval", []Interval{iv(4, 4)}, []Interval{iv(0, 10)}},
	} {
		assert.Equal(t, tc.want, subtract(iv(0, 10), tc.cov), tc.name)
	}
}

// Cover cuts a reply's covered parts to the window asked for and names the rest as gaps.
func TestCover(t *testing.T) {
	at := func(s int) time.Time { return time.Unix(int64(s), 0) }
	iv := func(a, b int) Interval { return Interval{at(a), at(b)} }
	covered, gaps := ClipReply{Covered: []Interval{iv(8, 14), iv(-2, 3)}}.Cover(iv(0, 10))
	assert.Equal(t, []Interval{iv(0, 3), iv(8, 10)}, covered)
	assert.Equal(t, []Interval{iv(3, 8)}, gaps)
	covered, gaps = ClipReply{}.Cover(iv(5, 5))
	assert.Empty(t, covered, "a snapshot's empty window")
	assert.Empty(t, gaps, "a snapshot's empty window")
}
