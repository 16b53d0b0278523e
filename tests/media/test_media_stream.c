/* Media streams over loopback UDP: a known signal through every codec
 * with 0/5/15% packet loss induced by a test relay, compared with the
 * source by windowed cross-correlation; RFC 4733 and in-band DTMF; a
 * 2-party bridge that transcodes PCMU <-> Opus. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

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

/* ---- capture sink: keeps audio at 8 kHz for comparison ---------------- */

#define CAP_MAX (8000 * 4)

struct capture {
	int16_t pcm[CAP_MAX];
	size_t n;
	struct cv_resampler *rs;
	uint32_t rate;
};

static int cap_write(void *arg, const int16_t *pcm, size_t n, uint32_t rate)
{
	struct capture *c = arg;
	if (rate == 8000) {
		size_t k = CV_MIN(n, CAP_MAX - c->n);
		memcpy(c->pcm + c->n, pcm, k * sizeof(*pcm));
		c->n += k;
		return 0;
	}
	if (!c->rs || c->rate != rate) {
		cv_mem_unref(c->rs);
		c->rs = NULL;
		assert_int_equal(cv_resampler_create(&c->rs, rate, 8000, 3), 0);
		c->rate = rate;
	}
	size_t outn = 0;
	cv_resampler_process(c->rs, pcm, n, c->pcm + c->n, CAP_MAX - c->n,
			     &outn);
	c->n += outn;
	return 0;
}

static const struct cv_asink_ops cap_ops = {.write = cap_write};

static void cap_free(struct capture *c)
{
	cv_mem_unref(c->rs);
	free(c);
}

/* ---- test relay: forwards between two streams, dropping packets ------- */

struct relay {
	uv_udp_t sock;
	struct sockaddr_in a, b; /* the two streams */
	double loss_pct;
	uint32_t to_b;
	unsigned dropped, passed;
};

static void relay_alloc(uv_handle_t *h, size_t sz, uv_buf_t *buf)
{
	(void)h;
	(void)sz;
	static char mem[2048];
	buf->base = mem;
	buf->len = sizeof(mem);
}

static void relay_recv(uv_udp_t *u, ssize_t nread, const uv_buf_t *buf,
		       const struct sockaddr *from, unsigned flags)
{
	(void)flags;
	struct relay *r = u->data;
	if (nread <= 0 || !from)
		return;
	struct sockaddr_in f;
	memcpy(&f, from, sizeof(f));
	const struct sockaddr_in *to = f.sin_port == r->a.sin_port ? &r->b
								    : &r->a;
	/* Drop only media towards B, decided by the packet's index in that
	 * direction, so every codec and run sees the same loss pattern. */
	const uint8_t *pk = (const uint8_t *)buf->base;
	bool rtcp = cv_rtp_is_rtcp(pk, (size_t)nread);
	if (!rtcp && to == &r->b) {
		uint32_t h = (r->to_b++ + 1) * 2654435761u;
		h ^= h >> 15;
		h *= 2246822519u;
		h ^= h >> 13;
		if ((h % 1000) < r->loss_pct * 10) {
			r->dropped++;
			return;
		}
	}
	r->passed++;
	uv_buf_t b = uv_buf_init(buf->base, (unsigned)nread);
	uv_udp_try_send(u, &b, 1, (const struct sockaddr *)to);
}

static void relay_start(uv_loop_t *loop, struct relay *r, double loss)
{
	memset(r, 0, sizeof(*r));
	r->loss_pct = loss;
	assert_int_equal(uv_udp_init(loop, &r->sock), 0);
	r->sock.data = r;
	struct sockaddr_in any;
	uv_ip4_addr("127.0.0.1", 0, &any);
	assert_int_equal(uv_udp_bind(&r->sock, (struct sockaddr *)&any, 0), 0);
	assert_int_equal(uv_udp_recv_start(&r->sock, relay_alloc, relay_recv),
			 0);
}

static uint16_t relay_port(struct relay *r)
{
	struct sockaddr_in sa;
	int len = sizeof(sa);
	uv_udp_getsockname(&r->sock, (struct sockaddr *)&sa, &len);
	return ntohs(sa.sin_port);
}

/* ---- loop helpers ------------------------------------------------------ */

