// Package outbox is an edge's on-disk queue of events on their way to the center: appended in order,
// handed out in order, removed once delivered, kept across restarts and link outages, bounded in
// bytes. Nothing in it knows NATS; bus.Publisher drains it.
//
// Durability: every Append is one write(2) to the current segment file before it returns, so a crash
// of the process loses nothing; fsync runs at most SyncInterval after an append (group commit), so a
// crash of the machine loses at most that interval. fsync on every event would cap an edge on flash
// storage at a few hundred events per second and wear it out; the center's idempotent apply and
// JetStream's de-duplication make a replay after such a crash harmless, a loss is what the interval
// bounds. The delivered position is saved with the same interval, so after a crash up to an interval of
// delivered records is delivered again (and de-duplicated downstream).
//
// Bound: when the segments exceed MaxBytes, the oldest whole segment is dropped, delivered or not,
// and counted in Stats.Dropped: in a long outage the newest events (who is in view now) matter more
// than the oldest.
package outbox

import (
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Options bound the outbox and set its fsync policy.
type Options struct {
	// MaxBytes bounds the segments on disk (default 1 GiB).
	MaxBytes int64
	// SegmentBytes is the size at which a new segment file starts (default MaxBytes/16, at most
	// 64 MiB, at least 1 MiB). Space is freed a whole segment at a time.
	SegmentBytes int64
	// SyncInterval is the longest an appended record waits for fsync (default 200 ms); negative
	// means fsync inside every Append.
	SyncInterval time.Duration
	Logger       *slog.Logger
}

// Record is one queued record.
type Record struct {
	// Index numbers records from 1 in append order, across restarts.
	Index uint64
	// Appended is when Append wrote it.
	Appended time.Time
	Data     []byte
}

// Stats describe what is queued.
type Stats struct {
	// Records and Bytes are undelivered records and the disk the segments take.
	Records int
	Bytes   int64
	// Oldest is when the oldest undelivered record was appended; zero when none is.
	Oldest time.Time
	// Dropped counts records dropped unsent to stay within MaxBytes since Open.
	Dropped uint64
}

// ErrClosed is returned by calls after Close.
var ErrClosed = errors.New("outbox closed")

const (
	headerSize = 16 // length u32, crc32c u32, appended unix ns i64
	// MaxRecord bounds one record; a length above it in a file is corruption, not an allocation.
	MaxRecord = 64 << 20
	ackedFile = "delivered"
	segSuffix = ".seg"
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Outbox is safe for concurrent use: any number of appenders, one reader (Next, Ack, Rewind).
type Outbox struct {
	dir  string
	opts Options
	log  *slog.Logger

	mu      sync.Mutex
	segs    []*segment // in index order; the last one is appended to
	w       *os.File   // the last segment, open for appending
	next    uint64     // index the next Append gets
	acked   uint64     // every record <= acked is delivered
	saved   uint64     // acked as last written to ackedFile
	read    uint64     // the next record Next hands out is the first >= read
	dropped uint64
	dirty   bool        // appended since the last fsync
	timer   *time.Timer // pending group fsync
	wake    chan struct{}
	closed  bool
}

type segment struct {
	first   uint64
	offsets []int64 // of each record, in file order: record first+i is at offsets[i]
	size    int64
	path    string
	r       *os.File // opened for reading on first use
}

func (s *segment) last() uint64 { return s.first + uint64(len(s.offsets)) - 1 }

// Open opens (or creates) the outbox in dir. A record torn by a crash at the end of a segment is cut
// off, saying so in the log.
func Open(dir string, opts Options) (*Outbox, error) {
	if opts.MaxBytes <= 0 {
		opts.MaxBytes = 1 << 30
	}
	if opts.SegmentBytes <= 0 {
		opts.SegmentBytes = min(max(opts.MaxBytes/16, 1<<20), 64<<20)
	}
	if opts.SyncInterval == 0 {
		opts.SyncInterval = 200 * time.Millisecond
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("outbox %s: %w", dir, err)
	}
	o := &Outbox{dir: dir, opts: opts, log: opts.Logger.With("outbox", dir), wake: make(chan struct{})}
	if err := o.load(); err != nil {
		o.closeFiles()
		return nil, err
	}
	return o, nil
}

func (o *Outbox) load() error {
	if b, err := os.ReadFile(filepath.Join(o.dir, ackedFile)); err == nil {
		n, perr := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
		if perr != nil {
			return fmt.Errorf("outbox %s: delivered position %q: %w", o.dir, b, perr)
		}
		o.acked, o.saved = n, n
	} else if !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("outbox %s: %w", o.dir, err)
	}
	names, err := filepath.Glob(filepath.Join(o.dir, "*"+segSuffix))
	if err != nil {
		return fmt.Errorf("outbox %s: %w", o.dir, err)
	}
	for _, name := range names {
		first, err := strconv.ParseUint(strings.TrimSuffix(filepath.Base(name), segSuffix), 10, 64)
		if err != nil || first == 0 {
			return fmt.Errorf("outbox %s: %s is not a segment name", o.dir, name)
		}
		s, err := openSegment(name, first)
		if err != nil {
			return err
		}
		if s.torn {
			o.log.Warn("outbox: cut off a torn record", "segment", name, "at", s.size)
		}
		if len(s.offsets) == 0 {
			// Created just before a crash, or everything in it torn: its name would be taken by
			// the next segment.
			if err := os.Remove(name); err != nil {
				return fmt.Errorf("outbox %s: %w", o.dir, err)
			}
			continue
		}
		o.segs = append(o.segs, &s.segment)
	}
	slices.SortFunc(o.segs, func(a, b *segment) int { return cmp.Compare(a.first, b.first) })
	o.next = o.acked + 1
	if n := len(o.segs); n > 0 {
		o.next = max(o.next, o.segs[n-1].first+uint64(len(o.segs[n-1].offsets)))
	}
	o.read = o.acked + 1
	o.removeDelivered()
	return nil
}

type scanned struct {
	segment
	torn bool
}

// openSegment scans a segment file and truncates it after its last whole record.
func openSegment(path string, first uint64) (scanned, error) {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return scanned{}, fmt.Errorf("outbox segment: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return scanned{}, fmt.Errorf("outbox segment: %w", err)
	}
	offsets, end, err := scan(io.NewSectionReader(f, 0, fi.Size()))
	if err != nil {
		return scanned{}, fmt.Errorf("outbox segment %s: %w", path, err)
	}
	s := scanned{segment: segment{first: first, offsets: offsets, size: end, path: path}, torn: end < fi.Size()}
	if s.torn {
		if err := f.Truncate(end); err != nil {
			return scanned{}, fmt.Errorf("outbox segment %s: cut a torn record: %w", path, err)
		}
	}
	return s, nil
}

// scan reads records from r and returns their offsets and where the last whole one ends; a short or
// corrupt record ends the scan (it is what a crash in the middle of a write leaves).
func scan(r io.Reader) (offsets []int64, end int64, err error) {
	var hdr [headerSize]byte
	buf := make([]byte, 0, 4096)
	for {
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				return offsets, end, nil
			}
			return nil, 0, err
		}
		n := binary.LittleEndian.Uint32(hdr[0:4])
		if n > MaxRecord {
			return offsets, end, nil
		}
		buf = slices.Grow(buf[:0], int(n))[:n]
		if _, err := io.ReadFull(r, buf); err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				return offsets, end, nil
			}
			return nil, 0, err
		}
		if crc(hdr[8:16], buf) != binary.LittleEndian.Uint32(hdr[4:8]) {
			return offsets, end, nil
		}
		offsets = append(offsets, end)
		end += headerSize + int64(n)
	}
}

