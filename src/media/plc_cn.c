/* Generic packet-loss concealment and RFC 3389 comfort noise. */
#include <math.h>

#include "media_int.h"

/* ---- PLC after ITU-T G.711 Appendix I ------------------------------------
 * (Not spandsp's plc: its plc_fillin() memcpy()s overlapping ranges, which
 * is undefined behaviour and trips ASan.) On the first lost sample we find
 * the pitch period of the last 20 ms by AMDF over 5..15 ms lags (Appendix
 * I §I.2.2 uses a normalised cross-correlation over the same span), build
 * one period with a quarter-period overlap-add so it loops without a
 * click, and repeat it. Appendix I attenuates by 20% per 10 ms after the
 * first 10 ms (silent after 60 ms). When audio comes back, the first
 * quarter period is cross-faded with the continued synthetic signal. All
 * spans scale with the PCM rate (defined at 8 kHz in the Appendix). */

#define PLC_MAX_RATE 48000
#define PLC_HIST     (PLC_MAX_RATE * 35 / 1000) /* span + max pitch */

struct cv_plc {
	uint32_t rate;
	size_t pitch_min, pitch_max, span, hist_len;
	int16_t hist[PLC_HIST];
	float period[PLC_MAX_RATE * 15 / 1000];
	size_t pitch;
	size_t pos;	/* position in period */
	size_t missing; /* samples concealed in this loss */
	size_t overlap; /* pitch / 4 */
};

static void plc_dtor(void *obj)
{
	(void)obj;
}

int cv_plc_create(struct cv_plc **pp, uint32_t rate)
{
	if (!pp || rate < 8000 || rate > PLC_MAX_RATE)
		return -EINVAL;
	struct cv_plc *p = cv_mem_zalloc(sizeof(*p), plc_dtor);
	if (!p)
		return -ENOMEM;
	p->rate = rate;
	p->pitch_min = rate * 5 / 1000;	 /* 200 Hz */
	p->pitch_max = rate * 15 / 1000; /* 66.7 Hz */
	p->span = rate * 20 / 1000;
	p->hist_len = p->span + p->pitch_max;
	*pp = p;
	return 0;
}

static void hist_push(struct cv_plc *p, const int16_t *pcm, size_t n)
{
	size_t h = p->hist_len;
	if (n >= h) {
		memcpy(p->hist, pcm + n - h, h * sizeof(*pcm));
		return;
	}
	memmove(p->hist, p->hist + n, (h - n) * sizeof(*pcm));
	memcpy(p->hist + h - n, pcm, n * sizeof(*pcm));
}

/* Average magnitude difference: the lag with the least difference over the
 * last `span` samples. */
static size_t find_pitch(const struct cv_plc *p)
{
	const int16_t *x = p->hist + p->hist_len - p->span;
	uint64_t best = UINT64_MAX;
	size_t bl = p->pitch_min;
	/* coarse step at high rates keeps the search cheap */
	size_t step = p->rate >= 32000 ? 2 : 1;
	for (size_t lag = p->pitch_min; lag <= p->pitch_max; lag++) {
		uint64_t acc = 0;
		for (size_t i = 0; i < p->span; i += step) {
			int32_t d = (int32_t)x[i] -
				    x[(ptrdiff_t)i - (ptrdiff_t)lag];
			acc += (uint64_t)(d < 0 ? -d : d);
		}
		if (acc < best) {
			best = acc;
			bl = lag;
		}
	}
	return bl;
}

void cv_plc_rx(struct cv_plc *p, int16_t *pcm, size_t n)
{
	if (!p || !pcm || !n)
		return;
	if (p->missing) {
		/* Cross-fade from the synthetic continuation into the real
		 * audio, at the gain the loss had reached. */
		size_t ov = CV_MIN(p->overlap, n);
		double gain = 1.0;
		size_t att_start = p->rate / 100;
		if (p->missing > att_start)
			gain = 1.0 - 0.2 * (double)(p->missing - att_start) /
					     (p->rate / 100.0);
		if (gain < 0)
			gain = 0;
		for (size_t i = 0; i < ov; i++) {
			double w = (double)(i + 1) / (ov + 1);
			double syn = gain * p->period[p->pos];
			p->pos = (p->pos + 1) % p->pitch;
			pcm[i] = cv_sat16(
				(int32_t)lrint((1 - w) * syn + w * pcm[i]));
		}
		p->missing = 0;
	}
	hist_push(p, pcm, n);
}

void cv_plc_fill(struct cv_plc *p, int16_t *pcm, size_t n)
{
	if (!p || !pcm || !n)
		return;
	size_t i = 0;
	if (!p->missing) {
		size_t pitch = find_pitch(p);
		size_t ov = pitch / 4;
		const int16_t *h = p->hist + p->hist_len;
		/* One period ending at the last sample; its tail is blended
		 * with the period before so the loop point is smooth. */
		for (size_t k = 0; k < pitch; k++) {
			double v = h[(ptrdiff_t)k - (ptrdiff_t)pitch];
			if (k >= pitch - ov) {
				double w = (double)(k - (pitch - ov) + 1) /
					   (ov + 1);
				v = (1 - w) * v +
				    w * h[(ptrdiff_t)k - 2 * (ptrdiff_t)pitch];
			}
			p->period[k] = (float)v;
		}
		p->pitch = pitch;
		p->overlap = ov;
		p->pos = 0;
		/* fade from the last real samples into the repetition: the
		 * period starts where the signal one pitch ago was, so the
		 * join is already continuous up to the blend above. */
	}
	size_t att_start = p->rate / 100;	     /* 10 ms at full level */
	double per_sample = 0.2 / (p->rate / 100.0); /* -20% per 10 ms */
	for (; i < n; i++) {
		double gain = 1.0;
		if (p->missing > att_start)
			gain = 1.0 -
			       per_sample * (double)(p->missing - att_start);
		if (gain < 0)
			gain = 0;
		pcm[i] = cv_sat16((int32_t)lrint(gain * p->period[p->pos]));
		p->pos = (p->pos + 1) % p->pitch;
		p->missing++;
	}
	hist_push(p, pcm, n);
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
