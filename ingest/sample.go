package ingest

import "time"

// sampler picks the pictures of a stream to keep on a grid of period (0: every picture), restarted
// at the next picture after a gap. The camera worker and FileSource sample alike through it.
type sampler struct {
	period  time.Duration
	nextDue time.Duration // the PTS the next picture kept is due at
	started bool
}

// newSampler samples at fps pictures a second; fps <= 0 keeps every picture.
func newSampler(fps float64) sampler {
	if fps <= 0 {
		return sampler{}
	}
	return sampler{period: time.Duration(float64(time.Second) / fps)}
}

// wants reports whether the picture at pts is due. A little tolerance keeps a 25 fps stream sampled
// at 5 fps on every fifth picture despite timestamp rounding.
func (s *sampler) wants(pts time.Duration) bool {
	return s.period == 0 || !s.started || pts >= s.nextDue-time.Millisecond
}

// take records that the picture at pts is kept, moving the grid on by a period.
func (s *sampler) take(pts time.Duration) {
	if !s.started || pts >= s.nextDue+s.period {
		s.nextDue = pts // first picture, or after a gap: restart the grid here
	}
	s.nextDue += s.period
	s.started = true
}