func crc(stamp, data []byte) uint32 {
	return crc32.Update(crc32.Checksum(stamp, castagnoli), castagnoli, data)
}

func encode(data []byte, appended time.Time) []byte {
	b := make([]byte, headerSize+len(data))
	binary.LittleEndian.PutUint32(b[0:4], uint32(len(data)))
	binary.LittleEndian.PutUint64(b[8:16], uint64(appended.UnixNano()))
	copy(b[headerSize:], data)
	binary.LittleEndian.PutUint32(b[4:8], crc(b[8:16], data))
	return b
}

// Append queues data and returns its index. It returns once the record is written to the segment
// file (and fsynced when SyncInterval is negative).
func (o *Outbox) Append(data []byte) (uint64, error) {
	if len(data) > MaxRecord {
		return 0, fmt.Errorf("outbox: record of %d bytes exceeds %d", len(data), MaxRecord)
	}
	rec := encode(data, time.Now())
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed {
		return 0, ErrClosed
	}
	if err := o.writable(int64(len(rec))); err != nil {
		return 0, err
	}
	s := o.segs[len(o.segs)-1]
	if _, err := o.w.Write(rec); err != nil {
		// A partial write would be cut off as torn at the next Open; until then this segment
		// takes no more records.
		o.w.Close()
		o.w = nil
		return 0, fmt.Errorf("outbox append: %w", err)
	}
	s.offsets = append(s.offsets, s.size)
	s.size += int64(len(rec))
	idx := o.next
	o.next++
	o.dirty = true
	if err := o.syncPolicy(); err != nil {
		return 0, err
	}
	o.bound()
	close(o.wake)
	o.wake = make(chan struct{})
	return idx, nil
}

