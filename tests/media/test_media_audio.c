/* Audio endpoints and DSP: WAV round trip, tone generator measured by
 * Goertzel, DTMF generation and in-band detection, resampler, comfort
 * noise, RFC 4733 timing, mixer/bridge with transcoding, G.729 Annex B. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <cmocka.h>
#include <sndfile.h>

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

static void tmp_path(char *buf, size_t size, const char *ext)
{
	snprintf(buf, size, "/tmp/cv_media_test_%d_%u.%s", (int)getpid(),
		 cv_random_u32(), ext);
}

static void test_wav_roundtrip(void **state)
{
	(void)state;
	char path[128];
	tmp_path(path, sizeof(path), "wav");
	int16_t pcm[8000];
	mt_speechlike(pcm, 8000, 8000, 12000);

	struct cv_asink *k = NULL;
	assert_int_equal(cv_asink_file(&k, path, 8000), 0);
	for (int i = 0; i < 50; i++)
		assert_int_equal(cv_asink_write(k, pcm + i * 160, 160, 8000),
				 0);
	/* Valid before close: the header follows every write. */
	SF_INFO info = {0};
	SNDFILE *sf = sf_open(path, SFM_READ, &info);
	assert_non_null(sf);
	assert_int_equal(info.frames, 8000);
	assert_int_equal(info.samplerate, 8000);
	assert_int_equal(info.channels, 1);
	assert_int_equal(info.format, SF_FORMAT_WAV | SF_FORMAT_PCM_16);
	sf_close(sf);
	assert_int_equal(cv_asink_close(k), 0);
	assert_int_equal(cv_asink_write(k, pcm, 160, 8000), CV_ECLOSED);
	cv_mem_unref(k);

	/* Read back at the file rate: identical samples. */
	struct cv_asrc *s = NULL;
	assert_int_equal(cv_asrc_file(&s, path, false), 0);
	int16_t back[8000 + 160];
	size_t got = 0;
	for (int i = 0; i < 60; i++) {
		int r = cv_asrc_read(s, back + got, 160, 8000);
		assert_true(r >= 0);
		got += (size_t)r;
		if (r == 0)
			break;
	}
	assert_int_equal(got, 8000);
	assert_memory_equal(back, pcm, sizeof(pcm));
	assert_true(cv_asrc_done(s));
	cv_mem_unref(s);

	/* Read at 16 kHz (resampled), looped: never ends, right pitch. */
	assert_int_equal(cv_asrc_file(&s, path, true), 0);
	int16_t *up = calloc(48000, sizeof(*up));
	assert_int_equal(cv_asrc_read(s, up, 48000, 16000), 48000);
	assert_false(cv_asrc_done(s));
	/* same as resampling the samples directly (the file adds nothing) */
	int16_t *ref16 = calloc(16000, sizeof(*ref16));
	struct cv_resampler *rs = NULL;
	size_t rn = 0;
	assert_int_equal(cv_resampler_create(&rs, 8000, 16000, 3), 0);
	assert_int_equal(cv_resampler_process(rs, pcm, 8000, ref16, 16000, &rn),
			 0);
	cv_mem_unref(rs);
	size_t lag;
	double c = mt_xcorr(ref16, up, rn, 1600, 100, &lag);
	assert_true(c > 0.999);
	assert_int_equal(lag, 0);
	/* and the loop restarts the file: 16000 samples later it repeats */
	c = mt_xcorr(up, up + 16000, 16000, 1600, 10, &lag);
	assert_true(c > 0.99);
	free(up);
	free(ref16);
	cv_mem_unref(s);
	unlink(path);

	/* A file written at 16 kHz from 8 kHz input; other formats. */
	const char *exts[] = {"wav", "au", "flac", "raw"};
	for (size_t e = 0; e < CV_ARRAY_SIZE(exts); e++) {
		tmp_path(path, sizeof(path), exts[e]);
		assert_int_equal(cv_asink_file(&k, path, 16000), 0);
		assert_int_equal(cv_asink_write(k, pcm, 8000, 8000), 0);
		cv_mem_unref(k); /* unref finishes the file */
		if (strcmp(exts[e], "raw") != 0) {
			memset(&info, 0, sizeof(info));
			sf = sf_open(path, SFM_READ, &info);
			assert_non_null(sf);
			assert_int_equal(info.samplerate, 16000);
			assert_true(info.frames > 15800 &&
				    info.frames <= 16000);
			sf_close(sf);
		}
		unlink(path);
	}
	assert_int_equal(cv_asrc_file(&s, "/nonexistent/x.wav", false),
			 -ENOENT);
}

