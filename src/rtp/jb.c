/* Adaptive jitter buffer: packets in, frames out at their playout time.
 *
 * Playout time of a timestamp: base_us + (ts - base_ts) / rate + delay.
 * - delay follows target = clamp(4 J, min, max) rounded up to whole
 *   frames, J the RFC 3550 A.8 style interarrival jitter in µs; it is set
 *   to target at talkspurt starts (after silence/DTX), grown by
 *   stretching (one concealed slot without advancing, up to max) when the
 *   stream runs late, and shrunk by dropping a frame when every packet of
 *   a 50-packet window arrived more than a frame plus J before its
 *   playout time (jitter fell, or the sender's clock is fast: skew).
 * - a missing frame with later packets present is LOST (conceal); with
 *   nothing buffered after a CN packet it is SILENCE (RFC 3389 DTX).
 */
#include "rtp_int.h"

#define JB_WINDOW      50   /* packets per shrink decision */
#define JB_RESYNC_MS   2000 /* a timestamp jump beyond this resyncs */
#define JB_MAX_MISSING 3    /* empty slots before we call it silence */

struct jb_slot {
	bool used;
	bool marker;
	uint8_t pt;
	uint16_t seq;
	uint32_t ts;
	uint16_t len;
	uint8_t data[CV_RTP_MAX_PACKET];
};

struct cv_rtp_jb {
	struct cv_rtp_jb_params p;
	struct jb_slot *slots;
	unsigned count;
	uint8_t out[CV_RTP_MAX_PACKET];

	bool started;
	bool silence; /* in DTX/silence: the next packet re-anchors */
	bool last_cn;
	uint32_t ssrc;
	uint32_t frame_ts;
	bool frame_learned;
	uint16_t last_seq;
	uint32_t last_ts;
	bool have_last;

	uint64_t base_us;
	uint32_t base_ts;
	uint32_t play_ts;
	int64_t delay_us;
	int64_t target_us;
	int64_t extra_us; /* stretched minus dropped since the anchor */
	unsigned missing; /* consecutive slots with nothing buffered */

	/* jitter estimate (µs, q4) */
	bool transit_valid;
	int64_t transit;
	int64_t jitter_q4;

	/* shrink window */
	unsigned win_n;
	int64_t win_min_margin;

	struct cv_rtp_jb_stats st;
};

static int64_t ts_to_us(const struct cv_rtp_jb *jb, int64_t ts)
{
	return ts * 1000000 / (int64_t)jb->p.clock_rate;
}

static int64_t frame_us(const struct cv_rtp_jb *jb)
{
	return ts_to_us(jb, jb->frame_ts);
}

static void jb_dtor(void *obj)
{
	struct cv_rtp_jb *jb = obj;
	free(jb->slots);
}

int cv_rtp_jb_create(struct cv_rtp_jb **jbp, const struct cv_rtp_jb_params *p)
{
	if (!jbp || !p)
		return -EINVAL;
	struct cv_rtp_jb *jb = cv_mem_zalloc(sizeof(*jb), jb_dtor);
	if (!jb)
		return -ENOMEM;
	jb->p = *p;
	if (!jb->p.clock_rate)
		jb->p.clock_rate = 8000;
	if (!jb->p.min_ms)
		jb->p.min_ms = 20;
	if (!jb->p.max_ms)
		jb->p.max_ms = 200;
	if (jb->p.max_ms < jb->p.min_ms)
		jb->p.max_ms = jb->p.min_ms;
	if (!jb->p.init_ms)
		jb->p.init_ms = 40;
	if (!jb->p.max_packets)
		jb->p.max_packets = 64;
	if (jb->p.max_packets > 1024)
		jb->p.max_packets = 1024;
	jb->slots = calloc(jb->p.max_packets, sizeof(*jb->slots));
	if (!jb->slots) {
		cv_mem_unref(jb);
		return -ENOMEM;
	}
	cv_rtp_jb_reset(jb);
	*jbp = jb;
	return 0;
}

void cv_rtp_jb_destroy(struct cv_rtp_jb *jb)
{
	cv_mem_unref(jb);
}

static void flush(struct cv_rtp_jb *jb)
{
	for (unsigned i = 0; i < jb->p.max_packets; i++)
		jb->slots[i].used = false;
	jb->count = 0;
}

