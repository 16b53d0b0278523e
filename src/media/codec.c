/* Codec registry, encoder/decoder wrappers, generic concealment and the
 * format list for SDP offers. */
#include <stdio.h>
#include <stdlib.h>

#include "media_int.h"

/* Preference order for offers when the application names none. */
static const struct cv_codec *const registry[] = {
	&cv_codec_opus, &cv_codec_g722,	   &cv_codec_pcmu,   &cv_codec_pcma,
	&cv_codec_g729, &cv_codec_l16_16k, &cv_codec_l16_8k, &cv_codec_l16_48k,
};

size_t cv_codec_count(void)
{
	return CV_ARRAY_SIZE(registry);
}

const struct cv_codec *cv_codec_at(size_t i)
{
	return i < CV_ARRAY_SIZE(registry) ? registry[i] : NULL;
}

const struct cv_codec *cv_codec_find(struct cv_pl name, uint32_t clock_rate,
				     uint8_t channels)
{
	for (size_t i = 0; i < CV_ARRAY_SIZE(registry); i++) {
		const struct cv_codec *c = registry[i];
		if (!cv_pl_caseeq_str(name, c->name))
			continue;
		if (clock_rate && clock_rate != c->clock_rate)
			continue;
		/* RFC 4566: omitted channels means 1. Opus is always /2. */
		if (channels && channels != c->channels)
			continue;
		return c;
	}
	return NULL;
}

/* ---- fmtp -------------------------------------------------------------- */

#define FMTP_MAX 1024

bool cv_fmtp_get(struct cv_pl fmtp, const char *key, struct cv_pl *val)
{
	if (fmtp.l > FMTP_MAX)
		fmtp.l = FMTP_MAX;
	size_t i = 0;
	while (i < fmtp.l) {
		size_t start = i;
		while (i < fmtp.l && fmtp.p[i] != ';')
			i++;
		struct cv_pl item = {fmtp.p + start, i - start};
		i++; /* skip ';' */
		const char *eq = memchr(item.p, '=', item.l);
		if (!eq)
			continue;
		struct cv_pl k = cv_pl_trim(
			(struct cv_pl){item.p, (size_t)(eq - item.p)});
		struct cv_pl v = cv_pl_trim((struct cv_pl){
			eq + 1, item.l - (size_t)(eq - item.p) - 1});
		if (cv_pl_caseeq_str(k, key)) {
			*val = v;
			return true;
		}
	}
	return false;
}

bool cv_fmtp_get_u32(struct cv_pl fmtp, const char *key, uint32_t *val)
{
	struct cv_pl v;
	return cv_fmtp_get(fmtp, key, &v) && cv_pl_u32(v, val) == 0;
}

int cv_codec_fmtp_parse(const struct cv_codec *c, struct cv_codec_params *p,
			struct cv_pl fmtp)
{
	if (!c || !p)
		return -EINVAL;
	if (!c->fmtp_parse || !fmtp.p)
		return 0;
	return c->fmtp_parse(p, fmtp);
}

int cv_codec_fmtp_print(const struct cv_codec *c,
			const struct cv_codec_params *p, char *buf, size_t size)
{
	if (!c || !buf || !size)
		return -EINVAL;
	buf[0] = '\0';
	if (!c->fmtp_print)
		return 0;
	struct cv_codec_params def = {0};
	return c->fmtp_print(p ? p : &def, buf, size);
}

/* ---- encoder / decoder wrappers ---------------------------------------- */

struct cv_codec_enc {
	const struct cv_codec *c;
	void *st;
	uint32_t rate;
	size_t frame; /* samples per codec frame */
};

struct cv_codec_dec {
	const struct cv_codec *c;
	void *st;
	uint32_t rate;
	struct cv_plc *plc; /* generic PLC when the codec has none */
};

static uint32_t pick_rate(const struct cv_codec *c,
			  const struct cv_codec_params *p)
{
	return (p && p->pcm_rate && c == &cv_codec_opus) ? p->pcm_rate
							 : c->pcm_rate;
}

static void enc_dtor(void *obj)
{
	struct cv_codec_enc *e = obj;
	if (e->st && e->c->enc_destroy)
		e->c->enc_destroy(e->st);
}

