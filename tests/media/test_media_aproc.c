/* Echo cancellation, noise suppression and AGC (cv_aproc, speexdsp) on
 * synthetic signals: the near end is the far end delayed and attenuated
 * (an echo path), and the echo return loss enhancement (ERLE) after
 * convergence must be large; near-end speech without far-end audio must
 * pass; noise is suppressed; a quiet talker is made louder. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

#include <cmocka.h>

#include "cvoip/media.h"
#include "media/media_test_util.h"

static int64_t live0;

static int setup(void **state)
{
	(void)state;
	live0 = cv_mem_live();
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	assert_int_equal(cv_mem_live(), live0);
	return 0;
}

static uint32_t lcg = 12345;
static double noise1(void)
{
	lcg = lcg * 1664525u + 1013904223u;
	return (double)(int32_t)lcg / 2147483648.0; /* -1 .. 1 */
}

static double energy(const int16_t *x, size_t n)
{
	double e = 0;
	for (size_t i = 0; i < n; i++)
		e += (double)x[i] * x[i];
	return e;
}

/* far: speech-like with some noise (excites the whole band); near: the
 * far end through a 30 ms echo path with two reflections, -6 dB. Run in
 * 20 ms ticks as a stream does (play, then capture), and measure ERLE on
 * the last two seconds. */
static double run_echo(uint32_t rate, bool denoise, double *erle_first)
{
	const size_t secs = 6, n = rate * secs, tick = rate / 50;
	int16_t *far = calloc(n, sizeof(int16_t));
	int16_t *near = calloc(n, sizeof(int16_t));
	int16_t *out = calloc(n, sizeof(int16_t));
	mt_speechlike(far, n, rate, 12000);
	for (size_t i = 0; i < n; i++)
		far[i] = (int16_t)(far[i] + 1500 * noise1());
	size_t d1 = rate * 30 / 1000, d2 = rate * 37 / 1000;
	for (size_t i = 0; i < n; i++) {
		double e = (i >= d1 ? 0.5 * far[i - d1] : 0) +
			   (i >= d2 ? 0.15 * far[i - d2] : 0) + 3 * noise1();
		near[i] = (int16_t)lrint(e);
	}
	struct cv_aproc *ap = NULL;
	struct cv_aproc_params p = {
		.rate = rate, .echo_tail_ms = 100, .denoise = denoise};
	assert_int_equal(cv_aproc_create(&ap, &p), 0);
	assert_int_equal(cv_aproc_rate(ap), rate);
	memcpy(out, near, n * sizeof(int16_t));
	for (size_t off = 0; off + tick <= n; off += tick) {
		cv_aproc_playback(ap, far + off, tick);
		assert_int_equal(cv_aproc_capture(ap, out + off, tick), 0);
	}
	struct cv_aproc_stats st;
	cv_aproc_stats(ap, &st);
	assert_int_equal(st.frames, n / (rate / 100));
	assert_int_equal(st.far_missing, 0);
	assert_int_equal(st.far_dropped, 0);
	size_t from = n - 2 * rate;
	double erle = 10 * log10(energy(near + from, n - from) /
				 (energy(out + from, n - from) + 1));
	if (erle_first)
		*erle_first = 10 * log10(energy(near, rate / 2) /
					 (energy(out, rate / 2) + 1));
	cv_mem_unref(ap);
	free(far);
	free(near);
	free(out);
	return erle;
}

static void test_echo_erle(void **state)
{
	(void)state;
	double first;
	double e8 = run_echo(8000, false, &first);
	printf("  8 kHz, AEC only: ERLE %.1f dB (first 0.5 s: %.1f dB)\n", e8,
	       first);
	/* The linear filter alone after convergence. */
	assert_true(e8 >= 15);
	assert_true(e8 > first);
	double e8d = run_echo(8000, true, NULL);
	printf("  8 kHz, AEC + residual echo/noise suppression: ERLE %.1f dB\n",
	       e8d);
	assert_true(e8d >= e8);
	double e16 = run_echo(16000, false, NULL);
	printf("  16 kHz, AEC only: ERLE %.1f dB\n", e16);
	assert_true(e16 >= 15);
}

/* Near-end talk while the far end is silent passes (no attenuation of
 * more than 3 dB once the filter has had nothing to cancel). */
