/* Scripted in-process peer for transaction tests (sofia-sip style): the
 * send callback records every message with its fake-clock time, handlers
 * record every event, helpers build and inject parsed messages. */
#ifndef TXN_HARNESS_H
#define TXN_HARNESS_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cvoip/txn.h"

#define T0_US	 1000000000ull
#define MAX_SENT 512
#define MAX_EV	 2048

enum ev_type {
	EV_REQUEST = 1,
	EV_ACK,
	EV_RESPONSE,
	EV_CANCEL,
	EV_FAILED,
	EV_TERMINATED
};

struct sent {
	uint64_t ms;
	struct cv_sip_msg *m;
	struct cv_txn *txn;
	bool retx;
};

struct ev {
	enum ev_type type;
	uint64_t ms;
	struct cv_txn *t;
	uint16_t status;
	bool local, retx;
	enum cv_sip_method method;
};

struct harness {
	struct cv_wheel *w;
	struct cv_txn_layer *l;
	struct sent s[MAX_SENT];
	unsigned ns;
	struct ev e[MAX_EV];
	unsigned ne;
	bool reliable;
	int fail_sends;		/* >0: fail the next n sends */
	int fail_from;		/* >0: sends numbered >= this fail */
	struct cv_txn *srv[16]; /* server txns handed to the TU (owned refs) */
	unsigned nsrv;
	int answer;	    /* respond with this from the request handler */
	bool release_in_cb; /* release server txns right in the handler */
	bool release_on_response; /* client: release on any final */
	int64_t live0;
};

static struct harness H;

static inline uint64_t now_ms(void)
{
	return (cv_clock_us() - T0_US) / 1000u;
}

static __attribute__((unused)) int h_send(const struct cv_txn_out *o,
					  bool *reliable, void *arg)
{
	(void)arg;
	if (H.fail_sends > 0) {
		H.fail_sends--;
		return -ECONNREFUSED;
	}
	if (H.fail_from > 0 && (int)H.ns + 1 >= H.fail_from)
		return -ECONNREFUSED;
	assert_true(H.ns < MAX_SENT);
	struct cv_sip_msg *m = NULL;
	assert_int_equal(cv_sip_msg_parse(&m, o->buf, o->len, NULL, NULL), 0);
	H.s[H.ns++] = (struct sent){now_ms(), m, o->txn, o->retransmission};
	*reliable = H.reliable;
	return 0;
}

static __attribute__((unused)) void push_ev(enum ev_type type, struct cv_txn *t,
					    uint16_t status, bool local,
					    bool retx, enum cv_sip_method m)
{
	assert_true(H.ne < MAX_EV);
	H.e[H.ne++] = (struct ev){type, now_ms(), t, status, local, retx, m};
}

static __attribute__((unused)) void h_request(struct cv_txn *t,
					      struct cv_sip_msg *req, void *arg)
{
	(void)arg;
	push_ev(EV_REQUEST, t, 0, false, false, req->method);
	if (H.answer)
		assert_int_equal(cv_txn_respond(t, (uint16_t)H.answer, NULL),
				 0);
	if (H.release_in_cb) {
		cv_txn_release(t);
		return;
	}
	assert_true(H.nsrv < 16);
	H.srv[H.nsrv++] = t;
}

static __attribute__((unused)) void h_ack(struct cv_txn *inv,
					  struct cv_sip_msg *ack,
					  const struct cv_txn_addr *src,
					  void *arg)
{
	(void)src;
	(void)arg;
	push_ev(EV_ACK, inv, 0, false, false, ack->method);
}

static __attribute__((unused)) void
h_response(struct cv_txn *t, const struct cv_txn_resp *r, void *arg)
{
	(void)arg;
	push_ev(EV_RESPONSE, t, r->status, r->local, r->retransmission,
		cv_txn_method(t));
	if (r->local)
		assert_null(r->msg);
	else
		assert_int_equal(r->msg->status, r->status);
}

static __attribute__((unused)) void h_cancel(struct cv_txn *t,
					     struct cv_sip_msg *c, void *arg)
{
	(void)arg;
	push_ev(EV_CANCEL, t, 0, false, false, c->method);
}

static __attribute__((unused)) void h_failed(struct cv_txn *t, uint16_t status,
					     void *arg)
{
	(void)arg;
	push_ev(EV_FAILED, t, status, true, false, cv_txn_method(t));
}