static void test_tone_goertzel(void **state)
{
	(void)state;
	struct cv_asrc *s = NULL;
	struct cv_tone_params tp = {.freq1 = 1000, .level_dbm0 = -10};
	assert_int_equal(cv_asrc_tone(&s, &tp), 0);
	int16_t x[16000];
	assert_int_equal(cv_asrc_read(s, x, 8000, 8000), 8000);
	assert_true(fabs(mt_peak_freq(x, 8000, 8000, 300, 3400) - 1000) <= 1);
	assert_true(mt_goertzel(x, 8000, 8000, 1000) > 0.95);
	double amp = 32767.0 * pow(10, (-10 - 3.14) / 20);
	assert_true(fabs(mt_rms(x, 8000) - amp / sqrt(2)) < amp * 0.01);
	/* the same source read at 16 kHz keeps its pitch */
	assert_int_equal(cv_asrc_read(s, x, 16000, 16000), 16000);
	assert_true(fabs(mt_peak_freq(x, 16000, 16000, 300, 3400) - 1000) <= 1);
	cv_mem_unref(s);

	/* dial tone 350+440 Hz, cadence 100 on / 100 off, 1 s long */
	tp = (struct cv_tone_params){.freq1 = 350,
				     .freq2 = 440,
				     .level_dbm0 = -13,
				     .on_ms = 100,
				     .off_ms = 100,
				     .duration_ms = 1000};
	assert_int_equal(cv_asrc_tone(&s, &tp), 0);
	assert_int_equal(cv_asrc_read(s, x, 8000, 8000), 8000);
	assert_true(mt_goertzel(x, 800, 8000, 350) > 0.4);
	assert_true(mt_goertzel(x, 800, 8000, 440) > 0.4);
	assert_true(mt_rms(x + 800, 800) < 1.0); /* off period */
	assert_true(mt_rms(x + 1600, 800) > 1000);
	assert_int_equal(cv_asrc_read(s, x, 160, 8000), 0);
	assert_true(cv_asrc_done(s));
	cv_mem_unref(s);

	tp = (struct cv_tone_params){.freq1 = 1000, .level_dbm0 = 10};
	assert_int_equal(cv_asrc_tone(&s, &tp), -EINVAL);
	assert_int_equal(cv_asrc_silence(&s), 0);
	assert_int_equal(cv_asrc_read(s, x, 160, 8000), 160);
	assert_true(mt_rms(x, 160) == 0);
	cv_mem_unref(s);
}

struct digits {
	char buf[64];
	size_t n;
};

static void on_digit(char d, void *arg)
{
	struct digits *g = arg;
	if (g->n + 1 < sizeof(g->buf))
		g->buf[g->n++] = d;
}

static void detect_at(const char *digits, uint32_t rate, bool via_pcmu)
{
	struct cv_asrc *s = NULL;
	assert_int_equal(cv_asrc_dtmf(&s, digits, 70, 60, -12), 0);
	struct digits got = {0};
	struct cv_dtmf_det *d = NULL;
	assert_int_equal(cv_dtmf_det_create(&d, on_digit, &got), 0);
	int16_t x[960];
	size_t frame = rate / 50;
	for (int i = 0; i < 200; i++) {
		int r = cv_asrc_read(s, x, frame, rate);
		assert_true(r >= 0);
		if (via_pcmu) {
			uint8_t u[960];
			cv_g711_ulaw_enc_buf(u, x, frame);
			cv_g711_ulaw_dec_buf(x, u, frame);
		}
		assert_int_equal(cv_dtmf_det_feed(d, x, frame, rate), 0);
	}
	assert_true(cv_asrc_done(s));
	got.buf[got.n] = '\0';
	assert_string_equal(got.buf, digits);
	cv_mem_unref(d);
	cv_mem_unref(s);
}

