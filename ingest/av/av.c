#include "av.h"

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/imgutils.h>
#include <libavutil/opt.h>
#include <libswscale/swscale.h>

struct sl_decoder {
	AVCodecContext *ctx;
	AVPacket *pkt;
	AVFrame *frame;
	// bgr is the conversion target, allocated as FFmpeg allocates its own frames: each row holds the width
	// rounded up to 64 pixels, the height is rounded up to 32 rows, and spare bytes follow the last row.
	// swscale's SIMD converters write whole blocks of 16 pixels; into rows of exactly width x 3 bytes they
	// left the right edge unconverted (widths 16n+1..7) or wrote past the last row (16n+8..15).
	AVFrame *bgr;
	struct SwsContext *sws;
	int have_frame;
};

int sl_codec_h264(void) { return AV_CODEC_ID_H264; }
int sl_codec_hevc(void) { return AV_CODEC_ID_HEVC; }
int sl_error_eagain(void) { return AVERROR(EAGAIN); }
int sl_error_eof(void) { return AVERROR_EOF; }
void sl_strerror(int err, char *buf, int len) { av_strerror(err, buf, len); }
void sl_quiet(void) { av_log_set_level(AV_LOG_QUIET); }

int sl_decoder_open(sl_decoder **out, int codec_id, int threads, int64_t max_pixels) {
	const AVCodec *codec = avcodec_find_decoder(codec_id);
	if (!codec) return AVERROR_DECODER_NOT_FOUND;
	sl_decoder *d = av_mallocz(sizeof(*d));
	if (!d) return AVERROR(ENOMEM);
	d->ctx = avcodec_alloc_context3(codec);
	d->pkt = av_packet_alloc();
	d->frame = av_frame_alloc();
	d->bgr = av_frame_alloc();
	if (!d->ctx || !d->pkt || !d->frame || !d->bgr) {
		sl_decoder_close(d);
		return AVERROR(ENOMEM);
	}
	d->ctx->thread_count = threads > 0 ? threads : 1;
	d->ctx->thread_type = threads > 1 ? FF_THREAD_FRAME | FF_THREAD_SLICE : 0;
	// Second line of defence behind the Go-side SPS check: libavcodec refuses to allocate bigger pictures.
	d->ctx->max_pixels = max_pixels;
	int ret = avcodec_open2(d->ctx, codec, NULL);
	if (ret < 0) {
		sl_decoder_close(d);
		return ret;
	}
	*out = d;
	return 0;
}

int sl_decoder_send(sl_decoder *d, const uint8_t *data, int size, int64_t pts) {
	// The packet is not reference counted, so libavcodec copies the bytes and keeps no pointer to Go memory.
	d->pkt->data = (uint8_t *)data;
	d->pkt->size = size;
	d->pkt->pts = pts;
	d->pkt->dts = AV_NOPTS_VALUE;
	int ret = avcodec_send_packet(d->ctx, d->pkt);
	d->pkt->data = NULL;
	d->pkt->size = 0;
	return ret;
}

int sl_decoder_drain(sl_decoder *d) { return avcodec_send_packet(d->ctx, NULL); }

int sl_decoder_receive(sl_decoder *d, sl_picture *pic) {
	av_frame_unref(d->frame);
	d->have_frame = 0;
	int ret = avcodec_receive_frame(d->ctx, d->frame);
	if (ret < 0) return ret;
	d->have_frame = 1;
	pic->pts = d->frame->best_effort_timestamp != AV_NOPTS_VALUE ? d->frame->best_effort_timestamp : d->frame->pts;
	pic->width = d->frame->width;
	pic->height = d->frame->height;
	pic->keyframe = d->frame->key_frame;
	pic->corrupt = (d->frame->flags & AV_FRAME_FLAG_CORRUPT) || d->frame->decode_error_flags;
	return 0;
}

// bgr_frame makes d->bgr fit a w x h picture, reallocating it when the size changed.
static int bgr_frame(sl_decoder *d, int w, int h) {
	AVFrame *b = d->bgr;
	if (b->data[0] && b->width == w && b->height == h) return 0;
	av_frame_unref(b);
	b->format = AV_PIX_FMT_BGR24;
	b->width = w;
	b->height = h;
	return av_frame_get_buffer(b, 64);
}

