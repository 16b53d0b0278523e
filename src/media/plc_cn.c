/* Generic packet-loss concealment and RFC 3389 comfort noise. */
#include <math.h>
#include <spandsp.h>

#include "media_int.h"

/* ---- PLC: spandsp's ITU-T G.711 Appendix I style pitch-period
 * repetition with an overlap-add at the seams and attenuation over the
 * first 50 ms of a loss. spandsp takes int lengths; chunk to be safe. */
struct cv_plc {
	plc_state_t *s;
};

static void plc_dtor(void *obj)
{
	struct cv_plc *p = obj;
	if (p->s)
		plc_free(p->s);
}

int cv_plc_create(struct cv_plc **pp)
{
	if (!pp)
		return -EINVAL;
	struct cv_plc *p = cv_mem_zalloc(sizeof(*p), plc_dtor);
	if (!p)
		return -ENOMEM;
	p->s = plc_init(NULL);
	if (!p->s) {
		cv_mem_unref(p);
		return -ENOMEM;
	}
	*pp = p;
	return 0;
}

void cv_plc_rx(struct cv_plc *p, int16_t *pcm, size_t n)
{
	while (n) {
		int c = (int)CV_MIN(n, (size_t)CV_CODEC_MAX_SAMPLES);
		plc_rx(p->s, pcm, c);
		pcm += c;
		n -= (size_t)c;
	}
}

void cv_plc_fill(struct cv_plc *p, int16_t *pcm, size_t n)
{
	while (n) {
		int c = (int)CV_MIN(n, (size_t)CV_CODEC_MAX_SAMPLES);
		plc_fillin(p->s, pcm, c);
		pcm += c;
		n -= (size_t)c;
	}
}

/* ---- RFC 3389 comfort noise ---------------------------------------------
 * §3.1: the level byte is the noise level in -dBov, 0..127. We take
 * 0 dBov as the power of a full-scale square wave (32767^2), as the
 * reference implementations do. */
uint8_t cv_cn_level(const int16_t *pcm, size_t n)
{
	if (!pcm || !n)
		return 127;
	double sum = 0;
	for (size_t i = 0; i < n; i++)
		sum += (double)pcm[i] * pcm[i];
	double ms = sum / (double)n;
	if (ms < 1e-9)
		return 127;
	double dbov = 10.0 * log10(ms / (32767.0 * 32767.0));
	if (dbov > 0)
		dbov = 0;
	int lvl = (int)lround(-dbov);
	return (uint8_t)(lvl > 127 ? 127 : lvl);
}

int cv_cn_encode(const int16_t *pcm, size_t n, uint8_t *out, size_t outsize,
		 size_t *outlen)
{
	if (!out || !outlen || outsize < 1)
		return -EINVAL;
	out[0] = cv_cn_level(pcm, n);
	*outlen = 1;
	return 0;
}

void cv_cn_dec_init(struct cv_cn_dec *c)
{
	memset(c, 0, sizeof(*c));
	c->level = 127;
	c->seed = 0x1234567u;
}

int cv_cn_dec_update(struct cv_cn_dec *c, const uint8_t *in, size_t len)
{
	/* §3: level byte, then any number of reflection coefficients,
	 * which we accept and do not use (spectrally flat noise). */
	if (!c || !in || len < 1 || in[0] > 127)
		return CV_EPARSE;
	c->level = in[0];
	c->valid = true;
	return 0;
}

void cv_cn_dec_generate(struct cv_cn_dec *c, int16_t *pcm, size_t n)
{
	if (!c->valid || c->level >= 127) {
		memset(pcm, 0, n * sizeof(*pcm));
		return;
	}
	/* Uniform noise in [-a, a] has rms a/sqrt(3). */
	double rms = 32767.0 * pow(10.0, -(double)c->level / 20.0);
	int32_t a = (int32_t)(rms * 1.7320508);
	if (a < 1)
		a = 1;
	for (size_t i = 0; i < n; i++) {
		uint32_t r = cv_xorshift32(&c->seed);
		int32_t v = (int32_t)(r % (uint32_t)(2 * a + 1)) - a;
		pcm[i] = cv_sat16(v);
	}
}
