/* Private declarations shared by the media module's files. */
#ifndef CVOIP_MEDIA_INT_H
#define CVOIP_MEDIA_INT_H

#include "cvoip/media.h"

#define MEDIA_LOG "media"

/* fmtp helpers (RFC 4566 §6 "a=fmtp:<format> <format specific parameters>",
 * here as `key=value` pairs separated by ';'). */
bool cv_fmtp_get(struct cv_pl fmtp, const char *key, struct cv_pl *val);
bool cv_fmtp_get_u32(struct cv_pl fmtp, const char *key, uint32_t *val);

/* Saturating helpers. */
static inline int16_t cv_sat16(int32_t v)
{
	return (int16_t)(v > 32767 ? 32767 : (v < -32768 ? -32768 : v));
}

/* A reusable PCM converter that a source or sink keeps between calls:
 * resamples from `in_rate` to `out_rate`, rebuilding when rates change. */
struct cv_rate_conv {
	struct cv_resampler *rs;
	uint32_t in_rate;
	uint32_t out_rate;
};
void cv_rate_conv_free(struct cv_rate_conv *c);
/* Converts n samples; *outn produced (bounded by outmax). Copies when
 * rates are equal. */
int cv_rate_conv_run(struct cv_rate_conv *c, uint32_t in_rate,
		     uint32_t out_rate, const int16_t *in, size_t n,
		     int16_t *out, size_t outmax, size_t *outn);

/* Cheap xorshift32 for noise (not for anything secret). */
static inline uint32_t cv_xorshift32(uint32_t *s)
{
	uint32_t x = *s ? *s : 0x9e3779b9u;
	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	*s = x;
	return x;
}

#endif
