/* txn_peer: the transaction layer over a plain UDP socket on a uv loop, as
 * a UAS for SIPp scenarios (tests/txn/scenarios). Not the real transport:
 * just enough glue (recv -> parse -> cv_txn_recv; send callback ->
 * uv_udp_try_send to the request's source) to drive the state machines
 * with real packets.
 *
 *   txn_peer PORT      (127.0.0.1)  prints "port=N" when ready, stats on
 *                                    SIGTERM/SIGINT as key=value lines.
 *   txn_peer uac PEER_PORT COUNT METHOD USER
 *                      client mode: COUNT requests, one after the other,
 *                      to 127.0.0.1:PEER_PORT (a SIPp UAS); ACKs 2xx like a
 *                      UAC core (RFC 3261 §13.2.2.4); prints the stats and
 *                      exits after the last final response.
 *
 * UAS behaviour by Request-URI user: "busy" 486; "slow" 200 after 1 s
 * (auto 100 at 200 ms); "ring" 180 and wait (CANCEL -> 487); anything else
 * 180 + 200. The UAS core retransmits its 2xx until the ACK (RFC 3261
 * §13.3.1.4, RFC 6026: not the transaction's job). Other methods: 200. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cvoip/txn.h"

#define MAX_CALLS 256

struct call {
	struct cv_txn *t;  /* INVITE server txn (TU reference) */
	struct cv_tmr tmr; /* 2xx retransmission or delayed answer */
	uint32_t ivl_ms;
	bool answered;     /* 2xx sent */
	bool used;
};

static struct {
	uv_loop_t *loop;
	uv_udp_t udp;
	uv_signal_t sigterm, sigint;
	struct cv_wheel *w;
	struct cv_txn_layer *l;
	struct call calls[MAX_CALLS];
	char contact[64];
	uint64_t ok_retx, acks, cancels, parse_errors;
	/* client mode */
	bool uac;
	int local_port;
	struct cv_txn_addr peer;
	unsigned remaining;
	enum cv_sip_method method;
	const char *user;
	struct cv_txn *cur;
	uv_timer_t next;
	uint64_t finals, acks_sent, timeouts;
} P;

static int peer_send(const struct cv_txn_out *o, bool *reliable, void *arg)
{
	(void)arg;
	*reliable = false;
	uv_buf_t b = uv_buf_init((char *)(uintptr_t)o->buf, (unsigned)o->len);
	int n = uv_udp_try_send(&P.udp, &b, 1, &o->dst->remote.sa);
	return n < 0 ? n : 0;
}

static struct call *call_of(const struct cv_txn *t)
{
	for (unsigned i = 0; i < MAX_CALLS; i++)
		if (P.calls[i].used && P.calls[i].t == t)
			return &P.calls[i];
	return NULL;
}

static void call_end(struct call *c)
{
	cv_tmr_cancel(&c->tmr);
	cv_txn_release(c->t);
	c->t = NULL;
	c->used = false;
}

static int send_200(struct call *c)
{
	struct cv_txn_resp_params rp = {
		.headers = cv_pl_str(P.contact),
	};
	return cv_txn_respond(c->t, 200, &rp);
}

/* RFC 3261 §13.3.1.4: 2xx again at T1, 2*T1 ... T2 until the ACK. */
static void retx_200(struct cv_tmr *tm, void *arg)
{
	struct call *c = arg;
	(void)tm;
	if (cv_txn_state(c->t) != CV_TXN_ACCEPTED) {
		call_end(c); /* Timer L ended it: no ACK ever came */
		return;
	}
	if (send_200(c)) {
		call_end(c);
		return;
	}
	P.ok_retx++;
	c->ivl_ms = CV_MIN(c->ivl_ms * 2, 4000);
	cv_tmr_start(P.w, &c->tmr, (uint64_t)c->ivl_ms * 1000, retx_200, c);
}

static void answer_200(struct call *c)
{
	if (send_200(c)) {
		call_end(c);
		return;
	}
	c->answered = true;
	c->ivl_ms = 500;
	cv_tmr_start(P.w, &c->tmr, 500 * 1000, retx_200, c);
}

static void delayed_answer(struct cv_tmr *tm, void *arg)
{
	(void)tm;
	answer_200(arg);
}

