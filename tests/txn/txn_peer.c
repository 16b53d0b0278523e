/* txn_peer: the transaction layer over the real transport (cv_rt runtime
 * with one worker + cv_tp: recvmmsg/sendmmsg UDP, TCP connections, the
 * §18.2.2 response routing), as a UAS or UAC for SIPp scenarios
 * (tests/txn/scenarios) and for bench/txn/cpu_vs_kamailio.sh. The glue
 * (recv -> parse -> cv_txn_recv; send callback -> cv_tp_send_resp /
 * cv_tp_send) is what docs/txn.md "Wiring" describes.
 *
 *   txn_peer [-t udp|tcp] [PORT]
 *                      server on 127.0.0.1:PORT (0: any); prints "port=N"
 *                      when ready, stats on SIGTERM/SIGINT as key=value.
 *   txn_peer [-t udp|tcp] uac PEER_PORT COUNT METHOD USER
 *                      client mode: COUNT requests, one after the other,
 *                      to 127.0.0.1:PEER_PORT (a SIPp UAS); ACKs 2xx like a
 *                      UAC core (RFC 3261 §13.2.2.4); prints the stats and
 *                      exits 1 s after the last final response.
 *
 * UAS behaviour by Request-URI user: "busy" 486; "slow" 200 after 1 s
 * (auto 100 at 200 ms); "ring" 180 and wait (CANCEL -> 487); anything else
 * 180 + 200. Over UDP the UAS core retransmits its 2xx until the ACK
 * (RFC 3261 §13.3.1.4, RFC 6026: not the transaction's job); over TCP it
 * does not. Other methods: 200. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cvoip/dialog.h"
#include "cvoip/transport.h"
#include "cvoip/txn.h"

#define MAX_CALLS 256

struct call {
	struct cv_txn *t;  /* INVITE server txn (TU reference) */
	struct cv_tmr tmr; /* 2xx retransmission or delayed answer */
	uint32_t ivl_ms;
	bool answered; /* 2xx sent */
	bool used;
};

/* Everything below is touched only by the one worker (and by main before
 * the runtime starts / after it stopped). */
static struct {
	struct cv_rt *rt;
	struct cv_tp *tp;
	struct cv_worker *wk;
	enum cv_tp_kind kind;
	struct cv_wheel *w;
	struct cv_txn_layer *l;
	struct call calls[MAX_CALLS];
	char contact[96];
	uint64_t ok_retx, acks, cancels, parse_errors;
	/* client mode */
	bool uac;
	struct cv_txn_addr peer;
	unsigned remaining;
	enum cv_sip_method method;
	const char *user;
	struct cv_txn *cur;
	struct cv_tmr next;
	uint64_t finals, acks_sent, timeouts;
} P;

/* A request that waited for its connection: a late failure (refused) ends
 * the client transaction now with a local 503 (§17.1.4). */
static void request_sent(int err, void *arg)
{
	struct cv_txn *t = arg;
	if (err)
		cv_txn_transport_error(t, err);
	cv_mem_unref(t);
}

static int peer_send(const struct cv_txn_out *o, bool *reliable, void *arg)
{
	(void)arg;
	const struct cv_txn_addr *d = o->dst;
	*reliable = cv_tp_kind_is_stream((enum cv_tp_kind)d->kind);
	if (o->response) {
		/* RFC 3261 §18.2.2 / RFC 3581 from the request's top Via */
		struct cv_tp_meta meta = {.kind = (enum cv_tp_kind)d->kind,
					  .conn = d->conn};
		cv_ua_sockaddr_to_tp(&meta.src, &d->remote);
		cv_ua_sockaddr_to_tp(&meta.local, &d->local);
		const struct cv_sip_via *v = &o->req->via;
		struct cv_tp_topvia tv = {.kind = cv_ua_tp_kind(v->tp),
					  .host = v->host,
					  .port = v->port,
					  .received = v->received,
					  .maddr = v->maddr,
					  .rport = v->rport_present};
		uint32_t rp = 0;
		if (v->rport.l && cv_pl_u32(v->rport, &rp) == 0 && rp <= 65535)
			tv.rport_value = (uint16_t)rp;
		struct cv_tp_resp_route r;
		int err = cv_tp_resp_route(&meta, &tv, &r);
		if (err || r.how == CV_TP_RESP_RESOLVE) {
			memset(&r, 0, sizeof(r));
			r.how = meta.conn ? CV_TP_RESP_CONN : CV_TP_RESP_ADDR;
			r.kind = meta.kind;
			r.conn = meta.conn;
			r.addr = meta.src;
		}
		return cv_tp_send_resp(P.tp, P.wk, &r, o->buf, o->len);
	}
	struct cv_tp_send_params sp = {.conn = d->conn,
				       .kind = (enum cv_tp_kind)d->kind};
	cv_ua_sockaddr_to_tp(&sp.dst, &d->remote);
	if (o->txn && *reliable) {
		sp.done = request_sent;
		sp.arg = cv_mem_ref(o->txn);
	}
	int err = cv_tp_send(P.tp, P.wk, &sp, o->buf, o->len);
	if (err && sp.arg)
		cv_mem_unref(
			sp.arg); /* done is not called on an immediate error */
	return err;
}