static void test_dtmf_detect(void **state)
{
	(void)state;
	detect_at("123A456B789C*0#D", 8000, false);
	detect_at("0192837465", 8000, true);
	detect_at("#*5", 16000, false);
	detect_at("42", 48000, false);
	double lo, hi;
	assert_int_equal(cv_dtmf_freqs('5', &lo, &hi), 0);
	assert_true(lo == 770 && hi == 1336);
	assert_int_equal(cv_dtmf_freqs('x', &lo, &hi), -EINVAL);
	struct cv_asrc *s = NULL;
	assert_int_equal(cv_asrc_dtmf(&s, "12x", 50, 50, -10), -EINVAL);
}

static void test_resampler(void **state)
{
	(void)state;
	struct cv_resampler *r = NULL;
	assert_int_equal(cv_resampler_create(&r, 8000, 48000, 3), 0);
	struct cv_asrc *s = NULL;
	struct cv_tone_params tp = {.freq1 = 1000, .level_dbm0 = -10};
	assert_int_equal(cv_asrc_tone(&s, &tp), 0);
	int16_t in[8000], *out = calloc(48000 + 960, sizeof(*out));
	assert_int_equal(cv_asrc_read(s, in, 8000, 8000), 8000);
	size_t total = 0;
	for (int i = 0; i < 50; i++) {
		size_t n = 0;
		assert_int_equal(cv_resampler_process(r, in + i * 160, 160,
						      out + total,
						      48960 - total, &n),
				 0);
		total += n;
	}
	/* 6x, less the filter delay skipped at the start */
	assert_true(total > 47800 && total <= 48000);
	assert_true(fabs(mt_peak_freq(out + 480, 40000, 48000, 500, 1500) -
			 1000) <= 1);
	assert_int_equal(cv_resampler_in_rate(r), 8000);
	assert_int_equal(cv_resampler_out_rate(r), 48000);
	cv_mem_unref(r);
	cv_mem_unref(s);

	/* 48k -> 8k: 3 kHz passes, 5 kHz (above the new Nyquist) is gone */
	assert_int_equal(cv_resampler_create(&r, 48000, 8000, 3), 0);
	for (int f = 0; f < 2; f++) {
		tp.freq1 = f ? 5000 : 3000;
		assert_int_equal(cv_asrc_tone(&s, &tp), 0);
		assert_int_equal(cv_asrc_read(s, out, 48000, 48000), 48000);
		size_t n = 0;
		assert_int_equal(
			cv_resampler_process(r, out, 48000, in, 8000, &n), 0);
		assert_true(n > 7900);
		double rms = mt_rms(in + 400, 7000);
		double amp = 32767.0 * pow(10, (-10 - 3.14) / 20) / sqrt(2);
		if (f)
			assert_true(rms < amp * 0.05);
		else
			assert_true(rms > amp * 0.8);
		cv_mem_unref(s);
	}
	cv_mem_unref(r);
	free(out);
	assert_int_equal(cv_resampler_create(&r, 10, 8000, 3), -EINVAL);
}

static void test_comfort_noise(void **state)
{
	(void)state;
	int16_t x[1600];
	/* -30 dBov: rms 32767 * 10^(-1.5) */
	double rms = 32767.0 * pow(10, -30 / 20.0);
	for (int i = 0; i < 1600; i++)
		x[i] = (int16_t)lrint(rms * sqrt(2) * sin(i * 0.3));
	assert_int_equal(cv_cn_level(x, 1600), 30);
	uint8_t pl[4];
	size_t len;
	assert_int_equal(cv_cn_encode(x, 1600, pl, sizeof(pl), &len), 0);
	assert_int_equal(len, 1);
	assert_int_equal(pl[0], 30);
	struct cv_cn_dec cn;
	cv_cn_dec_init(&cn);
	cv_cn_dec_generate(&cn, x, 160);
	assert_true(mt_rms(x, 160) == 0); /* nothing before the first SID */
	/* level plus two reflection coefficients (accepted, unused) */
	uint8_t sid[3] = {30, 10, 200};
	assert_int_equal(cv_cn_dec_update(&cn, sid, 3), 0);
	cv_cn_dec_generate(&cn, x, 1600);
	double got = mt_rms(x, 1600);
	assert_true(fabs(20 * log10(got / rms)) < 1.0);
	uint8_t bad = 128;
	assert_int_equal(cv_cn_dec_update(&cn, &bad, 1), CV_EPARSE);
	assert_int_equal(cv_cn_dec_update(&cn, sid, 0), CV_EPARSE);
	memset(x, 0, sizeof(x));
	assert_int_equal(cv_cn_level(x, 1600), 127);
}