static void stop_cb(uv_timer_t *t)
{
	uv_stop(t->loop);
}

static void run_for(uv_loop_t *loop, unsigned ms)
{
	uv_timer_t t;
	uv_timer_init(loop, &t);
	uv_timer_start(&t, stop_cb, ms, 0);
	uv_run(loop, UV_RUN_DEFAULT);
	uv_close((uv_handle_t *)&t, NULL);
	uv_run(loop, UV_RUN_NOWAIT);
}

static void drain(uv_loop_t *loop)
{
	for (int i = 0; i < 100 && uv_run(loop, UV_RUN_NOWAIT); i++)
		;
}

struct dtmf_log {
	char digits[64];
	size_t n;
	unsigned begins;
};

static void on_dtmf(struct cv_media_stream *ms, char digit, bool end,
		    uint32_t duration_ms, bool inband, void *arg)
{
	(void)ms;
	(void)duration_ms;
	(void)inband;
	struct dtmf_log *l = arg;
	if (!end) {
		l->begins++;
		return;
	}
	if (l->n + 1 < sizeof(l->digits))
		l->digits[l->n++] = digit;
}

static const struct cv_media_stream_handlers dtmf_handlers = {
	.dtmf = on_dtmf,
};

static struct cv_media_stream *mk_stream(uv_loop_t *loop, struct dtmf_log *l,
					 bool inband)
{
	struct cv_media_stream_params p = {
		.loop = loop,
		.local_addr = "127.0.0.1",
		.rtcp_mux = true,
		.rtcp_min_ms = 200,
		.tevent_pt = 101,
		.detect_inband_dtmf = inband,
		.h = &dtmf_handlers,
		.arg = l,
	};
	struct cv_media_stream *ms = NULL;
	assert_int_equal(cv_media_stream_create(&ms, &p), 0);
	assert_true(cv_media_stream_port(ms) > 0);
	return ms;
}

static void cfg_for(struct cv_media_stream_cfg *c, const struct cv_codec *codec,
		    uint16_t remote_port)
{
	memset(c, 0, sizeof(*c));
	c->codec = codec;
	c->pt = codec->static_pt != 255 ? codec->static_pt : codec->default_pt;
	c->tevent_pt = 101;
	c->cn_pt = 13;
	c->dir = CV_MEDIA_SENDRECV;
	c->rtcp_mux = true;
	uv_ip4_addr("127.0.0.1", remote_port, (struct sockaddr_in *)&c->remote);
}

/* Mean over 100 ms windows of the best correlation of each window of ref
 * against out at lags -40 ms .. maxlag: tolerant of the delay steps a
 * jitter buffer makes when it stretches to conceal late frames. */
static double win_corr(const int16_t *r, const int16_t *o, size_t win)
{
	double sxy = 0, sxx = 0, syy = 0;
	for (size_t k = 0; k < win; k++) {
		sxy += (double)r[k] * o[k];
		sxx += (double)r[k] * r[k];
		syy += (double)o[k] * o[k];
	}
	return sxx > 0 && syy > 0 ? sxy / sqrt(sxx * syy) : 0;
}

static double windowed_corr(const int16_t *ref, size_t nref,
			    const int16_t *out, size_t nout, long maxlag)
{
	const long win = 800, back = 320;
	double sum = 0;
	unsigned nw = 0;
	for (long pos = 1600; pos + win <= (long)nref; pos += win) {
		/* every 2nd lag, then the neighbours of the best */
		double best = 0;
		long bl = 0;
		for (long lag = -back; lag <= maxlag; lag += 2) {
			if (pos + lag + win > (long)nout)
				break;
			double c = win_corr(ref + pos, out + pos + lag, win);
			if (c > best) {
				best = c;
				bl = lag;
			}
		}
		for (long lag = bl - 1; lag <= bl + 1; lag += 2) {
			if (pos + lag < 0 || pos + lag + win > (long)nout)
				continue;
			double c = win_corr(ref + pos, out + pos + lag, win);
			if (c > best)
				best = c;
		}
		sum += best;
		nw++;
	}
	return nw ? sum / nw : 0;
}

/* One call: A plays a speech-like WAV through a lossy relay to B, which
 * records what it decodes. */
