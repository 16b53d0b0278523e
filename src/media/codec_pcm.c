/* Sample codecs: G.711 µ-law/A-law (RFC 3551 §4.5.14) and L16 (RFC 3551
 * §4.5.11, network byte order). Stateless; concealment is the generic
 * G.711 Appendix I style PLC of the decoder wrapper. */
#include "media_int.h"

static int g711_samples(const uint8_t *in, size_t len, uint32_t rate)
{
	(void)in;
	(void)rate;
	return len > CV_CODEC_MAX_SAMPLES ? -1 : (int)len;
}

static int pcmu_encode(void *st, const int16_t *pcm, size_t n, uint8_t *out,
		       size_t outsize, size_t *outlen)
{
	(void)st;
	if (outsize < n)
		return CV_ETOOBIG;
	cv_g711_ulaw_enc_buf(out, pcm, n);
	*outlen = n;
	return 0;
}

static int pcmu_decode(void *st, const uint8_t *in, size_t len, int16_t *pcm,
		       size_t *n)
{
	(void)st;
	if (len > *n)
		return CV_ETOOBIG;
	cv_g711_ulaw_dec_buf(pcm, in, len);
	*n = len;
	return 0;
}

static int pcma_encode(void *st, const int16_t *pcm, size_t n, uint8_t *out,
		       size_t outsize, size_t *outlen)
{
	(void)st;
	if (outsize < n)
		return CV_ETOOBIG;
	cv_g711_alaw_enc_buf(out, pcm, n);
	*outlen = n;
	return 0;
}

static int pcma_decode(void *st, const uint8_t *in, size_t len, int16_t *pcm,
		       size_t *n)
{
	(void)st;
	if (len > *n)
		return CV_ETOOBIG;
	cv_g711_alaw_dec_buf(pcm, in, len);
	*n = len;
	return 0;
}

/* G.113 Appendix I: G.711 with PLC, Ie 0, Bpl 25.1. */
const struct cv_codec cv_codec_pcmu = {
	.name = "PCMU",
	.clock_rate = 8000,
	.pcm_rate = 8000,
	.channels = 1,
	.static_pt = 0,
	.default_pt = 0,
	.frame_ms = 10,
	.max_ptime = 120,
	.ie = 0,
	.bpl = 25,
	.encode = pcmu_encode,
	.decode = pcmu_decode,
	.payload_samples = g711_samples,
};

const struct cv_codec cv_codec_pcma = {
	.name = "PCMA",
	.clock_rate = 8000,
	.pcm_rate = 8000,
	.channels = 1,
	.static_pt = 8,
	.default_pt = 8,
	.frame_ms = 10,
	.max_ptime = 120,
	.ie = 0,
	.bpl = 25,
	.encode = pcma_encode,
	.decode = pcma_decode,
	.payload_samples = g711_samples,
};

static int l16_samples(const uint8_t *in, size_t len, uint32_t rate)
{
	(void)in;
	(void)rate;
	if (len % 2 || len / 2 > CV_CODEC_MAX_SAMPLES)
		return -1;
	return (int)(len / 2);
}

static int l16_encode(void *st, const int16_t *pcm, size_t n, uint8_t *out,
		      size_t outsize, size_t *outlen)
{
	(void)st;
	if (outsize < 2 * n)
		return CV_ETOOBIG;
	for (size_t i = 0; i < n; i++) {
		uint16_t v = (uint16_t)pcm[i];
		out[2 * i] = (uint8_t)(v >> 8);
		out[2 * i + 1] = (uint8_t)v;
	}
	*outlen = 2 * n;
	return 0;
}

static int l16_decode(void *st, const uint8_t *in, size_t len, int16_t *pcm,
		      size_t *n)
{
	(void)st;
	if (len % 2)
		return CV_EPARSE;
	if (len / 2 > *n)
		return CV_ETOOBIG;
	for (size_t i = 0; i < len / 2; i++)
		pcm[i] = (int16_t)(uint16_t)((in[2 * i] << 8) | in[2 * i + 1]);
	*n = len / 2;
	return 0;
}

/* max_ptime keeps a packet within CV_CODEC_MAX_PAYLOAD (1500 bytes). */
#define L16_CODEC(rate, pt, maxp)                                              \
	{                                                                      \
		.name = "L16", .clock_rate = (rate), .pcm_rate = (rate),       \
		.channels = 1, .static_pt = 255, .default_pt = (pt),           \
		.frame_ms = 10, .max_ptime = (maxp), .ie = 0, .bpl = 25,       \
		.encode = l16_encode, .decode = l16_decode,                    \
		.payload_samples = l16_samples,                                \
	}

const struct cv_codec cv_codec_l16_8k = L16_CODEC(8000, 118, 90);
const struct cv_codec cv_codec_l16_16k = L16_CODEC(16000, 119, 40);
const struct cv_codec cv_codec_l16_48k = L16_CODEC(48000, 120, 10);