static void conn_ref(void *c)
{
	cv_tp_conn_ref(c);
}
static void conn_unref(void *c)
{
	cv_tp_conn_unref(c);
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
	/* Over a reliable transport the 2xx is not retransmitted (like the
	 * dialog layer and Kamailio tm): the call waits for the ACK until
	 * Timer L ends the transaction (on_ended). */
	if (cv_txn_addr(c->t)->reliable)
		return;
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

static void start_next(struct cv_tmr *tm, void *arg);

/* The sent-by of our requests: the listener of our transport. */
static int sent_by(char *out, size_t size, enum cv_sip_transport *tp)
{
	struct cv_tp_via via;
	struct cv_tp_via_params vp = {.kind = P.kind};
	cv_ua_sockaddr_to_tp(&vp.dst, &P.peer.remote);
	int err = cv_tp_via_for(P.tp, &vp, &via);
	if (err)
		return err;
	snprintf(out, size, "%s:%u", via.host, via.port);
	*tp = P.kind == CV_TP_TCP ? CV_SIP_TP_TCP : CV_SIP_TP_UDP;
	return 0;
}

/* UAC core: the ACK for a 2xx is its own transaction-less request. */
static void ack_2xx(const struct cv_sip_msg *resp)
{
	const struct cv_sip_msg *req = cv_txn_request(P.cur);
	const struct cv_sip_hdr *from = cv_sip_msg_hdr(req, CV_SIP_HDR_FROM);
	const struct cv_sip_hdr *to = cv_sip_msg_hdr(resp, CV_SIP_HDR_TO);
	char branch[CV_SIP_BRANCH_SIZE], sb[300];
	enum cv_sip_transport stp;
	if (sent_by(sb, sizeof(sb), &stp))
		return;
	cv_sip_branch_new(branch);
	struct cv_buf b;
	cv_buf_init(&b, 4096);
	cv_buf_printf(&b,
		      "ACK " CV_PL_FMT " SIP/2.0\r\n"
		      "Via: SIP/2.0/%s %s;branch=%s\r\n"
		      "Max-Forwards: 70\r\nFrom: " CV_PL_FMT
		      "\r\nTo: " CV_PL_FMT "\r\nCall-ID: " CV_PL_FMT
		      "\r\nCSeq: %u ACK\r\n"
		      "Content-Length: 0\r\n\r\n",
		      CV_PL_ARG(req->ruri), cv_tp_kind_name(P.kind), sb, branch,
		      CV_PL_ARG(from->value), CV_PL_ARG(to->value),
		      CV_PL_ARG(req->call_id), req->cseq.num);
	if (!b.err &&
	    cv_txn_send_stateless(P.l, &P.peer, req, b.data, b.len) == 0)
		P.acks_sent++;
	cv_buf_free(&b);
}

static void on_response(struct cv_txn *t, const struct cv_txn_resp *r,
			void *arg)
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
	/* the next request (or the end) 1 s later: 2xx retransmissions
	 * still find this transaction in Accepted and get their ACK, and the
	 * copies the scenarios send 500 ms after the final are counted */
	cv_tmr_start(P.w, &P.next, 1000 * 1000, start_next, NULL);
}