static void test_te_tx(void **state)
{
	(void)state;
	struct cv_te_tx t;
	cv_te_tx_init(&t, 8000, 20);
	struct cv_rtp_tevent e;
	bool marker, new_ts;
	assert_int_equal(cv_te_tx_next(&t, &e, &marker, &new_ts), CV_ENOTFOUND);
	assert_int_equal(cv_te_tx_start(&t, '5', 100, 10), 0);
	assert_true(cv_te_tx_busy(&t));
	assert_int_equal(cv_te_tx_start(&t, '6', 100, 10), CV_EFULL);
	const uint16_t want[] = {160, 320, 480, 640, 800, 800, 800};
	for (int i = 0; i < 7; i++) {
		assert_int_equal(cv_te_tx_next(&t, &e, &marker, &new_ts), 0);
		assert_int_equal(e.event, 5);
		assert_int_equal(e.volume, 10);
		assert_int_equal(e.duration, want[i]);
		assert_int_equal(e.end, i >= 4);
		assert_int_equal(marker, i == 0);
		assert_int_equal(new_ts, i == 0);
	}
	assert_false(cv_te_tx_busy(&t));
	assert_int_equal(cv_te_tx_next(&t, &e, &marker, &new_ts), CV_ENOTFOUND);
	/* minimum 40 ms; 48 kHz clock */
	cv_te_tx_init(&t, 48000, 20);
	assert_int_equal(cv_te_tx_start(&t, '#', 10, 0), 0);
	int n = 0;
	while (cv_te_tx_next(&t, &e, &marker, &new_ts) == 0) {
		n++;
		assert_int_equal(e.event, 11);
	}
	assert_int_equal(n, 2 + 2);
	assert_int_equal(e.duration, 1920);
	assert_int_equal(cv_te_tx_start(&t, 'x', 100, 0), -EINVAL);
}

struct te_log {
	char seq[64];
	size_t n;
	uint32_t last_ms;
};

static void on_te(char digit, bool end, uint32_t ms, void *arg)
{
	struct te_log *l = arg;
	if (l->n + 2 < sizeof(l->seq)) {
		l->seq[l->n++] = digit;
		l->seq[l->n++] = end ? 'e' : 'b';
	}
	if (end)
		l->last_ms = ms;
}

static void te_pkt(struct cv_te_rx *r, uint32_t ts, uint8_t ev, bool end,
		   uint16_t dur)
{
	uint8_t p[4];
	struct cv_rtp_tevent e = {
		.event = ev, .end = end, .volume = 10, .duration = dur};
	assert_int_equal(cv_rtp_tevent_build(p, sizeof(p), &e), 0);
	assert_int_equal(cv_te_rx_packet(r, ts, p, 4), 0);
}

static void test_te_rx(void **state)
{
	(void)state;
	cv_clock_fake_enable(1000000);
	struct te_log log = {0};
	struct cv_te_rx r;
	cv_te_rx_init(&r, 8000, on_te, &log);
	te_pkt(&r, 1000, 1, false, 160);
	te_pkt(&r, 1000, 1, false, 320);
	te_pkt(&r, 1000, 1, false, 320); /* duplicate */
	te_pkt(&r, 1000, 1, true, 800);
	te_pkt(&r, 1000, 1, true, 800); /* end retransmissions */
	te_pkt(&r, 1000, 1, true, 800);
	assert_int_equal(log.last_ms, 100);
	/* next digit: begins, its end packets are all lost; a third digit
	 * implies the second ended */
	te_pkt(&r, 3000, 2, false, 160);
	te_pkt(&r, 5000, 3, false, 160);
	te_pkt(&r, 1000, 1, true, 800); /* old event retransmitted late */
	/* the third times out */
	cv_te_rx_poll(&r, 200);
	cv_clock_fake_advance(250000);
	cv_te_rx_poll(&r, 200);
	cv_te_rx_poll(&r, 200);
	log.seq[log.n] = '\0';
	assert_string_equal(log.seq, "1b1e2b2e3b3e");
	/* an end packet alone (everything before lost) gives begin + end */
	te_pkt(&r, 9000, 10, true, 400);
	log.seq[log.n] = '\0';
	assert_string_equal(log.seq, "1b1e2b2e3b3e*b*e");
	assert_int_equal(log.last_ms, 50);
	uint8_t shortp[2] = {0};
	assert_int_equal(cv_te_rx_packet(&r, 9999, shortp, 2), CV_EPARSE);
	cv_clock_fake_disable();
}

