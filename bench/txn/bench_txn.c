/* bench_txn: memory per live server transaction and transactions per
 * second for 10k / 100k / 200k concurrent INVITE server transactions, fed
 * in process with parsed messages (no sockets), on the fake clock.
 *
 *   bench_txn [N ...]        default: 10000 100000 200000
 *
 * Per N: create N INVITE server transactions (parse + cv_txn_recv + TU
 * answers 180) and hold them; memory = cv_mem_live_bytes and RSS deltas / N;
 * then 486 for all (Completed: Timers G and H armed, one wheel entry each),
 * the cost of an idle wheel tick with N armed timers, ACK for all
 * (Confirmed, Timer I), expiry of all; CPU time per phase per transaction.
 * Then the non-INVITE lifecycle (OPTIONS -> 200 -> Timer J). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cvoip/txn.h"

static struct cv_txn **held;
static size_t nheld;
static uint64_t bytes_sent, msgs_sent;
static int answer = 180;

static int b_send(const struct cv_txn_out *o, bool *reliable, void *arg)
{
	(void)arg;
	(void)reliable;
	bytes_sent += o->len;
	msgs_sent++;
	return 0;
}

static void b_request(struct cv_txn *t, struct cv_sip_msg *req, void *arg)
{
	(void)req;
	(void)arg;
	(void)cv_txn_respond(t, (uint16_t)answer, NULL);
	if (answer >= 200)
		cv_txn_release(t);
	else
		held[nheld++] = t;
}

static const struct cv_txn_handlers handlers = {.request = b_request};

static double cpu_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long rss_kb(void)
{
	long pages = 0, res = 0;
	FILE *f = fopen("/proc/self/statm", "r");
	if (!f)
		return 0;
	if (fscanf(f, "%ld %ld", &pages, &res) != 2)
		res = 0;
	fclose(f);
	return res * (sysconf(_SC_PAGESIZE) / 1024);
}

/* A 560-byte INVITE like a softphone's (without SDP: the body does not
 * change transaction costs, only the request bytes held). */
static int mk_invite(char *buf, size_t size, size_t i, const char *method,
		     const char *totag)
{
	return snprintf(
		buf, size,
		"%s sip:bob@192.0.2.10:5060 SIP/2.0\r\n"
		"Via: SIP/2.0/UDP "
		"192.0.2.1:5060;rport;branch=z9hG4bK%08zx.b\r\n"
		"Max-Forwards: 70\r\n"
		"From: \"Alice\" <sip:alice@example.com>;tag=f%08zx\r\n"
		"To: <sip:bob@example.com>%s%s\r\n"
		"Call-ID: %08zx-4f2a-11ef-9c1d@192.0.2.1\r\n"
		"CSeq: 1 %s\r\n"
		"Contact: <sip:alice@192.0.2.1:5060;transport=udp>\r\n"
		"User-Agent: bench/1.0\r\n"
		"Allow: INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, UPDATE\r\n"
		"Supported: replaces, timer\r\n"
		"Content-Length: 0\r\n\r\n",
		method, i, i, *totag ? ";tag=" : "", totag, i, method);
}

static void feed(struct cv_txn_layer *l, const char *buf, int n)
{
	struct cv_sip_msg *m = NULL;
	static const struct cv_txn_addr src = {.reliable = false};
	if (cv_sip_msg_parse(&m, buf, (size_t)n, NULL, NULL) == 0) {
		(void)cv_txn_recv(l, m, &src);
		cv_mem_unref(m);
	}
}

