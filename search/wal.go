package search

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
	"os"
	"path/filepath"
	"unsafe"

	"snowlight/colour"
)

// The active segment's log: every Add is appended (written, not synced: the store is the record, and
// the log only spares re-adding after a restart) so that reopening the index finds the unsealed rows.
// It starts with the sequence number of the segment its rows will become: a log whose segment already
// exists was sealed before a crash let it be removed, and is dropped.
const (
	walMagic = "SNOWSWAL"
	walName  = "active.wal"
)

type wal struct {
	f    *os.File
	path string
	buf  []byte
}

func walPath(dir string) string { return filepath.Join(dir, walName) }

// createWAL starts an empty log for segment seq, replacing any old one, and writes rows into it.
func createWAL(dir string, seq uint64, rows []row) (*wal, error) {
	path := walPath(dir)
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("create log: %w", err)
	}
	w := &wal{f: f, path: path}
	hdr := make([]byte, 16)
	copy(hdr, walMagic)
	binary.LittleEndian.PutUint64(hdr[8:], seq)
	if _, err := f.Write(hdr); err != nil {
		f.Close()
		return nil, fmt.Errorf("create log: %w", err)
	}
	for _, r := range rows {
		if err := w.append(r); err != nil {
			f.Close()
			return nil, err
		}
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return nil, fmt.Errorf("create log: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		f.Close()
		return nil, fmt.Errorf("create log: %w", err)
	}
	return w, syncDir(dir)
}

func (w *wal) append(r row) error {
	b := w.buf[:0]
	b = append(b, 0, 0, 0, 0, 0, 0, 0, 0) // length, crc
	b = binary.LittleEndian.AppendUint16(b, uint16(len(r.id)))
	b = append(b, r.id...)
	b = binary.LittleEndian.AppendUint16(b, uint16(len(r.camera)))
	b = append(b, r.camera...)
	b = binary.LittleEndian.AppendUint64(b, uint64(r.time))
	b = append(b, bytesOf([]colour.Description{r.colours})...)
	b = binary.LittleEndian.AppendUint32(b, math.Float32bits(r.scale))
	if r.scale != 0 {
		b = append(b, bytesOf(r.vec)...)
	}
	binary.LittleEndian.PutUint32(b, uint32(len(b)-8))
	binary.LittleEndian.PutUint32(b[4:], crc32.Checksum(b[8:], castagnoli))
	w.buf = b
	if _, err := w.f.Write(b); err != nil {
		return fmt.Errorf("append to log: %w", err)
	}
	return nil
}

func (w *wal) close() error {
	if err := w.f.Sync(); err != nil {
		w.f.Close()
		return err
	}
	return w.f.Close()
}

// readWAL returns the log's segment number and rows; a torn last record (a crash mid-write) ends the
// log there. A missing log is (0, nil, os.ErrNotExist).
func readWAL(dir string) (uint64, []row, error) {
	data, err := os.ReadFile(walPath(dir))
	if err != nil {
		return 0, nil, err
	}
	if len(data) < 16 || string(data[:8]) != walMagic {
		return 0, nil, fmt.Errorf("log %s: %w: bad header", walPath(dir), errCorrupt)
	}
	seq := binary.LittleEndian.Uint64(data[8:])
	var rows []row
	for p := data[16:]; len(p) >= 8; {
		n := int(binary.LittleEndian.Uint32(p))
		if n > len(p)-8 || crc32.Checksum(p[8:8+n], castagnoli) != binary.LittleEndian.Uint32(p[4:]) {
			break
		}
		r, err := decodeRow(p[8 : 8+n])
		if err != nil {
			return 0, nil, fmt.Errorf("log %s: %w", walPath(dir), err)
		}
		rows = append(rows, r)
		p = p[8+n:]
	}
	return seq, rows, nil
}

var errShort = errors.New("short log record")

func decodeRow(p []byte) (row, error) {
	var r row
	str := func() (string, error) {
		if len(p) < 2 || len(p) < 2+int(binary.LittleEndian.Uint16(p)) {
			return "", errShort
		}
		n := int(binary.LittleEndian.Uint16(p))
		s := string(p[2 : 2+n])
		p = p[2+n:]
		return s, nil
	}
	var err error
	if r.id, err = str(); err != nil {
		return r, err
	}
	if r.camera, err = str(); err != nil {
		return r, err
	}
	cs := int(unsafe.Sizeof(colour.Description{}))
	if len(p) < 8+cs+4 {
		return r, errShort
	}
	r.time = int64(binary.LittleEndian.Uint64(p))
	r.colours = sliceOf[colour.Description](p[8:], 1)[0]
	r.scale = math.Float32frombits(binary.LittleEndian.Uint32(p[8+cs:]))
	p = p[8+cs+4:]
	if r.scale != 0 {
		if len(p) != Dim {
			return r, errShort
		}
		r.vec = append([]int8(nil), sliceOf[int8](p, Dim)...)
	}
	return r, nil
}
