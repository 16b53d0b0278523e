/* txn: matching (RFC 3261 §17.1.3, §17.2.3 with the RFC 2543 fallback),
 * bad input (storms, strays, CSeq mismatch, reused branches, limits),
 * merged requests (§8.2.2.2) and proxy loop detection (§16.3). */
#include "txn_harness.h"

static struct cv_txn_stats stats(void)
{
	struct cv_txn_stats st;
	cv_txn_stats_read(H.l, &st);
	return st;
}

static void test_server_key_sentby_method(void **state)
{
	(void)state;
	rx(mkreq_full("INVITE", "10.0.0.1:5060", "z9hG4bKk1", 1, "INVITE", "",
		      "c1", "sip:bob@127.0.0.1"),
	   &peer_udp);
	/* same branch, other sent-by: another transaction */
	rx(mkreq_full("INVITE", "10.0.0.2:5060", "z9hG4bKk1", 1, "INVITE", "",
		      "c1", "sip:bob@127.0.0.1"),
	   &peer_udp);
	/* same branch and sent-by, other port: another transaction */
	rx(mkreq_full("INVITE", "10.0.0.1:5062", "z9hG4bKk1", 1, "INVITE", "",
		      "c1", "sip:bob@127.0.0.1"),
	   &peer_udp);
	/* same branch, other method: another transaction */
	rx(mkreq_full("BYE", "10.0.0.1:5060", "z9hG4bKk1", 1, "BYE", "", "c1",
		      "sip:bob@127.0.0.1"),
	   &peer_udp);
	assert_int_equal(count_ev(EV_REQUEST), 4);
	/* host compares case-insensitively */
	rx(mkreq_full("INVITE", "Host.Example:5060", "z9hG4bKk2", 1, "INVITE",
		      "", "c2", "sip:bob@127.0.0.1"),
	   &peer_udp);
	rx(mkreq_full("INVITE", "host.example:5060", "z9hG4bKk2", 1, "INVITE",
		      "", "c2", "sip:bob@127.0.0.1"),
	   &peer_udp);
	assert_int_equal(count_ev(EV_REQUEST), 5);
	assert_int_equal(stats().rx_retransmissions, 1);
	assert_true(
		cv_txn_is_merged(H.srv[1])); /* same From tag/Call-ID/CSeq */
}

static void test_client_response_matching(void **state)
{
	(void)state;
	struct cv_txn *t = client("OPTIONS", "z9hG4bKm1", &peer_udp);
	struct cv_sip_msg *req = cv_mem_ref(cv_txn_request(t));
	/* branch right, CSeq method wrong: no match (§17.1.3) */
	rx(parse("SIP/2.0 200 OK\r\nVia: %.*s\r\nFrom: <sip:a@b>;tag=atag\r\n"
		 "To: <sip:b@c>;tag=x\r\nCall-ID: %.*s\r\nCSeq: 7 INVITE\r\n"
		 "Content-Length: 0\r\n\r\n",
		 CV_PL_ARG(req->via.value), CV_PL_ARG(req->call_id)),
	   &peer_udp);
	/* unknown branch; no cookie */
	rx(parse("SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP "
		 "127.0.0.1:5070;branch=z9hG4bKother\r\n"
		 "From: <sip:a@b>;tag=atag\r\nTo: <sip:b@c>;tag=x\r\nCall-ID: "
		 "x\r\n"
		 "CSeq: 7 OPTIONS\r\nContent-Length: 0\r\n\r\n"),
	   &peer_udp);
	rx(parse("SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP "
		 "127.0.0.1:5070;branch=1234\r\n"
		 "From: <sip:a@b>;tag=atag\r\nTo: <sip:b@c>;tag=x\r\nCall-ID: "
		 "x\r\n"
		 "CSeq: 7 OPTIONS\r\nContent-Length: 0\r\n\r\n"),
	   &peer_udp);
	assert_int_equal(count_ev(EV_RESPONSE), 0);
	assert_int_equal(stats().stray_responses, 3);
	rx(mkresp(req, 200, "x"), &peer_udp);
	assert_int_equal(count_ev(EV_RESPONSE), 1);
	cv_mem_unref(req);
	cv_txn_release(t);
}

