/* Store throughput: inserts per second of registrar bindings and CDRs.
 *
 *   bench_store URL [N]
 *
 * Three ways for each kind of row: asynchronous from one loop with the
 * store batching up to 64 requests per transaction (how the server runs),
 * asynchronous with one transaction per request (batch_max = 1), and
 * synchronous one at a time (how a CLI tool runs). Wall-clock time from the
 * first submission to the last completion. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cvoip/store.h"

static const struct cv_store_cdr_leg legs[2] = {
	{.index = 0,
	 .call_id = "in",
	 .peer = "sip:alice@cvoip",
	 .codec = "opus/48000/2",
	 .pkts_sent = 1500,
	 .pkts_recv = 1498,
	 .pkts_lost = 2,
	 .jitter_ms = 3.2,
	 .mos = 4.4},
	{.index = 1,
	 .call_id = "out",
	 .peer = "sip:bob@cvoip",
	 .codec = "PCMU/8000",
	 .pkts_sent = 1499,
	 .pkts_recv = 1500,
	 .jitter_ms = 1.5,
	 .mos = 4.2},
};

struct ctx {
	int done, errors;
};

static void on_done(int err, struct cv_store_res *res, void *arg)
{
	(void)res;
	struct ctx *c = arg;
	c->done++;
	if (err)
		c->errors++;
}

static int g_run; /* keeps each run's bindings distinct: real inserts */

static int submit(struct cv_store *s, bool cdr, int i,
		  const struct cv_store_cb *cb)
{
	char a[64], b[64];
	if (cdr) {
		snprintf(a, sizeof(a), "call-%d-%u", i, cv_random_u32());
		struct cv_store_cdr c = {.call_id = a,
					 .caller = "sip:alice@cvoip",
					 .callee = "sip:bob@cvoip",
					 .start_us = 1000 + i,
					 .answer_us = 2000 + i,
					 .end_us = 9000 + i,
					 .end_reason = "BYE",
					 .hangup_by = "caller",
					 .nlegs = 2,
					 .legs = legs};
		return cv_store_cdr_insert(s, &c, cb);
	}
	snprintf(a, sizeof(a), "sip:user%d-r%d@cvoip", i, g_run);
	snprintf(b, sizeof(b), "sip:user%d@10.%d.%d.%d:5060", i,
		 (i >> 16) & 255, (i >> 8) & 255, i & 255);
	struct cv_store_binding bd = {.aor = a,
				      .contact = b,
				      .received = "10.0.0.1:5060",
				      .transport = "udp",
				      .expires_us = INT64_MAX / 2,
				      .q = 1000,
				      .call_id = "abcdef0123456789",
				      .cseq = 1,
				      .user_agent = "bench"};
	return cv_store_binding_upsert(s, &bd, cb);
}

static double run(const char *url, bool cdr, int mode, int n)
{
	struct cv_store *s = NULL;
	g_run++;
	struct cv_store_params p = {.url = url,
				    .batch_max = mode == 1 ? 1 : 0,
				    .queue_max = 1u << 20};
	if (cv_store_open(&s, &p)) {
		fprintf(stderr, "cannot open %s\n", url);
		exit(1);
	}
	uv_loop_t loop;
	uv_loop_init(&loop);
	struct cv_store_client *cl = NULL;
	cv_store_client_create(&cl, &loop);
	struct ctx c = {0};
	struct cv_store_cb cb = {.client = cl, .fn = on_done, .arg = &c};
	uint64_t t0 = cv_clock_us();
	if (mode == 2) {
		for (int i = 0; i < n; i++)
			if (submit(s, cdr, i, CV_STORE_SYNC(NULL)))
				c.errors++;
		c.done = n;
	} else {
		for (int i = 0; i < n; i++)
			if (submit(s, cdr, i, &cb))
				c.errors++, c.done++;
		while (c.done < n) {
			uv_run(&loop, UV_RUN_ONCE);
		}
	}
	uint64_t us = cv_clock_us() - t0;
	cv_store_client_close(cl);
	uv_run(&loop, UV_RUN_DEFAULT);
	uv_loop_close(&loop);
	struct cv_store_counters k;
	cv_store_counters(s, &k);
	cv_store_close(s);
	if (c.errors) {
		fprintf(stderr, "%d errors\n", c.errors);
		exit(1);
	}
	double rate = (double)n * 1e6 / (double)us;
	printf("%-10s %-8s %-28s %7d rows %8.0f rows/s  %6" PRIu64 " commits\n",
	       strncmp(url, "sqlite", 6) == 0 ? "sqlite" : "postgresql",
	       cdr ? "CDR" : "binding",
	       mode == 0   ? "async, group commit (<=64)"
	       : mode == 1 ? "async, 1 transaction each"
			   : "sync, one at a time",
	       n, rate, k.transactions);
	return rate;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: %s URL [N]\n", argv[0]);
		return 2;
	}
	cv_log_set_level(CV_LOG_WARN);
	int n = argc > 2 ? atoi(argv[2]) : 20000;
	if (n <= 0)
		return 2;
	for (int cdr = 0; cdr < 2; cdr++) {
		run(argv[1], cdr, 0, n);
		run(argv[1], cdr, 1, n / 4);
		run(argv[1], cdr, 2, n / 10);
	}
	return 0;
}