static void run(size_t n)
{
	struct cv_wheel *w;
	struct cv_txn_layer *l;
	cv_clock_fake_enable(1000000000ull);
	if (cv_wheel_create(&w, NULL, 1000))
		exit(1);
	struct cv_txn_params p;
	cv_txn_params_init(&p);
	p.send = b_send;
	p.h = &handlers;
	p.wheel = w;
	if (cv_txn_layer_create(&l, &p))
		exit(1);
	held = calloc(n, sizeof(*held));
	nheld = 0;
	char buf[1024];
	char tag[32];

	/* A: create and hold (answered 180) */
	int64_t b0 = cv_mem_live_bytes();
	long r0 = rss_kb();
	double t0 = cpu_s();
	answer = 180;
	for (size_t i = 0; i < n; i++)
		feed(l, buf, mk_invite(buf, sizeof(buf), i, "INVITE", ""));
	double t_create = cpu_s() - t0;
	double per_live = (double)(cv_mem_live_bytes() - b0) / (double)n;
	double per_rss = (double)(rss_kb() - r0) * 1024.0 / (double)n;
	if (cv_txn_count(l) != n || nheld != n) {
		fprintf(stderr, "expected %zu live, got %zu\n", n,
			cv_txn_count(l));
		exit(1);
	}

	/* B: 486 for all -> Completed, Timers G+H on the wheel */
	t0 = cpu_s();
	for (size_t i = 0; i < n; i++)
		(void)cv_txn_respond(held[i], 486, NULL);
	double t_final = cpu_s() - t0;

	/* C: idle ticks with n armed timers (first due at T1 = 500 ms) */
	t0 = cpu_s();
	unsigned fired = 0;
	for (int i = 0; i < 400; i++) {
		cv_clock_fake_advance(1000);
		fired += cv_wheel_run(w);
	}
	double t_tick = (cpu_s() - t0) / 400.0;
	if (fired)
		fprintf(stderr, "unexpected timer fired during idle ticks\n");

	/* D: ACK for all -> Confirmed (Timer I) */
	t0 = cpu_s();
	for (size_t i = 0; i < n; i++) {
		cv_txn_local_tag(held[i], tag, sizeof(tag));
		feed(l, buf, mk_invite(buf, sizeof(buf), i, "ACK", tag));
	}
	double t_ack = cpu_s() - t0;

	/* E: expiry (Timer I = T4) */
	t0 = cpu_s();
	for (int i = 0; i < 6000 && cv_txn_count(l); i++) {
		cv_clock_fake_advance(1000);
		cv_wheel_run(w);
	}
	double t_expire = cpu_s() - t0;
	for (size_t i = 0; i < n; i++)
		cv_txn_release(held[i]);
	free(held);
	double total = t_create + t_final + t_ack + t_expire;
	printf("| %zu | %.0f | %.0f | %.2f | %.2f | %.2f | %.2f | %.0f | %.2f "
	       "|\n",
	       n, per_live, per_rss, t_create * 1e6 / (double)n,
	       t_final * 1e6 / (double)n, t_ack * 1e6 / (double)n,
	       t_expire * 1e6 / (double)n, (double)n / total, t_tick * 1e6);

	/* F: non-INVITE lifecycle: OPTIONS -> 200 -> Timer J */
	answer = 200;
	t0 = cpu_s();
	for (size_t i = 0; i < n; i++)
		feed(l, buf, mk_invite(buf, sizeof(buf), i, "OPTIONS", ""));
	for (int i = 0; i < 40000 && cv_txn_count(l); i++) {
		cv_clock_fake_advance(1000);
		cv_wheel_run(w);
	}
	double t_nist = cpu_s() - t0;
	printf("|   non-INVITE %zu: %.2f us/txn, %.0f txn/s |\n", n,
	       t_nist * 1e6 / (double)n, (double)n / t_nist);
	cv_txn_layer_destroy(l);
	cv_wheel_destroy(w);
	cv_clock_fake_disable();
}

int main(int argc, char **argv)
{
	size_t sizes[8] = {10000, 100000, 200000};
	int ns = 3;
	if (argc > 1) {
		ns = 0;
		for (int i = 1; i < argc && ns < 8; i++)
			sizes[ns++] = (size_t)strtoull(argv[i], NULL, 10);
	}
	int64_t live0 = cv_mem_live();
	printf("| N | live bytes/txn | RSS bytes/txn | create us | 486 us | "
	       "ACK us "
	       "| expire us | INVITE txn/s | idle tick us |\n");
	printf("|---|---|---|---|---|---|---|---|---|\n");
	for (int i = 0; i < ns; i++)
		run(sizes[i]);
	if (cv_mem_live() != live0) {
		fprintf(stderr, "leak: %lld objects\n",
			(long long)(cv_mem_live() - live0));
		return 1;
	}
	return 0;
}