static void test_client_create_refuses(void **state)
{
	(void)state;
	struct cv_txn *t = NULL;
	char buf[1024];
	int n = snprintf(buf, sizeof(buf), CLIENT_REQ_FMT, "ACK", "z9hG4bKa",
			 "a", "ACK");
	struct cv_txn_client_params p = {
		.buf = buf, .len = (size_t)n, .dst = &peer_udp};
	assert_int_equal(cv_txn_client_create(&t, H.l, &p), -EINVAL);
	n = snprintf(buf, sizeof(buf), CLIENT_REQ_FMT, "OPTIONS", "nocookie",
		     "a", "OPTIONS");
	p.len = (size_t)n;
	assert_int_equal(cv_txn_client_create(&t, H.l, &p), -EINVAL);
	p.len = 5; /* garbage */
	assert_int_not_equal(cv_txn_client_create(&t, H.l, &p), 0);
	assert_null(t);
	assert_int_equal(cv_txn_count(H.l), 0);
}

static void test_rfc2543_fallback(void **state)
{
	(void)state;
	/* no branch at all */
	rx(mkreq_full("INVITE", "10.0.0.5:5060", "", 5, "INVITE", "", "old1",
		      "sip:bob@127.0.0.1"),
	   &peer_udp);
	assert_int_equal(count_ev(EV_REQUEST), 1);
	struct cv_txn *t = last_ev(EV_REQUEST)->t;
	/* retransmission: same everything */
	rx(mkreq_full("INVITE", "10.0.0.5:5060", "", 5, "INVITE", "", "old1",
		      "sip:bob@127.0.0.1"),
	   &peer_udp);
	assert_int_equal(count_ev(EV_REQUEST), 1);
	/* other Request-URI: another transaction */
	rx(mkreq_full("INVITE", "10.0.0.5:5060", "", 5, "INVITE", "", "old1",
		      "sip:carol@127.0.0.1"),
	   &peer_udp);
	assert_int_equal(count_ev(EV_REQUEST), 2);
	/* CANCEL (2543): matches the INVITE by the same fields */
	rx(mkreq_full("CANCEL", "10.0.0.5:5060", "", 5, "CANCEL", "", "old1",
		      "sip:bob@127.0.0.1"),
	   &peer_udp);
	assert_int_equal(count_ev(EV_CANCEL), 1);
	assert_ptr_equal(last_ev(EV_CANCEL)->t, t);
	struct cv_txn_resp_params rp = {.to_tag = CV_PL("t2543")};
	assert_int_equal(cv_txn_respond(t, 487, &rp), 0);
	/* ACK with another To tag: not for this transaction */
	rx(mkreq_full("ACK", "10.0.0.5:5060", "", 5, "ACK", "wrong", "old1",
		      "sip:bob@127.0.0.1"),
	   &peer_udp);
	assert_int_equal(count_ev(EV_ACK), 1);
	assert_int_equal(cv_txn_state(t), CV_TXN_COMPLETED);
	/* ACK with the response's To tag: Confirmed */
	rx(mkreq_full("ACK", "10.0.0.5:5060", "", 5, "ACK", "t2543", "old1",
		      "sip:bob@127.0.0.1"),
	   &peer_udp);
	assert_int_equal(cv_txn_state(t), CV_TXN_CONFIRMED);
	assert_int_equal(count_ev(EV_ACK), 1);
}

static void test_cseq_method_mismatch(void **state)
{
	(void)state;
	/* The parser rejects this already (400); the layer checks again for
	 * messages built or edited in process. */
	struct cv_sip_msg *m =
		mkreq_full("INVITE", "10.0.0.1:5060", "z9hG4bKc1", 1, "INVITE",
			   "", "c", "sip:bob@127.0.0.1");
	m->cseq.method = CV_SIP_BYE;
	rx(m, &peer_udp);
	assert_int_equal(count_ev(EV_REQUEST), 0);
	assert_int_equal(H.ns, 1);
	assert_int_equal(H.s[0].m->status, 400);
	assert_null(H.s[0].txn);
	assert_int_not_equal(H.s[0].m->to.tag.l, 0);
	/* an ACK is never answered */
	m = mkreq_full("ACK", "10.0.0.1:5060", "z9hG4bKc1", 1, "ACK", "", "c",
		       "sip:bob@127.0.0.1");
	m->cseq.method = CV_SIP_INVITE;
	rx(m, &peer_udp);
	assert_int_equal(H.ns, 1);
	assert_int_equal(stats().cseq_mismatch, 2);
	assert_int_equal(cv_txn_count(H.l), 0);
}

