// Small C layer over libavcodec/libavformat/libswscale so the Go side makes one cgo call per operation.
#ifndef SNOWLIGHT_AV_H
#define SNOWLIGHT_AV_H

#include <stdint.h>

typedef struct sl_decoder sl_decoder;
typedef struct sl_demuxer sl_demuxer;

typedef struct {
	int64_t pts;
	int width, height;
	int keyframe;
	int corrupt;
} sl_picture;

int sl_decoder_open(sl_decoder **out, int codec_id, int threads, int64_t max_pixels);
int sl_decoder_send(sl_decoder *d, const uint8_t *data, int size, int64_t pts);
int sl_decoder_drain(sl_decoder *d);
int sl_decoder_receive(sl_decoder *d, sl_picture *pic);
int sl_decoder_bgr(sl_decoder *d, uint8_t *dst, int stride);
void sl_decoder_reset(sl_decoder *d);
void sl_decoder_close(sl_decoder *d);

typedef struct {
	int codec_id;
	int width, height;
	int fps_num, fps_den;
	int tb_num, tb_den;
	int64_t duration; // in time base units, or INT64_MIN when unknown
	const uint8_t *extradata;
	int extradata_size;
} sl_stream_info;

int sl_demuxer_open(sl_demuxer **out, const char *path, sl_stream_info *info);
// sl_demuxer_read returns 0 and a packet valid until the next call, AVERROR_EOF at the end, or an error.
int sl_demuxer_read(sl_demuxer *d, const uint8_t **data, int *size, int64_t *pts, int64_t *dts, int *key);
void sl_demuxer_close(sl_demuxer *d);

int sl_codec_h264(void);
int sl_codec_hevc(void);
int sl_error_eagain(void);
int sl_error_eof(void);
void sl_strerror(int err, char *buf, int len);
void sl_quiet(void);

#endif