static void dec_dtor(void *obj)
{
	struct cv_codec_dec *d = obj;
	if (d->st && d->c->dec_destroy)
		d->c->dec_destroy(d->st);
	cv_mem_unref(d->plc);
}

int cv_codec_enc_create(struct cv_codec_enc **ep, const struct cv_codec *c,
			const struct cv_codec_params *p)
{
	if (!ep || !c)
		return -EINVAL;
	struct cv_codec_params def = {0};
	if (!p)
		p = &def;
	struct cv_codec_enc *e = cv_mem_zalloc(sizeof(*e), enc_dtor);
	if (!e)
		return -ENOMEM;
	e->c = c;
	e->rate = pick_rate(c, p);
	e->frame = (size_t)e->rate * c->frame_ms / 1000;
	int err = c->enc_create ? c->enc_create(&e->st, p, e->rate) : 0;
	if (err) {
		cv_mem_unref(e);
		return err;
	}
	*ep = e;
	return 0;
}

int cv_codec_dec_create(struct cv_codec_dec **dp, const struct cv_codec *c,
			const struct cv_codec_params *p)
{
	if (!dp || !c)
		return -EINVAL;
	struct cv_codec_params def = {0};
	if (!p)
		p = &def;
	struct cv_codec_dec *d = cv_mem_zalloc(sizeof(*d), dec_dtor);
	if (!d)
		return -ENOMEM;
	d->c = c;
	d->rate = pick_rate(c, p);
	int err = c->dec_create ? c->dec_create(&d->st, p, d->rate) : 0;
	if (!err && !c->conceal)
		err = cv_plc_create(&d->plc, d->rate);
	if (err) {
		cv_mem_unref(d);
		return err;
	}
	*dp = d;
	return 0;
}

uint32_t cv_codec_enc_rate(const struct cv_codec_enc *e)
{
	return e ? e->rate : 0;
}

uint32_t cv_codec_dec_rate(const struct cv_codec_dec *d)
{
	return d ? d->rate : 0;
}

const struct cv_codec *cv_codec_enc_codec(const struct cv_codec_enc *e)
{
	return e ? e->c : NULL;
}

const struct cv_codec *cv_codec_dec_codec(const struct cv_codec_dec *d)
{
	return d ? d->c : NULL;
}

int cv_codec_encode(struct cv_codec_enc *e, const int16_t *pcm, size_t n,
		    uint8_t *out, size_t outsize, size_t *outlen)
{
	if (!e || !pcm || !out || !outlen)
		return -EINVAL;
	if (!n || n % e->frame || n > CV_CODEC_MAX_SAMPLES)
		return -EINVAL;
	*outlen = 0;
	return e->c->encode(e->st, pcm, n, out, outsize, outlen);
}

int cv_codec_decode(struct cv_codec_dec *d, const uint8_t *in, size_t len,
		    int16_t *pcm, size_t *n)
{
	if (!d || !pcm || !n)
		return -EINVAL;
	if (!in || !len)
		return CV_EPARSE;
	size_t room = *n;
	*n = 0;
	int ns = d->c->payload_samples(in, len, d->rate);
	if (ns <= 0)
		return CV_EPARSE;
	if ((size_t)ns > room || (size_t)ns > CV_CODEC_MAX_SAMPLES)
		return CV_ETOOBIG;
	size_t got = room;
	int err = d->c->decode(d->st, in, len, pcm, &got);
	if (err)
		return err;
	if (d->plc)
		cv_plc_rx(d->plc, pcm, got);
	*n = got;
	return 0;
}

int cv_codec_conceal(struct cv_codec_dec *d, const uint8_t *next,
		     size_t next_len, int16_t *pcm, size_t n)
{
	if (!d || !pcm || !n || n > CV_CODEC_MAX_SAMPLES)
		return -EINVAL;
	if (d->plc) {
		cv_plc_fill(d->plc, pcm, n);
		return 0;
	}
	size_t got = n;
	int err = d->c->conceal(d->st, next, next_len, pcm, &got);
	if (err) {
		memset(pcm, 0, n * sizeof(*pcm));
		return err;
	}
	if (got < n)
		memset(pcm + got, 0, (n - got) * sizeof(*pcm));
	return 0;
}

int cv_codec_dec_payload_samples(const struct cv_codec_dec *d,
				 const uint8_t *in, size_t len)
{
	if (!d || !in || !len)
		return CV_EPARSE;
	return d->c->payload_samples(in, len, d->rate);
}