static void test_branch_reused(void **state)
{
	(void)state;
	rx(mkreq_full("OPTIONS", "10.0.0.1:5060", "z9hG4bKr", 1, "OPTIONS", "",
		      "callA", "sip:bob@127.0.0.1"),
	   &peer_udp);
	rx(mkreq_full("OPTIONS", "10.0.0.1:5060", "z9hG4bKr", 1, "OPTIONS", "",
		      "callB", "sip:bob@127.0.0.1"),
	   &peer_udp);
	rx(mkreq_full("OPTIONS", "10.0.0.1:5060", "z9hG4bKr", 2, "OPTIONS", "",
		      "callA", "sip:bob@127.0.0.1"),
	   &peer_udp);
	assert_int_equal(count_ev(EV_REQUEST), 1);
	assert_int_equal(stats().branch_reused, 2);
	assert_int_equal(stats().rx_retransmissions, 0);
	assert_int_equal(H.ns, 0);
}

static void test_stray_ack_and_cancel(void **state)
{
	(void)state;
	rx(mkreq("ACK", "z9hG4bKnothing", 1), &peer_udp);
	assert_int_equal(count_ev(EV_ACK), 1);
	assert_null(last_ev(EV_ACK)->t);
	assert_int_equal(stats().stray_acks, 1);
	assert_int_equal(H.ns, 0);
	rx(mkreq("CANCEL", "z9hG4bKnothing", 1), &peer_udp);
	assert_int_equal(H.s[0].m->status, 481);
	/* the CANCEL's transaction answers its retransmission */
	rx(mkreq("CANCEL", "z9hG4bKnothing", 1), &peer_udp);
	assert_int_equal(H.ns, 2);
	assert_int_equal(H.s[1].m->status, 481);
	assert_int_equal(stats().cancels_481, 1);
	/* ACK before any final response: dropped, counted */
	rx(mkreq("INVITE", "z9hG4bKearly", 1), &peer_udp);
	rx(mkreq("ACK", "z9hG4bKearly", 1), &peer_udp);
	assert_int_equal(stats().acks_dropped, 1);
	assert_int_equal(count_ev(EV_ACK), 1);
}

static void test_retransmission_storm(void **state)
{
	(void)state;
	rx(mkreq("OPTIONS", "z9hG4bKstorm", 9), &peer_udp);
	assert_int_equal(cv_txn_respond(last_ev(EV_REQUEST)->t, 200, NULL), 0);
	for (int i = 0; i < 400; i++) {
		rx(mkreq("OPTIONS", "z9hG4bKstorm", 9), &peer_udp);
		if (H.ns > 300)
			clear_sent();
	}
	struct cv_txn_stats st = stats();
	assert_int_equal(st.rx_retransmissions, 400);
	assert_int_equal(st.retransmitted[CV_SIP_OPTIONS], 400);
	assert_int_equal(count_ev(EV_REQUEST), 1);
	assert_int_equal(cv_txn_count(H.l), 1);
	run_to(40000);
	assert_int_equal(cv_txn_count(H.l), 0);
	assert_int_equal(cv_wheel_count(H.w), 0);
}

static void test_limits(void **state)
{
	(void)state;
	teardown(NULL);
	harness_start(200, false, 2);
	rx(mkreq("OPTIONS", "z9hG4bKl1", 1), &peer_udp);
	rx(mkreq("OPTIONS", "z9hG4bKl2", 1), &peer_udp);
	rx(mkreq("OPTIONS", "z9hG4bKl3", 1), &peer_udp);
	assert_int_equal(count_ev(EV_REQUEST), 2);
	assert_int_equal(H.ns, 1);
	assert_int_equal(H.s[0].m->status, 503);
	assert_non_null(cv_sip_msg_hdr(H.s[0].m, CV_SIP_HDR_RETRY_AFTER));
	char buf[1024];
	int n = snprintf(buf, sizeof(buf), CLIENT_REQ_FMT, "OPTIONS",
			 "z9hG4bKl4", "a", "OPTIONS");
	struct cv_txn *t = NULL;
	struct cv_txn_client_params p = {
		.buf = buf, .len = (size_t)n, .dst = &peer_udp};
	assert_int_equal(cv_txn_client_create(&t, H.l, &p), CV_EFULL);
	assert_int_equal(stats().limit_rejected, 2);
}