int sl_decoder_bgr(sl_decoder *d, uint8_t *dst, int stride) {
	if (!d->have_frame) return AVERROR(EINVAL);
	AVFrame *f = d->frame;
	if (stride < f->width * 3) return AVERROR(EINVAL);
	int ret = bgr_frame(d, f->width, f->height);
	if (ret < 0) return ret;
	d->sws = sws_getCachedContext(d->sws, f->width, f->height, f->format, f->width, f->height,
	                              AV_PIX_FMT_BGR24, SWS_BILINEAR, NULL, NULL, NULL);
	if (!d->sws) return AVERROR(EINVAL);
	int h = sws_scale(d->sws, (const uint8_t *const *)f->data, f->linesize, 0, f->height, d->bgr->data,
	                  d->bgr->linesize);
	if (h != f->height) return AVERROR(EINVAL);
	// The only writes into the caller's memory: exactly width x 3 bytes on each of height rows.
	av_image_copy_plane(dst, stride, d->bgr->data[0], d->bgr->linesize[0], f->width * 3, f->height);
	return 0;
}

void sl_decoder_reset(sl_decoder *d) {
	av_frame_unref(d->frame);
	d->have_frame = 0;
	avcodec_flush_buffers(d->ctx);
}

void sl_decoder_close(sl_decoder *d) {
	if (!d) return;
	avcodec_free_context(&d->ctx);
	av_packet_free(&d->pkt);
	av_frame_free(&d->frame);
	av_frame_free(&d->bgr);
	sws_freeContext(d->sws);
	av_free(d);
}

struct sl_demuxer {
	AVFormatContext *fmt;
	AVPacket *pkt;
	int stream;
};

int sl_demuxer_open(sl_demuxer **out, const char *path, sl_stream_info *info) {
	sl_demuxer *d = av_mallocz(sizeof(*d));
	if (!d) return AVERROR(ENOMEM);
	d->pkt = av_packet_alloc();
	if (!d->pkt) {
		sl_demuxer_close(d);
		return AVERROR(ENOMEM);
	}
	// Only local files: a crafted playlist or concat file must not make the server fetch URLs.
	AVDictionary *opts = NULL;
	av_dict_set(&opts, "protocol_whitelist", "file", 0);
	int ret = avformat_open_input(&d->fmt, path, NULL, &opts);
	av_dict_free(&opts);
	if (ret < 0) {
		sl_demuxer_close(d);
		return ret;
	}
	if ((ret = avformat_find_stream_info(d->fmt, NULL)) < 0) {
		sl_demuxer_close(d);
		return ret;
	}
	ret = av_find_best_stream(d->fmt, AVMEDIA_TYPE_VIDEO, -1, -1, NULL, 0);
	if (ret < 0) {
		sl_demuxer_close(d);
		return ret;
	}
	d->stream = ret;
	AVStream *st = d->fmt->streams[ret];
	info->codec_id = st->codecpar->codec_id;
	info->width = st->codecpar->width;
	info->height = st->codecpar->height;
	AVRational fr = st->avg_frame_rate.num ? st->avg_frame_rate : st->r_frame_rate;
	info->fps_num = fr.num;
	info->fps_den = fr.den;
	info->tb_num = st->time_base.num;
	info->tb_den = st->time_base.den;
	info->duration = st->duration != AV_NOPTS_VALUE ? st->duration : INT64_MIN;
	info->extradata = st->codecpar->extradata;
	info->extradata_size = st->codecpar->extradata_size;
	*out = d;
	return 0;
}

int sl_demuxer_read(sl_demuxer *d, const uint8_t **data, int *size, int64_t *pts, int64_t *dts, int *key) {
	for (;;) {
		av_packet_unref(d->pkt);
		int ret = av_read_frame(d->fmt, d->pkt);
		if (ret < 0) return ret;
		if (d->pkt->stream_index != d->stream) continue;
		*data = d->pkt->data;
		*size = d->pkt->size;
		*pts = d->pkt->pts;
		*dts = d->pkt->dts;
		*key = (d->pkt->flags & AV_PKT_FLAG_KEY) != 0;
		return 0;
	}
}

void sl_demuxer_close(sl_demuxer *d) {
	if (!d) return;
	av_packet_free(&d->pkt);
	avformat_close_input(&d->fmt);
	av_free(d);
}