static void test_mixer_bridge(void **state)
{
	(void)state;
	struct cv_mixer *m = NULL;
	assert_int_equal(cv_mixer_create(&m, 16000), 0);
	struct cv_mixer_port *a = NULL, *b = NULL, *c = NULL;
	assert_int_equal(cv_mixer_port_add(m, &a), 0);
	assert_int_equal(cv_mixer_port_add(m, &b), 0);
	cv_mem_unref(m); /* the ports keep it */
	struct cv_asrc *ta = NULL, *tb = NULL;
	struct cv_tone_params pa = {.freq1 = 1000, .level_dbm0 = -10};
	struct cv_tone_params pb = {.freq1 = 1500, .level_dbm0 = -10};
	assert_int_equal(cv_asrc_tone(&ta, &pa), 0);
	assert_int_equal(cv_asrc_tone(&tb, &pb), 0);
	/* A runs at 8 kHz with 20 ms ticks, B at 48 kHz with 30 ms ticks */
	int16_t *heard_a = calloc(8000, sizeof(int16_t));
	int16_t *heard_b = calloc(48000, sizeof(int16_t));
	int16_t x[1440];
	size_t ga = 0, gb = 0;
	for (int t = 0; t < 60; t++) { /* 60 x 10 ms virtual time */
		if (t % 2 == 0) {
			cv_asrc_read(ta, x, 160, 8000);
			assert_int_equal(cv_mixer_port_write(a, x, 160, 8000),
					 0);
			assert_int_equal(
				cv_mixer_port_read(a, heard_a + ga, 160, 8000),
				160);
			ga += 160;
		}
		if (t % 3 == 0) {
			cv_asrc_read(tb, x, 1440, 48000);
			assert_int_equal(cv_mixer_port_write(b, x, 1440, 48000),
					 0);
			assert_int_equal(cv_mixer_port_read(b, heard_b + gb,
							    1440, 48000),
					 1440);
			gb += 1440;
		}
	}
	/* each hears the other, not itself */
	assert_true(mt_goertzel(heard_a + 800, ga - 800, 8000, 1500) > 0.8);
	assert_true(mt_goertzel(heard_a + 800, ga - 800, 8000, 1000) < 0.01);
	assert_true(mt_goertzel(heard_b + 4800, gb - 4800, 48000, 1000) > 0.8);
	assert_true(mt_goertzel(heard_b + 4800, gb - 4800, 48000, 1500) < 0.01);

	/* a third port hears both; sums clip instead of wrapping */
	assert_int_equal(cv_mixer_port_add(a ? m : NULL, &c), 0);
	assert_int_equal(cv_mixer_ports(m), 3);
	int16_t loud[160];
	for (int i = 0; i < 160; i++)
		loud[i] = 30000;
	assert_int_equal(cv_mixer_port_write(a, loud, 160, 16000), 0);
	assert_int_equal(cv_mixer_port_write(b, loud, 160, 16000), 0);
	/* drain what is queued for c, then read the loud block */
	int16_t y[160];
	bool clipped = false;
	for (int i = 0; i < 20 && !clipped; i++) {
		assert_int_equal(cv_mixer_port_read(c, y, 160, 16000), 160);
		for (int j = 0; j < 160; j++)
			clipped |= y[j] == 32767;
		for (int j = 0; j < 160; j++)
			assert_true(y[j] >= 0 || !clipped);
	}
	assert_true(clipped);

	/* source/sink adapters keep the port alive */
	struct cv_asrc *src = NULL;
	struct cv_asink *snk = NULL;
	assert_int_equal(cv_asrc_mixer(&src, c), 0);
	assert_int_equal(cv_asink_mixer(&snk, c), 0);
	cv_mem_unref(c);
	assert_int_equal(cv_asink_write(snk, loud, 160, 8000), 0);
	assert_int_equal(cv_asrc_read(src, y, 160, 8000), 160);
	cv_mem_unref(src);
	cv_mem_unref(snk);
	assert_int_equal(cv_mixer_ports(m), 2);
	cv_mem_unref(a);
	cv_mem_unref(b);
	cv_mem_unref(ta);
	cv_mem_unref(tb);
	free(heard_a);
	free(heard_b);
}

