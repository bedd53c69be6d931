package detect

// recent keeps the values built for the last few keys used, most recent first: a camera's full frame
// and the regions searched in it come in a few sizes, and what a network needs per input size (a
// letterbox canvas, YuNet's anchor priors) is too costly to build again on every call.
type recent[K comparable, V any] struct {
	keep    int
	entries []recentEntry[K, V]
	free    func(V) // frees an evicted value; nil when there is nothing to free
}

type recentEntry[K comparable, V any] struct {
	key K
	val V
}

// get returns the value kept for k, or one newly built, making it the most recent; the least recent
// value is freed when more than keep would be kept.
func (r *recent[K, V]) get(k K, build func() V) V {
	for i, e := range r.entries {
		if e.key == k {
			copy(r.entries[1:i+1], r.entries[:i])
			r.entries[0] = e
			return e.val
		}
	}
	if len(r.entries) == r.keep {
		r.release(r.entries[r.keep-1].val)
		r.entries = r.entries[:r.keep-1]
	}
	e := recentEntry[K, V]{key: k, val: build()}
	r.entries = append(r.entries, e)
	copy(r.entries[1:], r.entries[:len(r.entries)-1])
	r.entries[0] = e
	return e.val
}

// close frees every value kept.
func (r *recent[K, V]) close() {
	for _, e := range r.entries {
		r.release(e.val)
	}
	r.entries = nil
}

func (r *recent[K, V]) release(v V) {
	if r.free != nil {
		r.free(v)
	}
}