#define SIG_SAMPLES (8000 * 5 / 4)

struct call {
	const struct cv_codec *codec;
	double loss;
	double min_corr;
	char path[128];
	struct relay r;
	struct dtmf_log la, lb;
	struct cv_media_stream *a, *b;
	struct capture *cap;
};

static void call_setup(uv_loop_t *loop, struct call *k, const int16_t *ref)
{
	snprintf(k->path, sizeof(k->path), "/tmp/cv_media_stream_%d_%u.wav",
		 (int)getpid(), cv_random_u32());
	struct cv_asink *wk = NULL;
	assert_int_equal(cv_asink_file(&wk, k->path, 8000), 0);
	assert_int_equal(cv_asink_write(wk, ref, SIG_SAMPLES, 8000), 0);
	cv_mem_unref(wk);

	relay_start(loop, &k->r, k->loss);
	k->a = mk_stream(loop, &k->la, false);
	k->b = mk_stream(loop, &k->lb, false);
	uv_ip4_addr("127.0.0.1", cv_media_stream_port(k->a), &k->r.a);
	uv_ip4_addr("127.0.0.1", cv_media_stream_port(k->b), &k->r.b);
	struct cv_asrc *src = NULL;
	assert_int_equal(cv_asrc_file(&src, k->path, false), 0);
	cv_media_stream_set_source(k->a, src);
	cv_mem_unref(src);
	k->cap = calloc(1, sizeof(*k->cap));
	struct cv_asink *sink = NULL;
	assert_int_equal(cv_asink_create(&sink, &cap_ops, k->cap), 0);
	cv_media_stream_set_sink(k->b, sink);
	cv_mem_unref(sink);

	struct cv_media_stream_cfg c;
	cfg_for(&c, k->codec, relay_port(&k->r));
	c.params.useinbandfec = k->codec == &cv_codec_opus;
	assert_int_equal(cv_media_stream_start(k->a, &c), 0);
	assert_int_equal(cv_media_stream_start(k->b, &c), 0);
}

static void call_check(struct call *k, const int16_t *ref)
{
	struct cv_media_stream_stats st;
	cv_media_stream_stats(k->b, &st);
	double corr = windowed_corr(ref, SIG_SAMPLES, k->cap->pcm, k->cap->n,
				    1200);
	printf("  %-5s loss %2.0f%%: dropped %u/%u, rx %lu, concealed %lu, "
	       "jb target %u ms, corr %.3f (min %.2f)\n",
	       k->codec->name, k->loss, k->r.dropped,
	       k->r.dropped + k->r.passed, (unsigned long)st.rtp.rx_packets,
	       (unsigned long)st.frames_concealed, st.jb.target_ms, corr,
	       k->min_corr);
	assert_true(st.rtp.rx_packets > 50);
	assert_int_equal(st.decode_errors, 0);
	if (k->loss > 0)
		assert_true(st.frames_concealed > 0);
	assert_true(corr >= k->min_corr);
}

static void call_teardown(struct call *k)
{
	cv_media_stream_destroy(k->a);
	cv_media_stream_destroy(k->b);
	uv_close((uv_handle_t *)&k->r.sock, NULL);
	unlink(k->path);
}

