/* Jitter buffer under reordering, loss, duplicates, jitter, clock skew,
 * timestamp jumps and DTX, driven by simulated time. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdlib.h>

#include "cvoip/rtp.h"

#define MAXP 2000

struct simpkt {
	uint64_t at; /* arrival, µs */
	uint16_t seq;
	uint32_t ts;
	uint8_t pt;
	bool marker;
	uint32_t ssrc;
	uint8_t byte;
};

struct simout {
	unsigned frames, lost, silence, cn;
	unsigned lost_all; /* including the tail after the last frame */
	uint32_t last_ts;
	bool order_ok;
	unsigned max_depth;
	uint8_t bytes[MAXP];
	unsigned nbytes;
};

static int cmp_at(const void *a, const void *b)
{
	const struct simpkt *x = a, *y = b;
	return x->at < y->at ? -1 : (x->at > y->at ? 1 : 0);
}

static uint32_t lcg_state = 12345;
static uint32_t lcg(void)
{
	lcg_state = lcg_state * 1103515245u + 12345u;
	return lcg_state >> 8;
}

/* Runs the buffer: consumer ticks every 20 ms (offset 3 ms) until end. */
static void simulate(struct cv_rtp_jb *jb, struct simpkt *p, size_t n,
		     uint64_t end_us, uint64_t tick_us, struct simout *o)
{
	qsort(p, n, sizeof(*p), cmp_at);
	memset(o, 0, sizeof(*o));
	o->order_ok = true;
	bool have_ts = false;
	size_t i = 0;
	for (uint64_t t = 3000; t < end_us; t += tick_us) {
		while (i < n && p[i].at <= t) {
			uint8_t pl[160];
			memset(pl, p[i].byte, sizeof(pl));
			struct cv_rtp_pkt pk = {.hdr = {.seq = p[i].seq,
							.ts = p[i].ts,
							.pt = p[i].pt,
							.marker = p[i].marker,
							.ssrc = p[i].ssrc},
						.payload = pl,
						.payload_len = 160};
			(void)cv_rtp_jb_put(jb, &pk, p[i].at);
			i++;
		}
		struct cv_rtp_jb_stats st;
		cv_rtp_jb_stats(jb, &st);
		if (st.depth > o->max_depth)
			o->max_depth = st.depth;
		for (int k = 0; k < 10; k++) {
			struct cv_rtp_jb_frame f;
			assert_int_equal(cv_rtp_jb_get(jb, t, &f), 0);
			if (f.kind == CV_RTP_JB_WAIT)
				break;
			if (f.kind == CV_RTP_JB_FRAME) {
				o->frames++;
				o->lost = o->lost_all;
				if (have_ts &&
				    cv_rtp_ts_diff(f.ts, o->last_ts) <= 0)
					o->order_ok = false;
				o->last_ts = f.ts;
				have_ts = true;
				assert_int_equal(f.len, 160);
				if (o->nbytes < MAXP)
					o->bytes[o->nbytes++] = f.payload[0];
			} else if (f.kind == CV_RTP_JB_LOST) {
				o->lost_all++;
			} else if (f.kind == CV_RTP_JB_SILENCE) {
				o->silence++;
			} else if (f.kind == CV_RTP_JB_CN) {
				o->cn++;
			}
		}
	}
}

static size_t make_stream(struct simpkt *p, unsigned count, uint16_t seq0,
			  uint32_t ts0, uint64_t period_us, uint64_t t0)
{
	for (unsigned k = 0; k < count; k++) {
		p[k] = (struct simpkt){.at = t0 + k * period_us,
				       .seq = (uint16_t)(seq0 + k),
				       .ts = ts0 + 160u * k,
				       .ssrc = 7,
				       .byte = (uint8_t)k};
	}
	return count;
}

static struct cv_rtp_jb *mk3(unsigned min_ms, unsigned max_ms, unsigned init)
{
	struct cv_rtp_jb *jb;
	struct cv_rtp_jb_params prm = {.clock_rate = 8000,
				       .min_ms = min_ms,
				       .max_ms = max_ms,
				       .init_ms = init,
				       .cn_pt = 13};
	assert_int_equal(cv_rtp_jb_create(&jb, &prm), 0);
	return jb;
}

static struct cv_rtp_jb *mk(unsigned min_ms, unsigned max_ms)
{
	return mk3(min_ms, max_ms, 40);
}