void cv_rtp_jb_reset(struct cv_rtp_jb *jb)
{
	if (!jb)
		return;
	flush(jb);
	jb->started = false;
	jb->silence = false;
	jb->last_cn = false;
	jb->have_last = false;
	jb->frame_learned = jb->p.frame_ts != 0;
	jb->frame_ts = jb->p.frame_ts ? jb->p.frame_ts : jb->p.clock_rate / 50;
	jb->transit_valid = false;
	/* Start the estimate where the initial target puts it. */
	jb->jitter_q4 = (int64_t)jb->p.init_ms * 1000 / 4 * 16;
	jb->target_us = (int64_t)jb->p.init_ms * 1000;
	jb->delay_us = jb->target_us;
	jb->win_n = 0;
	jb->missing = 0;
}

static void update_target(struct cv_rtp_jb *jb)
{
	int64_t j = jb->jitter_q4 / 16;
	int64_t f = frame_us(jb);
	int64_t t = 4 * j;
	if (f > 0)
		t = (t + f - 1) / f * f; /* whole frames */
	int64_t lo = (int64_t)jb->p.min_ms * 1000,
		hi = (int64_t)jb->p.max_ms * 1000;
	jb->target_us = t < lo ? lo : (t > hi ? hi : t);
}

static void anchor(struct cv_rtp_jb *jb, uint32_t ts, uint64_t now_us)
{
	jb->base_us = now_us;
	jb->base_ts = ts;
	jb->play_ts = ts;
	jb->delay_us = jb->target_us;
	jb->extra_us = 0;
	jb->silence = false;
	jb->missing = 0;
	jb->win_n = 0;
	jb->started = true;
}

static int64_t due_us(const struct cv_rtp_jb *jb, uint32_t ts)
{
	return (int64_t)jb->base_us +
	       ts_to_us(jb, cv_rtp_ts_diff(ts, jb->base_ts)) + jb->delay_us;
}

static struct jb_slot *find(struct cv_rtp_jb *jb, uint32_t ts)
{
	for (unsigned i = 0; i < jb->p.max_packets; i++)
		if (jb->slots[i].used && jb->slots[i].ts == ts)
			return &jb->slots[i];
	return NULL;
}

/* The packet that starts within the slot [ts, ts + frame): exact match,
 * or a packet a little later when the frame size changed (ptime) or was
 * not learnt yet, so the timeline realigns to what was sent. */
static struct jb_slot *find_slot(struct cv_rtp_jb *jb, uint32_t ts)
{
	struct jb_slot *best = NULL;
	int32_t bd = 0;
	for (unsigned i = 0; i < jb->p.max_packets; i++) {
		struct jb_slot *s = &jb->slots[i];
		if (!s->used)
			continue;
		int32_t d = cv_rtp_ts_diff(s->ts, ts);
		if (d >= 0 && (uint32_t)d < jb->frame_ts && (!best || d < bd)) {
			best = s;
			bd = d;
		}
	}
	return best;
}

static struct jb_slot *oldest(struct cv_rtp_jb *jb)
{
	struct jb_slot *o = NULL;
	for (unsigned i = 0; i < jb->p.max_packets; i++) {
		struct jb_slot *s = &jb->slots[i];
		if (s->used && (!o || cv_rtp_ts_diff(s->ts, o->ts) < 0))
			o = s;
	}
	return o;
}

static void jitter_update(struct cv_rtp_jb *jb, uint32_t ts, uint64_t now_us)
{
	/* Relative transit in µs against the anchor (A.8 in µs). */
	int64_t transit =
		(int64_t)now_us - ts_to_us(jb, cv_rtp_ts_diff(ts, jb->base_ts));
	if (jb->transit_valid) {
		int64_t d = transit - jb->transit;
		if (d < 0)
			d = -d;
		jb->jitter_q4 += d - ((jb->jitter_q4 + 8) >> 4);
	}
	jb->transit = transit;
	jb->transit_valid = true;
	update_target(jb);
}

