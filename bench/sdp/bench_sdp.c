/* SDP benchmark: ns per description for cvoip parse, parse+print,
 * parse+answer (RFC 3264 against a G.711/opus capability set), and the
 * parse of sofia-sip and osip2 over the same corpus in the same run.
 * usage: bench_sdp [iterations] [parse]  (default 20000 passes over the
 * corpus; "parse" runs only the cvoip parse, for profiling) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cvoip/sdp.h"
#include "sdp/samples.h"

#include "peers.h"

int main(int argc, char **argv);

static const char *const corpus[] = {sdp_baresip, sdp_baresip_srtp, sdp_linphone,
				     sdp_chrome, sdp_asterisk, sdp_asterisk_hold,
				     sdp_rtpengine, sdp_oldhold, sdp_ipv6};
#define NCORPUS (sizeof(corpus) / sizeof(corpus[0]))
static size_t lens[NCORPUS];

static const struct cv_sdp_codec codecs[] = {
	{.name = "opus", .clock_rate = 48000, .channels = 2, .fmtp = "useinbandfec=1", .pt = -1},
	{.name = "PCMU", .clock_rate = 8000, .pt = -1},
	{.name = "PCMA", .clock_rate = 8000, .pt = -1},
};
static const struct cv_sdp_crypto_local crypto[] = {
	{.tag = 1, .suite = "AES_CM_128_HMAC_SHA1_80",
	 .key_params = "inline:d0RmdmcmVCspeEc3QGZiNWpVLFJhQX1cfHAwJSoj"},
};
static const struct cv_sdp_stream_caps streams[] = {
	{.port = 20000, .codecs = codecs, .ncodecs = 3, .telephone_event = true,
	 .dtmf_pt = -1, .ptime = 20, .dir = CV_SDP_SENDRECV, .rtcp_mux = true,
	 .crypto = crypto, .ncrypto = 1},
};
static const struct cv_sdp_local local = {
	.sess_id = 1, .sess_version = 1, .addr = "192.0.2.1", .streams = streams, .nstreams = 1,
};

static double now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

typedef int(run_fn)(size_t i);

static int run_cv_parse(size_t i)
{
	struct cv_sdp *s;
	if (cv_sdp_parse(&s, corpus[i], lens[i], NULL))
		return -1;
	cv_mem_unref(s);
	return 0;
}

static int run_cv_print(size_t i)
{
	static struct cv_buf b;
	struct cv_sdp *s;
	if (cv_sdp_parse(&s, corpus[i], lens[i], NULL))
		return -1;
	cv_buf_reset(&b);
	int err = cv_sdp_print(s, &b);
	cv_mem_unref(s);
	return err;
}

static int run_cv_answer(size_t i)
{
	struct cv_sdp *s, *a = NULL;
	struct cv_sdp_neg neg;
	struct cv_sdp_warning w;
	if (cv_sdp_parse(&s, corpus[i], lens[i], NULL))
		return -1;
	int err = cv_sdp_answer_create(&a, &neg, &w, s, &local);
	cv_mem_unref(a);
	cv_mem_unref(s);
	return err == 0 || err == CV_SDP_ENOTACCEPTABLE ? 0 : -1;
}

#ifdef HAVE_SOFIA
static int run_sofia(size_t i)
{
	return bench_sofia_parse(corpus[i], lens[i]);
}
#endif

#ifdef HAVE_OSIP
static int run_osip(size_t i)
{
	return bench_osip_parse(corpus[i]);
}
#endif

static double bench(const char *name, run_fn *fn, long iters, double base)
{
	/* warm-up, and a check that every input is accepted */
	for (size_t i = 0; i < NCORPUS; i++)
		if (fn(i)) {
			printf("%-24s rejects corpus entry %zu\n", name, i);
			return 0;
		}
	double t0 = now_ns();
	for (long k = 0; k < iters; k++)
		for (size_t i = 0; i < NCORPUS; i++)
			fn(i);
	double ns = (now_ns() - t0) / ((double)iters * NCORPUS);
	printf("%-24s %9.0f ns/SDP %10.0f SDP/s", name, ns, 1e9 / ns);
	if (base > 0)
		printf("   %.1fx cvoip parse time", ns / base);
	printf("\n");
	return ns;
}

int main(int argc, char **argv)
{
	long iters = argc > 1 ? atol(argv[1]) : 20000;
	size_t total = 0;
	for (size_t i = 0; i < NCORPUS; i++)
		total += lens[i] = strlen(corpus[i]);
#ifdef HAVE_OSIP
	bench_osip_init();
#endif
	printf("corpus: %zu SDPs, average %zu bytes, %ld passes\n", NCORPUS, total / NCORPUS,
	       iters);
	double base = bench("cvoip parse", run_cv_parse, iters, 0);
	if (argc > 2 && !strcmp(argv[2], "parse"))
		return 0;
	bench("cvoip parse+print", run_cv_print, iters, base);
	bench("cvoip parse+answer", run_cv_answer, iters, base);
#ifdef HAVE_SOFIA
	bench("sofia-sip sdp_parse", run_sofia, iters, base);
#endif
#ifdef HAVE_OSIP
	bench("osip2 sdp_message_parse", run_osip, iters, base);
#endif
	/* bytes held per parsed description */
	int64_t b0 = cv_mem_live_bytes();
	struct cv_sdp *s[NCORPUS];
	for (size_t i = 0; i < NCORPUS; i++)
		cv_sdp_parse(&s[i], corpus[i], lens[i], NULL);
	printf("cvoip memory: %lld bytes per parsed SDP (one allocation each, text included)\n",
	       (long long)((cv_mem_live_bytes() - b0) / (int64_t)NCORPUS));
	for (size_t i = 0; i < NCORPUS; i++)
		cv_mem_unref(s[i]);
	return 0;
}