static void test_inorder(void **state)
{
	(void)state;
	int64_t live = cv_mem_live();
	static struct simpkt p[MAXP];
	/* Sequence and timestamp both wrap during the run. */
	size_t n = make_stream(p, 200, 65500, 0xffffe000u, 20000, 0);
	struct cv_rtp_jb *jb = mk3(20, 200, 20);
	struct simout o;
	simulate(jb, p, n, 200 * 20000 + 100000, 20000, &o);
	assert_int_equal(o.frames, 200);
	assert_int_equal(o.lost, 0);
	assert_true(o.order_ok);
	for (unsigned k = 0; k < 200; k++)
		assert_int_equal(o.bytes[k], (uint8_t)k);
	cv_rtp_jb_destroy(jb);
	assert_int_equal(cv_mem_live(), live);
}

static void test_loss_reorder_dup(void **state)
{
	(void)state;
	static struct simpkt p[MAXP];
	size_t n = make_stream(p, 100, 1, 1000, 20000, 0);
	/* swap arrivals of 10/11 and 30/31 (reorder within 15 ms) */
	p[10].at += 15000;
	p[11].at -= 5000;
	p[30].at += 15000;
	p[31].at -= 5000;
	/* lose 50 and 51 and 70 */
	p[50].at = p[51].at = p[70].at = UINT64_MAX / 2;
	/* duplicate 80 and 81 */
	p[n] = p[80];
	p[n].at += 3000;
	n++;
	p[n] = p[81];
	p[n].at += 1000;
	n++;
	struct cv_rtp_jb *jb = mk3(20, 200, 20);
	struct simout o;
	simulate(jb, p, n, 100 * 20000 + 200000, 20000, &o);
	struct cv_rtp_jb_stats st;
	cv_rtp_jb_stats(jb, &st);
	assert_int_equal(o.frames, 97);
	/* 3 lost; a gap at the tail of the buffer may first be taken for
	 * lateness and stretched by one concealed slot. */
	assert_true(o.lost >= 3 && o.lost <= 5);
	assert_true(o.order_ok);
	assert_int_equal(st.duplicates, 2);
	assert_int_equal(st.reordered, 2);
	assert_int_equal(st.late, 0);
	/* The lost slots sit exactly where 50, 51 and 70 were. */
	assert_int_equal(o.bytes[49], 49);
	assert_int_equal(o.bytes[50], 52);
	assert_int_equal(o.bytes[67], 69);
	assert_int_equal(o.bytes[68], 71);
	cv_rtp_jb_destroy(jb);
}

static void test_jitter_adapts(void **state)
{
	(void)state;
	static struct simpkt p[MAXP];
	size_t n = make_stream(p, 1500, 1, 0, 20000, 0);
	lcg_state = 99;
	/* Network delay uniform in 0..60 ms after the first 2 s. */
	for (size_t k = 100; k < n; k++)
		p[k].at += lcg() % 60000;
	struct cv_rtp_jb *jb = mk(20, 300);
	struct simout o;
	simulate(jb, p, n, 1500 * 20000 + 400000, 20000, &o);
	struct cv_rtp_jb_stats st;
	cv_rtp_jb_stats(jb, &st);
	/* The target followed the jitter up (A.8 of U(0,60ms) ~ 20 ms). */
	assert_true(st.target_ms >= 40);
	assert_true(st.target_ms <= 300);
	assert_true(st.jitter_ms >= 10);
	/* Almost every frame played, in order. */
	assert_true(o.order_ok);
	assert_true(o.frames >= 1500 * 97 / 100);
	assert_true(st.late <= 1500 * 3 / 100);
	cv_rtp_jb_destroy(jb);

	/* Jitter that falls again: the delay shrinks by dropping frames. */
	n = make_stream(p, 1500, 1, 0, 20000, 0);
	for (size_t k = 0; k < 300; k++)
		p[k].at += lcg() % 150000;
	jb = mk(20, 300);
	simulate(jb, p, n, 1500 * 20000 + 400000, 20000, &o);
	cv_rtp_jb_stats(jb, &st);
	assert_true(st.dropped_skew >= 1);
	assert_true(st.target_ms <= 60);
	assert_true(o.max_depth <= 20);
	cv_rtp_jb_destroy(jb);
}

