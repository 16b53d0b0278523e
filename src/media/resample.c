/* Resampling with the speexdsp resampler. */
#include <speex/speex_resampler.h>

#include "media_int.h"

struct cv_resampler {
	SpeexResamplerState *s;
	uint32_t in_rate;
	uint32_t out_rate;
};

static void rs_dtor(void *obj)
{
	struct cv_resampler *r = obj;
	if (r->s)
		speex_resampler_destroy(r->s);
}

int cv_resampler_create(struct cv_resampler **rp, uint32_t in_rate,
			uint32_t out_rate, int quality)
{
	if (!rp || in_rate < 1000 || out_rate < 1000 || in_rate > 384000 ||
	    out_rate > 384000 || quality < 0 || quality > 10)
		return -EINVAL;
	struct cv_resampler *r = cv_mem_zalloc(sizeof(*r), rs_dtor);
	if (!r)
		return -ENOMEM;
	int err = 0;
	r->s = speex_resampler_init(1, in_rate, out_rate, quality, &err);
	if (!r->s || err) {
		cv_mem_unref(r);
		return -ENOMEM;
	}
	/* Drop the filter's initial delay so output lines up with input. */
	speex_resampler_skip_zeros(r->s);
	r->in_rate = in_rate;
	r->out_rate = out_rate;
	*rp = r;
	return 0;
}

int cv_resampler_process(struct cv_resampler *r, const int16_t *in, size_t n,
			 int16_t *out, size_t outmax, size_t *outn)
{
	if (!r || (!in && n) || !out || !outn)
		return -EINVAL;
	size_t done_in = 0, done_out = 0;
	while (done_in < n && done_out < outmax) {
		spx_uint32_t il = (spx_uint32_t)CV_MIN(n - done_in, 65536u);
		spx_uint32_t ol =
			(spx_uint32_t)CV_MIN(outmax - done_out, 65536u);
		int err = speex_resampler_process_int(r->s, 0, in + done_in,
						      &il, out + done_out, &ol);
		if (err)
			return -EINVAL;
		if (!il && !ol)
			break;
		done_in += il;
		done_out += ol;
	}
	*outn = done_out;
	return 0;
}

uint32_t cv_resampler_in_rate(const struct cv_resampler *r)
{
	return r ? r->in_rate : 0;
}

uint32_t cv_resampler_out_rate(const struct cv_resampler *r)
{
	return r ? r->out_rate : 0;
}

void cv_rate_conv_free(struct cv_rate_conv *c)
{
	c->rs = cv_mem_unref(c->rs);
	c->in_rate = c->out_rate = 0;
}

int cv_rate_conv_run(struct cv_rate_conv *c, uint32_t in_rate,
		     uint32_t out_rate, const int16_t *in, size_t n,
		     int16_t *out, size_t outmax, size_t *outn)
{
	if (in_rate == out_rate) {
		size_t k = CV_MIN(n, outmax);
		memmove(out, in, k * sizeof(*out));
		*outn = k;
		return 0;
	}
	if (!c->rs || c->in_rate != in_rate || c->out_rate != out_rate) {
		cv_rate_conv_free(c);
		int err = cv_resampler_create(&c->rs, in_rate, out_rate, 3);
		if (err)
			return err;
		c->in_rate = in_rate;
		c->out_rate = out_rate;
	}
	return cv_resampler_process(c->rs, in, n, out, outmax, outn);
}
