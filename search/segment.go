package search

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"unsafe"

	"snowlight/colour"
)

// segment is a run of entries in arrival order, stored by column so that a scan reads only what it
// tests: times, camera numbers and codes (80 bytes a row) for every row, colours for colour queries,
// and the int8 vectors only for the few candidates it ranks exactly. The active segment's columns are
// Go slices that grow; a sealed segment's alias its file, mapped read-only, so ten million rows cost the
// Go heap nothing and the kernel keeps in memory what the scans touch.
type segment struct {
	seq        uint64
	minT, maxT int64 // unix milliseconds of the rows' times; minT > maxT when empty

	times   []int64
	cams    []uint16 // into camNames: each segment numbers its own cameras
	colours []colour.Description
	scales  []float32 // 0: the entry has no appearance vector
	codes   []uint64  // codeWords per row; nil when the index had no centre yet
	vecs    []int8    // Dim per row
	idEnd   []uint32  // row i's id is ids[idEnd[i-1]:idEnd[i]]
	ids     []byte

	camNames []string
	camNum   map[string]uint16 // active segment only

	path    string // sealed only
	mapping []byte // sealed only: unmapped on close
}

func newSegment(seq uint64) *segment {
	return &segment{seq: seq, minT: 1<<63 - 1, maxT: -1 << 63, camNum: map[string]uint16{}}
}

func (s *segment) rows() int { return len(s.times) }

func (s *segment) id(i int) string {
	start := uint32(0)
	if i > 0 {
		start = s.idEnd[i-1]
	}
	return string(s.ids[start:s.idEnd[i]])
}

func (s *segment) idBytes(i int) []byte {
	start := uint32(0)
	if i > 0 {
		start = s.idEnd[i-1]
	}
	return s.ids[start:s.idEnd[i]]
}

// row is one entry in its stored form.
type row struct {
	id      string
	camera  string
	time    int64
	colours colour.Description
	scale   float32
	vec     []int8 // Dim, or nil
}

// appendRow adds a row to an active segment; code is nil when the index has no centre.
func (s *segment) appendRow(r row, code []uint64) {
	cam, ok := s.camNum[r.camera]
	if !ok {
		cam = uint16(len(s.camNames))
		s.camNum[r.camera] = cam
		s.camNames = append(s.camNames, r.camera)
	}
	s.times = append(s.times, r.time)
	s.minT, s.maxT = min(s.minT, r.time), max(s.maxT, r.time)
	s.cams = append(s.cams, cam)
	s.colours = append(s.colours, r.colours)
	s.scales = append(s.scales, r.scale)
	if r.vec != nil {
		s.vecs = append(s.vecs, r.vec...)
	} else {
		s.vecs = append(s.vecs, make([]int8, Dim)...)
	}
	if code != nil {
		s.codes = append(s.codes, code...)
	}
	s.ids = append(s.ids, r.id...)
	s.idEnd = append(s.idEnd, uint32(len(s.ids)))
}

// rowAt reads row i back (vec aliases the segment).
func (s *segment) rowAt(i int) row {
	r := row{id: s.id(i), camera: s.camNames[s.cams[i]], time: s.times[i], colours: s.colours[i], scale: s.scales[i]}
	if r.scale != 0 {
		r.vec = s.vecs[i*Dim : (i+1)*Dim]
	}
	return r
}

// without returns an active copy of s without the rows keep rejects, coded with centre (nil: uncoded).
func (s *segment) without(drop func(i int) bool, centre []float32) *segment {
	out := newSegment(s.seq)
	code := make([]uint64, codeWords)
	for i := range s.rows() {
		if drop(i) {
			continue
		}
		r := s.rowAt(i)
		var c []uint64
		if centre != nil {
			encodeInt8(code, s.vecs[i*Dim:(i+1)*Dim], r.scale, centre)
			c = code
		}
		out.appendRow(r, c)
	}
	return out
}

