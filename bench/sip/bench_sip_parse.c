/* SIP message parse: cvoip (matching parse and full typed parse) against
 * sofia-sip (msg_make with sip_default_mclass), osip2 (osip_message_parse)
 * and libre (sip_msg_decode), over the same corpus in one run, interleaved
 * (BENCHMARKING.md). Prints ns/msg, msgs/s, heap bytes per parsed message,
 * and the ratio sofia-sip/cvoip.
 *
 * usage: bench_sip_parse [corpus-dir] [--ms N] [--rounds N] [--only NAME]
 *                        [--iters N]
 * --only NAME --iters N parses the corpus exactly N times with one parser:
 * a fixed amount of work for instruction counts (callgrind, perf stat). */
#include <dirent.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <osip2/osip.h>
#include <osipparser2/osip_parser.h>
#include <re.h>
#include <sofia-sip/msg.h>
#include <sofia-sip/sip.h>
#include <sofia-sip/sip_header.h>
#include <sofia-sip/sip_parser.h>

#include "cvoip/sip.h"

int main(int argc, char **argv);

#define MAXMSG 64

static struct {
	char *p;
	size_t l;
} corpus[MAXMSG];
static int ncorpus;
static size_t corpus_bytes;

static double now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int load(const char *dir)
{
	DIR *d = opendir(dir);
	if (!d)
		return -1;
	struct dirent *e;
	char *names[MAXMSG];
	int n = 0;
	while ((e = readdir(d)) && n < MAXMSG)
		if (strstr(e->d_name, ".sip"))
			names[n++] = strdup(e->d_name);
	closedir(d);
	for (int i = 0; i < n; i++) {
		char path[4096];
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		FILE *f = fopen(path, "rb");
		if (!f)
			return -1;
		corpus[ncorpus].p = malloc(65536);
		corpus[ncorpus].l = fread(corpus[ncorpus].p, 1, 65536, f);
		corpus_bytes += corpus[ncorpus].l;
		ncorpus++;
		fclose(f);
		free(names[i]);
	}
	return ncorpus ? 0 : -1;
}

/* ---- one parse per parser; returns an object to free, NULL on failure */

static void *cv_match(const char *p, size_t l)
{
	struct cv_sip_msg *m = NULL;
	if (cv_sip_msg_parse(&m, p, l, NULL, NULL))
		return NULL;
	/* what dialog matching reads besides the eager fields: the first
	 * Route and the Contact */
	struct cv_sip_naddr na;
	const struct cv_sip_hdr *h = cv_sip_msg_hdr(m, CV_SIP_HDR_ROUTE);
	if (h) {
		struct cv_pl rest = h->value, item;
		if (cv_sip_list_next(&rest, &item) == 0)
			cv_sip_naddr_parse(item, &na);
	}
	h = cv_sip_msg_hdr(m, CV_SIP_HDR_CONTACT);
	if (h) {
		struct cv_sip_contact c;
		cv_sip_contact_parse(h->value, &c);
	}
	return m;
}

static void *cv_full(const char *p, size_t l)
{
	struct cv_sip_msg *m = cv_match(p, l);
	if (m && cv_sip_msg_parse_full(m, NULL)) {
		cv_mem_unref(m);
		return NULL;
	}
	return m;
}

static void cv_free(void *m)
{
	cv_mem_unref(m);
}

static msg_mclass_t const *sofia_mc;

static void *sofia_parse(const char *p, size_t l)
{
	msg_t *msg = msg_make(sofia_mc, 0, p, (ssize_t)l);
	if (!msg)
		return NULL;
	sip_t *sip = sip_object(msg);
	if (!sip || !sip->sip_call_id || !sip->sip_cseq ||
	    (sip->sip_flags & MSG_FLG_ERROR)) {
		msg_destroy(msg);
		return NULL;
	}
	return msg;
}

static void sofia_free(void *m)
{
	msg_destroy(m);
}

