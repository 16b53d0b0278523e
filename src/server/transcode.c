/* Transcoding for an anchored stream whose legs share no codec: a
 * cv_rtp_relay transform (cv_rtp_relay_stream_set_xform) that, per packet
 * and on the worker's loop, decodes with the codec of the arriving leg's
 * payload type, resamples when the PCM rates differ and encodes with the
 * codec the other leg answered (or offered) first. Packets whose format
 * the other leg also has (a common codec, telephone-event, CN) are only
 * given that leg's payload type number. Everything is bounded: one
 * decoded frame (CV_CODEC_MAX_SAMPLES), a FIFO of the same size toward
 * the encoder, one output packet per input packet. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cvoip/media.h"
#include "cvoip/sdp.h"

#include "server_int.h"

#define MOD	    "xcode"
#define XC_MAX_FMTS 16
#define XC_FIFO	    (CV_CODEC_MAX_SAMPLES)

struct xc_fmt {
	uint8_t pt;
	uint8_t ch;
	char name[16];
	uint32_t rate;
	const struct cv_codec *codec; /* NULL: not one we decode/encode */
	char fmtp[64];		      /* as the leg wrote it */
};

struct xc_dir { /* what goes toward one leg; allocated when used */
	const struct cv_codec *dec_codec;
	uint32_t dec_clock;
	struct cv_codec_dec *dec;
	struct cv_resampler *rs;
	const struct cv_codec *enc_codec;
	struct cv_codec_enc *enc;
	int16_t fifo[XC_FIFO];
	size_t nfifo;
	bool have_ts;
	uint32_t last_in, last_out;
};

struct xcode {
	struct xc_fmt fmts[2][XC_MAX_FMTS];
	unsigned nfmts[2];
	int target[2];	       /* index in fmts[leg] to encode toward leg, -1 */
	struct xc_dir *dir[2]; /* dir[to], NULL until a packet needs it */
	uint64_t transcoded[2], remapped[2], dropped[2];
};

static void dir_reset(struct xc_dir *d)
{
	cv_mem_unref(d->dec);
	cv_mem_unref(d->enc);
	cv_mem_unref(d->rs);
	d->dec = NULL;
	d->enc = NULL;
	d->rs = NULL;
	d->dec_codec = d->enc_codec = NULL;
	d->nfifo = 0;
	d->have_ts = false;
}

static void xcode_dtor(void *arg)
{
	struct xcode *x = arg;
	for (int i = 0; i < 2; i++)
		if (x->dir[i]) {
			dir_reset(x->dir[i]);
			free(x->dir[i]);
		}
}

int xcode_create(struct xcode **xp)
{
	struct xcode *x = cv_mem_zalloc(sizeof(*x), xcode_dtor);
	if (!x)
		return -ENOMEM;
	x->target[0] = x->target[1] = -1;
	*xp = x;
	return 0;
}

/* Fills f from one SDP format; false when it has no usable name. */
static bool fmt_from_sdp(const struct cv_sdp_fmt *sf, struct xc_fmt *f)
{
	memset(f, 0, sizeof(*f));
	if (!sf->encoding.l || sf->encoding.l >= sizeof(f->name) ||
	    sf->pt < 0 || sf->pt > 127)
		return false;
	f->pt = (uint8_t)sf->pt;
	snprintf(f->name, sizeof(f->name), "%.*s", CV_PL_ARG(sf->encoding));
	f->rate = sf->clock_rate;
	f->ch = (uint8_t)(sf->channels ? sf->channels : 1);
	f->codec = cv_codec_find(sf->encoding, sf->clock_rate, 0);
	if (sf->has_fmtp && sf->fmtp.l < sizeof(f->fmtp))
		snprintf(f->fmtp, sizeof(f->fmtp), "%.*s", CV_PL_ARG(sf->fmtp));
	return true;
}

bool xcode_can(const struct cv_sdp_fmt *sf)
{
	struct xc_fmt f;
	return fmt_from_sdp(sf, &f) && f.codec;
}

void xcode_set_fmts(struct xcode *x, int leg, const struct cv_sdp_media *md)
{
	unsigned n = 0;
	x->target[leg] = -1;
	for (uint32_t i = 0; i < md->nfmts && n < XC_MAX_FMTS; i++) {
		if (!fmt_from_sdp(&md->fmts[i], &x->fmts[leg][n]))
			continue;
		if (x->target[leg] < 0 && x->fmts[leg][n].codec)
			x->target[leg] = (int)n;
		n++;
	}
	x->nfmts[leg] = n;
}

static const struct xc_fmt *by_pt(const struct xcode *x, int leg, uint8_t pt)
{
	for (unsigned i = 0; i < x->nfmts[leg]; i++)
		if (x->fmts[leg][i].pt == pt)
			return &x->fmts[leg][i];
	return NULL;
}