static void on_request(struct cv_txn *t, struct cv_sip_msg *req, void *arg)
{
	(void)arg;
	if (req->method != CV_SIP_INVITE) {
		(void)cv_txn_respond(t, 200, NULL);
		cv_txn_release(t);
		return;
	}
	struct cv_sip_uri uri;
	struct cv_pl user = CV_PL_INIT;
	if (cv_sip_msg_ruri(req, &uri) == 0)
		user = uri.user;
	if (cv_pl_eq_str(user, "busy")) {
		(void)cv_txn_respond(t, 486, NULL);
		cv_txn_release(t);
		return;
	}
	struct call *c = NULL;
	for (unsigned i = 0; i < MAX_CALLS && !c; i++)
		if (!P.calls[i].used)
			c = &P.calls[i];
	if (!c) {
		(void)cv_txn_respond(t, 503, NULL);
		cv_txn_release(t);
		return;
	}
	memset(c, 0, sizeof(*c));
	c->used = true;
	c->t = t;
	cv_tmr_init(&c->tmr);
	if (cv_pl_eq_str(user, "slow")) {
		cv_tmr_start(P.w, &c->tmr, 1000 * 1000, delayed_answer, c);
		return;
	}
	(void)cv_txn_respond(t, 180, NULL);
	if (!cv_pl_eq_str(user, "ring"))
		answer_200(c);
}

static void on_ack(struct cv_txn *inv, struct cv_sip_msg *ack,
		   const struct cv_txn_addr *src, void *arg)
{
	(void)inv;
	(void)src;
	(void)arg;
	P.acks++;
	for (unsigned i = 0; i < MAX_CALLS; i++) {
		struct call *c = &P.calls[i];
		if (c->used && c->answered &&
		    cv_pl_eq(cv_txn_request(c->t)->call_id, ack->call_id))
			call_end(c);
	}
}

static void on_cancel(struct cv_txn *t, struct cv_sip_msg *cancel, void *arg)
{
	(void)cancel;
	(void)arg;
	P.cancels++;
	(void)cv_txn_respond(t, 487, NULL);
	struct call *c = call_of(t);
	if (c)
		call_end(c);
}

static void on_ended(struct cv_txn *t, void *arg)
{
	(void)arg;
	struct call *c = call_of(t);
	if (c)
		call_end(c);
}

static void on_failed(struct cv_txn *t, uint16_t status, void *arg)
{
	(void)status;
	on_ended(t, arg);
}

static void start_next(uv_timer_t *h);

/* UAC core: the ACK for a 2xx is its own transaction-less request. */
static void ack_2xx(const struct cv_sip_msg *resp)
{
	const struct cv_sip_msg *req = cv_txn_request(P.cur);
	const struct cv_sip_hdr *from = cv_sip_msg_hdr(req, CV_SIP_HDR_FROM);
	const struct cv_sip_hdr *to = cv_sip_msg_hdr(resp, CV_SIP_HDR_TO);
	char branch[CV_SIP_BRANCH_SIZE];
	cv_sip_branch_new(branch);
	struct cv_buf b;
	cv_buf_init(&b, 4096);
	cv_buf_printf(&b,
		      "ACK " CV_PL_FMT " SIP/2.0\r\n"
		      "Via: SIP/2.0/UDP 127.0.0.1:%d;branch=%s\r\n"
		      "Max-Forwards: 70\r\nFrom: " CV_PL_FMT "\r\nTo: " CV_PL_FMT
		      "\r\nCall-ID: " CV_PL_FMT "\r\nCSeq: %u ACK\r\n"
		      "Content-Length: 0\r\n\r\n",
		      CV_PL_ARG(req->ruri), P.local_port, branch,
		      CV_PL_ARG(from->value), CV_PL_ARG(to->value),
		      CV_PL_ARG(req->call_id), req->cseq.num);
	if (!b.err &&
	    cv_txn_send_stateless(P.l, &P.peer, req, b.data, b.len) == 0)
		P.acks_sent++;
	cv_buf_free(&b);
}

static void on_response(struct cv_txn *t, const struct cv_txn_resp *r, void *arg)
{
	(void)arg;
	if (t != P.cur || r->status < 200)
		return;
	if (r->local)
		P.timeouts++;
	if (!r->local && P.method == CV_SIP_INVITE && r->status < 300)
		ack_2xx(r->msg);
	if (r->retransmission)
		return;
	P.finals++;
	/* the next request a little later: 2xx retransmissions still find
	 * this transaction in Accepted and get their ACK */
	uv_timer_start(&P.next, start_next, 300, 0);
}

