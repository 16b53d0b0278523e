/* Opus via libopus (RFC 7587). SDP says opus/48000/2 whatever is sent; we
 * encode and decode mono at p->pcm_rate (default 48 kHz), which libopus
 * up/down-mixes. Concealment is libopus's own PLC, or in-band FEC (LBRR)
 * from the packet after the loss when the jitter buffer has it. */
#include <stdio.h>

#include <opus/opus.h>

#include "media_int.h"

static bool valid_rate(uint32_t r)
{
	return r == 8000 || r == 12000 || r == 16000 || r == 24000 ||
	       r == 48000;
}

/* RFC 7587 §6.1: maxplaybackrate caps the audio bandwidth we send. */
static opus_int32 bandwidth_for(uint32_t hz)
{
	if (!hz || hz > 24000)
		return OPUS_BANDWIDTH_FULLBAND;
	if (hz > 16000)
		return OPUS_BANDWIDTH_SUPERWIDEBAND;
	if (hz > 12000)
		return OPUS_BANDWIDTH_WIDEBAND;
	if (hz > 8000)
		return OPUS_BANDWIDTH_MEDIUMBAND;
	return OPUS_BANDWIDTH_NARROWBAND;
}

static int opus_enc_create(void **st, const struct cv_codec_params *p,
			   uint32_t pcm_rate)
{
	if (!valid_rate(pcm_rate))
		return -EINVAL;
	int oerr;
	OpusEncoder *e = opus_encoder_create((opus_int32)pcm_rate, 1,
					     OPUS_APPLICATION_VOIP, &oerr);
	if (!e || oerr != OPUS_OK)
		return -ENOMEM;
	opus_int32 br = p->bitrate ? (opus_int32)p->bitrate : 32000;
	opus_encoder_ctl(e, OPUS_SET_BITRATE(br));
	opus_encoder_ctl(e, OPUS_SET_COMPLEXITY(5));
	opus_encoder_ctl(e, OPUS_SET_INBAND_FEC(p->useinbandfec ? 1 : 0));
	opus_encoder_ctl(e, OPUS_SET_PACKET_LOSS_PERC(
				    p->loss_pct ? p->loss_pct
						: (p->useinbandfec ? 10 : 0)));
	opus_encoder_ctl(e, OPUS_SET_DTX(p->usedtx ? 1 : 0));
	opus_encoder_ctl(e, OPUS_SET_VBR(p->cbr ? 0 : 1));
	opus_encoder_ctl(
		e, OPUS_SET_MAX_BANDWIDTH(bandwidth_for(p->maxplaybackrate)));
	*st = e;
	return 0;
}

static int opus_encode_fn(void *st, const int16_t *pcm, size_t n, uint8_t *out,
			  size_t outsize, size_t *outlen)
{
	if (outsize > CV_CODEC_MAX_PAYLOAD)
		outsize = CV_CODEC_MAX_PAYLOAD;
	opus_int32 r = opus_encode(st, pcm, (int)n, out, (opus_int32)outsize);
	if (r < 0)
		return r == OPUS_BUFFER_TOO_SMALL ? CV_ETOOBIG : -EINVAL;
	/* With DTX, a packet of 2 bytes or less need not be sent (libopus
	 * opus_encode(); RFC 7587 §3.1.3). */
	opus_int32 dtx = 0;
	opus_encoder_ctl((OpusEncoder *)st, OPUS_GET_DTX(&dtx));
	*outlen = (dtx && r <= 2) ? 0 : (size_t)r;
	return 0;
}

static void opus_enc_destroy(void *st)
{
	opus_encoder_destroy(st);
}

static int opus_dec_create(void **st, const struct cv_codec_params *p,
			   uint32_t pcm_rate)
{
	(void)p;
	if (!valid_rate(pcm_rate))
		return -EINVAL;
	int oerr;
	OpusDecoder *d = opus_decoder_create((opus_int32)pcm_rate, 1, &oerr);
	if (!d || oerr != OPUS_OK)
		return -ENOMEM;
	*st = d;
	return 0;
}

static int opus_decode_fn(void *st, const uint8_t *in, size_t len, int16_t *pcm,
			  size_t *n)
{
	if (len > CV_CODEC_MAX_PAYLOAD)
		return CV_EPARSE;
	int r = opus_decode(st, in, (opus_int32)len, pcm, (int)*n, 0);
	if (r < 0)
		return r == OPUS_BUFFER_TOO_SMALL ? CV_ETOOBIG : CV_EPARSE;
	*n = (size_t)r;
	return 0;
}