// writable makes sure there is a segment open for appending that has room for n more bytes.
func (o *Outbox) writable(n int64) error {
	if o.w != nil && o.segs[len(o.segs)-1].size+n <= o.opts.SegmentBytes {
		return nil
	}
	if o.w != nil && o.segs[len(o.segs)-1].size == 0 {
		return nil // a record larger than a segment gets one of its own
	}
	if o.w != nil {
		if err := o.w.Sync(); err != nil {
			return fmt.Errorf("outbox sync: %w", err)
		}
		o.w.Close()
		o.w = nil
	}
	path := filepath.Join(o.dir, fmt.Sprintf("%020d%s", o.next, segSuffix))
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("outbox segment: %w", err)
	}
	o.w = f
	o.segs = append(o.segs, &segment{first: o.next, path: path})
	// The new file's name must survive a crash too.
	return syncDir(o.dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("outbox: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("outbox: sync %s: %w", dir, err)
	}
	return nil
}

// syncPolicy fsyncs now or makes sure a group fsync is due within SyncInterval.
func (o *Outbox) syncPolicy() error {
	if o.opts.SyncInterval < 0 {
		return o.syncLocked()
	}
	if o.timer == nil {
		o.timer = time.AfterFunc(o.opts.SyncInterval, o.groupSync)
	}
	return nil
}

func (o *Outbox) groupSync() {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.timer = nil
	if o.closed {
		return
	}
	if err := o.syncLocked(); err != nil {
		o.log.Error("outbox: fsync failed; records since the last one are at risk if the machine stops", "err", err)
	}
}

// syncLocked fsyncs the current segment and saves the delivered position if it moved.
func (o *Outbox) syncLocked() error {
	if o.dirty && o.w != nil {
		if err := o.w.Sync(); err != nil {
			return fmt.Errorf("outbox sync: %w", err)
		}
	}
	o.dirty = false
	if o.acked != o.saved {
		tmp := filepath.Join(o.dir, ackedFile+".tmp")
		if err := os.WriteFile(tmp, []byte(strconv.FormatUint(o.acked, 10)+"\n"), 0o600); err != nil {
			return fmt.Errorf("outbox: save delivered position: %w", err)
		}
		if err := os.Rename(tmp, filepath.Join(o.dir, ackedFile)); err != nil {
			return fmt.Errorf("outbox: save delivered position: %w", err)
		}
		o.saved = o.acked
	}
	return nil
}

// bound drops the oldest segments while the outbox is over MaxBytes (never the one being written).
func (o *Outbox) bound() {
	total := int64(0)
	for _, s := range o.segs {
		total += s.size
	}
	for total > o.opts.MaxBytes && len(o.segs) > 1 {
		s := o.segs[0]
		lost := uint64(0)
		if s.last() > o.acked {
			lost = s.last() - max(o.acked, s.first-1)
		}
		if err := o.removeSegment(s); err != nil {
			o.log.Error("outbox: could not drop the oldest segment", "segment", s.path, "err", err)
			return
		}
		total -= s.size
		o.dropped += lost
		o.acked = max(o.acked, s.last())
		o.read = max(o.read, o.acked+1)
		o.log.Warn("outbox full: dropped the oldest undelivered records", "records", lost, "max_bytes", o.opts.MaxBytes)
	}
}