/* ---- formats for SDP offers -------------------------------------------- */

static bool pt_used(const struct cv_media_fmt *out, size_t n, uint8_t pt)
{
	for (size_t i = 0; i < n; i++)
		if (out[i].pt == pt)
			return true;
	return false;
}

static uint8_t pick_pt(const struct cv_media_fmt *out, size_t n,
		       uint8_t preferred)
{
	if (!pt_used(out, n, preferred))
		return preferred;
	for (uint8_t pt = 96; pt < 128; pt++)
		if (!pt_used(out, n, pt))
			return pt;
	return 255;
}

static int add_fmt(struct cv_media_fmt *out, size_t max, size_t *n,
		   const char *name, uint32_t rate, uint8_t ch, uint8_t pt,
		   const char *fmtp, const struct cv_codec *c)
{
	if (*n >= max)
		return CV_ETOOBIG;
	if (pt == 255)
		return CV_ETOOBIG; /* out of dynamic payload types */
	struct cv_media_fmt *f = &out[*n];
	memset(f, 0, sizeof(*f));
	snprintf(f->name, sizeof(f->name), "%s", name);
	f->clock_rate = rate;
	f->channels = ch;
	f->pt = pt;
	if (fmtp)
		snprintf(f->fmtp, sizeof(f->fmtp), "%s", fmtp);
	f->codec = c;
	(*n)++;
	return 0;
}

int cv_media_offer_fmts(const struct cv_media_offer_params *p,
			struct cv_media_fmt *out, size_t max, size_t *nout)
{
	if (!p || !out || !nout)
		return -EINVAL;
	size_t n = 0;
	size_t count = p->codecs ? p->ncodecs : CV_ARRAY_SIZE(registry);
	int err;

	for (size_t i = 0; i < count; i++) {
		const struct cv_codec *c;
		if (p->codecs) {
			const char *nm = p->codecs[i];
			/* "L16/16000" picks a rate; a plain name the first */
			const char *slash = nm ? strchr(nm, '/') : NULL;
			uint32_t rate = 0;
			struct cv_pl name = cv_pl_str(nm);
			if (slash) {
				name.l = (size_t)(slash - nm);
				if (cv_pl_u32(cv_pl_str(slash + 1), &rate))
					return -EINVAL;
			}
			c = cv_codec_find(name, rate, 0);
			if (!c)
				return CV_ENOTFOUND;
		} else {
			c = registry[i];
		}
		bool dup = false;
		for (size_t k = 0; k < n; k++)
			dup |= out[k].codec == c;
		if (dup)
			continue;
		char fmtp[128] = "";
		err = cv_codec_fmtp_print(c, &p->params, fmtp, sizeof(fmtp));
		if (err < 0)
			return err;
		uint8_t pt = c->static_pt != 255
				     ? c->static_pt
				     : pick_pt(out, n, c->default_pt);
		err = add_fmt(out, max, &n, c->name, c->clock_rate, c->channels,
			      pt, fmtp[0] ? fmtp : NULL, c);
		if (err)
			return err;
	}
	size_t ncodec = n;
	/* RFC 3389 §4: CN/8000 with the static payload type 13. */
	if (p->comfort_noise) {
		for (size_t i = 0; i < ncodec; i++) {
			if (out[i].clock_rate == 8000) {
				err = add_fmt(out, max, &n, "CN", 8000, 1,
					      CV_CN_PT, NULL, NULL);
				if (err)
					return err;
				break;
			}
		}
	}
	/* RFC 4733 §7.1.1: telephone-event at the clock rate of the audio
	 * it goes with, one per distinct rate. 101 is the customary 8 kHz
	 * payload type. */
	if (p->telephone_event) {
		for (size_t i = 0; i < ncodec; i++) {
			uint32_t rate = out[i].clock_rate;
			bool seen = false;
			for (size_t k = 0; k < i; k++)
				seen |= out[k].clock_rate == rate;
			if (seen)
				continue;
			uint8_t pt = pick_pt(out, n, rate == 8000 ? 101 : 100);
			err = add_fmt(out, max, &n, "telephone-event", rate, 1,
				      pt, "0-16", NULL);
			if (err)
				return err;
		}
	}
	*nout = n;
	return 0;
}