static void *osip2_parse(const char *p, size_t l)
{
	osip_message_t *m;
	if (osip_message_init(&m))
		return NULL;
	if (osip_message_parse(m, p, l)) {
		osip_message_free(m);
		return NULL;
	}
	return m;
}

static void osip_free_msg(void *m)
{
	osip_message_free(m);
}

static void *re_parse(const char *p, size_t l)
{
	struct mbuf *mb = mbuf_alloc(l);
	struct sip_msg *msg = NULL;
	if (!mb)
		return NULL;
	mbuf_write_mem(mb, (const uint8_t *)p, l);
	mb->pos = 0;
	int err = sip_msg_decode(&msg, mb);
	mem_deref(mb);
	return err ? NULL : msg;
}

static void re_free(void *m)
{
	mem_deref(m);
}

struct parser {
	const char *name;
	void *(*parse)(const char *, size_t);
	void (*free)(void *);
	double ns[16];
	size_t bytes_per_msg;
};

static struct parser parsers[] = {
	{"cvoip matching", cv_match, cv_free},
	{"cvoip full", cv_full, cv_free},
	{"sofia-sip", sofia_parse, sofia_free},
	{"osip2", osip2_parse, osip_free_msg},
	{"libre", re_parse, re_free},
};
#define NP (sizeof(parsers) / sizeof(parsers[0]))

/* ns per message over a run of about ms milliseconds */
static long last_count;

static double run(struct parser *ps, double ms)
{
	double t0 = now_ns(), t;
	long n = 0;
	do {
		for (int i = 0; i < ncorpus; i++) {
			void *m = ps->parse(corpus[i].p, corpus[i].l);
			if (!m) {
				fprintf(stderr, "%s failed on message %d\n",
					ps->name, i);
				exit(1);
			}
			ps->free(m);
		}
		n += ncorpus;
		t = now_ns();
	} while (t - t0 < ms * 1e6);
	last_count = n;
	return (t - t0) / (double)n;
}

/* heap bytes held per parsed message: parse the corpus K times keeping
 * every message alive, compare mallinfo2 before and after */
static size_t bytes_per_msg(struct parser *ps)
{
	enum { K = 50 };
	void *keep[K * MAXMSG];
	int n = 0;
	malloc_trim(0);
	size_t before = mallinfo2().uordblks;
	for (int k = 0; k < K; k++)
		for (int i = 0; i < ncorpus; i++)
			keep[n++] = ps->parse(corpus[i].p, corpus[i].l);
	size_t after = mallinfo2().uordblks;
	for (int i = 0; i < n; i++)
		ps->free(keep[i]);
	return (after - before) / (size_t)n;
}

/* Differential check: the fields matching uses must agree with sofia-sip
 * on every corpus message (both parsers accept all of them). */
static bool same(struct cv_pl a, const char *b)
{
	return b ? cv_pl_eq_str(a, b) : a.l == 0;
}