static __attribute__((unused)) void h_terminated(struct cv_txn *t, void *arg)
{
	(void)arg;
	push_ev(EV_TERMINATED, t, 0, false, false, cv_txn_method(t));
}

static const struct cv_txn_handlers handlers = {
	.request = h_request,
	.ack = h_ack,
	.response = h_response,
	.cancel = h_cancel,
	.failed = h_failed,
	.terminated = h_terminated,
};

static __attribute__((unused)) void
harness_start(int32_t trying_ms, bool auto_487, uint32_t max_txns)
{
	memset(&H, 0, sizeof(H));
	H.live0 = cv_mem_live();
	cv_clock_fake_enable(T0_US);
	assert_int_equal(cv_wheel_create(&H.w, NULL, 1000), 0);
	struct cv_txn_params p;
	cv_txn_params_init(&p);
	p.send = h_send;
	p.h = &handlers;
	p.wheel = H.w;
	p.trying_ms = trying_ms;
	p.auto_487 = auto_487;
	if (max_txns)
		p.max_txns = max_txns;
	assert_int_equal(cv_txn_layer_create(&H.l, &p), 0);
}

static __attribute__((unused)) int setup(void **state)
{
	(void)state;
	harness_start(200, false, 0);
	return 0;
}

static __attribute__((unused)) void clear_sent(void)
{
	for (unsigned i = 0; i < H.ns; i++)
		cv_mem_unref(H.s[i].m);
	H.ns = 0;
}

static __attribute__((unused)) int teardown(void **state)
{
	(void)state;
	for (unsigned i = 0; i < H.nsrv; i++)
		if (H.srv[i])
			cv_txn_release(H.srv[i]);
	H.nsrv = 0;
	cv_txn_layer_destroy(H.l);
	/* no timer outlives its transaction */
	assert_int_equal(cv_wheel_count(H.w), 0);
	cv_wheel_destroy(H.w);
	clear_sent();
	cv_clock_fake_disable();
	assert_int_equal(cv_mem_live(), H.live0);
	return 0;
}

/* Steps the fake clock 1 ms at a time, running the wheel, up to ms after
 * T0: every timer fires at its exact millisecond. */
static __attribute__((unused)) void run_to(uint64_t ms)
{
	while (now_ms() < ms) {
		cv_clock_fake_advance(1000);
		cv_wheel_run(H.w);
	}
}

static __attribute__((unused)) void run_for(uint64_t ms)
{
	run_to(now_ms() + ms);
}

static const struct cv_txn_addr peer_udp = {.reliable = false};
static const struct cv_txn_addr peer_tcp = {.reliable = true};

static __attribute__((unused)) struct cv_sip_msg *parse(const char *fmt, ...)
	CV_PRINTF(1, 2);
static __attribute__((unused)) struct cv_sip_msg *parse(const char *fmt, ...)
{
	char buf[2048];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	assert_true(n > 0 && (size_t)n < sizeof(buf));
	struct cv_sip_msg *m = NULL;
	struct cv_sip_verdict v;
	int err = cv_sip_msg_parse(&m, buf, (size_t)n, NULL, &v);
	if (err)
		fprintf(stderr, "parse failed (%d %s):\n%s\n", v.status,
			v.reason ? v.reason : "", buf);
	assert_int_equal(err, 0);
	return m;
}

/* A request as a peer would send it. totag "" = none. */
static __attribute__((unused)) struct cv_sip_msg *
mkreq_full(const char *method, const char *sent_by, const char *branch,
	   unsigned cseq, const char *cseq_method, const char *totag,
	   const char *callid, const char *ruri)
{
	char branch_param[128] = "";
	if (branch && *branch)
		snprintf(branch_param, sizeof(branch_param), ";branch=%s",
			 branch);
	return parse("%s %s SIP/2.0\r\n"
		     "Via: SIP/2.0/UDP %s%s\r\n"
		     "Max-Forwards: 70\r\n"
		     "From: <sip:alice@127.0.0.1>;tag=ftag1\r\n"
		     "To: <sip:bob@127.0.0.1>%s%s\r\n"
		     "Call-ID: %s\r\n"
		     "CSeq: %u %s\r\n"
		     "Content-Length: 0\r\n\r\n",
		     method, ruri, sent_by, branch_param, *totag ? ";tag=" : "",
		     totag, callid, cseq, cseq_method);
}