static void test_g729_annexb(void **state)
{
	(void)state;
	struct cv_codec_enc *e = NULL;
	struct cv_codec_dec *d = NULL;
	assert_int_equal(cv_codec_enc_create(&e, &cv_codec_g729, NULL), 0);
	assert_int_equal(cv_codec_dec_create(&d, &cv_codec_g729, NULL), 0);
	int16_t x[160], y[CV_CODEC_MAX_SAMPLES];
	uint32_t seed = 1;
	size_t total = 0, sids = 0;
	for (int f = 0; f < 100; f++) {
		for (int i = 0; i < 160; i++) {
			seed = seed * 1103515245u + 12345u;
			x[i] = (int16_t)((int)((seed >> 16) % 41) - 20);
		}
		uint8_t out[64];
		size_t len = 0;
		assert_int_equal(
			cv_codec_encode(e, x, 160, out, sizeof(out), &len), 0);
		/* RFC 3551 §4.5.6: N x 10 bytes, optionally a final 2-byte SID
		 */
		assert_true(len % 10 == 0 || len % 10 == 2);
		total += len;
		if (len % 10 == 2)
			sids++;
		size_t n = CV_ARRAY_SIZE(y);
		if (len) {
			assert_int_equal(cv_codec_decode(d, out, len, y, &n),
					 0);
		} else {
			assert_int_equal(cv_codec_conceal(d, NULL, 0, y, 160),
					 0);
		}
	}
	/* silence: VAD stops speech frames, a few SIDs go out */
	assert_true(total < 100 * 20 / 4);
	assert_true(sids > 0);
	cv_mem_unref(e);
	cv_mem_unref(d);
	/* annexb=no: every frame is speech */
	struct cv_codec_params p = {.annexb_off = true};
	assert_int_equal(cv_codec_enc_create(&e, &cv_codec_g729, &p), 0);
	uint8_t out[64];
	size_t len;
	memset(x, 0, sizeof(x));
	assert_int_equal(cv_codec_encode(e, x, 160, out, sizeof(out), &len), 0);
	assert_int_equal(len, 20);
	assert_int_equal(cv_codec_encode(e, x, 100, out, sizeof(out), &len),
			 -EINVAL); /* not a multiple of 10 ms */
	cv_mem_unref(e);
}

static void test_plc_direct(void **state)
{
	(void)state;
	struct cv_plc *p = NULL;
	assert_int_equal(cv_plc_create(&p, 16000), 0);
	int16_t x[3200], y[320];
	struct cv_tone_params tp = {.freq1 = 200, .level_dbm0 = -10};
	struct cv_asrc *s = NULL;
	assert_int_equal(cv_asrc_tone(&s, &tp), 0);
	assert_int_equal(cv_asrc_read(s, x, 3200, 16000), 3200);
	for (int i = 0; i < 5; i++)
		cv_plc_rx(p, x + i * 320, 320);
	/* the first 20 ms of a loss continue the tone... */
	cv_plc_fill(p, y, 320);
	assert_true(mt_goertzel(y, 320, 16000, 200) > 0.7);
	double r1 = mt_rms(y, 160);
	/* ...then fade: after 60 ms of loss it is silent */
	for (int i = 0; i < 3; i++)
		cv_plc_fill(p, y, 320);
	assert_true(mt_rms(y + 160, 160) < r1 * 0.05);
	cv_plc_rx(p, x + 1600, 320);
	cv_mem_unref(p);
	cv_mem_unref(s);
	assert_int_equal(cv_plc_create(&p, 4000), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_wav_roundtrip, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_tone_goertzel, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_dtmf_detect, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_resampler, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_comfort_noise, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_te_tx, setup, teardown),
		cmocka_unit_test_setup_teardown(test_te_rx, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mixer_bridge, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_g729_annexb, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_plc_direct, setup,
						teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