static int differential(void)
{
	int bad = 0;
	for (int i = 0; i < ncorpus; i++) {
		struct cv_sip_msg *m = cv_match(corpus[i].p, corpus[i].l);
		msg_t *sm = sofia_parse(corpus[i].p, corpus[i].l);
		sip_t *s = sip_object(sm);
		bool ok =
			m && s && same(m->call_id, s->sip_call_id->i_id) &&
			m->cseq.num == s->sip_cseq->cs_seq &&
			same(m->cseq.method_pl, s->sip_cseq->cs_method_name) &&
			same(m->from.tag, s->sip_from->a_tag) &&
			same(m->to.tag, s->sip_to->a_tag) &&
			same(m->via.branch, s->sip_via->v_branch) &&
			same(m->via.host, s->sip_via->v_host) &&
			(m->max_forwards < 0
				 ? !s->sip_max_forwards
				 : (s->sip_max_forwards &&
				    (unsigned long)m->max_forwards ==
					    s->sip_max_forwards->mf_count)) &&
			m->body.l ==
				(s->sip_payload ? s->sip_payload->pl_len : 0);
		if (!ok) {
			fprintf(stderr,
				"differential: message %d disagrees with "
				"sofia-sip\n",
				i);
			bad++;
		}
		cv_mem_unref(m);
		msg_destroy(sm);
	}
	return bad;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	const char *dir = CV_BENCH_CORPUS;
	double ms = 300;
	int rounds = 5;
	const char *only = NULL;
	long iters = 0;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--ms") && i + 1 < argc)
			ms = atof(argv[++i]);
		else if (!strcmp(argv[i], "--only") && i + 1 < argc)
			only = argv[++i];
		else if (!strcmp(argv[i], "--iters") && i + 1 < argc)
			iters = atol(argv[++i]);
		else if (!strcmp(argv[i], "--rounds") && i + 1 < argc)
			rounds = atoi(argv[++i]);
		else
			dir = argv[i];
	}
	if (rounds < 1 || rounds > 16)
		rounds = 5;
	if (load(dir)) {
		fprintf(stderr, "cannot load corpus from %s\n", dir);
		return 2;
	}
	sofia_mc = sip_default_mclass();
	parser_init();
	if (only) {
		/* profiling aid: one parser for ms milliseconds */
		for (size_t p = 0; p < NP; p++)
			if (!strcmp(parsers[p].name, only) && iters > 0) {
				for (long k = 0; k < iters; k++)
					for (int i = 0; i < ncorpus; i++) {
						void *m = parsers[p].parse(
							corpus[i].p,
							corpus[i].l);
						if (!m)
							return 1;
						parsers[p].free(m);
					}
				printf("%s %ld messages\n", only,
				       iters * ncorpus);
			} else if (!strcmp(parsers[p].name, only)) {
				double ns = run(&parsers[p], ms);
				printf("%s %.0f ns/msg over %ld messages\n",
				       only, ns, last_count);
			}
		return 0;
	}
	if (differential())
		return 1;
	printf("differential check vs sofia-sip: %d messages agree on Call-ID, "
	       "CSeq, "
	       "tags, top Via, Max-Forwards, body length\n",
	       ncorpus);
	/* warm up, verify every parser accepts every message */
	for (size_t p = 0; p < NP; p++)
		run(&parsers[p], 50);
	/* interleaved rounds: cvoip, sofia, osip, libre, cvoip, ... */
	for (int r = 0; r < rounds; r++)
		for (size_t p = 0; p < NP; p++)
			parsers[p].ns[r] = run(&parsers[p], ms);
	for (size_t p = 0; p < NP; p++)
		parsers[p].bytes_per_msg = bytes_per_msg(&parsers[p]);

	printf("corpus: %d messages, %.0f bytes average; %d interleaved rounds "
	       "of %.0f ms\n",
	       ncorpus, (double)corpus_bytes / ncorpus, rounds, ms);
	printf("%-16s %10s %12s %14s %12s\n", "parser", "ns/msg", "msgs/s",
	       "bytes/msg", "min-max ns");
	double med[NP];
	for (size_t p = 0; p < NP; p++) {
		double s[16];
		memcpy(s, parsers[p].ns, sizeof(double) * (size_t)rounds);
		qsort(s, (size_t)rounds, sizeof(double), cmp_d);
		med[p] = s[rounds / 2];
		printf("%-16s %10.0f %12.0f %14zu %6.0f-%.0f\n",
		       parsers[p].name, med[p], 1e9 / med[p],
		       parsers[p].bytes_per_msg, s[0], s[rounds - 1]);
	}
	printf("ratio sofia-sip/cvoip: matching %.1fx, full %.1fx\n",
	       med[2] / med[0], med[2] / med[1]);
	printf("ratio osip2/cvoip full %.1fx, libre/cvoip full %.1fx\n",
	       med[3] / med[1], med[4] / med[1]);
	return 0;
}
