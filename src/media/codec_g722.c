/* G.722 via spandsp (RFC 3551 §4.5.2: RTP clock 8000 although the audio
 * is sampled at 16 kHz; one byte per two samples). */
#include <spandsp.h>

#include "media_int.h"

static int g722_enc_create(void **st, const struct cv_codec_params *p,
			   uint32_t pcm_rate)
{
	(void)p;
	(void)pcm_rate;
	g722_encode_state_t *s = g722_encode_init(NULL, 64000, 0);
	if (!s)
		return -ENOMEM;
	*st = s;
	return 0;
}

static int g722_encode_fn(void *st, const int16_t *pcm, size_t n, uint8_t *out,
			  size_t outsize, size_t *outlen)
{
	if (outsize < n / 2)
		return CV_ETOOBIG;
	int r = g722_encode(st, out, pcm, (int)n);
	if (r < 0)
		return -EINVAL;
	*outlen = (size_t)r;
	return 0;
}

static void g722_enc_destroy(void *st)
{
	g722_encode_free(st);
}

static int g722_dec_create(void **st, const struct cv_codec_params *p,
			   uint32_t pcm_rate)
{
	(void)p;
	(void)pcm_rate;
	g722_decode_state_t *s = g722_decode_init(NULL, 64000, 0);
	if (!s)
		return -ENOMEM;
	*st = s;
	return 0;
}

static int g722_decode_fn(void *st, const uint8_t *in, size_t len, int16_t *pcm,
			  size_t *n)
{
	if (2 * len > *n)
		return CV_ETOOBIG;
	int r = g722_decode(st, pcm, in, (int)len);
	if (r < 0)
		return CV_EPARSE;
	*n = (size_t)r;
	return 0;
}

static void g722_dec_destroy(void *st)
{
	g722_decode_free(st);
}

static int g722_samples(const uint8_t *in, size_t len, uint32_t rate)
{
	(void)in;
	(void)rate;
	return 2 * len > CV_CODEC_MAX_SAMPLES ? -1 : (int)(2 * len);
}

/* E-model: treated like G.711 with PLC (narrowband E-model, G.113 I). */
const struct cv_codec cv_codec_g722 = {
	.name = "G722",
	.clock_rate = 8000,
	.pcm_rate = 16000,
	.channels = 1,
	.static_pt = 9,
	.default_pt = 9,
	.frame_ms = 10,
	.max_ptime = 120,
	.ie = 0,
	.bpl = 25,
	.enc_create = g722_enc_create,
	.encode = g722_encode_fn,
	.enc_destroy = g722_enc_destroy,
	.dec_create = g722_dec_create,
	.decode = g722_decode_fn,
	.dec_destroy = g722_dec_destroy,
	.payload_samples = g722_samples,
};