static void test_skew(void **state)
{
	(void)state;
	static struct simpkt p[MAXP];
	struct simout o;
	struct cv_rtp_jb_stats st;
	/* Sender clock 1% fast: 60 s of packets every 19.8 ms. */
	size_t n = make_stream(p, 1500, 1, 0, 19800, 0);
	struct cv_rtp_jb *jb = mk(20, 200);
	simulate(jb, p, n, 1500 * 19800 + 400000, 20000, &o);
	cv_rtp_jb_stats(jb, &st);
	assert_true(st.dropped_skew >= 10); /* ~15 frames of 20 ms surplus */
	assert_true(o.max_depth <= 8);	    /* the buffer did not grow */
	assert_int_equal(st.overflow, 0);
	assert_true(o.order_ok);
	cv_rtp_jb_destroy(jb);
	/* Sender clock 1% slow: the buffer stretches instead of starving. */
	n = make_stream(p, 1500, 1, 0, 20200, 0);
	jb = mk(20, 200);
	simulate(jb, p, n, 1500 * 20200 + 400000, 20000, &o);
	cv_rtp_jb_stats(jb, &st);
	assert_true(o.frames >= 1495);
	assert_true(st.late <= 5);
	assert_true(o.order_ok);
	cv_rtp_jb_destroy(jb);
}

static void test_jump_ssrc_dtx(void **state)
{
	(void)state;
	static struct simpkt p[MAXP];
	struct simout o;
	struct cv_rtp_jb_stats st;
	size_t n = make_stream(p, 50, 1, 0, 20000, 0);
	/* then a timestamp jump of 10 s (sender restart) */
	n += make_stream(p + n, 50, 51, 80000 + 8000, 20000, 50 * 20000);
	/* then a new SSRC */
	size_t k0 = n;
	n += make_stream(p + n, 50, 9000, 5, 20000, 100 * 20000);
	for (size_t k = k0; k < n; k++)
		p[k].ssrc = 8;
	/* then CN and 1 s of DTX, then a new talkspurt with the marker */
	p[n] = (struct simpkt){.at = 150 * 20000,
			       .seq = 9050,
			       .ts = 5 + 160 * 50,
			       .pt = 13,
			       .ssrc = 8};
	n++;
	k0 = n;
	n += make_stream(p + n, 50, 9051, 5 + 160 * 100, 20000, 200 * 20000);
	p[k0].marker = true;
	for (size_t k = k0; k < n; k++)
		p[k].ssrc = 8;
	struct cv_rtp_jb *jb = mk(20, 200);
	simulate(jb, p, n, 250 * 20000 + 300000, 20000, &o);
	cv_rtp_jb_stats(jb, &st);
	assert_int_equal(st.resyncs, 2);
	assert_int_equal(o.cn, 1);
	assert_true(o.frames >= 195);
	assert_true(o.silence >= 40); /* DTX gap is silence, not loss */
	assert_true(o.lost <= 6);     /* only around the resyncs */
	assert_int_equal(st.late, 0);
	cv_rtp_jb_destroy(jb);
}

static void test_ptime_change(void **state)
{
	(void)state;
	/* 30 ms packets (240 ts) before the frame size is learnt, then a
	 * switch to 20 ms: no slot is lost to misalignment. */
	static struct simpkt p[MAXP];
	size_t n = 0;
	for (unsigned k = 0; k < 50; k++, n++)
		p[n] = (struct simpkt){.at = k * 30000,
				       .seq = (uint16_t)k,
				       .ts = 240u * k,
				       .ssrc = 1,
				       .byte = (uint8_t)k};
	for (unsigned k = 0; k < 50; k++, n++)
		p[n] = (struct simpkt){.at = 1500000 + k * 20000,
				       .seq = (uint16_t)(50 + k),
				       .ts = 240u * 50 + 160u * k,
				       .ssrc = 1,
				       .byte = (uint8_t)(50 + k)};
	struct cv_rtp_jb *jb = mk3(20, 200, 40);
	struct simout o;
	simulate(jb, p, n, 2600000, 10000, &o);
	struct cv_rtp_jb_stats st;
	cv_rtp_jb_stats(jb, &st);
	/* every packet played, or dropped on purpose to shrink the delay */
	assert_int_equal(o.frames + st.dropped_skew, 100);
	assert_true(st.dropped_skew <= 2);
	assert_true(o.order_ok);
	assert_true(o.lost <= 2);
	cv_rtp_jb_destroy(jb);
}