static const struct cv_txn_handlers handlers = {
	.request = on_request,
	.response = on_response,
	.ack = on_ack,
	.cancel = on_cancel,
	.failed = on_failed,
	.terminated = on_ended,
};

static void alloc_cb(uv_handle_t *h, size_t sugg, uv_buf_t *buf)
{
	static char mem[65536];
	(void)h;
	(void)sugg;
	*buf = uv_buf_init(mem, sizeof(mem));
}

static void recv_cb(uv_udp_t *h, ssize_t n, const uv_buf_t *buf,
		    const struct sockaddr *addr, unsigned flags)
{
	(void)h;
	(void)flags;
	if (n <= 0 || !addr)
		return;
	size_t skip = cv_sip_keepalive_len(buf->base, (size_t)n);
	if (skip == (size_t)n)
		return;
	struct cv_sip_msg *m = NULL;
	struct cv_sip_verdict v;
	if (cv_sip_msg_parse(&m, buf->base + skip, (size_t)n - skip, NULL, &v)) {
		P.parse_errors++;
		return;
	}
	struct cv_txn_addr src = {.reliable = false};
	if (addr->sa_family == AF_INET6)
		memcpy(&src.remote.in6, addr, sizeof(src.remote.in6));
	else
		memcpy(&src.remote.in, addr, sizeof(src.remote.in));
	(void)cv_txn_recv(P.l, m, &src);
	cv_mem_unref(m);
}

static void print_stats(void)
{
	struct cv_txn_stats st;
	cv_txn_stats_read(P.l, &st);
	for (int m = 1; m < CV_SIP_METHOD_COUNT; m++) {
		const char *name = cv_sip_method_name((enum cv_sip_method)m);
		if (!st.created[m] && !st.retransmitted[m])
			continue;
		printf("created.%s=%llu\n", name, (unsigned long long)st.created[m]);
		printf("completed.%s=%llu\n", name, (unsigned long long)st.completed[m]);
		printf("retransmitted.%s=%llu\n", name,
		       (unsigned long long)st.retransmitted[m]);
		printf("timed_out.%s=%llu\n", name, (unsigned long long)st.timed_out[m]);
	}
#define S(f) printf(#f "=%llu\n", (unsigned long long)st.f)
	S(rx_retransmissions);
	S(stray_acks);
	S(acks_absorbed);
	S(cancels_matched);
	S(cancels_481);
	S(auto_100);
	S(branch_reused);
	S(transport_errors);
#undef S
	printf("live=%zu\n", cv_txn_count(P.l));
	printf("ok_retransmitted=%llu\n", (unsigned long long)P.ok_retx);
	printf("acks=%llu\n", (unsigned long long)P.acks);
	printf("cancels=%llu\n", (unsigned long long)P.cancels);
	printf("parse_errors=%llu\n", (unsigned long long)P.parse_errors);
	if (P.uac) {
		printf("finals=%llu\n", (unsigned long long)P.finals);
		printf("acks_sent=%llu\n", (unsigned long long)P.acks_sent);
		printf("timeouts=%llu\n", (unsigned long long)P.timeouts);
	}
	fflush(stdout);
}