/* Every codec at one loss level, all calls at once on one loop. */
static void calls_at(int level)
{
	static const double loss[3] = {0, 5, 15};
	/* Per-codec floors at 0/5/15 % loss (windowed correlation at 8 kHz;
	 * G.729 is a parametric codec and correlates less). */
	const struct {
		const struct cv_codec *c;
		double min[3];
	} cases[] = {
		{&cv_codec_pcmu, {0.96, 0.91, 0.84}},
		{&cv_codec_pcma, {0.96, 0.91, 0.84}},
		{&cv_codec_g722, {0.92, 0.88, 0.80}},
		{&cv_codec_opus, {0.87, 0.83, 0.77}},
		{&cv_codec_g729, {0.74, 0.55, 0.45}},
		{&cv_codec_l16_16k, {0.95, 0.91, 0.84}},
	};
	uv_loop_t loop;
	assert_int_equal(uv_loop_init(&loop), 0);
	int16_t *ref = calloc(SIG_SAMPLES, sizeof(int16_t));
	mt_speechlike(ref, SIG_SAMPLES, 8000, 14000);
	struct call *calls = calloc(CV_ARRAY_SIZE(cases), sizeof(*calls));
	for (size_t i = 0; i < CV_ARRAY_SIZE(cases); i++) {
		calls[i].codec = cases[i].c;
		calls[i].loss = loss[level];
		calls[i].min_corr = cases[i].min[level];
		call_setup(&loop, &calls[i], ref);
	}
	run_for(&loop, 1500);
	uint64_t t0 = cv_clock_us();
	for (size_t i = 0; i < CV_ARRAY_SIZE(cases); i++)
		call_check(&calls[i], ref);
	printf("  (comparison took %.2f s)\n", (cv_clock_us() - t0) / 1e6);
	for (size_t i = 0; i < CV_ARRAY_SIZE(cases); i++)
		call_teardown(&calls[i]);
	drain(&loop);
	assert_int_equal(uv_loop_close(&loop), 0);
	for (size_t i = 0; i < CV_ARRAY_SIZE(cases); i++)
		cap_free(calls[i].cap);
	free(calls);
	free(ref);
}

static void test_calls_loss_0(void **state)
{
	(void)state;
	calls_at(0);
}

static void test_calls_loss_5(void **state)
{
	(void)state;
	calls_at(1);
}

static void test_calls_loss_15(void **state)
{
	(void)state;
	calls_at(2);
}

static void test_dtmf_rfc4733_and_inband(void **state)
{
	(void)state;
	uv_loop_t loop;
	assert_int_equal(uv_loop_init(&loop), 0);
	struct dtmf_log la = {0}, lb = {0};
	struct cv_media_stream *a = mk_stream(&loop, &la, false);
	struct cv_media_stream *b = mk_stream(&loop, &lb, true);
	struct cv_media_stream_cfg ca, cb;
	cfg_for(&ca, &cv_codec_pcmu, cv_media_stream_port(b));
	cfg_for(&cb, &cv_codec_pcmu, cv_media_stream_port(a));
	assert_int_equal(cv_media_stream_start(a, &ca), 0);
	assert_int_equal(cv_media_stream_start(b, &cb), 0);
	assert_int_equal(cv_media_stream_send_dtmf(a, "1#9", 80), 0);
	assert_int_equal(cv_media_stream_send_dtmf(a, "x", 80), -EINVAL);
	run_for(&loop, 700);
	lb.digits[lb.n] = '\0';
	assert_string_equal(lb.digits, "1#9");
	assert_int_equal(lb.begins, 3);

	/* in-band: tones in the audio, detected by b's spandsp detector */
	memset(&lb, 0, sizeof(lb));
	struct cv_asrc *tones = NULL;
	assert_int_equal(cv_asrc_dtmf(&tones, "507", 80, 80, -10), 0);
	cv_media_stream_set_source(a, tones);
	cv_mem_unref(tones);
	run_for(&loop, 900);
	lb.digits[lb.n] = '\0';
	assert_string_equal(lb.digits, "507");

	struct cv_media_stream_stats st;
	cv_media_stream_stats(a, &st);
	assert_int_equal(st.dtmf_sent, 3);
	cv_media_stream_stats(b, &st);
	assert_int_equal(st.dtmf_received, 6);
	/* no telephone-event negotiated */
	ca.tevent_pt = -1;
	assert_int_equal(cv_media_stream_start(a, &ca), 0);
	assert_int_equal(cv_media_stream_send_dtmf(a, "1", 80), CV_EUNSUPP);
	cv_media_stream_destroy(a);
	cv_media_stream_destroy(b);
	drain(&loop);
	assert_int_equal(uv_loop_close(&loop), 0);
}

