package av

/*
#include "av.h"
*/
import "C"

import (
	"errors"
	"fmt"
	"io"
	"snowlight/media"
	"unsafe"

	"gocv.io/x/gocv"
)

// DecoderOptions configures a Decoder.
type DecoderOptions struct {
	Codec media.Codec
	// Threads is the number of decoding threads; 0 means 1. Frame threading delays output by Threads-1
	// pictures, and with one decoder per camera on a busy machine a single thread each is cheapest overall.
	Threads int
	// MaxWidth and MaxHeight bound the pictures the decoder accepts; 0 means DefaultMaxWidth/Height.
	MaxWidth, MaxHeight int
}

// PictureInfo describes a decoded picture.
type PictureInfo struct {
	PTS           int64 // as given to Send
	Width, Height int
	Keyframe      bool
	Corrupt       bool // decoded with errors concealed (for example after packet loss)
}

// Decoder turns access units into pictures. It is not safe for concurrent use.
type Decoder struct {
	c          *C.sl_decoder
	opts       DecoderOptions
	buf        []byte // Annex-B assembly buffer, reused
	cur        PictureInfo
	haveFrame  bool
	codecLabel string
}

// inputPadding is AV_INPUT_BUFFER_PADDING_SIZE: libavcodec's bitstream readers may read this far past the end.
const inputPadding = 64

// NewDecoder opens a decoder.
func NewDecoder(o DecoderOptions) (*Decoder, error) {
	id, err := avCodecID(o.Codec)
	if err != nil {
		return nil, fmt.Errorf("open decoder: %w", err)
	}
	if o.MaxWidth <= 0 {
		o.MaxWidth = DefaultMaxWidth
	}
	if o.MaxHeight <= 0 {
		o.MaxHeight = DefaultMaxHeight
	}
	if o.Threads < 0 || o.Threads > 64 {
		return nil, fmt.Errorf("open decoder: threads %d out of range 0..64", o.Threads)
	}
	d := &Decoder{opts: o, codecLabel: o.Codec.String()}
	if ret := C.sl_decoder_open(&d.c, id, C.int(o.Threads), C.int64_t(int64(o.MaxWidth)*int64(o.MaxHeight))); ret < 0 {
		return nil, fmt.Errorf("open %v decoder: %w", o.Codec, averror(ret))
	}
	return d, nil
}

// Codec returns the codec the decoder was opened for.
func (d *Decoder) Codec() media.Codec { return d.opts.Codec }

// Send decodes one access unit: its NAL units without start codes, in decode order. Parameter sets may be
// part of it. A malformed access unit returns an error and leaves the decoder usable for the next one.
func (d *Decoder) Send(au [][]byte, pts int64) error {
	if err := CheckParamSets(d.opts.Codec, au, d.opts.MaxWidth, d.opts.MaxHeight); err != nil {
		return err
	}
	d.buf = appendAnnexB(d.buf[:0], au)
	if len(d.buf) == 0 {
		return nil
	}
	n := len(d.buf)
	d.buf = append(d.buf, make([]byte, inputPadding)...)
	ret := C.sl_decoder_send(d.c, (*C.uint8_t)(unsafe.Pointer(&d.buf[0])), C.int(n), C.int64_t(pts))
	if ret < 0 && ret != C.sl_error_eagain() {
		return fmt.Errorf("decode %v access unit: %w", d.opts.Codec, averror(ret))
	}
	return nil
}

// Drain tells the decoder no more input follows, so Receive returns the pictures it still holds and then
// io.EOF. Reset makes it accept input again.
func (d *Decoder) Drain() error {
	if ret := C.sl_decoder_drain(d.c); ret < 0 && ret != C.sl_error_eof() {
		return fmt.Errorf("drain decoder: %w", averror(ret))
	}
	return nil
}

// Reset drops every buffered picture and reference, as after a reconnect: decoding resumes at the next
// keyframe.
func (d *Decoder) Reset() {
	C.sl_decoder_reset(d.c)
	d.haveFrame = false
}

// Receive returns the next decoded picture, ErrNeedInput when none is ready, or io.EOF after Drain.
// The picture stays available to BGR until the next Receive, Send or Reset.
func (d *Decoder) Receive() (PictureInfo, error) {
	var p C.sl_picture
	ret := C.sl_decoder_receive(d.c, &p)
	d.haveFrame = ret == 0
	switch {
	case ret == C.sl_error_eagain():
		return PictureInfo{}, ErrNeedInput
	case ret == C.sl_error_eof():
		return PictureInfo{}, io.EOF
	case ret < 0:
		return PictureInfo{}, fmt.Errorf("receive %v picture: %w", d.opts.Codec, averror(ret))
	}
	d.cur = PictureInfo{
		PTS:      int64(p.pts),
		Width:    int(p.width),
		Height:   int(p.height),
		Keyframe: p.keyframe != 0,
		Corrupt:  p.corrupt != 0,
	}
	return d.cur, nil
}

// BGR converts the picture last returned by Receive into a new 8-bit, 3-channel BGR Mat, which the caller
// must Close. Skipping BGR for pictures nobody wants is the main saving of sampled decoding.
func (d *Decoder) BGR() (gocv.Mat, error) {
	if !d.haveFrame {
		return gocv.Mat{}, errors.New("convert picture: no picture received")
	}
	m := gocv.NewMatWithSize(d.cur.Height, d.cur.Width, gocv.MatTypeCV8UC3)
	if err := d.BGRInto(&m); err != nil {
		m.Close()
		return gocv.Mat{}, err
	}
	return m, nil
}

// BGRInto converts the picture last returned by Receive into dst, which must be a continuous CV_8UC3 Mat
// of the picture's size; reusing dst avoids an allocation per frame.
func (d *Decoder) BGRInto(dst *gocv.Mat) error {
	if !d.haveFrame {
		return errors.New("convert picture: no picture received")
	}
	if dst.Rows() != d.cur.Height || dst.Cols() != d.cur.Width || dst.Type() != gocv.MatTypeCV8UC3 || !dst.IsContinuous() {
		return fmt.Errorf("convert picture: destination is %dx%d type %v, want continuous %dx%d CV_8UC3",
			dst.Cols(), dst.Rows(), dst.Type(), d.cur.Width, d.cur.Height)
	}
	data, err := dst.DataPtrUint8()
	if err != nil {
		return fmt.Errorf("convert picture: %w", err)
	}
	if ret := C.sl_decoder_bgr(d.c, (*C.uint8_t)(unsafe.Pointer(&data[0])), C.int(dst.Step())); ret < 0 {
		return fmt.Errorf("convert picture to BGR: %w", averror(ret))
	}
	return nil
}

// Close frees the decoder. It is safe to call more than once.
func (d *Decoder) Close() {
	if d.c != nil {
		C.sl_decoder_close(d.c)
		d.c = nil
	}
}
