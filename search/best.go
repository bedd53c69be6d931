package search

// best keeps the n best items seen: a binary heap whose root is the worst kept, so a new item is
// compared with one value and most are turned away at once.
type best[T any] struct {
	n     int
	worse func(a, b T) bool // a ranks below b
	items []T
}

func newBest[T any](n int, worse func(a, b T) bool) *best[T] {
	return &best[T]{n: n, worse: worse, items: make([]T, 0, min(n, 1<<16))}
}

// full reports whether n items are kept: from then on only an item better than worst() gets in.
func (b *best[T]) full() bool { return len(b.items) >= b.n }

func (b *best[T]) worst() T { return b.items[0] }

func (b *best[T]) push(x T) {
	if len(b.items) < b.n {
		b.items = append(b.items, x)
		b.up(len(b.items) - 1)
		return
	}
	if !b.worse(b.items[0], x) {
		return
	}
	b.items[0] = x
	b.down(0)
}

func (b *best[T]) up(i int) {
	for i > 0 {
		p := (i - 1) / 2
		if !b.worse(b.items[i], b.items[p]) {
			return
		}
		b.items[i], b.items[p] = b.items[p], b.items[i]
		i = p
	}
}

func (b *best[T]) down(i int) {
	for {
		l := 2*i + 1
		if l >= len(b.items) {
			return
		}
		c := l
		if r := l + 1; r < len(b.items) && b.worse(b.items[r], b.items[l]) {
			c = r
		}
		if !b.worse(b.items[c], b.items[i]) {
			return
		}
		b.items[i], b.items[c] = b.items[c], b.items[i]
		i = c
	}
}
