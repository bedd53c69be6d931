package outbox

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func open(t *testing.T, dir string, opts Options) *Outbox {
	t.Helper()
	o, err := Open(dir, opts)
	require.NoError(t, err)
	t.Cleanup(func() { o.Close() })
	return o
}

func appendN(t *testing.T, o *Outbox, from, n int) {
	t.Helper()
	for i := from; i < from+n; i++ {
		_, err := o.Append(fmt.Appendf(nil, "record %d", i))
		require.NoError(t, err)
	}
}

// next reads one record, failing the test if none comes within a second.
func next(t *testing.T, o *Outbox) Record {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	r, err := o.Next(ctx)
	require.NoError(t, err)
	return r
}

// crash abandons the outbox as a killed process would: no fsync, no saved position, files left open
// until the test ends.
func (o *Outbox) crash() {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.timer != nil {
		o.timer.Stop()
	}
	o.closed = true
}

func TestOrderAckAndRewind(t *testing.T) {
	o := open(t, t.TempDir(), Options{})
	appendN(t, o, 1, 5)
	for i := 1; i <= 3; i++ {
		r := next(t, o)
		assert.Equal(t, uint64(i), r.Index)
		assert.Equal(t, fmt.Sprintf("record %d", i), string(r.Data))
		assert.WithinDuration(t, time.Now(), r.Appended, time.Minute)
	}
	o.Ack(1)
	o.Rewind()
	assert.Equal(t, uint64(2), next(t, o).Index, "what was handed out but not acked comes again")
	st := o.Stats()
	assert.Equal(t, 4, st.Records)
	assert.False(t, st.Oldest.IsZero())
}

func TestNextWaitsForAppendAndContext(t *testing.T) {
	o := open(t, t.TempDir(), Options{})
	got := make(chan Record, 1)
	go func() {
		r, err := o.Next(context.Background())
		if err == nil {
			got <- r
		}
	}()
	time.Sleep(20 * time.Millisecond)
	appendN(t, o, 1, 1)
	select {
	case r := <-got:
		assert.Equal(t, "record 1", string(r.Data))
	case <-time.After(2 * time.Second):
		require.Fail(t, "Next did not wake on Append")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	_, err := o.Next(ctx)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
}

func TestReopenContinuesAfterDelivered(t *testing.T) {
	for _, tc := range []struct {
		name  string
		stop  func(*Outbox)
		first uint64 // the first record handed out after reopening
	}{
		// Close saves the delivered position: nothing is sent twice.
		{"close", func(o *Outbox) { require.NoError(t, o.Close()) }, 4},
		// A crash before the position was saved sends the delivered records again (de-duplicated
		// downstream), never loses one.
		{"crash", func(o *Outbox) { o.crash() }, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			o, err := Open(dir, Options{SyncInterval: time.Hour})
			require.NoError(t, err)
			appendN(t, o, 1, 6)
			for range 3 {
				next(t, o)
			}
			o.Ack(3)
			tc.stop(o)

			o2 := open(t, dir, Options{})
			assert.Equal(t, tc.first, next(t, o2).Index)
			appendN(t, o2, 7, 1)
			assert.Equal(t, uint64(7), o2.next-1, "indexes keep counting across restarts")
		})
	}
}

func TestTornRecordIsCutOff(t *testing.T) {
	dir := t.TempDir()
	o, err := Open(dir, Options{})
	require.NoError(t, err)
	appendN(t, o, 1, 3)
	require.NoError(t, o.Close())
	segs, _ := filepath.Glob(filepath.Join(dir, "*.seg"))
	require.Len(t, segs, 1)
	fi, err := os.Stat(segs[0])
	require.NoError(t, err)
	require.NoError(t, os.Truncate(segs[0], fi.Size()-3))

	o2 := open(t, dir, Options{})
	assert.Equal(t, 2, o2.Stats().Records)
	next(t, o2)
	assert.Equal(t, "record 2", string(next(t, o2).Data))
	appendN(t, o2, 3, 1)
	assert.Equal(t, "record 3", string(next(t, o2).Data), "an append after the cut is whole")
}

func TestBoundDropsOldestSegments(t *testing.T) {
	dir := t.TempDir()
	o := open(t, dir, Options{MaxBytes: 4 << 10, SegmentBytes: 1 << 10})
	payload := bytes.Repeat([]byte("x"), 200)
	for range 60 { // 60 × 216 bytes ≈ 13 KiB into a 4 KiB outbox
		_, err := o.Append(payload)
		require.NoError(t, err)
	}
	st := o.Stats()
	assert.LessOrEqual(t, st.Bytes, int64(4<<10))
	assert.Positive(t, st.Dropped)
	assert.Equal(t, 60-int(st.Dropped), st.Records, "every record is either queued or counted as dropped")
	r := next(t, o)
	assert.Equal(t, st.Dropped+1, r.Index, "the oldest kept record comes first")

	segs, _ := filepath.Glob(filepath.Join(dir, "*.seg"))
	assert.LessOrEqual(t, len(segs), 5)
}

func TestDeliveredSegmentsAreRemoved(t *testing.T) {
	dir := t.TempDir()
	o := open(t, dir, Options{SegmentBytes: 1 << 10, MaxBytes: 1 << 20})
	payload := bytes.Repeat([]byte("y"), 300)
	for range 20 {
		_, err := o.Append(payload)
		require.NoError(t, err)
	}
	o.Ack(20)
	segs, _ := filepath.Glob(filepath.Join(dir, "*.seg"))
	assert.Len(t, segs, 1, "only the segment being written stays")
	assert.Equal(t, 0, o.Stats().Records)
}

func TestSyncEveryAppend(t *testing.T) {
	dir := t.TempDir()
	o := open(t, dir, Options{SyncInterval: -1})
	appendN(t, o, 1, 2)
	o.Ack(1)
	b, err := os.ReadFile(filepath.Join(dir, ackedFile))
	require.NoError(t, err)
	assert.Equal(t, "1\n", string(b), "the delivered position is saved at once too")
}

func TestClosedOutbox(t *testing.T) {
	o := open(t, t.TempDir(), Options{})
	require.NoError(t, o.Close())
	_, err := o.Append([]byte("late"))
	assert.ErrorIs(t, err, ErrClosed)
	_, err = o.Next(context.Background())
	assert.ErrorIs(t, err, ErrClosed)
}

// scan must survive any bytes a crash or a disk can leave, and what it accepts must be records.
func FuzzScan(f *testing.F) {
	f.Add(encode([]byte("hello"), time.Unix(1, 2)))
	f.Add(append(encode([]byte("a"), time.Unix(3, 0)), encode(nil, time.Unix(4, 0))[:10]...))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		offsets, end, err := scan(bytes.NewReader(b))
		require.NoError(t, err)
		require.LessOrEqual(t, end, int64(len(b)))
		var again []byte
		for i, off := range offsets {
			stop := end
			if i+1 < len(offsets) {
				stop = offsets[i+1]
			}
			rec := b[off:stop]
			again = append(again, encode(rec[headerSize:], time.Unix(0, int64(le64(rec[8:16]))))...)
		}
		assert.Equal(t, string(b[:end]), string(again), "a scanned prefix re-encodes to itself")
	})
}

func le64(b []byte) uint64 {
	var v uint64
	for i := 7; i >= 0; i-- {
		v = v<<8 | uint64(b[i])
	}
	return v
}