// The segment file: a header, then each column at a 64-byte aligned offset, then a CRC-32C of all
// that precedes it. Native little-endian layout, so a mapped file's columns are used as they are.
const (
	segMagic   = "SNOWSIDX"
	segVersion = 2 // 2: codes of the rotated vector
	headerSize = 64
	align      = 64
)

type segHeader struct {
	Magic    [8]byte
	Version  uint32
	Dim      uint32
	Rows     uint32
	Coded    uint32 // 1 when codes and the centre are present
	MinT     int64
	MaxT     int64
	Seq      uint64
	IDBytes  uint32
	CamBytes uint32
	_        [8]byte
}

type layout struct {
	centre, times, cams, colours, scales, codes, vecs, idEnd, ids, camTable, end int
}

func layoutOf(h segHeader) layout {
	var l layout
	off := headerSize
	next := func(n int) int {
		at := off
		off = (off + n + align - 1) / align * align
		return at
	}
	rows := int(h.Rows)
	coded := 0
	if h.Coded == 1 {
		coded = 1
	}
	l.centre = next(coded * Dim * 4)
	l.times = next(rows * 8)
	l.cams = next(rows * 2)
	l.colours = next(rows * int(unsafe.Sizeof(colour.Description{})))
	l.scales = next(rows * 4)
	l.codes = next(coded * rows * codeWords * 8)
	l.vecs = next(rows * Dim)
	l.idEnd = next(rows * 4)
	l.ids = next(int(h.IDBytes))
	l.camTable = next(int(h.CamBytes))
	l.end = off
	return l
}

func bytesOf[T any](s []T) []byte {
	if len(s) == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(&s[0])), len(s)*int(unsafe.Sizeof(s[0])))
}

func sliceOf[T any](b []byte, n int) []T {
	if n == 0 {
		return nil
	}
	return unsafe.Slice((*T)(unsafe.Pointer(&b[0])), n)
}

// write stores s (with the centre its codes were made with, nil when uncoded) under dir, through a
// temporary file renamed into place and synced, so a crash leaves either the old file or the new one.
func (s *segment) write(dir string, centre []float32) (string, error) {
	var camTable bytes.Buffer
	for _, n := range s.camNames {
		_ = binary.Write(&camTable, binary.LittleEndian, uint16(len(n)))
		camTable.WriteString(n)
	}
	h := segHeader{Version: segVersion, Dim: Dim, Rows: uint32(s.rows()), MinT: s.minT, MaxT: s.maxT,
		Seq: s.seq, IDBytes: uint32(len(s.ids)), CamBytes: uint32(camTable.Len())}
	copy(h.Magic[:], segMagic)
	if centre != nil {
		h.Coded = 1
	}
	l := layoutOf(h)
	buf := make([]byte, l.end+4)
	hb := bytesOf([]segHeader{h})
	copy(buf, hb)
	if centre != nil {
		copy(buf[l.centre:], bytesOf(centre))
		copy(buf[l.codes:], bytesOf(s.codes))
	}
	copy(buf[l.times:], bytesOf(s.times))
	copy(buf[l.cams:], bytesOf(s.cams))
	copy(buf[l.colours:], bytesOf(s.colours))
	copy(buf[l.scales:], bytesOf(s.scales))
	copy(buf[l.vecs:], bytesOf(s.vecs))
	copy(buf[l.idEnd:], bytesOf(s.idEnd))
	copy(buf[l.ids:], s.ids)
	copy(buf[l.camTable:], camTable.Bytes())
	binary.LittleEndian.PutUint32(buf[l.end:], crc32.Checksum(buf[:l.end], castagnoli))

	path := filepath.Join(dir, segmentName(s.seq))
	if err := writeFileSync(path, buf); err != nil {
		return "", fmt.Errorf("write segment %d: %w", s.seq, err)
	}
	return path, nil
}

func segmentName(seq uint64) string { return fmt.Sprintf("seg-%08d.idx", seq) }

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// errCorrupt marks a segment file that is not what write wrote.
var errCorrupt = errors.New("corrupt segment")