static void test_overflow_late(void **state)
{
	(void)state;
	struct cv_rtp_jb *jb;
	struct cv_rtp_jb_params prm = {.max_packets = 4, .cn_pt = -1};
	assert_int_equal(cv_rtp_jb_create(&jb, &prm), 0);
	uint8_t pl[10] = {0};
	for (int k = 0; k < 6; k++) {
		struct cv_rtp_pkt pk = {
			.hdr = {.seq = (uint16_t)k, .ts = 160u * k},
			.payload = pl,
			.payload_len = 10};
		assert_int_equal(cv_rtp_jb_put(jb, &pk, 0), 0);
	}
	struct cv_rtp_jb_stats st;
	cv_rtp_jb_stats(jb, &st);
	assert_int_equal(st.overflow, 2);
	assert_int_equal(st.depth, 4);
	struct cv_rtp_jb_frame f;
	assert_int_equal(cv_rtp_jb_get(jb, 1000000, &f), 0);
	assert_int_equal(f.kind, CV_RTP_JB_FRAME);
	assert_int_equal(f.ts, 320);
	/* A packet older than the playout point is late. */
	struct cv_rtp_pkt old = {
		.hdr = {.seq = 1, .ts = 160}, .payload = pl, .payload_len = 10};
	assert_int_equal(cv_rtp_jb_put(jb, &old, 1000000), CV_ETIMEOUT);
	old.payload_len = CV_RTP_MAX_PACKET + 1;
	assert_int_equal(cv_rtp_jb_put(jb, &old, 1000000), -EINVAL);
	cv_rtp_jb_destroy(jb);
}

/* Peek: after a LOST slot, the next packet (for Opus in-band FEC) is
 * visible without being taken; it then plays normally. */
static void test_peek_next(void **state)
{
	(void)state;
	int64_t live = cv_mem_live();
	struct cv_rtp_jb *jb;
	struct cv_rtp_jb_params jp = {
		.clock_rate = 8000, .frame_ts = 160, .init_ms = 40};
	assert_int_equal(cv_rtp_jb_create(&jb, &jp), 0);
	struct cv_rtp_jb_frame f, nx;
	assert_int_equal(cv_rtp_jb_peek(jb, 0, &nx), -ENOENT); /* empty */
	uint8_t pl[20];
	for (uint16_t k = 0; k < 6; k++) {
		if (k == 2)
			continue; /* lost */
		memset(pl, k, sizeof(pl));
		struct cv_rtp_pkt pk = {
			.hdr = {.seq = k, .ts = 1000u + 160u * k, .ssrc = 9},
			.payload = pl,
			.payload_len = sizeof(pl)};
		assert_int_equal(cv_rtp_jb_put(jb, &pk, 20000u * k), 0);
	}
	unsigned got = 0, lost = 0;
	for (uint64_t t = 0; t < 400000; t += 20000) {
		while (cv_rtp_jb_get(jb, t, &f) == 0 &&
		       f.kind != CV_RTP_JB_WAIT) {
			if (f.kind == CV_RTP_JB_LOST && f.ts != 1000u + 320u) {
				/* running dry after the last packet: stretch,
				 * nothing to peek at */
				assert_int_equal(
					cv_rtp_jb_peek(jb, f.ts + f.samples,
						       &nx),
					-ENOENT);
			} else if (f.kind == CV_RTP_JB_LOST) {
				lost++;
				assert_int_equal(
					cv_rtp_jb_peek(jb, f.ts + f.samples,
						       &nx),
					0);
				assert_int_equal(nx.kind, CV_RTP_JB_FRAME);
				assert_int_equal(nx.ts, 1000u + 480u);
				assert_int_equal(nx.len, sizeof(pl));
				assert_int_equal(nx.payload[0], 3);
				/* nothing buffered beyond the last packet */
				assert_int_equal(
					cv_rtp_jb_peek(jb, 1000u + 160u * 6,
						       &nx),
					-ENOENT);
			} else if (f.kind == CV_RTP_JB_FRAME) {
				assert_int_equal(f.payload[0],
						 got + (got >= 2));
				got++;
			}
		}
	}
	assert_int_equal(lost, 1);
	assert_int_equal(got, 5);
	assert_int_equal(cv_rtp_jb_peek(NULL, 0, &nx), -EINVAL);
	cv_rtp_jb_destroy(jb);
	assert_int_equal(cv_mem_live(), live);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_inorder),
		cmocka_unit_test(test_loss_reorder_dup),
		cmocka_unit_test(test_jitter_adapts),
		cmocka_unit_test(test_skew),
		cmocka_unit_test(test_jump_ssrc_dtx),
		cmocka_unit_test(test_ptime_change),
		cmocka_unit_test(test_overflow_late),
		cmocka_unit_test(test_peek_next),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