static int opus_conceal_fn(void *st, const uint8_t *next, size_t next_len,
			   int16_t *pcm, size_t *n)
{
	int r;
	/* libopus needs a multiple of 2.5 ms for PLC/FEC. */
	opus_int32 fs = 0;
	opus_decoder_ctl((OpusDecoder *)st, OPUS_GET_SAMPLE_RATE(&fs));
	size_t q = fs > 0 ? (size_t)fs / 400 : 120;
	size_t want = (*n / q) * q;
	if (!want)
		return -EINVAL;
	/* Without LBRR in `next`, libopus falls back to plain PLC. */
	if (next && next_len && next_len <= CV_CODEC_MAX_PAYLOAD) {
		r = opus_decode(st, next, (opus_int32)next_len, pcm, (int)want,
				1);
		if (r >= 0) {
			*n = (size_t)r;
			return 0;
		}
	}
	r = opus_decode(st, NULL, 0, pcm, (int)want, 0);
	if (r < 0)
		return -EINVAL;
	*n = (size_t)r;
	return 0;
}

static void opus_dec_destroy(void *st)
{
	opus_decoder_destroy(st);
}

static int opus_samples(const uint8_t *in, size_t len, uint32_t rate)
{
	if (len > CV_CODEC_MAX_PAYLOAD)
		return -1;
	int r = opus_packet_get_nb_samples(in, (opus_int32)len,
					   (opus_int32)rate);
	return r <= 0 ? -1 : r;
}

static bool flag(struct cv_pl fmtp, const char *key, bool *out)
{
	uint32_t v;
	if (!cv_fmtp_get_u32(fmtp, key, &v))
		return false;
	*out = v != 0;
	return true;
}

/* RFC 7587 §6.1 parameters. */
static int opus_fmtp_parse(struct cv_codec_params *p, struct cv_pl fmtp)
{
	uint32_t v;
	if (cv_fmtp_get_u32(fmtp, "maxplaybackrate", &v) && v >= 8000 &&
	    v <= 48000)
		p->maxplaybackrate = v;
	if (cv_fmtp_get_u32(fmtp, "sprop-maxcapturerate", &v) && v >= 8000 &&
	    v <= 48000)
		p->maxcapturerate = v;
	if (cv_fmtp_get_u32(fmtp, "maxaveragebitrate", &v) && v >= 6000 &&
	    v <= 510000)
		p->bitrate = v;
	if (cv_fmtp_get_u32(fmtp, "ptime", &v) && v >= 10 && v <= 120)
		p->ptime = v;
	flag(fmtp, "useinbandfec", &p->useinbandfec);
	flag(fmtp, "usedtx", &p->usedtx);
	flag(fmtp, "cbr", &p->cbr);
	flag(fmtp, "stereo", &p->stereo);
	return 0;
}

static int opus_fmtp_print(const struct cv_codec_params *p, char *buf,
			   size_t size)
{
	int r = snprintf(buf, size, "minptime=10;useinbandfec=1");
	size_t l = r > 0 ? (size_t)r : 0;
	if (p->maxplaybackrate && l < size)
		l += (size_t)snprintf(buf + l, size - l, ";maxplaybackrate=%u",
				      p->maxplaybackrate);
	if (p->stereo && l < size)
		l += (size_t)snprintf(buf + l, size - l, ";stereo=1");
	if (p->usedtx && l < size)
		l += (size_t)snprintf(buf + l, size - l, ";usedtx=1");
	if (p->cbr && l < size)
		l += (size_t)snprintf(buf + l, size - l, ";cbr=1");
	if (p->ptime && l < size)
		l += (size_t)snprintf(buf + l, size - l, ";ptime=%u", p->ptime);
	return l >= size ? CV_ETOOBIG : 0;
}

/* Not in G.113; treated like a wideband codec with good PLC (Ie 0). */
const struct cv_codec cv_codec_opus = {
	.name = "opus",
	.clock_rate = 48000,
	.pcm_rate = 48000,
	.channels = 2,
	.static_pt = 255,
	.default_pt = 111,
	.frame_ms = 10,
	.max_ptime = 60,
	.vbr_payload = true,
	.inband_fec = true,
	.ie = 0,
	.bpl = 25,
	.fmtp = "minptime=10;useinbandfec=1",
	.enc_create = opus_enc_create,
	.encode = opus_encode_fn,
	.enc_destroy = opus_enc_destroy,
	.dec_create = opus_dec_create,
	.decode = opus_decode_fn,
	.conceal = opus_conceal_fn,
	.dec_destroy = opus_dec_destroy,
	.payload_samples = opus_samples,
	.fmtp_parse = opus_fmtp_parse,
	.fmtp_print = opus_fmtp_print,
};