// openSegment maps a segment file and checks its header, size and checksum. It returns the centre the
// codes were made with (nil when uncoded).
func openSegment(path string) (*segment, []float32, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("open segment: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, nil, fmt.Errorf("open segment: %w", err)
	}
	if st.Size() < headerSize+4 || st.Size() > 1<<40 {
		return nil, nil, fmt.Errorf("segment %s: %w: %d bytes", path, errCorrupt, st.Size())
	}
	m, err := syscall.Mmap(int(f.Fd()), 0, int(st.Size()), syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		return nil, nil, fmt.Errorf("map segment %s: %w", path, err)
	}
	s, centre, err := parseSegment(m)
	if err != nil {
		_ = syscall.Munmap(m)
		return nil, nil, fmt.Errorf("segment %s: %w", path, err)
	}
	s.path, s.mapping = path, m
	return s, centre, nil
}

func parseSegment(m []byte) (*segment, []float32, error) {
	h := sliceOf[segHeader](m, 1)[0]
	if string(h.Magic[:]) != segMagic || h.Version != segVersion || h.Dim != Dim || h.Coded > 1 {
		return nil, nil, fmt.Errorf("%w: bad header", errCorrupt)
	}
	if h.Rows > 1<<28 || h.IDBytes > 1<<31 || h.CamBytes > 1<<24 {
		return nil, nil, fmt.Errorf("%w: sizes out of range", errCorrupt)
	}
	l := layoutOf(h)
	if len(m) != l.end+4 {
		return nil, nil, fmt.Errorf("%w: %d bytes, the header says %d", errCorrupt, len(m), l.end+4)
	}
	if crc32.Checksum(m[:l.end], castagnoli) != binary.LittleEndian.Uint32(m[l.end:]) {
		return nil, nil, fmt.Errorf("%w: checksum mismatch", errCorrupt)
	}
	rows := int(h.Rows)
	s := &segment{seq: h.Seq, minT: h.MinT, maxT: h.MaxT,
		times:   sliceOf[int64](m[l.times:], rows),
		cams:    sliceOf[uint16](m[l.cams:], rows),
		colours: sliceOf[colour.Description](m[l.colours:], rows),
		scales:  sliceOf[float32](m[l.scales:], rows),
		vecs:    sliceOf[int8](m[l.vecs:], rows*Dim),
		idEnd:   sliceOf[uint32](m[l.idEnd:], rows),
		ids:     m[l.ids : l.ids+int(h.IDBytes)],
	}
	var centre []float32
	if h.Coded == 1 {
		centre = slices.Clone(sliceOf[float32](m[l.centre:], Dim))
		s.codes = sliceOf[uint64](m[l.codes:], rows*codeWords)
	}
	for t := m[l.camTable : l.camTable+int(h.CamBytes)]; len(t) > 0; {
		if len(t) < 2 || len(t) < 2+int(binary.LittleEndian.Uint16(t)) {
			return nil, nil, fmt.Errorf("%w: camera table", errCorrupt)
		}
		n := int(binary.LittleEndian.Uint16(t))
		s.camNames = append(s.camNames, string(t[2:2+n]))
		t = t[2+n:]
	}
	prev := uint32(0)
	for i := range rows {
		if s.idEnd[i] < prev || s.idEnd[i] > h.IDBytes || int(s.cams[i]) >= len(s.camNames) {
			return nil, nil, fmt.Errorf("%w: row %d out of range", errCorrupt, i)
		}
		prev = s.idEnd[i]
	}
	return s, centre, nil
}

// close unmaps a sealed segment; its slices must not be used after.
func (s *segment) close() error {
	if s.mapping == nil {
		return nil
	}
	m := s.mapping
	s.mapping = nil
	return syscall.Munmap(m)
}

// writeFileSync writes path through a synced temporary file and a rename, then syncs the directory.
func writeFileSync(path string, data []byte) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(tmp)
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		os.Remove(tmp)
		return err
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return err
	}
	return syncDir(filepath.Dir(path))
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