static const struct xc_fmt *same_fmt(const struct xcode *x, int leg,
				     const struct xc_fmt *f)
{
	for (unsigned i = 0; i < x->nfmts[leg]; i++) {
		const struct xc_fmt *g = &x->fmts[leg][i];
		if (g->rate == f->rate && !strcasecmp(g->name, f->name) &&
		    (g->ch == f->ch || !f->codec))
			return g;
	}
	return NULL;
}

static bool opus_rate(uint32_t r)
{
	return r == 8000 || r == 12000 || r == 16000 || r == 24000 ||
	       r == 48000;
}

static int dir_setup(struct xc_dir *d, const struct xc_fmt *in,
		     const struct xc_fmt *out)
{
	if (d->dec_codec != in->codec || !d->dec ||
	    d->enc_codec != out->codec || !d->enc) {
		dir_reset(d);
		struct cv_codec_params pi = {0}, po = {0};
		(void)cv_codec_fmtp_parse(in->codec, &pi, cv_pl_str(in->fmtp));
		(void)cv_codec_fmtp_parse(out->codec, &po,
					  cv_pl_str(out->fmtp));
		/* Opus runs at the other side's PCM rate when it can (RFC 7587
		 * §3.1.1: any of 8..48 kHz): no resampling, and a narrowband
		 * source costs a narrowband encoder (5x cheaper than 48 kHz) */
		if (opus_rate(out->codec->pcm_rate) &&
		    in->codec == &cv_codec_opus)
			pi.pcm_rate = out->codec->pcm_rate;
		if (opus_rate(in->codec->pcm_rate) &&
		    out->codec == &cv_codec_opus)
			po.pcm_rate = in->codec->pcm_rate;
		int err = cv_codec_dec_create(&d->dec, in->codec, &pi);
		if (!err)
			err = cv_codec_enc_create(&d->enc, out->codec, &po);
		uint32_t ri = d->dec ? cv_codec_dec_rate(d->dec) : 0;
		uint32_t ro = d->enc ? cv_codec_enc_rate(d->enc) : 0;
		if (!err && ri != ro)
			err = cv_resampler_create(&d->rs, ri, ro, 3);
		if (err) {
			dir_reset(d);
			return err;
		}
		d->dec_codec = in->codec;
		d->enc_codec = out->codec;
		d->dec_clock = in->rate;
	}
	return 0;
}

/* in_ts (clock of `in`) to the out clock, continuous across wrap. */
static uint32_t map_ts(struct xc_dir *d, uint32_t in_ts, uint32_t in_clock,
		       uint32_t out_clock)
{
	if (!d->have_ts) {
		d->have_ts = true;
		d->last_in = in_ts;
		d->last_out =
			(uint32_t)((uint64_t)in_ts * out_clock / in_clock);
		return d->last_out;
	}
	int64_t delta = (int32_t)(in_ts - d->last_in);
	d->last_in = in_ts;
	d->last_out +=
		(uint32_t)(delta * (int64_t)out_clock / (int64_t)in_clock);
	return d->last_out;
}

