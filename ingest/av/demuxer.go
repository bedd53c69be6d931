package av

/*
#include <stdlib.h>
#include "av.h"
*/
import "C"

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"snowlight/media"
	"time"
	"unsafe"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
)

// StreamInfo describes the video stream of a file.
type StreamInfo struct {
	Codec         media.Codec
	Width, Height int
	FrameRate     float64
	ParamSets     [][]byte      // VPS/SPS/PPS without start codes, from the container header
	Duration      time.Duration // 0 when the container does not say
}

// Packet is one access unit read from a file.
type Packet struct {
	AU       [][]byte // NAL units without start codes, in Go memory; parameter sets prepended to keyframes
	PTS, DTS time.Duration
	Keyframe bool
}

// Demuxer reads the video stream of a local file. It is not safe for concurrent use.
type Demuxer struct {
	c        *C.sl_demuxer
	path     string
	info     StreamInfo
	tb       float64 // seconds per time-base unit
	lenSize  int     // NAL length prefix size for MP4-style streams, 0 for Annex-B
	lastDTS  time.Duration
	havePkts bool
}

// OpenFile opens path (any container libavformat reads: MP4, MKV, AVI, MPEG-TS, raw .h264/.h265) and
// selects its best video stream, which must be H.264 or H.265. Only local files are read.
func OpenFile(path string) (*Demuxer, error) {
	cpath := C.CString(path)
	defer C.free(unsafe.Pointer(cpath))
	d := &Demuxer{path: path}
	var ci C.sl_stream_info
	if ret := C.sl_demuxer_open(&d.c, cpath, &ci); ret < 0 {
		return nil, fmt.Errorf("open video %s: %w", path, averror(ret))
	}
	switch ci.codec_id {
	case C.sl_codec_h264():
		d.info.Codec = media.H264
	case C.sl_codec_hevc():
		d.info.Codec = media.H265
	default:
		d.Close()
		return nil, fmt.Errorf("open video %s: video codec is not H.264 or H.265", path)
	}
	d.info.Width, d.info.Height = int(ci.width), int(ci.height)
	if d.info.Width > DefaultMaxWidth || d.info.Height > DefaultMaxHeight {
		d.Close()
		return nil, fmt.Errorf("open video %s: %dx%d exceeds %dx%d", path, d.info.Width, d.info.Height, DefaultMaxWidth, DefaultMaxHeight)
	}
	if ci.fps_den > 0 && ci.fps_num > 0 {
		d.info.FrameRate = float64(ci.fps_num) / float64(ci.fps_den)
	}
	d.tb = float64(ci.tb_num) / float64(ci.tb_den)
	if ci.duration != math.MinInt64 {
		d.info.Duration = d.toDuration(int64(ci.duration))
	}
	extra := C.GoBytes(unsafe.Pointer(ci.extradata), ci.extradata_size)
	ps, lenSize, err := parseExtradata(d.info.Codec, extra)
	if err != nil {
		d.Close()
		return nil, fmt.Errorf("open video %s: codec header: %w", path, err)
	}
	d.info.ParamSets, d.lenSize = ps, lenSize
	return d, nil
}

// Info describes the video stream.
func (d *Demuxer) Info() StreamInfo { return d.info }

// Read returns the next access unit of the video stream, or io.EOF at the end of the file.
func (d *Demuxer) Read() (Packet, error) {
	var (
		data     *C.uint8_t
		size     C.int
		pts, dts C.int64_t
		key      C.int
	)
	ret := C.sl_demuxer_read(d.c, &data, &size, &pts, &dts, &key)
	if ret == C.sl_error_eof() {
		return Packet{}, io.EOF
	}
	if ret < 0 {
		return Packet{}, fmt.Errorf("read video %s: %w", d.path, averror(ret))
	}
	buf := C.GoBytes(unsafe.Pointer(data), size)
	au, err := splitNALUs(buf, d.lenSize)
	if err != nil {
		return Packet{}, fmt.Errorf("read video %s: %w", d.path, err)
	}
	p := Packet{AU: au, Keyframe: key != 0 || IsKeyframe(d.info.Codec, au)}
	// Containers without timestamps (raw .h264) give none: number frames at the nominal rate.
	const noPTS = math.MinInt64
	switch {
	case dts != noPTS:
		p.DTS = d.toDuration(int64(dts))
	case d.havePkts:
		p.DTS = d.lastDTS + d.frameDuration()
	}
	p.PTS = p.DTS
	if pts != noPTS {
		p.PTS = d.toDuration(int64(pts))
	}
	d.lastDTS, d.havePkts = p.DTS, true
	if p.Keyframe && !hasParamSets(d.info.Codec, au) && len(d.info.ParamSets) > 0 {
		p.AU = append(append([][]byte{}, d.info.ParamSets...), au...)
	}
	return p, nil
}

func (d *Demuxer) frameDuration() time.Duration {
	if d.info.FrameRate <= 0 {
		return 40 * time.Millisecond
	}
	return time.Duration(float64(time.Second) / d.info.FrameRate)
}