int cv_rtp_jb_put(struct cv_rtp_jb *jb, const struct cv_rtp_pkt *pkt,
		  uint64_t now_us)
{
	if (!jb || !pkt || pkt->payload_len > CV_RTP_MAX_PACKET ||
	    (pkt->payload_len && !pkt->payload))
		return -EINVAL;
	jb->st.put++;
	const struct cv_rtp_hdr *h = &pkt->hdr;
	if (jb->started && h->ssrc != jb->ssrc) {
		/* New source: its timestamps mean nothing on our timeline. */
		jb->st.resyncs++;
		flush(jb);
		jb->have_last = false;
		jb->transit_valid = false;
		jb->started = false;
	}
	if (jb->started) {
		int32_t d = cv_rtp_ts_diff(h->ts, jb->play_ts);
		int64_t dus = ts_to_us(jb, d);
		if (dus > (int64_t)JB_RESYNC_MS * 1000 ||
		    dus < -(int64_t)JB_RESYNC_MS * 1000) {
			/* Timestamp jump (sender restart, resync). */
			jb->st.resyncs++;
			flush(jb);
			jb->have_last = false;
			jb->transit_valid = false;
			jb->started = false;
		} else if (jb->silence && jb->count == 0 && d >= 0) {
			/* Talkspurt start after DTX: apply the new target. */
			jb->transit_valid = false;
			anchor(jb, h->ts, now_us);
		} else if (d < 0) {
			jb->st.late++;
			return CV_ETIMEOUT;
		}
	}
	if (!jb->started) {
		jb->ssrc = h->ssrc;
		anchor(jb, h->ts, now_us);
	}
	/* Learn the frame duration from consecutive packets. */
	if (jb->have_last && h->seq == (uint16_t)(jb->last_seq + 1)) {
		int32_t d = cv_rtp_ts_diff(h->ts, jb->last_ts);
		if (d > 0 && (uint32_t)d <= jb->p.clock_rate / 5 &&
		    !jb->p.frame_ts) {
			jb->frame_ts = (uint32_t)d;
			jb->frame_learned = true;
		}
	}
	if (!jb->have_last || cv_rtp_seq_diff(h->seq, jb->last_seq) > 0) {
		jb->last_seq = h->seq;
		jb->last_ts = h->ts;
		jb->have_last = true;
	} else {
		jb->st.reordered++;
	}
	if (find(jb, h->ts)) {
		jb->st.duplicates++;
		return -EALREADY;
	}
	jitter_update(jb, h->ts, now_us);
	/* How early did it come? A long run of large margins means we hold
	 * more delay than needed. */
	int64_t margin = due_us(jb, h->ts) - (int64_t)now_us;
	if (jb->win_n == 0 || margin < jb->win_min_margin)
		jb->win_min_margin = margin;
	jb->win_n++;

	struct jb_slot *s = NULL;
	if (jb->count >= jb->p.max_packets) {
		s = oldest(jb);
		jb->st.overflow++;
		jb->count--;
		s->used = false;
		/* The slot we dropped may be the one due next. */
		if (s->ts == jb->play_ts)
			jb->play_ts += jb->frame_ts;
	} else {
		for (unsigned i = 0; i < jb->p.max_packets; i++) {
			if (!jb->slots[i].used) {
				s = &jb->slots[i];
				break;
			}
		}
	}
	s->used = true;
	s->marker = h->marker;
	s->pt = h->pt;
	s->seq = h->seq;
	s->ts = h->ts;
	s->len = (uint16_t)pkt->payload_len;
	if (pkt->payload_len)
		memcpy(s->data, pkt->payload, pkt->payload_len);
	jb->count++;
	return 0;
}

static bool any_later(struct cv_rtp_jb *jb)
{
	for (unsigned i = 0; i < jb->p.max_packets; i++)
		if (jb->slots[i].used &&
		    cv_rtp_ts_diff(jb->slots[i].ts, jb->play_ts) > 0)
			return true;
	return false;
}