static void test_bridge_transcodes(void **state)
{
	(void)state;
	uv_loop_t loop;
	assert_int_equal(uv_loop_init(&loop), 0);
	/* phone A --PCMU-- B [bridge] C --opus-- phone D */
	struct dtmf_log l = {0};
	struct cv_media_stream *a = mk_stream(&loop, &l, false);
	struct cv_media_stream *b = mk_stream(&loop, &l, false);
	struct cv_media_stream *c = mk_stream(&loop, &l, false);
	struct cv_media_stream *d = mk_stream(&loop, &l, false);
	struct cv_media_stream_cfg cfg;
	cfg_for(&cfg, &cv_codec_pcmu, cv_media_stream_port(b));
	assert_int_equal(cv_media_stream_start(a, &cfg), 0);
	cfg_for(&cfg, &cv_codec_pcmu, cv_media_stream_port(a));
	assert_int_equal(cv_media_stream_start(b, &cfg), 0);
	cfg_for(&cfg, &cv_codec_opus, cv_media_stream_port(d));
	assert_int_equal(cv_media_stream_start(c, &cfg), 0);
	cfg_for(&cfg, &cv_codec_opus, cv_media_stream_port(c));
	assert_int_equal(cv_media_stream_start(d, &cfg), 0);
	assert_int_equal(cv_media_stream_bridge(b, c), 0);

	struct cv_tone_params ta = {.freq1 = 1000, .level_dbm0 = -10};
	struct cv_tone_params td = {.freq1 = 600, .level_dbm0 = -10};
	struct cv_asrc *sa = NULL, *sd = NULL;
	assert_int_equal(cv_asrc_tone(&sa, &ta), 0);
	assert_int_equal(cv_asrc_tone(&sd, &td), 0);
	cv_media_stream_set_source(a, sa);
	cv_media_stream_set_source(d, sd);
	cv_mem_unref(sa);
	cv_mem_unref(sd);
	struct capture *ha = calloc(1, sizeof(*ha));
	struct capture *hd = calloc(1, sizeof(*hd));
	struct cv_asink *ka = NULL, *kd = NULL;
	assert_int_equal(cv_asink_create(&ka, &cap_ops, ha), 0);
	assert_int_equal(cv_asink_create(&kd, &cap_ops, hd), 0);
	cv_media_stream_set_sink(a, ka);
	cv_media_stream_set_sink(d, kd);
	cv_mem_unref(ka);
	cv_mem_unref(kd);
	run_for(&loop, 1000);
	/* each end hears the other's tone and not its own */
	assert_true(ha->n > 4000 && hd->n > 4000);
	size_t na = ha->n - 2400, nd = hd->n - 2400;
	double a600 = mt_goertzel(ha->pcm + 2400, na, 8000, 600);
	double a1000 = mt_goertzel(ha->pcm + 2400, na, 8000, 1000);
	double d1000 = mt_goertzel(hd->pcm + 2400, nd, 8000, 1000);
	double d600 = mt_goertzel(hd->pcm + 2400, nd, 8000, 600);
	printf("  bridge: A hears 600 Hz %.2f (1000 Hz %.3f); D hears 1000 Hz "
	       "%.2f (600 Hz %.3f)\n",
	       a600, a1000, d1000, d600);
	assert_true(a600 > 0.7 && a1000 < 0.05);
	assert_true(d1000 > 0.7 && d600 < 0.05);
	cv_media_stream_destroy(a);
	cv_media_stream_destroy(b);
	cv_media_stream_destroy(c);
	cv_media_stream_destroy(d);
	drain(&loop);
	assert_int_equal(uv_loop_close(&loop), 0);
	cap_free(ha);
	cap_free(hd);
}

static void test_start_errors_and_update(void **state)
{
	(void)state;
	uv_loop_t loop;
	assert_int_equal(uv_loop_init(&loop), 0);
	struct dtmf_log l = {0};
	struct cv_media_stream *a = mk_stream(&loop, &l, false);
	struct cv_media_stream_cfg cfg;
	cfg_for(&cfg, &cv_codec_pcmu, 9);
	cfg.ptime = 25; /* not a multiple of 10 ms */
	assert_int_equal(cv_media_stream_start(a, &cfg), -EINVAL);
	cfg.ptime = 30;
	cfg.codec = &cv_codec_opus; /* no 30 ms Opus frame */
	cfg.pt = 111;
	assert_int_equal(cv_media_stream_start(a, &cfg), -EINVAL);
	cfg.codec = NULL;
	assert_int_equal(cv_media_stream_start(a, &cfg), -EINVAL);
	cfg_for(&cfg, &cv_codec_pcmu, 9);
	assert_int_equal(cv_media_stream_start(a, &cfg), 0);
	assert_true(cv_media_stream_running(a));
	/* re-INVITE: another codec and direction */
	cfg_for(&cfg, &cv_codec_g722, 9);
	cfg.dir = CV_MEDIA_RECVONLY;
	assert_int_equal(cv_media_stream_start(a, &cfg), 0);
	run_for(&loop, 100);
	struct cv_media_stream_stats st;
	assert_int_equal(cv_media_stream_stats(a, &st), 0);
	assert_true(st.ticks >= 3);
	assert_int_equal(st.frames_sent, 0); /* recvonly sends nothing */
	cv_media_stream_stop(a);
	assert_false(cv_media_stream_running(a));
	cv_media_stream_destroy(a);
	drain(&loop);
	assert_int_equal(uv_loop_close(&loop), 0);
}

