/* G.729 (Annex A decoder compatible) via bcg729, with Annex B VAD/DTX/CNG.
 * RFC 3551 §4.5.6: a payload is zero or more 10-byte frames, then at most
 * one 2-byte SID frame at the end. RFC 4749 §3: annexb defaults to yes. */
#include <bcg729/decoder.h>
#include <bcg729/encoder.h>
#include <stdio.h>

#include "media_int.h"

#define G729_FRAME 80 /* samples per 10 ms */
#define G729_BYTES 10
#define G729_SID   2

static int g729_enc_create(void **st, const struct cv_codec_params *p,
			   uint32_t pcm_rate)
{
	(void)pcm_rate;
	bcg729EncoderChannelContextStruct *e =
		initBcg729EncoderChannel(p->annexb_off ? 0 : 1);
	if (!e)
		return -ENOMEM;
	*st = e;
	return 0;
}

static int g729_encode_fn(void *st, const int16_t *pcm, size_t n, uint8_t *out,
			  size_t outsize, size_t *outlen)
{
	size_t len = 0;
	for (size_t off = 0; off < n; off += G729_FRAME) {
		uint8_t frame[G729_BYTES];
		uint8_t fl = 0;
		bcg729Encoder(st, pcm + off, frame, &fl);
		if (fl != G729_BYTES && fl != G729_SID && fl != 0)
			return -EINVAL;
		/* A SID frame may only end a payload: drop one that another
		 * frame follows; the receiver keeps generating noise. */
		if (fl && len % G729_BYTES == G729_SID)
			len -= G729_SID;
		if (len + fl > outsize)
			return CV_ETOOBIG;
		memcpy(out + len, frame, fl);
		len += fl;
	}
	*outlen = len;
	return 0;
}

static void g729_enc_destroy(void *st)
{
	closeBcg729EncoderChannel(st);
}

static int g729_dec_create(void **st, const struct cv_codec_params *p,
			   uint32_t pcm_rate)
{
	(void)p;
	(void)pcm_rate;
	bcg729DecoderChannelContextStruct *d = initBcg729DecoderChannel();
	if (!d)
		return -ENOMEM;
	*st = d;
	return 0;
}

static int g729_samples(const uint8_t *in, size_t len, uint32_t rate)
{
	(void)in;
	(void)rate;
	size_t frames = len / G729_BYTES, rest = len % G729_BYTES;
	if (rest != 0 && rest != G729_SID)
		return -1;
	frames += rest ? 1 : 0;
	if (!frames || frames * G729_FRAME > CV_CODEC_MAX_SAMPLES)
		return -1;
	return (int)(frames * G729_FRAME);
}

static int g729_decode_fn(void *st, const uint8_t *in, size_t len, int16_t *pcm,
			  size_t *n)
{
	int ns = g729_samples(in, len, 8000);
	if (ns < 0)
		return CV_EPARSE;
	if ((size_t)ns > *n)
		return CV_ETOOBIG;
	size_t off = 0, out = 0;
	while (len - off >= G729_BYTES) {
		bcg729Decoder(st, in + off, G729_BYTES, 0, 0, 0, pcm + out);
		off += G729_BYTES;
		out += G729_FRAME;
	}
	if (len - off == G729_SID) {
		bcg729Decoder(st, in + off, G729_SID, 0, 1, 0, pcm + out);
		out += G729_FRAME;
	}
	*n = out;
	return 0;
}

/* G.729 §4.4: frame erasure concealment inside the decoder. */
static int g729_conceal_fn(void *st, const uint8_t *next, size_t next_len,
			   int16_t *pcm, size_t *n)
{
	(void)next;
	(void)next_len;
	static const uint8_t zero[G729_BYTES];
	size_t frames = *n / G729_FRAME;
	for (size_t i = 0; i < frames; i++)
		bcg729Decoder(st, zero, G729_BYTES, 1, 0, 0,
			      pcm + i * G729_FRAME);
	*n = frames * G729_FRAME;
	return 0;
}

static void g729_dec_destroy(void *st)
{
	closeBcg729DecoderChannel(st);
}

static int g729_fmtp_parse(struct cv_codec_params *p, struct cv_pl fmtp)
{
	struct cv_pl v;
	if (cv_fmtp_get(fmtp, "annexb", &v))
		p->annexb_off = cv_pl_caseeq_str(v, "no");
	return 0;
}

static int g729_fmtp_print(const struct cv_codec_params *p, char *buf,
			   size_t size)
{
	if (p->annexb_off)
		return snprintf(buf, size, "annexb=no") >= (int)size
			       ? CV_ETOOBIG
			       : 0;
	buf[0] = '\0';
	return 0;
}

/* G.113 Appendix I: G.729A + VAD, Ie 11, Bpl 19. */
const struct cv_codec cv_codec_g729 = {
	.name = "G729",
	.clock_rate = 8000,
	.pcm_rate = 8000,
	.channels = 1,
	.static_pt = 18,
	.default_pt = 18,
	.frame_ms = 10,
	.max_ptime = 120,
	.ie = 11,
	.bpl = 19,
	.enc_create = g729_enc_create,
	.encode = g729_encode_fn,
	.enc_destroy = g729_enc_destroy,
	.dec_create = g729_dec_create,
	.decode = g729_decode_fn,
	.conceal = g729_conceal_fn,
	.dec_destroy = g729_dec_destroy,
	.payload_samples = g729_samples,
	.fmtp_parse = g729_fmtp_parse,
	.fmtp_print = g729_fmtp_print,
};
