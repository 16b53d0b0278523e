/* DTMF: in-band detection (spandsp dtmf_rx, 8 kHz) and RFC 4733
 * telephone-event encoding, sending schedule and receive de-duplication. */
#include <spandsp.h>

#include "media_int.h"

/* ---- in-band detection ----------------------------------------------------
 */

struct cv_dtmf_det {
	dtmf_rx_state_t *rx;
	cv_dtmf_fn *fn;
	void *arg;
	struct cv_rate_conv conv;
	int16_t tmp[2048];
};

static void det_dtor(void *obj)
{
	struct cv_dtmf_det *d = obj;
	if (d->rx)
		dtmf_rx_free(d->rx);
	cv_rate_conv_free(&d->conv);
}

static void det_digits(void *user, const char *digits, int len)
{
	struct cv_dtmf_det *d = user;
	for (int i = 0; i < len; i++)
		if (d->fn)
			d->fn(digits[i], d->arg);
}

int cv_dtmf_det_create(struct cv_dtmf_det **dp, cv_dtmf_fn *fn, void *arg)
{
	if (!dp || !fn)
		return -EINVAL;
	struct cv_dtmf_det *d = cv_mem_zalloc(sizeof(*d), det_dtor);
	if (!d)
		return -ENOMEM;
	d->fn = fn;
	d->arg = arg;
	d->rx = dtmf_rx_init(NULL, det_digits, d);
	if (!d->rx) {
		cv_mem_unref(d);
		return -ENOMEM;
	}
	*dp = d;
	return 0;
}

int cv_dtmf_det_feed(struct cv_dtmf_det *d, const int16_t *pcm, size_t n,
		     uint32_t rate)
{
	if (!d || (!pcm && n) || !rate)
		return -EINVAL;
	while (n) {
		size_t c = CV_MIN(n, (size_t)960);
		size_t outn = 0;
		int err = cv_rate_conv_run(&d->conv, rate, 8000, pcm, c, d->tmp,
					   CV_ARRAY_SIZE(d->tmp), &outn);
		if (err)
			return err;
		if (outn)
			dtmf_rx(d->rx, d->tmp, (int)outn);
		pcm += c;
		n -= c;
	}
	return 0;
}

/* ---- RFC 4733 -------------------------------------------------------------
 */

void cv_te_tx_init(struct cv_te_tx *t, uint32_t clock_rate, uint32_t ptime_ms)
{
	memset(t, 0, sizeof(*t));
	t->clock_rate = clock_rate ? clock_rate : 8000;
	t->ptime_ms = ptime_ms ? ptime_ms : 20;
}

int cv_te_tx_start(struct cv_te_tx *t, char digit, uint32_t duration_ms,
		   uint8_t volume)
{
	uint8_t ev;
	if (!t || cv_rtp_tevent_from_char(digit, &ev) || volume > 63)
		return -EINVAL;
	if (t->active)
		return CV_EFULL;
	if (duration_ms < 40)
		duration_ms = 40;
	uint64_t units = (uint64_t)duration_ms * t->clock_rate / 1000;
	/* §2.5.1.3 would split longer events; we cap at one segment. */
	if (units > 0xffff)
		units = 0xffff;
	t->event = ev;
	t->volume = volume;
	t->duration_total = (uint32_t)units;
	t->duration_sent = 0;
	t->end_left = 0;
	t->active = true;
	t->first = true;
	return 0;
}

bool cv_te_tx_busy(const struct cv_te_tx *t)
{
	return t && t->active;
}

int cv_te_tx_next(struct cv_te_tx *t, struct cv_rtp_tevent *e, bool *marker,
		  bool *new_ts)
{
	if (!t || !e || !marker || !new_ts)
		return -EINVAL;
	if (!t->active)
		return CV_ENOTFOUND;
	*marker = t->first;
	*new_ts = t->first;
	t->first = false;
	e->event = t->event;
	e->volume = t->volume;
	if (t->end_left) {
		/* §2.5.1.4: the end packet is retransmitted, same duration */
		e->end = true;
		e->duration = (uint16_t)t->duration_total;
		if (--t->end_left == 0)
			t->active = false;
		return 0;
	}
	t->duration_sent += t->ptime_ms * t->clock_rate / 1000;
	if (t->duration_sent >= t->duration_total) {
		t->duration_sent = t->duration_total;
		e->end = true;
		t->end_left = 2; /* three end packets in all */
	} else {
		e->end = false;
	}
	e->duration = (uint16_t)t->duration_sent;
	return 0;
}

void cv_te_rx_init(struct cv_te_rx *r, uint32_t clock_rate, cv_te_rx_fn *fn,
		   void *arg)
{
	memset(r, 0, sizeof(*r));
	r->clock_rate = clock_rate ? clock_rate : 8000;
	r->fn = fn;
	r->arg = arg;
}

static uint32_t units_ms(const struct cv_te_rx *r, uint32_t units)
{
	return (uint32_t)((uint64_t)units * 1000 / r->clock_rate);
}

static void rx_end(struct cv_te_rx *r)
{
	r->in_event = false;
	r->last_end_ts = r->cur_ts;
	r->have_end = true;
	if (r->fn)
		r->fn(cv_rtp_tevent_to_char(r->cur_event), true,
		      units_ms(r, r->last_duration), r->arg);
}

int cv_te_rx_packet(struct cv_te_rx *r, uint32_t rtp_ts, const uint8_t *payload,
		    size_t len)
{
	struct cv_rtp_tevent e;
	int err = cv_rtp_tevent_parse(&e, payload, len);
	if (err)
		return err;
	return cv_te_rx_event(r, rtp_ts, &e);
}

int cv_te_rx_event(struct cv_te_rx *r, uint32_t rtp_ts,
		   const struct cv_rtp_tevent *ev)
{
	if (!r || !ev)
		return -EINVAL;
	struct cv_rtp_tevent e = *ev;
	/* Events we do not map to digits (flash, tones) are ignored. */
	if (e.event > 15)
		return CV_EUNSUPP;
	/* §2.5.2.2: packets of an event share its timestamp; anything for
	 * an event already ended is a retransmission. */
	if (r->have_end && (int32_t)(rtp_ts - r->last_end_ts) <= 0)
		return 0;
	if (!r->in_event || rtp_ts != r->cur_ts) {
		if (r->in_event)
			rx_end(r); /* a new event implies the old one ended */
		r->in_event = true;
		r->cur_ts = rtp_ts;
		r->cur_event = e.event;
		r->last_duration = 0;
		if (r->fn)
			r->fn(cv_rtp_tevent_to_char(e.event), false, 0, r->arg);
	}
	if (e.duration > r->last_duration)
		r->last_duration = e.duration;
	r->last_rx_us = cv_clock_us();
	if (e.end)
		rx_end(r);
	return 0;
}

void cv_te_rx_poll(struct cv_te_rx *r, uint32_t timeout_ms)
{
	if (r->in_event &&
	    cv_clock_us() - r->last_rx_us > (uint64_t)timeout_ms * 1000)
		rx_end(r);
}
