// Package av decodes H.264 and H.265 with libavcodec into BGR gocv Mats and demuxes video files with
// libavformat. It is a thin cgo layer: one C call per operation, no decoded picture crosses into Go memory
// (pictures are converted in a padded C buffer and copied row by row into the Mat), and nothing here keeps a
// pointer to Go memory after a call.
package av

/*
#cgo pkg-config: libavcodec libavformat libavutil libswscale
#include "av.h"
*/
import "C"

import (
	"errors"
	"fmt"
	"snowlight/media"
)

func avCodecID(c media.Codec) (C.int, error) {
	switch c {
	case media.H264:
		return C.sl_codec_h264(), nil
	case media.H265:
		return C.sl_codec_hevc(), nil
	}
	return 0, fmt.Errorf("unsupported codec %v", c)
}

// ErrNeedInput means the decoder has no picture ready: send it the next access unit.
var ErrNeedInput = errors.New("decoder needs more input")

// averror turns a negative libav return code into an error carrying libav's message.
func averror(code C.int) error {
	var buf [128]C.char
	C.sl_strerror(code, &buf[0], C.int(len(buf)))
	return &Error{Code: int(code), Msg: C.GoString(&buf[0])}
}

// Error is a failure reported by libav.
type Error struct {
	Code int
	Msg  string
}

func (e *Error) Error() string { return fmt.Sprintf("libav: %s (%d)", e.Msg, e.Code) }

func init() {
	// libav logs to stderr from deep inside; every failure is returned as an error instead.
	C.sl_quiet()
}
