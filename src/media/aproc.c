/* Echo cancellation, noise suppression and AGC with speexdsp: the MDF
 * echo canceller (speex_echo_cancellation) on 10 ms frames, followed by
 * the preprocessor, which also suppresses the residual echo the linear
 * filter leaves (SPEEX_PREPROCESS_SET_ECHO_STATE). The far-end queue
 * pairs every captured frame with the frame played at the same time; the
 * adaptive filter (echo_tail_ms long) models the delay and the room. */
#include <stdlib.h>

#include <speex/speex_echo.h>
#include <speex/speex_preprocess.h>

#include "media_int.h"

#define FAR_MAX_MS 500

struct cv_aproc {
	struct cv_aproc_params p;
	size_t frame; /* samples per 10 ms */
	SpeexEchoState *echo;
	SpeexPreprocessState *pre;
	int16_t *far; /* queue of far-end samples */
	size_t far_cap, far_head, far_n;
	int16_t *tmp_far, *tmp_out;
	struct cv_aproc_stats st;
};

static void aproc_dtor(void *obj)
{
	struct cv_aproc *a = obj;
	if (a->pre)
		speex_preprocess_state_destroy(a->pre);
	if (a->echo)
		speex_echo_state_destroy(a->echo);
	free(a->far);
	free(a->tmp_far);
	free(a->tmp_out);
}

int cv_aproc_create(struct cv_aproc **ap, const struct cv_aproc_params *p)
{
	if (!ap || !p)
		return -EINVAL;
	if (p->rate != 8000 && p->rate != 16000 && p->rate != 32000 &&
	    p->rate != 48000)
		return -EINVAL;
	if (p->echo_tail_ms && (p->echo_tail_ms < 20 || p->echo_tail_ms > 500))
		return -EINVAL;
	if (!p->echo_tail_ms && !p->denoise && !p->agc)
		return -EINVAL;
	struct cv_aproc *a = cv_mem_zalloc(sizeof(*a), aproc_dtor);
	if (!a)
		return -ENOMEM;
	a->p = *p;
	a->frame = p->rate / 100;
	a->far_cap = (size_t)p->rate * FAR_MAX_MS / 1000;
	a->far = calloc(a->far_cap, sizeof(*a->far));
	a->tmp_far = calloc(a->frame, sizeof(*a->tmp_far));
	a->tmp_out = calloc(a->frame, sizeof(*a->tmp_out));
	if (!a->far || !a->tmp_far || !a->tmp_out)
		goto nomem;
	if (p->echo_tail_ms) {
		a->echo = speex_echo_state_init(
			(int)a->frame, (int)(p->rate / 1000 * p->echo_tail_ms));
		if (!a->echo)
			goto nomem;
		spx_int32_t rate = (spx_int32_t)p->rate;
		speex_echo_ctl(a->echo, SPEEX_ECHO_SET_SAMPLING_RATE, &rate);
	}
	a->pre = speex_preprocess_state_init((int)a->frame, (int)p->rate);
	if (!a->pre)
		goto nomem;
	spx_int32_t on = 1, off = 0;
	speex_preprocess_ctl(a->pre, SPEEX_PREPROCESS_SET_DENOISE,
			     p->denoise ? &on : &off);
	if (p->denoise) {
		spx_int32_t db =
			p->noise_suppress_db ? -abs(p->noise_suppress_db) : -15;
		speex_preprocess_ctl(a->pre,
				     SPEEX_PREPROCESS_SET_NOISE_SUPPRESS, &db);
	}
	speex_preprocess_ctl(a->pre, SPEEX_PREPROCESS_SET_AGC,
			     p->agc ? &on : &off);
	if (p->agc) {
		float level = p->agc_level ? (float)p->agc_level : 8000.0f;
		speex_preprocess_ctl(a->pre, SPEEX_PREPROCESS_SET_AGC_LEVEL,
				     &level);
	}
	speex_preprocess_ctl(a->pre, SPEEX_PREPROCESS_SET_DEREVERB, &off);
	if (a->echo)
		speex_preprocess_ctl(a->pre, SPEEX_PREPROCESS_SET_ECHO_STATE,
				     a->echo);
	*ap = a;
	return 0;
nomem:
	cv_mem_unref(a);
	return -ENOMEM;
}

void cv_aproc_playback(struct cv_aproc *a, const int16_t *pcm, size_t n)
{
	if (!a || !pcm || !a->echo)
		return;
	for (size_t i = 0; i < n; i++) {
		if (a->far_n == a->far_cap) {
			/* Queue full (capture stopped): the oldest gives way.
			 */
			a->far_head = (a->far_head + 1) % a->far_cap;
			a->far_n--;
			a->st.far_dropped++;
		}
		a->far[(a->far_head + a->far_n) % a->far_cap] = pcm[i];
		a->far_n++;
	}
}

int cv_aproc_capture(struct cv_aproc *a, int16_t *pcm, size_t n)
{
	if (!a || !pcm)
		return -EINVAL;
	/* The reference must never lag what was really played: a backlog
	 * (several frames played at once after a stall) would put the echo
	 * before its reference, which no causal filter can cancel. Keep the
	 * latest n samples. */
	size_t whole = n / a->frame * a->frame;
	if (whole && a->far_n > whole) {
		size_t skip = a->far_n - whole;
		a->far_head = (a->far_head + skip) % a->far_cap;
		a->far_n -= skip;
		a->st.far_dropped += skip;
	}
	for (size_t off = 0; off + a->frame <= n; off += a->frame) {
		int16_t *x = pcm + off;
		for (size_t i = 0; i < a->frame; i++)
			a->st.in_energy += (double)x[i] * x[i];
		if (a->echo) {
			if (a->far_n >= a->frame) {
				for (size_t i = 0; i < a->frame; i++)
					a->tmp_far[i] =
						a->far[(a->far_head + i) %
						       a->far_cap];
				a->far_head =
					(a->far_head + a->frame) % a->far_cap;
				a->far_n -= a->frame;
			} else {
				/* Nothing played: silence is what was played.
				 */
				memset(a->tmp_far, 0,
				       a->frame * sizeof(*a->tmp_far));
				a->st.far_missing++;
			}
			speex_echo_cancellation(a->echo, x, a->tmp_far,
						a->tmp_out);
			memcpy(x, a->tmp_out, a->frame * sizeof(*x));
		}
		speex_preprocess_run(a->pre, x);
		for (size_t i = 0; i < a->frame; i++)
			a->st.out_energy += (double)x[i] * x[i];
		a->st.frames++;
	}
	return 0;
}

uint32_t cv_aproc_rate(const struct cv_aproc *a)
{
	return a ? a->p.rate : 0;
}

void cv_aproc_stats(const struct cv_aproc *a, struct cv_aproc_stats *out)
{
	if (a && out)
		*out = a->st;
}
