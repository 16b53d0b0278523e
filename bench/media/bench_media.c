/* Media benchmarks.
 *   bench_media codecs [frames]       encode/decode CPU per 20 ms frame per
 *                                     codec; G.711 against spandsp's coder
 *   bench_media dsp [streams] [secs]  terminated G.711 media path without
 *                                     sockets: RTP parse, jitter buffer put
 *                                     and get, decode (PLC), source, encode,
 *                                     RTP build, per stream per 20 ms
 *   bench_media streams [n] [secs]    n real cv_media_streams (n/2 loopback
 *                                     pairs) on one loop: process CPU per
 *                                     stream-second and whether they kept
 *                                     real time */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include <spandsp.h>

#include "cvoip/media.h"

int main(int argc, char **argv);

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static double cpu_s(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
	       ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

static void speech(int16_t *x, size_t n, uint32_t rate)
{
	double ph = 0;
	for (size_t i = 0; i < n; i++) {
		double t = (double)i / rate, f0 = 165 + 55 * sin(4.4 * t);
		ph += f0 / rate;
		double v = 0;
		for (int h = 1; h * f0 < 3400 && h * f0 < 0.45 * rate; h++)
			v += sin(2 * M_PI * h * ph) / h;
		x[i] = (int16_t)(v * 6000 * (0.6 + 0.4 * sin(25 * t)));
	}
}

static volatile uint32_t sink_u32;

static int bench_codecs(int frames)
{
	printf("%-10s %6s %12s %12s %8s\n", "codec", "rate", "enc us/20ms",
	       "dec us/20ms", "bytes");
	for (size_t i = 0; i < cv_codec_count(); i++) {
		const struct cv_codec *c = cv_codec_at(i);
		struct cv_codec_enc *e = NULL;
		struct cv_codec_dec *d = NULL;
		if (cv_codec_enc_create(&e, c, NULL) ||
		    cv_codec_dec_create(&d, c, NULL))
			return 1;
		uint32_t rate = cv_codec_enc_rate(e);
		/* 20 ms frames, or the largest ptime that fits a packet */
		unsigned ms = c->max_ptime < 20 ? c->max_ptime : 20;
		double scale = 20.0 / ms;
		size_t fr = rate * ms / 1000, nsig = (size_t)rate * 2;
		int16_t *sig = malloc(nsig * sizeof(int16_t));
		speech(sig, nsig, rate);
		uint8_t(*pl)[CV_CODEC_MAX_PAYLOAD] = malloc(100 * sizeof(*pl));
		size_t plen[100];
		int n = c == &cv_codec_pcmu || c == &cv_codec_pcma ||
					c->name[0] == 'L'
				? frames * 20
				: frames;
		double t0 = cpu_s();
		size_t bytes = 0;
		for (int k = 0; k < n; k++) {
			int f = k % 100;
			cv_codec_encode(e, sig + f * fr, fr, pl[f],
					sizeof(pl[f]), &plen[f]);
			bytes += plen[f];
		}
		double te = (cpu_s() - t0) / n * 1e6 * scale;
		int16_t out[CV_CODEC_MAX_SAMPLES];
		t0 = cpu_s();
		for (int k = 0; k < n; k++) {
			size_t got = CV_CODEC_MAX_SAMPLES;
			cv_codec_decode(d, pl[k % 100], plen[k % 100], out,
					&got);
			sink_u32 += (uint32_t)out[3];
		}
		double td = (cpu_s() - t0) / n * 1e6 * scale;
		printf("%-10s %6u %12.3f %12.3f %8zu\n", c->name, rate, te, td,
		       (size_t)(bytes / (size_t)n * scale));
		free(sig);
		free(pl);
		cv_mem_unref(e);
		cv_mem_unref(d);
	}
	/* G.711 µ-law: our table coder against spandsp's branch coder. */
	int16_t x[160];
	uint8_t u[160];
	speech(x, 160, 8000);
	int reps = frames * 200;
	double t0 = cpu_s();
	for (int k = 0; k < reps; k++) {
		x[k % 160] ^= 1;
		cv_g711_ulaw_enc_buf(u, x, 160);
		sink_u32 += u[k % 160];
	}
	double ours = (cpu_s() - t0) / reps * 1e6;
	t0 = cpu_s();
	for (int k = 0; k < reps; k++) {
		x[k % 160] ^= 1;
		for (int j = 0; j < 160; j++)
			u[j] = linear_to_ulaw(x[j]);
		sink_u32 += u[k % 160];
	}
	double theirs = (cpu_s() - t0) / reps * 1e6;
	printf("G.711 u-law encode per 20 ms: cvoip %.3f us, spandsp "
	       "linear_to_ulaw %.3f us, ratio %.2f\n",
	       ours, theirs, ours / theirs);
	return 0;
}

/* One terminated stream without sockets. */
struct dsp_stream {
	struct cv_rtp_jb *jb;
	struct cv_codec_enc *enc;
	struct cv_codec_dec *dec;
	struct cv_asrc *src;
	uint16_t seq;
	uint32_t ts;
};

static int bench_dsp(int nstreams, double secs)
{
	struct dsp_stream *s = calloc((size_t)nstreams, sizeof(*s));
	struct cv_tone_params tp = {.freq1 = 440, .level_dbm0 = -15};
	for (int i = 0; i < nstreams; i++) {
		struct cv_rtp_jb_params jp = {
			.clock_rate = 8000, .frame_ts = 160, .cn_pt = 13};
		if (cv_rtp_jb_create(&s[i].jb, &jp) ||
		    cv_codec_enc_create(&s[i].enc, &cv_codec_pcmu, NULL) ||
		    cv_codec_dec_create(&s[i].dec, &cv_codec_pcmu, NULL) ||
		    cv_asrc_tone(&s[i].src, &tp))
			return 1;
	}
	/* the far end's packets: encoded speech, precomputed */
	int16_t sig[8000];
	speech(sig, 8000, 8000);
	uint8_t far[50][172];
	size_t farlen[50];
	for (int f = 0; f < 50; f++) {
		struct cv_rtp_hdr h = {.pt = 0,
				       .seq = (uint16_t)f,
				       .ts = (uint32_t)f * 160,
				       .ssrc = 1};
		uint8_t pay[160];
		cv_g711_ulaw_enc_buf(pay, sig + f * 160, 160);
		cv_rtp_build(far[f], sizeof(far[f]), &h, pay, 160, &farlen[f]);
	}
	uint64_t ticks = 0;
	uint64_t t_us = 1000000;
	double c0 = cpu_s(), w0 = now_s();
	while (now_s() - w0 < secs) {
		for (int i = 0; i < nstreams; i++) {
			struct dsp_stream *d = &s[i];
			/* receive: parse, jitter buffer, decode or conceal */
			uint8_t *pk = far[d->seq % 50];
			pk[2] = (uint8_t)(d->seq >> 8);
			pk[3] = (uint8_t)d->seq;
			uint32_t ts = d->ts;
			pk[4] = (uint8_t)(ts >> 24);
			pk[5] = (uint8_t)(ts >> 16);
			pk[6] = (uint8_t)(ts >> 8);
			pk[7] = (uint8_t)ts;
			struct cv_rtp_pkt p;
			if (cv_rtp_parse(&p, pk, farlen[d->seq % 50]) == 0)
				cv_rtp_jb_put(d->jb, &p, t_us);
			struct cv_rtp_jb_frame f;
			int16_t pcm[CV_CODEC_MAX_SAMPLES];
			while (cv_rtp_jb_get(d->jb, t_us, &f) == 0 &&
			       f.kind != CV_RTP_JB_WAIT) {
				size_t n = CV_CODEC_MAX_SAMPLES;
				if (f.kind == CV_RTP_JB_FRAME)
					cv_codec_decode(d->dec, f.payload,
							f.len, pcm, &n);
				else
					cv_codec_conceal(d->dec, NULL, 0, pcm,
							 160);
				sink_u32 += (uint32_t)pcm[5];
			}
			/* send: source, encode, RTP build */
			int16_t x[160];
			uint8_t enc[160], out[200];
			size_t len, olen;
			cv_asrc_read(d->src, x, 160, 8000);
			cv_codec_encode(d->enc, x, 160, enc, sizeof(enc), &len);
			struct cv_rtp_hdr h = {
				.pt = 0, .seq = d->seq, .ts = d->ts, .ssrc = 2};
			cv_rtp_build(out, sizeof(out), &h, enc, len, &olen);
			sink_u32 += out[20];
			d->seq++;
			d->ts += 160;
			ticks++;
		}
		t_us += 20000;
	}
	double cpu = cpu_s() - c0;
	double per = cpu / (double)ticks * 1e6;
	printf("dsp: %d streams, %llu stream-ticks, %.3f us CPU per stream "
	       "per 20 ms -> %.0f streams per core in real time\n",
	       nstreams, (unsigned long long)ticks, per, 20000.0 / per);
	for (int i = 0; i < nstreams; i++) {
		cv_rtp_jb_destroy(s[i].jb);
		cv_mem_unref(s[i].enc);
		cv_mem_unref(s[i].dec);
		cv_mem_unref(s[i].src);
	}
	free(s);
	return 0;
}

static void stop_cb(uv_timer_t *t)
{
	uv_stop(t->loop);
}

static int bench_streams(int n, double secs)
{
	uv_loop_t loop;
	uv_loop_init(&loop);
	n &= ~1;
	struct cv_media_stream **ms = calloc((size_t)n, sizeof(*ms));
	struct cv_asrc *tone = NULL;
	struct cv_tone_params tp = {.freq1 = 440, .level_dbm0 = -15};
	for (int i = 0; i < n; i++) {
		struct cv_media_stream_params p = {
			.loop = &loop,
			.local_addr = "127.0.0.1",
			.rtcp_mux = true,
			.tevent_pt = 101,
		};
		if (cv_media_stream_create(&ms[i], &p)) {
			fprintf(stderr, "stream %d: create failed\n", i);
			return 1;
		}
	}
	for (int i = 0; i < n; i++) {
		struct cv_media_stream_cfg c = {
			.codec = &cv_codec_pcmu,
			.pt = 0,
			.tevent_pt = 101,
			.cn_pt = -1,
			.rtcp_mux = true,
		};
		uv_ip4_addr("127.0.0.1", cv_media_stream_port(ms[i ^ 1]),
			    (struct sockaddr_in *)&c.remote);
		cv_asrc_tone(&tone, &tp);
		cv_media_stream_set_source(ms[i], tone);
		tone = cv_mem_unref(tone);
		cv_media_stream_start(ms[i], &c);
	}
	/* warm up 1 s, then measure */
	uv_timer_t t;
	uv_timer_init(&loop, &t);
	uv_timer_start(&t, stop_cb, 1000, 0);
	uv_run(&loop, UV_RUN_DEFAULT);
	struct cv_media_stream_stats s0, s1;
	uint64_t rx0 = 0, late0 = 0, lost0 = 0;
	for (int i = 0; i < n; i++) {
		cv_media_stream_stats(ms[i], &s0);
		rx0 += s0.rtp.rx_packets;
		late0 += s0.late_ticks;
		lost0 += s0.frames_concealed;
	}
	double c0 = cpu_s(), w0 = now_s();
	uv_timer_start(&t, stop_cb, (uint64_t)(secs * 1000), 0);
	uv_run(&loop, UV_RUN_DEFAULT);
	double cpu = cpu_s() - c0, wall = now_s() - w0;
	uint64_t rx = 0, late = 0, lost = 0;
	for (int i = 0; i < n; i++) {
		cv_media_stream_stats(ms[i], &s1);
		rx += s1.rtp.rx_packets;
		late += s1.late_ticks;
		lost += s1.frames_concealed;
	}
	rx -= rx0;
	late -= late0;
	lost -= lost0;
	double per_stream = cpu / wall / n; /* cores per stream */
	printf("streams: %d G.711 streams on one loop for %.1f s: CPU %.1f%% "
	       "of a core, %.1f us per packet received+sent, rx %.0f pkt/s "
	       "(expected %d), late ticks %llu, concealed %llu -> %.0f "
	       "streams per core\n",
	       n, wall, 100 * cpu / wall, cpu / (double)rx * 1e6, rx / wall,
	       n * 50, (unsigned long long)late, (unsigned long long)lost,
	       1.0 / per_stream);
	for (int i = 0; i < n; i++)
		cv_media_stream_destroy(ms[i]);
	uv_close((uv_handle_t *)&t, NULL);
	uv_run(&loop, UV_RUN_DEFAULT);
	uv_loop_close(&loop);
	free(ms);
	return 0;
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "codecs";
	if (!strcmp(mode, "codecs"))
		return bench_codecs(argc > 2 ? atoi(argv[2]) : 2000);
	if (!strcmp(mode, "dsp"))
		return bench_dsp(argc > 2 ? atoi(argv[2]) : 1000,
				 argc > 3 ? atof(argv[3]) : 3);
	if (!strcmp(mode, "streams"))
		return bench_streams(argc > 2 ? atoi(argv[2]) : 200,
				     argc > 3 ? atof(argv[3]) : 5);
	fprintf(stderr, "usage: %s codecs|dsp|streams [n] [secs]\n", argv[0]);
	return 2;
}