func (d *Demuxer) toDuration(ts int64) time.Duration {
	return time.Duration(math.Round(float64(ts) * d.tb * float64(time.Second)))
}

// Close releases the file. It is safe to call more than once.
func (d *Demuxer) Close() {
	if d.c != nil {
		C.sl_demuxer_close(d.c)
		d.c = nil
	}
}

// parseExtradata reads the codec header: an avcC/hvcC record (MP4, MKV) gives parameter sets and the NAL
// length size; anything else is taken as Annex-B parameter sets.
func parseExtradata(c media.Codec, b []byte) (ps [][]byte, lenSize int, err error) {
	if len(b) == 0 {
		return nil, 0, nil
	}
	if b[0] != 1 { // not a configuration record: Annex-B
		var a h264.AnnexB
		if err := a.Unmarshal(b); err != nil {
			return nil, 0, err
		}
		return a, 0, nil
	}
	switch c {
	case media.H264:
		return parseAVCC(b)
	case media.H265:
		return parseHVCC(b)
	}
	return nil, 0, fmt.Errorf("unsupported codec %v", c)
}

var errShortRecord = errors.New("truncated decoder configuration record")

// parseAVCC reads an AVCDecoderConfigurationRecord (ISO/IEC 14496-15, 5.3.3.1).
func parseAVCC(b []byte) ([][]byte, int, error) {
	if len(b) < 7 {
		return nil, 0, errShortRecord
	}
	lenSize := int(b[4]&3) + 1
	var ps [][]byte
	pos := 5
	for _, countMask := range []byte{0x1f, 0xff} { // SPS count (5 bits), then PPS count
		if pos >= len(b) {
			return nil, 0, errShortRecord
		}
		n := int(b[pos] & countMask)
		pos++
		for range n {
			nalu, next, err := readLenPrefixed(b, pos, 2)
			if err != nil {
				return nil, 0, err
			}
			ps, pos = append(ps, nalu), next
		}
	}
	return ps, lenSize, nil
}

// parseHVCC reads an HEVCDecoderConfigurationRecord (ISO/IEC 14496-15, 8.3.3.1).
func parseHVCC(b []byte) ([][]byte, int, error) {
	if len(b) < 23 {
		return nil, 0, errShortRecord
	}
	lenSize := int(b[21]&3) + 1
	arrays := int(b[22])
	pos := 23
	var ps [][]byte
	for range arrays {
		if pos+3 > len(b) {
			return nil, 0, errShortRecord
		}
		n := int(binary.BigEndian.Uint16(b[pos+1:]))
		pos += 3
		for range n {
			nalu, next, err := readLenPrefixed(b, pos, 2)
			if err != nil {
				return nil, 0, err
			}
			ps, pos = append(ps, nalu), next
		}
	}
	return ps, lenSize, nil
}

func readLenPrefixed(b []byte, pos, size int) ([]byte, int, error) {
	if pos+size > len(b) {
		return nil, 0, errShortRecord
	}
	var n int
	for i := range size {
		n = n<<8 | int(b[pos+i])
	}
	pos += size
	if n > len(b)-pos {
		return nil, 0, fmt.Errorf("NAL unit of %d bytes overruns its %d-byte container", n, len(b)-pos)
	}
	return b[pos : pos+n], pos + n, nil
}

// splitNALUs splits a packet into NAL units: length-prefixed when lenSize > 0, else Annex-B.
func splitNALUs(b []byte, lenSize int) ([][]byte, error) {
	if lenSize == 0 {
		var a h264.AnnexB
		if err := a.Unmarshal(b); err != nil {
			return nil, fmt.Errorf("split Annex-B packet: %w", err)
		}
		return a, nil
	}
	var au [][]byte
	for pos := 0; pos < len(b); {
		nalu, next, err := readLenPrefixed(b, pos, lenSize)
		if err != nil {
			return nil, fmt.Errorf("split packet: %w", err)
		}
		if len(nalu) > 0 {
			au = append(au, nalu)
		}
		pos = next
	}
	return au, nil
}

func hasParamSets(c media.Codec, au [][]byte) bool {
	for _, n := range au {
		if len(n) == 0 {
			continue
		}
		switch c {
		case media.H264:
			if h264.NALUType(n[0]&0x1f) == h264.NALUTypeSPS {
				return true
			}
		case media.H265:
			if t := (n[0] >> 1) & 0x3f; t == 32 || t == 33 { // VPS, SPS
				return true
			}
		}
	}
	return false
}

// ReadFile returns every access unit of a file. It holds them all in memory, so it is for short clips
// (tests, benchmarks); a long recording is read with Read.
func ReadFile(path string) (StreamInfo, []Packet, error) {
	d, err := OpenFile(path)
	if err != nil {
		return StreamInfo{}, nil, err
	}
	defer d.Close()
	var pkts []Packet
	for {
		p, err := d.Read()
		if errors.Is(err, io.EOF) {
			return d.info, pkts, nil
		}
		if err != nil {
			return d.info, pkts, err
		}
		pkts = append(pkts, p)
	}
}