static void start_next(uv_timer_t *h)
{
	(void)h;
	if (P.cur) {
		cv_txn_release(P.cur);
		P.cur = NULL;
	}
	if (!P.remaining) {
		print_stats();
		uv_stop(P.loop);
		return;
	}
	P.remaining--;
	char branch[CV_SIP_BRANCH_SIZE], tag[CV_SIP_TAG_SIZE], callid[40];
	char ruri[96], sent_by[32], contact[64];
	cv_sip_branch_new(branch);
	cv_sip_tag_new(tag);
	cv_random_token(callid, 24);
	snprintf(ruri, sizeof(ruri), "sip:%s@127.0.0.1:%d", P.user,
		 ntohs(P.peer.remote.in.sin_port));
	snprintf(sent_by, sizeof(sent_by), "127.0.0.1:%d", P.local_port);
	snprintf(contact, sizeof(contact), "<sip:peer@127.0.0.1:%d>", P.local_port);
	struct cv_sip_req_params rp = {
		.method = P.method,
		.ruri = cv_pl_str(ruri),
		.via = {.tp = CV_SIP_TP_UDP, .sent_by = cv_pl_str(sent_by),
			.branch = cv_pl_str(branch)},
		.from_uri = CV_PL("sip:peer@127.0.0.1"),
		.from_tag = cv_pl_str(tag),
		.to_uri = cv_pl_str(ruri),
		.call_id = cv_pl_str(callid),
		.cseq = 1,
		.contact = cv_pl_str(contact),
	};
	struct cv_buf b;
	cv_buf_init(&b, 65535);
	int err = cv_sip_req_print(&b, &rp);
	struct cv_txn_client_params cp = {.buf = b.data, .len = b.len,
					  .dst = &P.peer};
	if (!err && !b.err)
		err = cv_txn_client_create(&P.cur, P.l, &cp);
	cv_buf_free(&b);
	if (err) {
		fprintf(stderr, "client create: %s\n", cv_strerror(err));
		P.remaining = 0;
		uv_timer_start(&P.next, start_next, 0, 0);
	}
}

static void on_signal(uv_signal_t *s, int sig)
{
	(void)s;
	(void)sig;
	print_stats();
	uv_stop(P.loop);
}

int main(int argc, char **argv)
{
	int port = 0;
	if (argc > 1 && strcmp(argv[1], "uac") == 0) {
		if (argc < 6) {
			fprintf(stderr, "usage: txn_peer uac PORT COUNT METHOD USER\n");
			return 2;
		}
		P.uac = true;
		uv_ip4_addr("127.0.0.1", atoi(argv[2]), &P.peer.remote.in);
		P.remaining = (unsigned)atoi(argv[3]);
		P.method = cv_sip_method_from(cv_pl_str(argv[4]));
		P.user = argv[5];
	} else if (argc > 1) {
		port = atoi(argv[1]);
	}
	P.loop = uv_default_loop();
	struct sockaddr_in sa;
	uv_ip4_addr("127.0.0.1", port, &sa);
	if (uv_udp_init(P.loop, &P.udp) ||
	    uv_udp_bind(&P.udp, (const struct sockaddr *)&sa, 0)) {
		fprintf(stderr, "bind 127.0.0.1:%d failed\n", port);
		return 1;
	}
	struct sockaddr_storage ss;
	int len = sizeof(ss);
	uv_udp_getsockname(&P.udp, (struct sockaddr *)&ss, &len);
	port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
	P.local_port = port;
	snprintf(P.contact, sizeof(P.contact), "Contact: <sip:peer@127.0.0.1:%d>\r\n",
		 port);
	if (cv_wheel_create(&P.w, P.loop, 1000))
		return 1;
	struct cv_txn_params p;
	cv_txn_params_init(&p);
	p.send = peer_send;
	p.h = &handlers;
	p.wheel = P.w;
	if (cv_txn_layer_create(&P.l, &p))
		return 1;
	uv_udp_recv_start(&P.udp, alloc_cb, recv_cb);
	uv_signal_init(P.loop, &P.sigterm);
	uv_signal_start(&P.sigterm, on_signal, SIGTERM);
	uv_signal_init(P.loop, &P.sigint);
	uv_signal_start(&P.sigint, on_signal, SIGINT);
	printf("port=%d\n", port);
	fflush(stdout);
	uv_timer_init(P.loop, &P.next);
	if (P.uac)
		uv_timer_start(&P.next, start_next, 0, 0);
	uv_run(P.loop, UV_RUN_DEFAULT);
	if (P.cur)
		cv_txn_release(P.cur);
	for (unsigned i = 0; i < MAX_CALLS; i++)
		if (P.calls[i].used)
			call_end(&P.calls[i]);
	cv_txn_layer_destroy(P.l);
	cv_wheel_destroy(P.w);
	uv_close((uv_handle_t *)&P.udp, NULL);
	uv_close((uv_handle_t *)&P.sigterm, NULL);
	uv_close((uv_handle_t *)&P.sigint, NULL);
	uv_close((uv_handle_t *)&P.next, NULL);
	uv_run(P.loop, UV_RUN_DEFAULT);
	uv_loop_close(P.loop);
	return 0;
}