static void test_near_end_passes(void **state)
{
	(void)state;
	const uint32_t rate = 8000;
	const size_t n = rate * 3, tick = rate / 50;
	int16_t *x = calloc(n, sizeof(int16_t));
	int16_t *y = calloc(n, sizeof(int16_t));
	int16_t *zero = calloc(tick, sizeof(int16_t));
	mt_speechlike(x, n, rate, 10000);
	memcpy(y, x, n * sizeof(*y));
	struct cv_aproc *ap = NULL;
	struct cv_aproc_params p = {.rate = rate, .echo_tail_ms = 100};
	assert_int_equal(cv_aproc_create(&ap, &p), 0);
	for (size_t off = 0; off + tick <= n; off += tick) {
		cv_aproc_playback(ap, zero, tick);
		cv_aproc_capture(ap, y + off, tick);
	}
	double loss = 10 * log10(energy(x + rate, n - rate) /
				 (energy(y + rate, n - rate) + 1));
	printf("  near-end only: attenuation %.2f dB\n", loss);
	assert_true(fabs(loss) < 3);
	cv_mem_unref(ap);
	free(x);
	free(y);
	free(zero);
}

/* Stationary noise is suppressed by at least 8 dB once estimated. */
static void test_denoise(void **state)
{
	(void)state;
	const uint32_t rate = 16000;
	const size_t n = rate * 3, tick = rate / 50;
	int16_t *x = calloc(n, sizeof(int16_t));
	int16_t *y = calloc(n, sizeof(int16_t));
	for (size_t i = 0; i < n; i++)
		x[i] = (int16_t)lrint(800 * noise1());
	memcpy(y, x, n * sizeof(*y));
	struct cv_aproc *ap = NULL;
	struct cv_aproc_params p = {
		.rate = rate, .denoise = true, .noise_suppress_db = 20};
	assert_int_equal(cv_aproc_create(&ap, &p), 0);
	for (size_t off = 0; off + tick <= n; off += tick)
		cv_aproc_capture(ap, y + off, tick);
	double red = 10 * log10(energy(x + rate, n - rate) /
				(energy(y + rate, n - rate) + 1));
	printf("  noise suppression: %.1f dB\n", red);
	assert_true(red >= 8);
	cv_mem_unref(ap);
	free(x);
	free(y);
}

/* A quiet talker (peak ~ -30 dBFS) is brought up by the AGC. */
static void test_agc(void **state)
{
	(void)state;
	const uint32_t rate = 8000;
	const size_t n = rate * 5, tick = rate / 50;
	int16_t *x = calloc(n, sizeof(int16_t));
	int16_t *y = calloc(n, sizeof(int16_t));
	mt_speechlike(x, n, rate, 1000);
	memcpy(y, x, n * sizeof(*y));
	struct cv_aproc *ap = NULL;
	struct cv_aproc_params p = {
		.rate = rate, .agc = true, .agc_level = 16000};
	assert_int_equal(cv_aproc_create(&ap, &p), 0);
	for (size_t off = 0; off + tick <= n; off += tick)
		cv_aproc_capture(ap, y + off, tick);
	double gain = 10 * log10(energy(y + 3 * rate, 2 * rate) /
				 (energy(x + 3 * rate, 2 * rate) + 1));
	printf("  AGC: gain %.1f dB on the last 2 s\n", gain);
	assert_true(gain >= 6);
	cv_mem_unref(ap);
	free(x);
	free(y);
}

static void test_params(void **state)
{
	(void)state;
	struct cv_aproc *ap = NULL;
	struct cv_aproc_params p = {.rate = 11025, .agc = true};
	assert_int_equal(cv_aproc_create(&ap, &p), -EINVAL);
	p = (struct cv_aproc_params){.rate = 8000};
	assert_int_equal(cv_aproc_create(&ap, &p), -EINVAL); /* nothing to do */
	p = (struct cv_aproc_params){.rate = 8000, .echo_tail_ms = 5000};
	assert_int_equal(cv_aproc_create(&ap, &p), -EINVAL);
	assert_int_equal(cv_aproc_create(NULL, &p), -EINVAL);
	/* Far-end queue bounded when nobody captures; odd sizes pass. */
	p = (struct cv_aproc_params){.rate = 8000, .echo_tail_ms = 50};
	assert_int_equal(cv_aproc_create(&ap, &p), 0);
	int16_t buf[1000] = {0};
	for (int i = 0; i < 10; i++)
		cv_aproc_playback(ap, buf, 1000);
	struct cv_aproc_stats st;
	cv_aproc_stats(ap, &st);
	assert_int_equal(st.far_dropped, 10000 - 4000);
	assert_int_equal(cv_aproc_capture(ap, buf, 37), 0); /* < one frame */
	assert_int_equal(cv_aproc_capture(ap, buf, 85), 0); /* 1 frame + 5 */
	cv_aproc_stats(ap, &st);
	assert_int_equal(st.frames, 1);
	/* only the latest frame was used as reference */
	assert_int_equal(st.far_dropped, 10000 - 80);
	cv_mem_unref(ap);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_echo_erle, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_near_end_passes, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_denoise, setup, teardown),
		cmocka_unit_test_setup_teardown(test_agc, setup, teardown),
		cmocka_unit_test_setup_teardown(test_params, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