static void test_no_request_handler_501(void **state)
{
	(void)state;
	teardown(NULL);
	memset(&H, 0, sizeof(H));
	H.live0 = cv_mem_live();
	cv_clock_fake_enable(T0_US);
	assert_int_equal(cv_wheel_create(&H.w, NULL, 1000), 0);
	static const struct cv_txn_handlers none = {0};
	struct cv_txn_params p;
	cv_txn_params_init(&p);
	p.send = h_send;
	p.h = &none;
	p.wheel = H.w;
	assert_int_equal(cv_txn_layer_create(&H.l, &p), 0);
	rx(mkreq("INVITE", "z9hG4bKx", 1), &peer_udp);
	assert_int_equal(H.ns, 1);
	assert_int_equal(H.s[0].m->status, 501);
	rx(mkreq("ACK", "z9hG4bKx", 1), &peer_udp); /* absorbed */
	rx(mkreq("ACK", "z9hG4bKy", 1), &peer_udp); /* stray, no handler */
	run_to(40000);
	assert_int_equal(cv_txn_count(H.l), 0);
}

static void test_many_grow_and_expire(void **state)
{
	(void)state;
	H.release_in_cb = true;
	H.answer = 200;
	char branch[32];
	for (unsigned i = 0; i < 5000; i++) {
		snprintf(branch, sizeof(branch), "z9hG4bKg%u", i);
		rx(mkreq_full("MESSAGE", "10.0.0.1:5060", branch, i + 1,
			      "MESSAGE", "", "grow", "sip:bob@127.0.0.1"),
		   &peer_udp);
		if (H.ns > 400)
			clear_sent();
		H.ne = 0; /* released in the handler: nothing to keep */
	}
	assert_int_equal(cv_txn_count(H.l), 5000);
	clear_sent();
	/* every one still matches after the tables grew */
	for (unsigned i = 0; i < 5000; i += 97) {
		snprintf(branch, sizeof(branch), "z9hG4bKg%u", i);
		rx(mkreq_full("MESSAGE", "10.0.0.1:5060", branch, i + 1,
			      "MESSAGE", "", "grow", "sip:bob@127.0.0.1"),
		   &peer_udp);
	}
	assert_int_equal(stats().rx_retransmissions, 52);
	assert_int_equal(H.ns, 52);
	assert_int_equal(count_ev(EV_REQUEST), 0); /* no new transaction */
	run_to(40000);
	assert_int_equal(cv_txn_count(H.l), 0);
	assert_int_equal(cv_wheel_count(H.w), 0);
}

static void test_respond_raw_and_stateless(void **state)
{
	(void)state;
	rx(mkreq("OPTIONS", "z9hG4bKraw", 1), &peer_udp);
	struct cv_txn *t = last_ev(EV_REQUEST)->t;
	const char *raw =
		"SIP/2.0 200 OK\r\n"
		"Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKraw\r\n"
		"From: <sip:alice@127.0.0.1>;tag=ftag1\r\n"
		"To: <sip:bob@127.0.0.1>;tag=r\r\nCall-ID: call1@10.0.0.1\r\n"
		"CSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n";
	assert_int_equal(cv_txn_respond_raw(t, 200, raw, strlen(raw)), 0);
	assert_int_equal(cv_txn_state(t), CV_TXN_COMPLETED);
	assert_int_equal(H.s[0].m->status, 200);
	rx(mkreq("OPTIONS", "z9hG4bKraw", 1), &peer_udp);
	assert_int_equal(H.ns, 2);
	assert_int_equal(H.s[1].m->len, strlen(raw));
	struct cv_sip_msg *req = mkreq("INFO", "z9hG4bKsl", 1);
	assert_int_equal(
		cv_txn_reply_stateless(H.l, req, &peer_udp, 488, NULL,
				       CV_PL("Warning: 399 x \"y\"\r\n")),
		0);
	assert_int_equal(H.s[2].m->status, 488);
	assert_non_null(cv_sip_msg_hdr(H.s[2].m, CV_SIP_HDR_WARNING));
	assert_int_equal(
		cv_txn_send_stateless(H.l, &peer_udp, NULL, req->buf, req->len),
		0);
	assert_int_equal(H.s[3].m->method, CV_SIP_INFO);
	cv_mem_unref(req);
	req = mkreq("ACK", "z9hG4bKsl", 1);
	assert_int_equal(cv_txn_reply_stateless(H.l, req, &peer_udp, 400, NULL,
						(struct cv_pl)CV_PL_INIT),
			 -EINVAL);
	cv_mem_unref(req);
	assert_int_equal(cv_txn_count(H.l), 1);
}