static const struct cv_txn_handlers handlers = {
	.request = on_request,
	.response = on_response,
	.ack = on_ack,
	.cancel = on_cancel,
	.failed = on_failed,
	.terminated = on_ended,
};

static void on_recv(struct cv_worker *w, const struct cv_tp_rx *rx, void *arg)
{
	(void)w;
	(void)arg;
	struct cv_sip_msg *m = NULL;
	struct cv_sip_verdict v;
	if (!P.l)
		return;
	if (cv_sip_msg_parse(&m, rx->buf, rx->len, NULL, &v)) {
		P.parse_errors++;
		return;
	}
	struct cv_txn_addr src = {.conn = rx->meta.conn,
				  .kind = (uint8_t)rx->meta.kind,
				  .reliable =
					  cv_tp_kind_is_stream(rx->meta.kind)};
	cv_ua_sockaddr_from_tp(&src.remote, &rx->meta.src);
	cv_ua_sockaddr_from_tp(&src.local, &rx->meta.local);
	(void)cv_txn_recv(P.l, m, &src);
	cv_mem_unref(m);
}

static const struct cv_tp_handler tp_handler = {.recv = on_recv};

static void print_stats(void)
{
	struct cv_txn_stats st;
	cv_txn_stats_read(P.l, &st);
	for (int m = 1; m < CV_SIP_METHOD_COUNT; m++) {
		const char *name = cv_sip_method_name((enum cv_sip_method)m);
		if (!st.created[m] && !st.retransmitted[m])
			continue;
		printf("created.%s=%llu\n", name,
		       (unsigned long long)st.created[m]);
		printf("completed.%s=%llu\n", name,
		       (unsigned long long)st.completed[m]);
		printf("retransmitted.%s=%llu\n", name,
		       (unsigned long long)st.retransmitted[m]);
		printf("timed_out.%s=%llu\n", name,
		       (unsigned long long)st.timed_out[m]);
	}
#define S(f) printf(#f "=%llu\n", (unsigned long long)st.f)
	S(rx_retransmissions);
	S(rx_resp_absorbed);
	S(stray_responses);
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

static void start_next(struct cv_tmr *tm, void *arg)
{
	(void)tm;
	(void)arg;
	if (P.cur) {
		cv_txn_release(P.cur);
		P.cur = NULL;
	}
	if (!P.remaining) {
		cv_rt_stop(P.rt); /* on_stop prints the stats */
		return;
	}
	P.remaining--;
	char branch[CV_SIP_BRANCH_SIZE], tag[CV_SIP_TAG_SIZE], callid[40];
	char ruri[128], sb[300], contact[400];
	enum cv_sip_transport stp = CV_SIP_TP_UDP;
	cv_sip_branch_new(branch);
	cv_sip_tag_new(tag);
	cv_random_token(callid, 24);
	snprintf(ruri, sizeof(ruri), "sip:%s@127.0.0.1:%d%s", P.user,
		 ntohs(P.peer.remote.in.sin_port),
		 P.kind == CV_TP_TCP ? ";transport=tcp" : "");
	int err = sent_by(sb, sizeof(sb), &stp);
	snprintf(contact, sizeof(contact), "<sip:peer@%s%s>", sb,
		 P.kind == CV_TP_TCP ? ";transport=tcp" : "");
	struct cv_sip_req_params rp = {
		.method = P.method,
		.ruri = cv_pl_str(ruri),
		.via = {.tp = stp,
			.sent_by = cv_pl_str(sb),
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
	if (!err)
		err = cv_sip_req_print(&b, &rp);
	struct cv_txn_client_params cp = {
		.buf = b.data, .len = b.len, .dst = &P.peer};
	if (!err && !b.err)
		err = cv_txn_client_create(&P.cur, P.l, &cp);
	cv_buf_free(&b);
	if (err) {
		fprintf(stderr, "client create: %s\n", cv_strerror(err));
		P.remaining = 0;
		cv_tmr_start(P.w, &P.next, 1000, start_next, NULL);
	}
}

static void on_start(struct cv_worker *w, void *arg)
{
	(void)arg;
	P.wk = w;
	P.w = cv_worker_wheel(w);
	struct cv_txn_params p;
	cv_txn_params_init(&p);
	p.send = peer_send;
	p.h = &handlers;
	p.wheel = P.w;
	p.conn_ref = conn_ref;
	p.conn_unref = conn_unref;
	int err = cv_txn_layer_create(&P.l, &p);
	if (!err)
		err = cv_tp_worker_start(P.tp, w);
	if (err) {
		cv_rt_fail(cv_worker_rt(w), err);
		return;
	}
	cv_tmr_init(&P.next);
	if (P.uac)
		cv_tmr_start(P.w, &P.next, 1000, start_next, NULL);
}

static void on_stop(struct cv_worker *w, void *arg)
{
	(void)arg;
	if (P.l) {
		print_stats();
		cv_tmr_cancel(&P.next);
		if (P.cur)
			cv_txn_release(P.cur);
		P.cur = NULL;
		for (unsigned i = 0; i < MAX_CALLS; i++)
			if (P.calls[i].used)
				call_end(&P.calls[i]);
		cv_txn_layer_destroy(P.l);
		P.l = NULL;
	}
	cv_tp_worker_stop(P.tp, w);
}

int main(int argc, char **argv)
{
	int port = 0, o;
	P.kind = CV_TP_UDP;
	while ((o = getopt(argc, argv, "+t:")) != -1) {
		if (o != 't' || cv_tp_kind_parse(cv_pl_str(optarg), &P.kind) ||
		    (P.kind != CV_TP_UDP && P.kind != CV_TP_TCP)) {
			fprintf(stderr, "usage: txn_peer [-t udp|tcp] [PORT | "
					"uac ...]\n");
			return 2;
		}
	}
	argc -= optind - 1;
	argv += optind - 1;
	if (argc > 1 && strcmp(argv[1], "uac") == 0) {
		if (argc < 6) {
			fprintf(stderr, "usage: txn_peer [-t udp|tcp] uac PORT "
					"COUNT METHOD USER\n");
			return 2;
		}
		P.uac = true;
		uv_ip4_addr("127.0.0.1", atoi(argv[2]), &P.peer.remote.in);
		P.peer.kind = (uint8_t)P.kind;
		P.peer.reliable = cv_tp_kind_is_stream(P.kind);
		P.remaining = (unsigned)atoi(argv[3]);
		P.method = cv_sip_method_from(cv_pl_str(argv[4]));
		P.user = argv[5];
	} else if (argc > 1) {
		port = atoi(argv[1]);
	}
	char spec_s[64];
	snprintf(spec_s, sizeof(spec_s), "%s:127.0.0.1:%d",
		 P.kind == CV_TP_TCP ? "tcp" : "udp", port);
	struct cv_tp_spec spec;
	if (cv_tp_spec_parse(spec_s, &spec))
		return 2;
	struct cv_rt_params rp = {.workers = 1,
				  .on_start = on_start,
				  .on_stop = on_stop,
				  .handle_signals = true};
	int err = cv_rt_create(&P.rt, &rp);
	if (err) {
		fprintf(stderr, "rt: %s\n", cv_strerror(err));
		return 1;
	}
	struct cv_tp_params tpp = {
		.specs = &spec, .nspecs = 1, .h = &tp_handler};
	err = cv_tp_create(&P.tp, P.rt, &tpp);
	if (err) {
		fprintf(stderr, "transport %s: %s\n", spec_s, cv_strerror(err));
		cv_rt_destroy(P.rt);
		return 1;
	}
	struct cv_tp_addr la;
	enum cv_tp_kind lk;
	cv_tp_listener_addr(P.tp, 0, &lk, &la);
	port = cv_tp_addr_port(&la);
	snprintf(P.contact, sizeof(P.contact),
		 "Contact: <sip:peer@127.0.0.1:%d%s>\r\n", port,
		 P.kind == CV_TP_TCP ? ";transport=tcp" : "");
	err = cv_rt_start(P.rt);
	if (err) {
		fprintf(stderr, "start: %s\n", cv_strerror(err));
		cv_tp_destroy(P.tp);
		cv_rt_destroy(P.rt);
		return 1;
	}
	printf("port=%d\n", port);
	fflush(stdout);
	err = cv_rt_wait(P.rt);
	cv_tp_destroy(P.tp);
	cv_rt_destroy(P.rt);
	return err ? 1 : 0;
}