int xcode_xform(void *arg, enum cv_rtp_relay_leg from, uint8_t *pkt,
		size_t *len, size_t cap)
{
	struct xcode *x = arg;
	int to = !from;
	struct cv_rtp_pkt p;
	if (cv_rtp_parse(&p, pkt, *len))
		return CV_EPARSE;
	const struct xc_fmt *in = by_pt(x, (int)from, p.hdr.pt);
	if (!in) {
		x->dropped[to]++;
		return CV_ENOTFOUND;
	}
	const struct xc_fmt *same = same_fmt(x, to, in);
	if (same) { /* a format both have: only its number may differ */
		pkt[1] = (uint8_t)((pkt[1] & 0x80) | same->pt);
		x->remapped[to]++;
		return 0;
	}
	if (!in->codec || x->target[to] < 0 || !in->rate) {
		x->dropped[to]++;
		return CV_ENOTFOUND;
	}
	const struct xc_fmt *out = &x->fmts[to][x->target[to]];
	if (!x->dir[to] && !(x->dir[to] = calloc(1, sizeof(struct xc_dir))))
		return -ENOMEM;
	struct xc_dir *d = x->dir[to];
	int err = dir_setup(d, in, out);
	if (err) {
		CV_LOG_RL(CV_LOG_WARN, MOD, "%s -> %s: %s", in->name, out->name,
			  cv_strerror(err));
		x->dropped[to]++;
		return err;
	}
	int16_t pcm[CV_CODEC_MAX_SAMPLES];
	size_t n = CV_CODEC_MAX_SAMPLES;
	if (cv_codec_decode(d->dec, p.payload, p.payload_len, pcm, &n)) {
		x->dropped[to]++;
		return CV_EPARSE;
	}
	uint32_t enc_rate = cv_codec_enc_rate(d->enc);
	size_t before = d->nfifo;
	const int16_t *src = pcm;
	int16_t rs[XC_FIFO];
	if (d->rs) {
		size_t m = 0;
		if (cv_resampler_process(d->rs, pcm, n, rs, XC_FIFO, &m))
			m = 0;
		src = rs;
		n = m;
	}
	if (n > XC_FIFO)
		n = XC_FIFO;
	if (d->nfifo + n > XC_FIFO) { /* bounded: the oldest samples go */
		size_t drop = d->nfifo + n - XC_FIFO;
		memmove(d->fifo, d->fifo + drop,
			(d->nfifo - drop) * sizeof(int16_t));
		d->nfifo -= drop;
		before = d->nfifo;
	}
	memcpy(d->fifo + d->nfifo, src, n * sizeof(int16_t));
	d->nfifo += n;
	size_t unit = (size_t)enc_rate * out->codec->frame_ms / 1000;
	size_t maxn = (size_t)enc_rate * out->codec->max_ptime / 1000;
	size_t nenc = d->nfifo < maxn ? d->nfifo : maxn;
	if (unit)
		nenc -= nenc % unit;
	uint32_t ts = map_ts(d, p.hdr.ts, in->rate, out->rate);
	if (!nenc)
		return CV_ENOTFOUND; /* held until a whole frame is there */
	/* the first of these samples came `before` samples earlier */
	ts -= (uint32_t)((uint64_t)before * out->rate / enc_rate);
	if (cap < CV_RTP_HDR_LEN)
		return CV_ETOOBIG;
	struct cv_rtp_hdr h = {
		.marker = p.hdr.marker,
		.pt = out->pt,
		.seq = p.hdr.seq,
		.ts = ts,
		.ssrc = p.hdr.ssrc,
	};
	uint8_t payload[CV_CODEC_MAX_PAYLOAD];
	size_t plen = 0;
	err = cv_codec_encode(d->enc, d->fifo, nenc, payload, sizeof(payload),
			      &plen);
	memmove(d->fifo, d->fifo + nenc, (d->nfifo - nenc) * sizeof(int16_t));
	d->nfifo -= nenc;
	if (!err)
		err = cv_rtp_build(pkt, cap, &h, payload, plen, len);
	if (err) {
		x->dropped[to]++;
		return err;
	}
	x->transcoded[to]++;
	return 0;
}

void xcode_counts(const struct xcode *x, uint64_t *transcoded,
		  uint64_t *dropped)
{
	*transcoded = x->transcoded[0] + x->transcoded[1];
	*dropped = x->dropped[0] + x->dropped[1];
}

bool xcode_common(const struct xcode *x, int a, int b, bool *extra)
{
	bool common = false;
	*extra = false;
	for (unsigned i = 0; i < x->nfmts[b]; i++) {
		const struct xc_fmt *f = &x->fmts[b][i];
		bool audio = strcasecmp(f->name, "telephone-event") &&
			     strcasecmp(f->name, "CN");
		if (same_fmt(x, a, f))
			common = common || audio;
		else
			*extra = true;
	}
	return common;
}

bool xcode_has_pt(const struct xcode *x, int leg, uint8_t pt)
{
	return by_pt(x, leg, pt) != NULL;
}

/* Formats of leg `a` to answer it with when leg b's answer shares none:
 * its first codec we encode, and its telephone-event when b has one too.
 * Writes the PT list (" 8 101") and rtpmap/fmtp lines; sets keep[]. */
int xcode_answer(const struct xcode *x, int a, int b, char *pts, size_t ptsz,
		 struct cv_buf *lines)
{
	if (x->target[a] < 0)
		return CV_ENOTFOUND;
	const struct xc_fmt *sel[2] = {&x->fmts[a][x->target[a]], NULL};
	for (unsigned i = 0; i < x->nfmts[a]; i++) {
		const struct xc_fmt *f = &x->fmts[a][i];
		if (!strcasecmp(f->name, "telephone-event") &&
		    same_fmt(x, b, f)) {
			sel[1] = f;
			break;
		}
	}
	size_t o = 0;
	pts[0] = 0;
	for (int k = 0; k < 2 && sel[k]; k++) {
		const struct xc_fmt *f = sel[k];
		o += (size_t)snprintf(pts + o, o < ptsz ? ptsz - o : 0, " %u",
				      f->pt);
		if (f->ch > 1)
			cv_buf_printf(lines, "a=rtpmap:%u %s/%u/%u\r\n", f->pt,
				      f->name, f->rate, f->ch);
		else
			cv_buf_printf(lines, "a=rtpmap:%u %s/%u\r\n", f->pt,
				      f->name, f->rate);
		if (f->fmtp[0])
			cv_buf_printf(lines, "a=fmtp:%u %s\r\n", f->pt,
				      f->fmtp);
	}
	return o < ptsz ? 0 : CV_ETOOBIG;
}
