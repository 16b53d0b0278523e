/* Test client: resolves a SIP URI with RFC 3263 (cv_tp_resolve), then
 * sends a request to the targets in order, failing over on transport error,
 * timeout or 503 (RFC 3263 §4.3), and prints what answered.
 *
 *   tp_client -l spec... [--dns ip:port] [--ca f] [--no-verify]
 *             [--method OPTIONS|MESSAGE] [--count n] [--timeout-ms n] URI
 *
 * Output lines: "targets N", "target i KIND addr name", "try KIND addr",
 * "fail KIND addr reason", "answer STATUS KIND addr", exit 0 on a final
 * response other than 503 for every one of count requests. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cvoip/runtime.h"
#include "cvoip/sip.h"
#include "cvoip/transport.h"

static struct cv_tp *g_tp;
static struct cv_rt *g_rt;
static const char *g_uri;
static const char *g_method = "OPTIONS";
static unsigned g_count = 1, g_done_n;
static uint32_t g_timeout_ms = 1000;
static int g_result = 1;

static struct cv_tp_targets g_targets;
static unsigned g_ti;
static char g_callid[64];
static unsigned g_cseq;
static uv_timer_t g_timer;
static struct cv_worker *g_w;
static bool g_waiting;

static void try_next(void);

static void fail_current(const char *why)
{
	char a[CV_TP_ADDRSTRLEN];
	cv_tp_addr_print(&g_targets.t[g_ti].addr, a, sizeof(a));
	printf("fail %s %s %s\n", cv_tp_kind_name(g_targets.t[g_ti].kind), a,
	       why);
	g_ti++;
	try_next();
}

static void on_timeout(uv_timer_t *t)
{
	if (!g_waiting)
		return;
	g_waiting = false;
	fail_current("timeout");
}

static void on_sent(int err, void *arg)
{
	unsigned ti = (unsigned)(uintptr_t)arg;
	if (err && g_waiting && ti == g_ti) {
		g_waiting = false;
		uv_timer_stop(&g_timer);
		fail_current(cv_strerror(err));
	}
}

static void next_request(void)
{
	if (g_done_n == g_count) {
		g_result = 0;
		cv_rt_stop(g_rt);
		return;
	}
	g_ti = 0;
	try_next();
}

static void try_next(void)
{
	struct cv_buf b;
	char a[CV_TP_ADDRSTRLEN], sentby[300];

	if (g_ti >= g_targets.n) {
		printf("exhausted\n");
		cv_rt_stop(g_rt);
		return;
	}
	const struct cv_tp_target *t = &g_targets.t[g_ti];
	cv_tp_addr_print(&t->addr, a, sizeof(a));
	printf("try %s %s\n", cv_tp_kind_name(t->kind), a);
	struct cv_tp_via via;
	struct cv_tp_via_params vp = {.kind = t->kind, .dst = t->addr};
	int err = cv_tp_via_for(g_tp, &vp, &via);
	if (err) {
		fail_current("no via");
		return;
	}
	if (via.port)
		snprintf(sentby, sizeof(sentby), "%s:%u", via.host, via.port);
	else
		snprintf(sentby, sizeof(sentby), "%s", via.host);
	snprintf(g_callid, sizeof(g_callid), "tpc-%u-%u", cv_random_u32(),
		 g_done_n);
	enum cv_sip_transport stp = CV_SIP_TP_UDP;
	if (via.kind == CV_TP_TCP)
		stp = CV_SIP_TP_TCP;
	else if (via.kind == CV_TP_TLS)
		stp = CV_SIP_TP_TLS;
	struct cv_sip_req_params rp = {
		.method = cv_sip_method_from(cv_pl_str(g_method)),
		.method_name = cv_pl_str(g_method),
		.ruri = cv_pl_str(g_uri),
		.via = {.tp = stp, .sent_by = cv_pl_str(sentby), .rport = true},
		.from_uri = CV_PL("sip:tpc@test.invalid"),
		.from_tag = CV_PL("tpc1"),
		.to_uri = cv_pl_str(g_uri),
		.call_id = cv_pl_str(g_callid),
		.cseq = ++g_cseq,
	};
	cv_buf_init(&b, 65536);
	err = cv_sip_req_print(&b, &rp);
	if (err) {
		cv_buf_free(&b);
		fail_current("print");
		return;
	}
	struct cv_tp_send_params sp = {.kind = t->kind,
				       .dst = t->addr,
				       .tls_name = t->name[0] ? t->name : NULL,
				       .done = on_sent,
				       .arg = (void *)(uintptr_t)g_ti};
	g_waiting = true;
	uv_timer_start(&g_timer, on_timeout, g_timeout_ms, 0);
	err = cv_tp_send(g_tp, g_w, &sp, b.data, b.len);
	cv_buf_free(&b);
	if (err && g_waiting) {
		g_waiting = false;
		uv_timer_stop(&g_timer);
		fail_current(cv_strerror(err));
	}
}

static void on_recv(struct cv_worker *w, const struct cv_tp_rx *rx, void *arg)
{
	struct cv_sip_msg *m = NULL;
	if (cv_sip_msg_parse(&m, rx->buf, rx->len, NULL, NULL))
		return;
	if (!m->req && g_waiting && cv_pl_eq_str(m->call_id, g_callid) &&
	    m->status >= 200) {
		char a[CV_TP_ADDRSTRLEN];
		cv_tp_addr_print(&rx->meta.src, a, sizeof(a));
		g_waiting = false;
		uv_timer_stop(&g_timer);
		printf("answer %d %s %s\n", m->status,
		       cv_tp_kind_name(rx->meta.kind), a);
		if (m->status == 503) {
			fail_current("503");
		} else {
			g_done_n++;
			next_request();
		}
	}
	cv_mem_unref(m);
}

static void on_resolved(int err, const struct cv_tp_targets *t, void *arg)
{
	if (err) {
		printf("resolve failed: %s\n", cv_strerror(err));
		cv_rt_stop(g_rt);
		return;
	}
	g_targets = *t;
	printf("targets %u\n", t->n);
	for (unsigned i = 0; i < t->n; i++) {
		char a[CV_TP_ADDRSTRLEN];
		cv_tp_addr_print(&t->t[i].addr, a, sizeof(a));
		printf("target %u %s %s %s\n", i, cv_tp_kind_name(t->t[i].kind),
		       a, t->t[i].name);
	}
	fflush(stdout);
	next_request();
}

static const struct cv_tp_handler handler = {.recv = on_recv};

static void on_start(struct cv_worker *w, void *arg)
{
	int err = cv_tp_worker_start(g_tp, w);
	if (err) {
		cv_rt_fail(cv_worker_rt(w), err);
		return;
	}
	g_w = w;
	uv_timer_init(cv_worker_loop(w), &g_timer);
	struct cv_sip_uri u;
	if (cv_sip_uri_parse(cv_pl_str(g_uri), &u)) {
		printf("bad uri\n");
		cv_rt_fail(cv_worker_rt(w), CV_EPARSE);
		return;
	}
	struct cv_tp_resolve_params rp = {.host = u.host,
					  .port = u.port,
					  .sips = u.scheme ==
						  CV_SIP_SCHEME_SIPS,
					  .done = on_resolved};
	struct cv_pl tpv;
	if (cv_sip_uri_param(&u, "transport", &tpv) == 0 &&
	    cv_tp_kind_parse(tpv, &rp.kind) == 0)
		rp.has_transport = true;
	(void)cv_sip_uri_param(&u, "maddr", &rp.maddr);
	err = cv_tp_resolve(g_tp, w, &rp, NULL);
	if (err) {
		printf("resolve: %s\n", cv_strerror(err));
		cv_rt_fail(cv_worker_rt(w), err);
	}
}

static void on_stop(struct cv_worker *w, void *arg)
{
	uv_timer_stop(&g_timer);
	cv_tp_worker_stop(g_tp, w);
}

int main(int argc, char **argv)
{
	struct cv_tp_spec specs[8];
	unsigned nspecs = 0;
	struct cv_tp_params tpp = {0};
	const char *dns[2] = {NULL, NULL};
	int o, err;

	tpp.tls.verify_server = true;
	static const struct option opts[] = {{"dns", 1, 0, 'd'},
					     {"ca", 1, 0, 'A'},
					     {"no-verify", 0, 0, 'N'},
					     {"method", 1, 0, 'M'},
					     {"count", 1, 0, 'c'},
					     {"timeout-ms", 1, 0, 't'},
					     {0, 0, 0, 0}};
	while ((o = getopt_long(argc, argv, "l:", opts, NULL)) != -1) {
		switch (o) {
		case 'l':
			if (nspecs == 8 ||
			    cv_tp_spec_parse(optarg, &specs[nspecs])) {
				fprintf(stderr, "bad spec %s\n", optarg);
				return 2;
			}
			nspecs++;
			break;
		case 'd':
			dns[0] = optarg;
			break;
		case 'A':
			tpp.tls.ca_file = optarg;
			break;
		case 'N':
			tpp.tls.verify_server = false;
			break;
		case 'M':
			g_method = optarg;
			break;
		case 'c':
			g_count = (unsigned)atoi(optarg);
			break;
		case 't':
			g_timeout_ms = (uint32_t)atoi(optarg);
			break;
		default:
			return 2;
		}
	}
	if (optind >= argc)
		return 2;
	g_uri = argv[optind];
	struct cv_rt_params rp = {
		.workers = 1, .on_start = on_start, .on_stop = on_stop};
	if ((err = cv_rt_create(&g_rt, &rp)))
		return 1;
	tpp.specs = specs;
	tpp.nspecs = nspecs;
	tpp.h = &handler;
	tpp.dns_servers = dns[0] ? dns : NULL;
	if ((err = cv_tp_create(&g_tp, g_rt, &tpp))) {
		fprintf(stderr, "transport: %s\n", cv_strerror(err));
		cv_rt_destroy(g_rt);
		return 1;
	}
	err = cv_rt_start(g_rt);
	if (!err)
		err = cv_rt_wait(g_rt);
	cv_tp_destroy(g_tp);
	cv_rt_destroy(g_rt);
	fflush(stdout);
	return err ? 1 : g_result;
}
