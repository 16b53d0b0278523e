/* Signal helpers shared by the media tests: a speech-like test signal,
 * delay-aligned correlation and SNR, and a Goertzel tone meter. */
#ifndef CVOIP_TESTS_MEDIA_UTIL_H
#define CVOIP_TESTS_MEDIA_UTIL_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>

/* Voiced-speech stand-in: a glottal-like harmonic series on a pitch that
 * glides between 110 and 220 Hz, shaped by three fixed formants and a
 * syllable envelope (4 Hz), band-limited below 0.45 * rate. */
static inline void mt_speechlike(int16_t *out, size_t n, uint32_t rate,
				 double peak)
{
	double ph = 0;
	const double formant[3] = {500, 1500, 2500};
	for (size_t i = 0; i < n; i++) {
		double t = (double)i / rate;
		double f0 = 165 + 55 * sin(2 * M_PI * 0.7 * t);
		ph += f0 / rate;
		double v = 0;
		for (int h = 1; h * f0 < 0.45 * rate && h * f0 < 3800; h++) {
			double f = h * f0, g = 0;
			for (int k = 0; k < 3; k++) {
				double d = (f - formant[k]) / 200.0;
				g += exp(-d * d);
			}
			v += (0.15 + g) / h * sin(2 * M_PI * h * ph);
		}
		double env = 0.55 + 0.45 * sin(2 * M_PI * 4 * t);
		out[i] = (int16_t)lrint(v * env * peak / 2.0);
	}
}

/* Normalized cross-correlation of ref[k] and out[k+lag] over [from, n). */
static inline double mt_corr_at(const int16_t *ref, const int16_t *out,
				size_t n, size_t from, size_t to, size_t lag)
{
	double sxy = 0, sxx = 0, syy = 0;
	for (size_t k = from; k < to && k + lag < n; k++) {
		double x = ref[k], y = out[k + lag];
		sxy += x * y;
		sxx += x * x;
		syy += y * y;
	}
	return (sxx > 0 && syy > 0) ? sxy / sqrt(sxx * syy) : 0;
}

/* The lag in [0, maxlag] is found on 4000 samples from `from` (a codec's
 * delay is constant), then the correlation is taken over all of it. */
static inline double mt_xcorr(const int16_t *ref, const int16_t *out, size_t n,
			      size_t from, size_t maxlag, size_t *best_lag)
{
	double best = -1;
	size_t bl = 0;
	for (size_t lag = 0; lag <= maxlag; lag++) {
		double c = mt_corr_at(ref, out, n, from, from + 4000, lag);
		if (c > best) {
			best = c;
			bl = lag;
		}
	}
	if (best_lag)
		*best_lag = bl;
	return mt_corr_at(ref, out, n, from, n, bl);
}

/* SNR in dB of out[k+lag] against ref[k]. */
static inline double mt_snr(const int16_t *ref, const int16_t *out, size_t n,
			    size_t from, size_t lag)
{
	double s = 0, e = 0;
	for (size_t k = from; k + lag < n; k++) {
		double d = (double)out[k + lag] - ref[k];
		s += (double)ref[k] * ref[k];
		e += d * d;
	}
	return e > 0 ? 10 * log10(s / e) : 200;
}

/* Goertzel power of freq relative to the total power (0..1). */
static inline double mt_goertzel(const int16_t *x, size_t n, uint32_t rate,
				 double freq)
{
	double w = 2 * M_PI * freq / rate, c = 2 * cos(w);
	double s1 = 0, s2 = 0, tot = 0;
	for (size_t i = 0; i < n; i++) {
		double s0 = x[i] + c * s1 - s2;
		s2 = s1;
		s1 = s0;
		tot += (double)x[i] * x[i];
	}
	double p = s1 * s1 + s2 * s2 - c * s1 * s2;
	/* a pure sine of amplitude A gives p = (A n / 2)^2, tot = A^2 n/2 */
	return tot > 0 ? p / (tot * n / 2.0) : 0;
}

/* Strongest frequency in [lo, hi] in 1 Hz steps (Goertzel scan). */
static inline double mt_peak_freq(const int16_t *x, size_t n, uint32_t rate,
				  double lo, double hi)
{
	double best = 0, bf = lo;
	for (double f = lo; f <= hi; f += 1.0) {
		double p = mt_goertzel(x, n, rate, f);
		if (p > best) {
			best = p;
			bf = f;
		}
	}
	return bf;
}

static inline double mt_rms(const int16_t *x, size_t n)
{
	double s = 0;
	for (size_t i = 0; i < n; i++)
		s += (double)x[i] * x[i];
	return n ? sqrt(s / n) : 0;
}

#endif