func (o *Outbox) removeSegment(s *segment) error {
	if s.r != nil {
		s.r.Close()
	}
	if err := os.Remove(s.path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	o.segs = o.segs[1:]
	return nil
}

// removeDelivered deletes segments whose records are all delivered, except the one being written.
func (o *Outbox) removeDelivered() {
	for len(o.segs) > 0 && (len(o.segs) > 1 || o.w == nil) && len(o.segs[0].offsets) > 0 && o.segs[0].last() <= o.acked {
		if err := o.removeSegment(o.segs[0]); err != nil {
			o.log.Error("outbox: could not remove a delivered segment", "segment", o.segs[0].path, "err", err)
			return
		}
	}
}

// Next returns the next record after the last one handed out, waiting until there is one or ctx ends.
func (o *Outbox) Next(ctx context.Context) (Record, error) {
	for {
		appended := o.Appended() // before Poll, so an Append in between is not missed
		rec, ok, err := o.Poll()
		if ok || err != nil {
			return rec, err
		}
		select {
		case <-ctx.Done():
			return Record{}, ctx.Err()
		case <-appended:
		}
	}
}

// Poll is Next without waiting: ok is false when no record is ready.
func (o *Outbox) Poll() (rec Record, ok bool, err error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed {
		return Record{}, false, ErrClosed
	}
	s, i := o.locate(o.read)
	if s == nil {
		return Record{}, false, nil
	}
	if rec, err = o.readAt(s, i); err != nil {
		return Record{}, false, err
	}
	o.read = rec.Index + 1
	return rec, true, nil
}

// Appended returns a channel closed at the next Append (or Close). Take it before Poll finds nothing,
// so an Append in between is not missed.
func (o *Outbox) Appended() <-chan struct{} {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.wake
}

// locate finds the first record with index >= idx.
func (o *Outbox) locate(idx uint64) (*segment, int) {
	for _, s := range o.segs {
		if len(s.offsets) == 0 || s.last() < idx {
			continue
		}
		if idx < s.first {
			return s, 0
		}
		return s, int(idx - s.first)
	}
	return nil, 0
}

// header reads record i's header, opening the segment for reading on first use.
func (s *segment) header(i int) (hdr [headerSize]byte, err error) {
	if s.r == nil {
		if s.r, err = os.Open(s.path); err != nil {
			return hdr, fmt.Errorf("outbox read: %w", err)
		}
	}
	if _, err := s.r.ReadAt(hdr[:], s.offsets[i]); err != nil {
		return hdr, fmt.Errorf("outbox read %s: %w", s.path, err)
	}
	return hdr, nil
}

func (o *Outbox) readAt(s *segment, i int) (Record, error) {
	hdr, err := s.header(i)
	if err != nil {
		return Record{}, err
	}
	data := make([]byte, binary.LittleEndian.Uint32(hdr[0:4]))
	if _, err := s.r.ReadAt(data, s.offsets[i]+headerSize); err != nil {
		return Record{}, fmt.Errorf("outbox read %s: %w", s.path, err)
	}
	if crc(hdr[8:16], data) != binary.LittleEndian.Uint32(hdr[4:8]) {
		return Record{}, fmt.Errorf("outbox read %s: record %d fails its checksum", s.path, s.first+uint64(i))
	}
	return Record{Index: s.first + uint64(i), Appended: appended(hdr), Data: data}, nil
}

func appended(hdr [headerSize]byte) time.Time {
	return time.Unix(0, int64(binary.LittleEndian.Uint64(hdr[8:16])))
}

// Ack marks every record up to index as delivered; whole delivered segments are deleted.
func (o *Outbox) Ack(index uint64) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if index <= o.acked || o.closed {
		return
	}
	o.acked = min(index, o.next-1)
	o.read = max(o.read, o.acked+1)
	o.removeDelivered()
	if o.opts.SyncInterval < 0 {
		if err := o.syncLocked(); err != nil {
			o.log.Error("outbox: saving the delivered position failed", "err", err)
		}
	} else if o.timer == nil {
		o.timer = time.AfterFunc(o.opts.SyncInterval, o.groupSync)
	}
}

// Rewind makes Next start again after the last acked record: what was handed out but not acked is
// handed out again.
func (o *Outbox) Rewind() {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.read = o.acked + 1
}

// Stats says what is queued now.
func (o *Outbox) Stats() Stats {
	o.mu.Lock()
	defer o.mu.Unlock()
	st := Stats{Dropped: o.dropped}
	for _, s := range o.segs {
		st.Bytes += s.size
		if len(s.offsets) > 0 && s.last() > o.acked {
			st.Records += int(s.last() - max(o.acked, s.first-1))
		}
	}
	if s, i := o.locate(o.acked + 1); s != nil && !o.closed {
		if hdr, err := s.header(i); err == nil {
			st.Oldest = appended(hdr)
		}
	}
	return st
}

// Close fsyncs, saves the delivered position and closes the files. Next calls waiting return
// ErrClosed.
func (o *Outbox) Close() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed {
		return nil
	}
	if o.timer != nil {
		o.timer.Stop()
	}
	err := o.syncLocked()
	o.closed = true
	o.closeFiles()
	close(o.wake)
	return err
}

func (o *Outbox) closeFiles() {
	if o.w != nil {
		o.w.Close()
		o.w = nil
	}
	for _, s := range o.segs {
		if s.r != nil {
			s.r.Close()
			s.r = nil
		}
	}
}