int cv_rtp_jb_peek(struct cv_rtp_jb *jb, uint32_t ts,
		   struct cv_rtp_jb_frame *out)
{
	if (!jb || !out)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	out->kind = CV_RTP_JB_WAIT;
	struct jb_slot *s = jb->started ? find_slot(jb, ts) : NULL;
	if (!s)
		return -ENOENT;
	out->ts = s->ts;
	out->samples = jb->frame_ts;
	out->payload = s->data;
	out->len = s->len;
	out->pt = s->pt;
	out->marker = s->marker;
	out->kind = jb->p.cn_pt > 0 && s->pt == (uint8_t)jb->p.cn_pt
			    ? CV_RTP_JB_CN
			    : CV_RTP_JB_FRAME;
	return 0;
}

int cv_rtp_jb_get(struct cv_rtp_jb *jb, uint64_t now_us,
		  struct cv_rtp_jb_frame *out)
{
	if (!jb || !out)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	out->kind = CV_RTP_JB_WAIT;
	if (!jb->started)
		return 0;
	/* Keep the timestamp arithmetic far from the 32-bit wrap. */
	int32_t since = cv_rtp_ts_diff(jb->play_ts, jb->base_ts);
	if (since > (1 << 28)) {
		jb->base_us += (uint64_t)ts_to_us(jb, since);
		jb->base_ts = jb->play_ts;
	}
	if ((int64_t)now_us < due_us(jb, jb->play_ts))
		return 0;
	int64_t f = frame_us(jb);
	/* Shrink by one frame when, over a window, every packet arrived
	 * (a) more than a frame earlier than the delay we hold (the sender's
	 * clock is fast: drift), or (b) more than a frame plus J early while
	 * we hold more than the target (jitter fell). */
	if (jb->win_n >= JB_WINDOW) {
		int64_t held = jb->delay_us + jb->extra_us;
		bool drift = jb->win_min_margin - held > f;
		bool excess = jb->win_min_margin > f + jb->jitter_q4 / 16 &&
			      held - f >= jb->target_us;
		if (drift || excess) {
			struct jb_slot *s = find(jb, jb->play_ts);
			if (s) {
				s->used = false;
				jb->count--;
			}
			jb->play_ts += jb->frame_ts;
			jb->base_us -= (uint64_t)f;
			if (!drift)
				jb->extra_us -= f;
			jb->st.dropped_skew++;
		}
		jb->win_n = 0;
	}
	out->ts = jb->play_ts;
	out->samples = jb->frame_ts;
	struct jb_slot *s = find_slot(jb, jb->play_ts);
	if (s) {
		jb->play_ts = s->ts;
		out->ts = s->ts;
		memcpy(jb->out, s->data, s->len);
		out->payload = jb->out;
		out->len = s->len;
		out->pt = s->pt;
		out->marker = s->marker;
		bool cn = jb->p.cn_pt > 0 && s->pt == (uint8_t)jb->p.cn_pt;
		out->kind = cn ? CV_RTP_JB_CN : CV_RTP_JB_FRAME;
		jb->last_cn = cn;
		s->used = false;
		jb->count--;
		jb->missing = 0;
		jb->play_ts += jb->frame_ts;
		jb->st.frames++;
		return 0;
	}
	if (any_later(jb)) {
		/* A gap with later packets buffered: lost. */
		out->kind = CV_RTP_JB_LOST;
		jb->play_ts += jb->frame_ts;
		jb->st.lost++;
		jb->missing = 0;
		return 0;
	}
	/* Nothing buffered. */
	jb->missing++;
	if (jb->last_cn || jb->silence || jb->missing > JB_MAX_MISSING) {
		out->kind = CV_RTP_JB_SILENCE;
		jb->silence = true;
		jb->play_ts += jb->frame_ts;
		return 0;
	}
	/* Running late (slow sender clock, delay spike): stretch, i.e.
	 * conceal one slot without advancing. The buffer is empty, so this
	 * adds no queueing; the shrink rule takes the delay back later. */
	out->kind = CV_RTP_JB_LOST;
	jb->st.lost++;
	jb->base_us += (uint64_t)f;
	jb->extra_us += f;
	return 0;
}

void cv_rtp_jb_stats(const struct cv_rtp_jb *jb, struct cv_rtp_jb_stats *out)
{
	if (!jb || !out)
		return;
	*out = jb->st;
	out->target_ms = (uint32_t)(jb->target_us / 1000);
	out->jitter_ms = (uint32_t)(jb->jitter_q4 / 16 / 1000);
	out->depth = jb->count;
}