/* Hostile datagrams on the stream's port: counted and dropped, never a
 * crash; the decoder gets corrupt payloads of its own payload type. */
static void test_hostile_input(void **state)
{
	(void)state;
	uv_loop_t loop;
	assert_int_equal(uv_loop_init(&loop), 0);
	/* driven by hand: one packet and one tick per 20 ms of fake time */
	cv_clock_fake_enable(5000000);
	struct dtmf_log l = {0};
	struct cv_media_stream *a = mk_stream(&loop, &l, false);
	struct cv_media_stream_cfg cfg;
	cfg_for(&cfg, &cv_codec_g729, 9);
	assert_int_equal(cv_media_stream_start(a, &cfg), 0);
	struct sockaddr_in from;
	uv_ip4_addr("127.0.0.1", 9, &from);
	struct cv_rtp_session *rs = cv_media_stream_rtp(a);
	uint8_t buf[CV_RTP_MAX_PACKET];
	uint32_t seed = 7;
	for (int i = 0; i < 400; i++) {
		/* valid header, payload types cycling through ours, unknown,
		 * CN and telephone-event, payloads of random length/bytes */
		static const uint8_t pts[] = {18, 18, 13, 101, 0, 96};
		uint8_t pl[64];
		seed = seed * 1103515245u + 12345u;
		size_t len = (seed >> 16) % sizeof(pl);
		for (size_t k = 0; k < len; k++) {
			seed = seed * 1103515245u + 12345u;
			pl[k] = (uint8_t)(seed >> 24);
		}
		struct cv_rtp_hdr h = {.pt = pts[i % 6], .seq = (uint16_t)i,
				       .ts = (uint32_t)i * 160, .ssrc = 99};
		size_t n = 0;
		assert_int_equal(cv_rtp_build(buf, sizeof(buf), &h, pl, len,
					      &n),
				 0);
		if (i % 7 == 0)
			n = (size_t)(seed >> 20) % 12; /* truncated */
		cv_rtp_session_input(rs, buf, n, (struct sockaddr *)&from,
				     false);
		cv_clock_fake_advance(20000);
		cv_media_stream_tick(a);
	}
	for (int i = 0; i < 10; i++) {
		cv_clock_fake_advance(20000);
		cv_media_stream_tick(a);
	}
	struct cv_media_stream_stats st;
	assert_int_equal(cv_media_stream_stats(a, &st), 0);
	assert_true(st.unknown_pt > 0);
	assert_true(st.rtp.drop_malformed > 0);
	assert_true(st.decode_errors + st.frames_decoded > 0);
	printf("  hostile: unknown pt %lu, malformed %lu, decoded %lu, decode "
	       "errors %lu, concealed %lu, CN %lu\n",
	       (unsigned long)st.unknown_pt,
	       (unsigned long)st.rtp.drop_malformed,
	       (unsigned long)st.frames_decoded,
	       (unsigned long)st.decode_errors,
	       (unsigned long)st.frames_concealed,
	       (unsigned long)st.cn_received);
	cv_clock_fake_disable();
	cv_media_stream_destroy(a);
	drain(&loop);
	assert_int_equal(uv_loop_close(&loop), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_start_errors_and_update,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_hostile_input, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_dtmf_rfc4733_and_inband,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_bridge_transcodes, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_calls_loss_0, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_calls_loss_5, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_calls_loss_15, setup,
						teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