static void test_merged(void **state)
{
	(void)state;
	rx(mkreq_full("INVITE", "10.0.0.1:5060", "z9hG4bKpath1", 3, "INVITE",
		      "", "merge", "sip:bob@127.0.0.1"),
	   &peer_udp);
	rx(mkreq_full("INVITE", "10.0.0.7:5060", "z9hG4bKpath2", 3, "INVITE",
		      "", "merge", "sip:bob@127.0.0.1"),
	   &peer_udp);
	assert_int_equal(H.nsrv, 2);
	assert_false(cv_txn_is_merged(H.srv[0]));
	assert_true(cv_txn_is_merged(H.srv[1]));
	/* another CSeq or with a To tag: not merged */
	rx(mkreq_full("INVITE", "10.0.0.7:5060", "z9hG4bKpath3", 4, "INVITE",
		      "", "merge", "sip:bob@127.0.0.1"),
	   &peer_udp);
	assert_false(cv_txn_is_merged(H.srv[2]));
	rx(mkreq_full("INVITE", "10.0.0.7:5060", "z9hG4bKpath4", 3, "INVITE",
		      "tt", "merge", "sip:bob@127.0.0.1"),
	   &peer_udp);
	assert_false(cv_txn_is_merged(H.srv[3]));
}

static void test_loop_detection(void **state)
{
	(void)state;
	struct cv_sip_msg *req = mkreq("INVITE", "z9hG4bKup", 1);
	char hash[CV_TXN_LOOP_HASH_SIZE];
	cv_txn_loop_hash(req, hash);
	assert_int_equal(strlen(hash), 16);
	const struct cv_pl ours[] = {CV_PL("10.9.9.9:5060"),
				     CV_PL("proxy.example")};
	assert_int_equal(cv_txn_loop_check(req, ours, 2), CV_TXN_LOOP_NONE);
	/* the same request came back through us: our Via below another */
	struct cv_sip_msg *looped =
		parse("INVITE sip:bob@127.0.0.1 SIP/2.0\r\n"
		      "Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKup\r\n"
		      "Via: SIP/2.0/UDP 10.9.9.9:5060;branch=z9hG4bK%s.3\r\n"
		      "Via: SIP/2.0/UDP 10.0.0.2:5060;branch=z9hG4bKorig\r\n"
		      "Max-Forwards: 68\r\n"
		      "From: <sip:alice@127.0.0.1>;tag=ftag1\r\n"
		      "To: <sip:bob@127.0.0.1>\r\n"
		      "Call-ID: call1@10.0.0.1\r\nCSeq: 1 INVITE\r\n"
		      "Content-Length: 0\r\n\r\n",
		      hash);
	assert_int_equal(cv_txn_loop_check(looped, ours, 2),
			 CV_TXN_LOOP_DETECTED);
	/* a spiral: the Request-URI changed since we forwarded it */
	struct cv_sip_msg *spiral =
		parse("INVITE sip:carol@127.0.0.1 SIP/2.0\r\n"
		      "Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKup\r\n"
		      "Via: SIP/2.0/UDP 10.9.9.9:5060;branch=z9hG4bK%s.3\r\n"
		      "Max-Forwards: 68\r\n"
		      "From: <sip:alice@127.0.0.1>;tag=ftag1\r\n"
		      "To: <sip:bob@127.0.0.1>\r\n"
		      "Call-ID: call1@10.0.0.1\r\nCSeq: 1 INVITE\r\n"
		      "Content-Length: 0\r\n\r\n",
		      hash);
	assert_int_equal(cv_txn_loop_check(spiral, ours, 2),
			 CV_TXN_LOOP_SPIRAL);
	assert_int_equal(cv_txn_loop_check(spiral, ours, 0), CV_TXN_LOOP_NONE);
	cv_mem_unref(req);
	cv_mem_unref(looped);
	cv_mem_unref(spiral);
}