static __attribute__((unused)) struct cv_sip_msg *
mkreq(const char *method, const char *branch, unsigned cseq)
{
	return mkreq_full(method, "10.0.0.1:5060", branch, cseq, method, "",
			  "call1@10.0.0.1", "sip:bob@127.0.0.1");
}

/* A response to a request the layer sent (copies its top Via, CSeq). */
static __attribute__((unused)) struct cv_sip_msg *
mkresp(const struct cv_sip_msg *req, int status, const char *totag)
{
	return parse("SIP/2.0 %d Whatever\r\n"
		     "Via: %.*s\r\n"
		     "From: <sip:alice@127.0.0.1>;tag=ftag1\r\n"
		     "To: <sip:bob@127.0.0.1>%s%s\r\n"
		     "Call-ID: %.*s\r\n"
		     "CSeq: %u %.*s\r\n"
		     "Content-Length: 0\r\n\r\n",
		     status, CV_PL_ARG(req->via.value), *totag ? ";tag=" : "",
		     totag, CV_PL_ARG(req->call_id), req->cseq.num,
		     CV_PL_ARG(req->cseq.method_pl));
}

static __attribute__((unused)) void rx(struct cv_sip_msg *m,
				       const struct cv_txn_addr *src)
{
	assert_int_equal(cv_txn_recv(H.l, m, src), 0);
	cv_mem_unref(m);
}

#define CLIENT_REQ_FMT                                                         \
	"%s sip:bob@10.0.0.2 SIP/2.0\r\n"                                      \
	"Via: SIP/2.0/UDP 127.0.0.1:5070;branch=%s\r\n"                        \
	"Route: <sip:proxy1@10.0.0.9;lr>\r\n"                                  \
	"Max-Forwards: 70\r\n"                                                 \
	"From: \"Alice\" <sip:alice@127.0.0.1>;tag=atag\r\n"                   \
	"To: <sip:bob@10.0.0.2>\r\n"                                           \
	"Call-ID: c-%s@127.0.0.1\r\n"                                          \
	"CSeq: 7 %s\r\n"                                                       \
	"Content-Length: 0\r\n\r\n"

static __attribute__((unused)) struct cv_txn *
client(const char *method, const char *branch, const struct cv_txn_addr *dst)
{
	char buf[1024];
	int n = snprintf(buf, sizeof(buf), CLIENT_REQ_FMT, method, branch,
			 branch, method);
	struct cv_txn *t = NULL;
	struct cv_txn_client_params p = {
		.buf = buf, .len = (size_t)n, .dst = dst};
	assert_int_equal(cv_txn_client_create(&t, H.l, &p), 0);
	return t;
}

static __attribute__((unused)) unsigned count_ev(enum ev_type type)
{
	unsigned n = 0;
	for (unsigned i = 0; i < H.ne; i++)
		n += H.e[i].type == type;
	return n;
}

static __attribute__((unused)) const struct ev *last_ev(enum ev_type type)
{
	for (unsigned i = H.ne; i-- > 0;)
		if (H.e[i].type == type)
			return &H.e[i];
	return NULL;
}

/* Send times of the messages matching (request method or status). */
static __attribute__((unused)) unsigned
sent_times(enum cv_sip_method m, int status, uint64_t *out, unsigned max)
{
	unsigned n = 0;
	for (unsigned i = 0; i < H.ns; i++) {
		const struct cv_sip_msg *x = H.s[i].m;
		bool hit = status ? (!x->req && x->status == status)
				  : (x->req && x->method == m);
		if (hit && n < max)
			out[n] = H.s[i].ms;
		n += hit;
	}
	return n;
}

static __attribute__((unused)) void assert_times(const uint64_t *got,
						 unsigned n,
						 const uint64_t *want,
						 unsigned nwant)
{
	if (n != nwant) {
		fprintf(stderr, "got %u sends:", n);
		for (unsigned i = 0; i < n && i < 64; i++)
			fprintf(stderr, " %llu", (unsigned long long)got[i]);
		fprintf(stderr, "\n");
	}
	assert_int_equal(n, nwant);
	for (unsigned i = 0; i < n; i++)
		assert_int_equal(got[i], want[i]);
}

#endif