static void test_memory_per_server_txn(void **state)
{
	(void)state;
	/* the figure docs/txn.md quotes: bytes held per live INVITE server
	 * transaction after a 180 (request, index, last response, txn) */
	int64_t b0 = cv_mem_live_bytes();
	char branch[32];
	const unsigned n = 1000;
	for (unsigned i = 0; i < n; i++) {
		snprintf(branch, sizeof(branch), "z9hG4bKmem%u", i);
		rx(mkreq_full("INVITE", "10.0.0.1:5060", branch, 1, "INVITE",
			      "", branch, "sip:bob@127.0.0.1"),
		   &peer_udp);
		struct cv_txn *t = last_ev(EV_REQUEST)->t;
		assert_int_equal(cv_txn_respond(t, 180, NULL), 0);
		H.nsrv = 0; /* keep the TU references: released below */
		if (H.ns > 400)
			clear_sent();
	}
	clear_sent();
	int64_t per = (cv_mem_live_bytes() - b0) / (int64_t)n;
	print_message("live bytes per INVITE server transaction: %lld\n",
		      (long long)per);
	assert_true(per > 200 && per < 4096);
	for (unsigned i = 0; i < H.ne; i++)
		if (H.e[i].type == EV_REQUEST) {
			cv_txn_release(H.e[i].t); /* auto 500 */
			if (H.ns > 400)
				clear_sent();
		}
	H.ne = 0;
	clear_sent();
}

static int conn_refs;
static void conn_ref(void *c)
{
	assert_ptr_equal(c, &conn_refs);
	conn_refs++;
}
static void conn_unref(void *c)
{
	assert_ptr_equal(c, &conn_refs);
	conn_refs--;
}

static void test_conn_references(void **state)
{
	(void)state;
	teardown(NULL);
	memset(&H, 0, sizeof(H));
	H.live0 = cv_mem_live();
	cv_clock_fake_enable(T0_US);
	assert_int_equal(cv_wheel_create(&H.w, NULL, 1000), 0);
	struct cv_txn_params p;
	cv_txn_params_init(&p);
	p.send = h_send;
	p.h = &handlers;
	p.wheel = H.w;
	p.conn_ref = conn_ref;
	p.conn_unref = conn_unref;
	assert_int_equal(cv_txn_layer_create(&H.l, &p), 0);
	H.reliable = true;
	struct cv_txn_addr tcp = {.reliable = true, .conn = &conn_refs};
	rx(mkreq("INVITE", "z9hG4bKconn1", 1), &tcp);
	rx(mkreq("OPTIONS", "z9hG4bKconn2", 1), &tcp);
	struct cv_txn *c = client("OPTIONS", "z9hG4bKconn3", &tcp);
	assert_int_equal(conn_refs, 3);
	assert_ptr_equal(cv_txn_addr(H.srv[0])->conn, &conn_refs);
	assert_int_equal(cv_txn_respond(H.srv[1], 200, NULL), 0);
	run_for(2); /* Timer J = 0 on a reliable transport */
	assert_int_equal(conn_refs, 2);
	cv_txn_release(c);
	cv_txn_layer_destroy(H.l); /* the rest */
	H.l = NULL;
	assert_int_equal(conn_refs, 0);
	assert_int_equal(cv_txn_layer_create(&H.l, &p), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
		T(test_server_key_sentby_method),
		T(test_client_response_matching),
		T(test_client_create_refuses),
		T(test_rfc2543_fallback),
		T(test_cseq_method_mismatch),
		T(test_branch_reused),
		T(test_stray_ack_and_cancel),
		T(test_retransmission_storm),
		T(test_limits),
		T(test_no_request_handler_501),
		T(test_many_grow_and_expire),
		T(test_respond_raw_and_stateless),
		T(test_merged),
		T(test_loop_detection),
		T(test_memory_per_server_txn),
		T(test_conn_references),
#undef T
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
