/* txn: every transition and timer of RFC 3261 Figures 5-8 and RFC 6026's
 * Accepted states, against the fake clock, with exact retransmission
 * counts and times (T1 500 ms, T2 4 s, T4 5 s, Timer D 32 s). */
#include "txn_harness.h"

/* ---- INVITE client (Figure 5, RFC 6026 Figure 5) ------------------------- */

static void test_ict_timer_a_b_udp(void **state)
{
	(void)state;
	struct cv_txn *t = client("INVITE", "z9hG4bKict1", &peer_udp);
	assert_int_equal(cv_txn_state(t), CV_TXN_CALLING);
	run_to(40000);
	uint64_t got[32];
	unsigned n = sent_times(CV_SIP_INVITE, 0, got, 32);
	/* Timer A doubles without cap until Timer B (64*T1). */
	const uint64_t want[] = {0, 500, 1500, 3500, 7500, 15500, 31500};
	assert_times(got, n, want, CV_ARRAY_SIZE(want));
	const struct ev *e = last_ev(EV_RESPONSE);
	assert_non_null(e);
	assert_int_equal(e->status, 408);
	assert_true(e->local);
	assert_int_equal(e->ms, 32000);
	assert_int_equal(count_ev(EV_TERMINATED), 1);
	assert_int_equal(cv_txn_state(t), CV_TXN_TERMINATED);
	struct cv_txn_stats st;
	cv_txn_stats_read(H.l, &st);
	assert_int_equal(st.retransmitted[CV_SIP_INVITE], 6);
	assert_int_equal(st.timed_out[CV_SIP_INVITE], 1);
	assert_int_equal(st.created[CV_SIP_INVITE], 1);
	assert_int_equal(cv_txn_count(H.l), 0);
	cv_txn_release(t);
}

static void test_ict_timer_b_reliable(void **state)
{
	(void)state;
	H.reliable = true;
	struct cv_txn *t = client("INVITE", "z9hG4bKict2", &peer_tcp);
	run_to(40000);
	uint64_t got[8];
	const uint64_t want[] = {0};
	assert_times(got, sent_times(CV_SIP_INVITE, 0, got, 8), want, 1);
	assert_int_equal(last_ev(EV_RESPONSE)->ms, 32000);
	assert_int_equal(last_ev(EV_RESPONSE)->status, 408);
	cv_txn_release(t);
}

static void test_ict_proceeding_completed_timer_d(void **state)
{
	(void)state;
	struct cv_txn *t = client("INVITE", "z9hG4bKict3", &peer_udp);
	struct cv_sip_msg *req = cv_mem_ref(cv_txn_request(t));
	run_to(700); /* one retransmission at 500 */
	rx(mkresp(req, 180, "btag"), &peer_udp);
	assert_int_equal(cv_txn_state(t), CV_TXN_PROCEEDING);
	assert_int_equal(last_ev(EV_RESPONSE)->status, 180);
	run_to(5000); /* Timers A and B stopped */
	uint64_t got[8];
	assert_int_equal(sent_times(CV_SIP_INVITE, 0, got, 8), 2);
	rx(mkresp(req, 183, "btag"), &peer_udp);
	assert_int_equal(last_ev(EV_RESPONSE)->status, 183);
	rx(mkresp(req, 486, "btag"), &peer_udp);
	assert_int_equal(cv_txn_state(t), CV_TXN_COMPLETED);
	assert_int_equal(last_ev(EV_RESPONSE)->status, 486);
	/* §17.1.1.3: the ACK */
	assert_int_equal(sent_times(CV_SIP_ACK, 0, got, 8), 1);
	const struct cv_sip_msg *ack = H.s[H.ns - 1].m;
	assert_int_equal(ack->method, CV_SIP_ACK);
	assert_true(cv_pl_eq(ack->via.branch, req->via.branch));
	assert_true(cv_pl_eq(ack->ruri, req->ruri));
	assert_true(cv_pl_eq_str(ack->to.tag, "btag"));
	assert_true(cv_pl_eq(ack->from.tag, req->from.tag));
	assert_true(cv_pl_eq(ack->call_id, req->call_id));
	assert_int_equal(ack->cseq.num, 7);
	assert_int_equal(ack->cseq.method, CV_SIP_ACK);
	assert_int_equal(ack->via_count, 1);
	assert_non_null(cv_sip_msg_hdr(ack, CV_SIP_HDR_ROUTE));
	/* A retransmitted final: ACK again, nothing to the TU. */
	unsigned nresp = count_ev(EV_RESPONSE);
	rx(mkresp(req, 486, "btag"), &peer_udp);
	assert_int_equal(sent_times(CV_SIP_ACK, 0, got, 8), 2);
	assert_int_equal(count_ev(EV_RESPONSE), nresp);
	/* Timer D = 32 s after the final (at 5000). */
	run_to(36999);
	assert_int_equal(cv_txn_state(t), CV_TXN_COMPLETED);
	run_to(37000);
	assert_int_equal(cv_txn_state(t), CV_TXN_TERMINATED);
	assert_int_equal(last_ev(EV_TERMINATED)->ms, 37000);
	struct cv_txn_stats st;
	cv_txn_stats_read(H.l, &st);
	assert_int_equal(st.completed[CV_SIP_INVITE], 1);
	assert_int_equal(st.rx_resp_absorbed, 1);
	/* the INVITE at 500 and the second ACK */
	assert_int_equal(st.retransmitted[CV_SIP_INVITE], 2);
	cv_mem_unref(req);
	cv_txn_release(t);
}

static void test_ict_completed_reliable_d0(void **state)
{
	(void)state;
	H.reliable = true;
	struct cv_txn *t = client("INVITE", "z9hG4bKict4", &peer_tcp);
	struct cv_sip_msg *req = cv_mem_ref(cv_txn_request(t));
	run_to(100);
	rx(mkresp(req, 603, "x"), &peer_tcp);
	assert_int_equal(cv_txn_state(t), CV_TXN_COMPLETED);
	run_to(101); /* Timer D = 0: the next tick */
	assert_int_equal(cv_txn_state(t), CV_TXN_TERMINATED);
	cv_mem_unref(req);
	cv_txn_release(t);
}

static void test_ict_accepted_timer_m(void **state)
{
	(void)state;
	struct cv_txn *t = client("INVITE", "z9hG4bKict5", &peer_udp);
	struct cv_sip_msg *req = cv_mem_ref(cv_txn_request(t));
	run_to(200);
	rx(mkresp(req, 200, "b1"), &peer_udp);
	assert_int_equal(cv_txn_state(t), CV_TXN_ACCEPTED);
	assert_int_equal(last_ev(EV_RESPONSE)->status, 200);
	assert_false(last_ev(EV_RESPONSE)->retx);
	/* RFC 6026: the 2xx retransmission (and a forked 2xx) go up. */
	run_to(1000);
	rx(mkresp(req, 200, "b1"), &peer_udp);
	assert_true(last_ev(EV_RESPONSE)->retx);
	rx(mkresp(req, 200, "b2"), &peer_udp);
	assert_int_equal(count_ev(EV_RESPONSE), 3);
	/* non-2xx in Accepted: absorbed */
	rx(mkresp(req, 500, "b3"), &peer_udp);
	assert_int_equal(count_ev(EV_RESPONSE), 3);
	/* no ACK from the transaction, no INVITE retransmission */
	uint64_t got[8];
	assert_int_equal(sent_times(CV_SIP_ACK, 0, got, 8), 0);
	assert_int_equal(sent_times(CV_SIP_INVITE, 0, got, 8), 1);
	run_to(32199);
	assert_int_equal(cv_txn_state(t), CV_TXN_ACCEPTED);
	run_to(32200); /* Timer M = 64*T1 */
	assert_int_equal(cv_txn_state(t), CV_TXN_TERMINATED);
	/* after Terminated a 2xx matches nothing: dropped and counted */
	rx(mkresp(req, 200, "b1"), &peer_udp);
	struct cv_txn_stats st;
	cv_txn_stats_read(H.l, &st);
	assert_int_equal(st.stray_responses, 1);
	cv_mem_unref(req);
	cv_txn_release(t);
}

static void test_ict_transport_error(void **state)
{
	(void)state;
	/* First send fails: creation fails, nothing is left. */
	H.fail_sends = 1;
	char buf[1024];
	int n = snprintf(buf, sizeof(buf), CLIENT_REQ_FMT, "INVITE",
			 "z9hG4bKe1", "z9hG4bKe1", "INVITE");
	struct cv_txn *t = NULL;
	struct cv_txn_client_params p = {
		.buf = buf, .len = (size_t)n, .dst = &peer_udp};
	assert_int_equal(cv_txn_client_create(&t, H.l, &p), -ECONNREFUSED);
	assert_null(t);
	assert_int_equal(cv_txn_count(H.l), 0);
	/* A retransmission fails: local 503, Terminated (§17.1.4). */
	t = client("INVITE", "z9hG4bKe2", &peer_udp);
	H.fail_sends = 1;
	run_to(600);
	assert_int_equal(last_ev(EV_RESPONSE)->status, 503);
	assert_true(last_ev(EV_RESPONSE)->local);
	assert_int_equal(last_ev(EV_RESPONSE)->ms, 500);
	assert_int_equal(cv_txn_state(t), CV_TXN_TERMINATED);
	assert_int_equal(count_ev(EV_TERMINATED), 1);
	cv_txn_release(t);
}

static void test_ict_cancel(void **state)
{
	(void)state;
	struct cv_txn *t = client("INVITE", "z9hG4bKcan1", &peer_udp);
	struct cv_sip_msg *req = cv_mem_ref(cv_txn_request(t));
	/* §9.1: before a provisional the CANCEL waits */
	struct cv_txn_cancel_params cp = {
		.headers = CV_PL("Reason: SIP;cause=487\r\n")};
	assert_int_equal(cv_txn_cancel(t, &cp), 0);
	assert_int_equal(cv_txn_cancel(t, NULL), 0); /* idempotent */
	uint64_t got[16];
	assert_int_equal(sent_times(CV_SIP_CANCEL, 0, got, 16), 0);
	run_to(300);
	rx(mkresp(req, 180, "b"), &peer_udp);
	assert_int_equal(sent_times(CV_SIP_CANCEL, 0, got, 16), 1);
	assert_int_equal(got[0], 300);
	const struct cv_sip_msg *c = H.s[H.ns - 1].m;
	assert_true(cv_pl_eq(c->via.branch, req->via.branch));
	assert_int_equal(c->cseq.num, 7);
	assert_int_equal(c->cseq.method, CV_SIP_CANCEL);
	assert_true(cv_pl_eq(c->ruri, req->ruri));
	assert_int_equal(c->to.tag.l, 0);
	assert_non_null(cv_sip_msg_hdr(c, CV_SIP_HDR_REASON));
	assert_non_null(cv_sip_msg_hdr(c, CV_SIP_HDR_ROUTE));
	/* The CANCEL's 200 stays inside the layer. */
	struct cv_sip_msg *creq = cv_mem_ref((struct cv_sip_msg *)c);
	unsigned nresp = count_ev(EV_RESPONSE);
	rx(mkresp(creq, 200, "b"), &peer_udp);
	assert_int_equal(count_ev(EV_RESPONSE), nresp);
	rx(mkresp(req, 487, "b"), &peer_udp);
	assert_int_equal(last_ev(EV_RESPONSE)->status, 487);
	assert_int_equal(sent_times(CV_SIP_ACK, 0, got, 16), 1);
	assert_int_equal(cv_txn_cancel(t, NULL), 0); /* already cancelled */
	run_to(40000);
	assert_int_equal(cv_txn_state(t), CV_TXN_TERMINATED);
	/* the CANCEL was answered: no retransmission of it */
	assert_int_equal(sent_times(CV_SIP_CANCEL, 0, got, 16), 1);
	cv_mem_unref(creq);
	cv_mem_unref(req);
	cv_txn_release(t);
}

static void test_ict_cancel_no_final_64t1(void **state)
{
	(void)state;
	struct cv_txn *t = client("INVITE", "z9hG4bKcan2", &peer_udp);
	struct cv_sip_msg *req = cv_mem_ref(cv_txn_request(t));
	run_to(100);
	rx(mkresp(req, 100, ""), &peer_udp);
	run_to(1000);
	assert_int_equal(cv_txn_cancel(t, NULL), 0);
	/* CANCEL is a non-INVITE request: Timer E schedule, unanswered */
	run_to(50000);
	uint64_t got[16];
	const uint64_t want[] = {1000,	1500,  2500,  4500,  8500, 12500,
				 16500, 20500, 24500, 28500, 32500};
	assert_times(got, sent_times(CV_SIP_CANCEL, 0, got, 16), want,
		     CV_ARRAY_SIZE(want));
	/* §9.1: 64*T1 after the CANCEL without a final: local 408 */
	const struct ev *e = last_ev(EV_RESPONSE);
	assert_int_equal(e->status, 408);
	assert_true(e->local);
	assert_int_equal(e->ms, 33000);
	cv_mem_unref(req);
	cv_txn_release(t);
}

static void test_ict_cancel_pending_final_first(void **state)
{
	(void)state;
	struct cv_txn *t = client("INVITE", "z9hG4bKcan3", &peer_udp);
	struct cv_sip_msg *req = cv_mem_ref(cv_txn_request(t));
	assert_int_equal(cv_txn_cancel(t, NULL), 0);
	rx(mkresp(req, 486, "b"), &peer_udp);
	uint64_t got[4];
	assert_int_equal(sent_times(CV_SIP_CANCEL, 0, got, 4), 0);
	assert_int_equal(cv_txn_cancel(t, NULL), CV_ECLOSED);
	cv_mem_unref(req);
	cv_txn_release(t);
	/* a released client: no callback, the layer finishes Timer D */
	unsigned ne = H.ne;
	run_to(40000);
	assert_int_equal(H.ne, ne);
	assert_int_equal(cv_txn_count(H.l), 0);
}

static void test_ict_cancel_after_final(void **state)
{
	(void)state;
	struct cv_txn *t = client("INVITE", "z9hG4bKcan4", &peer_udp);
	struct cv_sip_msg *req = cv_mem_ref(cv_txn_request(t));
	rx(mkresp(req, 200, "b"), &peer_udp);
	assert_int_equal(cv_txn_cancel(t, NULL), CV_ECLOSED);
	cv_mem_unref(req);
	cv_txn_release(t);
}

/* ---- non-INVITE client (Figure 6) -------------------------------------------
 */

static void test_nict_timer_e_f_udp(void **state)
{
	(void)state;
	struct cv_txn *t = client("OPTIONS", "z9hG4bKn1", &peer_udp);
	assert_int_equal(cv_txn_state(t), CV_TXN_TRYING);
	run_to(40000);
	uint64_t got[32];
	const uint64_t want[] = {0,	500,   1500,  3500,  7500, 11500,
				 15500, 19500, 23500, 27500, 31500};
	assert_times(got, sent_times(CV_SIP_OPTIONS, 0, got, 32), want,
		     CV_ARRAY_SIZE(want));
	assert_int_equal(last_ev(EV_RESPONSE)->status, 408);
	assert_int_equal(last_ev(EV_RESPONSE)->ms, 32000);
	struct cv_txn_stats st;
	cv_txn_stats_read(H.l, &st);
	assert_int_equal(st.retransmitted[CV_SIP_OPTIONS], 10);
	assert_int_equal(st.timed_out[CV_SIP_OPTIONS], 1);
	cv_txn_release(t);
}

static void test_nict_proceeding_t2(void **state)
{
	(void)state;
	struct cv_txn *t = client("REGISTER", "z9hG4bKn2", &peer_udp);
	struct cv_sip_msg *req = cv_mem_ref(cv_txn_request(t));
	run_to(200);
	rx(mkresp(req, 100, ""), &peer_udp);
	assert_int_equal(cv_txn_state(t), CV_TXN_PROCEEDING);
	assert_int_equal(last_ev(EV_RESPONSE)->status, 100);
	run_to(40000);
	uint64_t got[32];
	/* Timer E keeps its schedule, then T2 once it fired in Proceeding. */
	const uint64_t want[] = {0,	500,   4500,  8500, 12500,
				 16500, 20500, 24500, 28500};
	assert_times(got, sent_times(CV_SIP_REGISTER, 0, got, 32), want,
		     CV_ARRAY_SIZE(want));
	assert_int_equal(last_ev(EV_RESPONSE)->status, 408);
	assert_int_equal(last_ev(EV_RESPONSE)->ms, 32000);
	cv_mem_unref(req);
	cv_txn_release(t);
}

static void test_nict_completed_timer_k(void **state)
{
	(void)state;
	struct cv_txn *t = client("BYE", "z9hG4bKn3", &peer_udp);
	struct cv_sip_msg *req = cv_mem_ref(cv_txn_request(t));
	run_to(1000);
	rx(mkresp(req, 180, "x"), &peer_udp);
	rx(mkresp(req, 200, "x"), &peer_udp);
	assert_int_equal(cv_txn_state(t), CV_TXN_COMPLETED);
	assert_int_equal(count_ev(EV_RESPONSE), 2);
	rx(mkresp(req, 200, "x"), &peer_udp); /* absorbed */
	rx(mkresp(req, 180, "x"), &peer_udp); /* absorbed */
	assert_int_equal(count_ev(EV_RESPONSE), 2);
	run_to(5999);
	assert_int_equal(cv_txn_state(t), CV_TXN_COMPLETED);
	run_to(6000); /* Timer K = T4 */
	assert_int_equal(cv_txn_state(t), CV_TXN_TERMINATED);
	uint64_t got[8];
	assert_int_equal(sent_times(CV_SIP_BYE, 0, got, 8), 2); /* 0, 500 */
	struct cv_txn_stats st;
	cv_txn_stats_read(H.l, &st);
	assert_int_equal(st.rx_resp_absorbed, 2);
	assert_int_equal(st.completed[CV_SIP_BYE], 1);
	cv_mem_unref(req);
	cv_txn_release(t);
}

static void test_nict_reliable_k0(void **state)
{
	(void)state;
	H.reliable = true;
	struct cv_txn *t = client("MESSAGE", "z9hG4bKn4", &peer_tcp);
	struct cv_sip_msg *req = cv_mem_ref(cv_txn_request(t));
	run_to(3000);
	uint64_t got[8];
	assert_int_equal(sent_times(CV_SIP_MESSAGE, 0, got, 8), 1);
	rx(mkresp(req, 202, "x"), &peer_tcp);
	run_to(3001);
	assert_int_equal(cv_txn_state(t), CV_TXN_TERMINATED);
	cv_mem_unref(req);
	cv_txn_release(t);
}

static void test_nict_transport_error(void **state)
{
	(void)state;
	struct cv_txn *t = client("OPTIONS", "z9hG4bKn5", &peer_udp);
	H.fail_sends = 1;
	run_to(1000);
	assert_int_equal(last_ev(EV_RESPONSE)->status, 503);
	assert_true(last_ev(EV_RESPONSE)->local);
	cv_txn_release(t);
}

/* ---- INVITE server (Figure 7, RFC 6026 Figure 7)
 * ----------------------------- */

static struct cv_txn *last_srv(void)
{
	assert_true(H.nsrv > 0);
	return H.srv[H.nsrv - 1];
}

static void test_ist_auto_100_and_retransmission(void **state)
{
	(void)state;
	rx(mkreq("INVITE", "z9hG4bKs1", 1), &peer_udp);
	assert_int_equal(count_ev(EV_REQUEST), 1);
	struct cv_txn *t = last_srv();
	assert_int_equal(cv_txn_state(t), CV_TXN_PROCEEDING);
	uint64_t got[8];
	run_to(199);
	assert_int_equal(sent_times(0, 100, got, 8), 0);
	run_to(200);
	assert_int_equal(sent_times(0, 100, got, 8), 1);
	assert_int_equal(H.s[0].m->to.tag.l, 0); /* no tag on 100 */
	/* a retransmitted INVITE: the last provisional again, no new TU event
	 */
	rx(mkreq("INVITE", "z9hG4bKs1", 1), &peer_udp);
	assert_int_equal(sent_times(0, 100, got, 8), 2);
	assert_int_equal(count_ev(EV_REQUEST), 1);
	assert_int_equal(cv_txn_respond(t, 180, NULL), 0);
	rx(mkreq("INVITE", "z9hG4bKs1", 1), &peer_udp);
	assert_int_equal(sent_times(0, 180, got, 8), 2);
	struct cv_txn_stats st;
	cv_txn_stats_read(H.l, &st);
	assert_int_equal(st.auto_100, 1);
	assert_int_equal(st.rx_retransmissions, 2);
}

static void test_ist_no_auto_100_when_answered(void **state)
{
	(void)state;
	rx(mkreq("INVITE", "z9hG4bKs2", 1), &peer_udp);
	assert_int_equal(cv_txn_respond(last_srv(), 180, NULL), 0);
	run_to(1000);
	uint64_t got[8];
	assert_int_equal(sent_times(0, 100, got, 8), 0);
	assert_int_equal(sent_times(0, 180, got, 8), 1);
	/* the 180 carries the transaction's To tag */
	char tag[32];
	assert_int_equal(cv_txn_local_tag(last_srv(), tag, sizeof(tag)), 16);
	assert_true(cv_pl_eq_str(H.s[0].m->to.tag, tag));
}

static void test_ist_trying_at_once_and_never(void **state)
{
	(void)state;
	teardown(NULL);
	harness_start(0, false, 0);
	rx(mkreq("INVITE", "z9hG4bKs3", 1), &peer_udp);
	/* sent before the TU saw the request */
	assert_int_equal(H.ns, 1);
	assert_int_equal(H.s[0].m->status, 100);
	assert_int_equal(H.s[0].ms, 0);
	teardown(NULL);
	harness_start(CV_TXN_TRYING_NEVER, false, 0);
	rx(mkreq("INVITE", "z9hG4bKs4", 1), &peer_udp);
	run_to(5000);
	assert_int_equal(H.ns, 0);
}

static void test_ist_completed_timer_g_confirmed_timer_i(void **state)
{
	(void)state;
	rx(mkreq("INVITE", "z9hG4bKs5", 1), &peer_udp);
	struct cv_txn *t = last_srv();
	run_to(100);
	assert_int_equal(cv_txn_respond(t, 486, NULL), 0);
	assert_int_equal(cv_txn_state(t), CV_TXN_COMPLETED);
	/* a final again: refused */
	assert_int_equal(cv_txn_respond(t, 500, NULL), CV_ECLOSED);
	/* a retransmitted INVITE in Completed: the final again */
	run_to(300);
	rx(mkreq("INVITE", "z9hG4bKs5", 1), &peer_udp);
	run_to(10000);
	uint64_t got[32];
	const uint64_t want[] = {100, 300, 600, 1600, 3600, 7600};
	assert_times(got, sent_times(0, 486, got, 32), want,
		     CV_ARRAY_SIZE(want));
	char tag[32];
	cv_txn_local_tag(t, tag, sizeof(tag));
	struct cv_sip_msg *ack =
		mkreq_full("ACK", "10.0.0.1:5060", "z9hG4bKs5", 1, "ACK", tag,
			   "call1@10.0.0.1", "sip:bob@127.0.0.1");
	rx(ack, &peer_udp);
	assert_int_equal(cv_txn_state(t), CV_TXN_CONFIRMED);
	assert_int_equal(count_ev(EV_ACK), 0); /* absorbed */
	/* an ACK retransmission and an INVITE retransmission: absorbed */
	rx(mkreq_full("ACK", "10.0.0.1:5060", "z9hG4bKs5", 1, "ACK", tag,
		      "call1@10.0.0.1", "sip:bob@127.0.0.1"),
	   &peer_udp);
	rx(mkreq("INVITE", "z9hG4bKs5", 1), &peer_udp);
	run_to(14999);
	assert_int_equal(sent_times(0, 486, got, 32), 6);
	assert_int_equal(cv_txn_state(t), CV_TXN_CONFIRMED);
	run_to(15000); /* Timer I = T4 after the ACK at 10000 */
	assert_int_equal(cv_txn_state(t), CV_TXN_TERMINATED);
	assert_int_equal(last_ev(EV_TERMINATED)->ms, 15000);
	assert_int_equal(count_ev(EV_FAILED), 0);
	struct cv_txn_stats st;
	cv_txn_stats_read(H.l, &st);
	assert_int_equal(st.acks_absorbed, 2);
	assert_int_equal(st.retransmitted[CV_SIP_INVITE], 5);
}

static void test_ist_timer_h(void **state)
{
	(void)state;
	rx(mkreq("INVITE", "z9hG4bKs6", 1), &peer_udp);
	struct cv_txn *t = last_srv();
	assert_int_equal(cv_txn_respond(t, 404, NULL), 0);
	run_to(40000);
	uint64_t got[32];
	/* Timer G: min(2^n*T1, T2) until Timer H at 64*T1 */
	const uint64_t want[] = {0,	500,   1500,  3500,  7500, 11500,
				 15500, 19500, 23500, 27500, 31500};
	assert_times(got, sent_times(0, 404, got, 32), want,
		     CV_ARRAY_SIZE(want));
	const struct ev *e = last_ev(EV_FAILED);
	assert_non_null(e);
	assert_int_equal(e->status, 408);
	assert_int_equal(e->ms, 32000);
	assert_int_equal(last_ev(EV_TERMINATED)->ms, 32000);
	struct cv_txn_stats st;
	cv_txn_stats_read(H.l, &st);
	assert_int_equal(st.timed_out[CV_SIP_INVITE], 1);
}

static void test_ist_reliable(void **state)
{
	(void)state;
	H.reliable = true;
	rx(mkreq("INVITE", "z9hG4bKs7", 1), &peer_tcp);
	struct cv_txn *t = last_srv();
	assert_int_equal(cv_txn_respond(t, 486, NULL), 0);
	run_to(10000);
	uint64_t got[8];
	assert_int_equal(sent_times(0, 486, got, 8), 1); /* no Timer G */
	char tag[32];
	cv_txn_local_tag(t, tag, sizeof(tag));
	rx(mkreq_full("ACK", "10.0.0.1:5060", "z9hG4bKs7", 1, "ACK", tag,
		      "call1@10.0.0.1", "sip:bob@127.0.0.1"),
	   &peer_tcp);
	assert_int_equal(cv_txn_state(t), CV_TXN_CONFIRMED);
	run_to(10001); /* Timer I = 0 */
	assert_int_equal(cv_txn_state(t), CV_TXN_TERMINATED);
	/* Timer H also runs over reliable transports */
	rx(mkreq("INVITE", "z9hG4bKs8", 1), &peer_tcp);
	assert_int_equal(cv_txn_respond(last_srv(), 500, NULL), 0);
	run_to(10001 + 32000);
	assert_int_equal(last_ev(EV_FAILED)->status, 408);
	assert_int_equal(last_ev(EV_FAILED)->ms, 42001);
}

static void test_ist_accepted_timer_l(void **state)
{
	(void)state;
	rx(mkreq("INVITE", "z9hG4bKs9", 1), &peer_udp);
	struct cv_txn *t = last_srv();
	struct cv_txn_resp_params rp = {.to_tag = CV_PL("dlgtag")};
	assert_int_equal(cv_txn_respond(t, 200, &rp), 0);
	assert_int_equal(cv_txn_state(t), CV_TXN_ACCEPTED);
	assert_true(cv_pl_eq_str(H.s[0].m->to.tag, "dlgtag"));
	/* INVITE retransmission absorbed (no resend); the TU resends 2xx */
	rx(mkreq("INVITE", "z9hG4bKs9", 1), &peer_udp);
	uint64_t got[8];
	assert_int_equal(sent_times(0, 200, got, 8), 1);
	run_to(500);
	assert_int_equal(cv_txn_respond(t, 200, &rp), 0);
	assert_int_equal(sent_times(0, 200, got, 8), 2);
	assert_true(H.s[1].retx);
	/* non-2xx in Accepted: refused */
	assert_int_equal(cv_txn_respond(t, 486, NULL), CV_ECLOSED);
	/* ACK with the INVITE's branch: to the TU with the transaction */
	rx(mkreq_full("ACK", "10.0.0.1:5060", "z9hG4bKs9", 1, "ACK", "dlgtag",
		      "call1@10.0.0.1", "sip:bob@127.0.0.1"),
	   &peer_udp);
	assert_int_equal(count_ev(EV_ACK), 1);
	assert_ptr_equal(last_ev(EV_ACK)->t, t);
	/* ACK with its own branch (RFC 3261 §13.2.2.4): stray, to the TU */
	rx(mkreq_full("ACK", "10.0.0.1:5060", "z9hG4bKack9", 1, "ACK", "dlgtag",
		      "call1@10.0.0.1", "sip:bob@127.0.0.1"),
	   &peer_udp);
	assert_int_equal(count_ev(EV_ACK), 2);
	assert_null(last_ev(EV_ACK)->t);
	run_to(31999);
	assert_int_equal(cv_txn_state(t), CV_TXN_ACCEPTED);
	run_to(32000); /* Timer L = 64*T1 */
	assert_int_equal(cv_txn_state(t), CV_TXN_TERMINATED);
	assert_int_equal(cv_txn_respond(t, 200, &rp), CV_ECLOSED);
}

static void test_ist_transport_error(void **state)
{
	(void)state;
	rx(mkreq("INVITE", "z9hG4bKs10", 1), &peer_udp);
	struct cv_txn *t = last_srv();
	H.fail_sends = 1;
	/* an error returned by respond: Terminated, no callback */
	assert_int_equal(cv_txn_respond(t, 180, NULL), -ECONNREFUSED);
	assert_int_equal(cv_txn_state(t), CV_TXN_TERMINATED);
	assert_int_equal(count_ev(EV_FAILED), 0);
	assert_int_equal(count_ev(EV_TERMINATED), 0);
	/* an error on a Timer G retransmission: failed 503 + terminated */
	rx(mkreq("INVITE", "z9hG4bKs11", 1), &peer_udp);
	t = last_srv();
	assert_int_equal(cv_txn_respond(t, 480, NULL), 0);
	H.fail_sends = 1;
	run_for(600);
	assert_int_equal(last_ev(EV_FAILED)->status, 503);
	assert_int_equal(count_ev(EV_TERMINATED), 1);
}

static void test_ist_cancel(void **state)
{
	(void)state;
	rx(mkreq("INVITE", "z9hG4bKs12", 1), &peer_udp);
	struct cv_txn *t = last_srv();
	run_to(300);
	rx(mkreq("CANCEL", "z9hG4bKs12", 1), &peer_udp);
	assert_int_equal(count_ev(EV_CANCEL), 1);
	assert_ptr_equal(last_ev(EV_CANCEL)->t, t);
	assert_int_equal(count_ev(EV_REQUEST),
			 1); /* CANCEL is not a new request */
	const struct cv_sip_msg *ok = H.s[H.ns - 1].m;
	assert_int_equal(ok->status, 200);
	assert_int_equal(ok->cseq.method, CV_SIP_CANCEL);
	assert_int_equal(cv_txn_respond(t, 487, NULL), 0);
	/* a retransmitted CANCEL: its 200 again, no second event */
	rx(mkreq("CANCEL", "z9hG4bKs12", 1), &peer_udp);
	assert_int_equal(count_ev(EV_CANCEL), 1);
	uint64_t got[8];
	assert_int_equal(sent_times(0, 200, got, 8), 2);
	/* CANCEL after the final: 200, no event */
	rx(mkreq("CANCEL", "z9hG4bKs12", 1), &peer_udp);
	struct cv_txn_stats st;
	cv_txn_stats_read(H.l, &st);
	assert_int_equal(st.cancels_matched, 1);
	/* CANCEL for nothing: 481 */
	rx(mkreq("CANCEL", "z9hG4bKnone", 1), &peer_udp);
	assert_int_equal(H.s[H.ns - 1].m->status, 481);
	cv_txn_stats_read(H.l, &st);
	assert_int_equal(st.cancels_481, 1);
}

static void test_ist_cancel_auto_487(void **state)
{
	(void)state;
	teardown(NULL);
	harness_start(200, true, 0);
	rx(mkreq("INVITE", "z9hG4bKs13", 1), &peer_udp);
	struct cv_txn *t = last_srv();
	rx(mkreq("CANCEL", "z9hG4bKs13", 1), &peer_udp);
	assert_int_equal(cv_txn_state(t), CV_TXN_COMPLETED);
	assert_int_equal(cv_txn_status(t), 487);
	uint64_t got[8];
	assert_int_equal(sent_times(0, 487, got, 8), 1);
	assert_int_equal(sent_times(0, 200, got, 8), 1);
}

/* ---- non-INVITE server (Figure 8)
 * ------------------------------------------------ */

static void test_nist_full(void **state)
{
	(void)state;
	rx(mkreq("BYE", "z9hG4bKb1", 2), &peer_udp);
	struct cv_txn *t = last_srv();
	assert_int_equal(cv_txn_state(t), CV_TXN_TRYING);
	run_to(1000);
	assert_int_equal(H.ns, 0); /* no auto 100 for non-INVITE */
	rx(mkreq("BYE", "z9hG4bKb1", 2), &peer_udp); /* Trying: absorbed */
	assert_int_equal(H.ns, 0);
	assert_int_equal(cv_txn_respond(t, 100, NULL), 0);
	assert_int_equal(cv_txn_state(t), CV_TXN_PROCEEDING);
	rx(mkreq("BYE", "z9hG4bKb1", 2), &peer_udp); /* the 100 again */
	assert_int_equal(H.ns, 2);
	assert_int_equal(cv_txn_respond(t, 200, NULL), 0);
	assert_int_equal(cv_txn_state(t), CV_TXN_COMPLETED);
	rx(mkreq("BYE", "z9hG4bKb1", 2), &peer_udp); /* the 200 again */
	uint64_t got[8];
	assert_int_equal(sent_times(0, 200, got, 8), 2);
	assert_int_equal(count_ev(EV_REQUEST), 1);
	run_to(32999);
	assert_int_equal(cv_txn_state(t), CV_TXN_COMPLETED);
	run_to(33000); /* Timer J = 64*T1 */
	assert_int_equal(cv_txn_state(t), CV_TXN_TERMINATED);
	struct cv_txn_stats st;
	cv_txn_stats_read(H.l, &st);
	assert_int_equal(st.rx_retransmissions, 3);
	assert_int_equal(st.completed[CV_SIP_BYE], 1);
	assert_int_equal(st.retransmitted[CV_SIP_BYE], 2);
}

static void test_nist_reliable_j0(void **state)
{
	(void)state;
	H.reliable = true;
	rx(mkreq("OPTIONS", "z9hG4bKb2", 2), &peer_tcp);
	struct cv_txn *t = last_srv();
	assert_int_equal(cv_txn_respond(t, 200, NULL), 0);
	assert_int_equal(cv_txn_state(t), CV_TXN_COMPLETED);
	run_to(1);
	assert_int_equal(cv_txn_state(t), CV_TXN_TERMINATED);
}

static void test_nist_transport_error_on_resend(void **state)
{
	(void)state;
	rx(mkreq("OPTIONS", "z9hG4bKb3", 2), &peer_udp);
	assert_int_equal(cv_txn_respond(last_srv(), 200, NULL), 0);
	H.fail_sends = 1;
	rx(mkreq("OPTIONS", "z9hG4bKb3", 2), &peer_udp);
	assert_int_equal(last_ev(EV_FAILED)->status, 503);
	assert_int_equal(count_ev(EV_TERMINATED), 1);
}

static void test_transport_error_async(void **state)
{
	(void)state;
	/* client without a final: local 503, Terminated */
	struct cv_txn *c = client("OPTIONS", "z9hG4bKae1", &peer_tcp);
	cv_txn_transport_error(c, -ECONNREFUSED);
	assert_int_equal(last_ev(EV_RESPONSE)->status, 503);
	assert_true(last_ev(EV_RESPONSE)->local);
	assert_int_equal(cv_txn_state(c), CV_TXN_TERMINATED);
	assert_int_equal(count_ev(EV_TERMINATED), 1);
	cv_txn_transport_error(c, -ECONNREFUSED); /* no effect */
	assert_int_equal(count_ev(EV_TERMINATED), 1);
	cv_txn_release(c);
	/* client after its final: no 503, just Terminated */
	c = client("INVITE", "z9hG4bKae2", &peer_udp);
	struct cv_sip_msg *req = cv_mem_ref(cv_txn_request(c));
	rx(mkresp(req, 404, "x"), &peer_udp);
	unsigned nresp = count_ev(EV_RESPONSE);
	cv_txn_transport_error(c, -ECONNRESET);
	assert_int_equal(count_ev(EV_RESPONSE), nresp);
	assert_int_equal(cv_txn_state(c), CV_TXN_TERMINATED);
	cv_mem_unref(req);
	cv_txn_release(c);
	/* server: failed(503) */
	rx(mkreq("INVITE", "z9hG4bKae3", 1), &peer_udp);
	assert_int_equal(cv_txn_respond(last_srv(), 180, NULL), 0);
	cv_txn_transport_error(last_srv(), -EPIPE);
	assert_int_equal(last_ev(EV_FAILED)->status, 503);
	assert_int_equal(cv_txn_state(last_srv()), CV_TXN_TERMINATED);
	struct cv_txn_stats st;
	cv_txn_stats_read(H.l, &st);
	assert_int_equal(st.transport_errors, 3);
}

/* ---- release contract
 * -------------------------------------------------------------- */

static void test_release_server_without_final_500(void **state)
{
	(void)state;
	H.release_in_cb = true;
	rx(mkreq("INFO", "z9hG4bKr1", 3), &peer_udp);
	assert_int_equal(H.ns, 1);
	assert_int_equal(H.s[0].m->status, 500);
	unsigned ne = H.ne;
	run_to(40000); /* Timer J ends it without a callback */
	assert_int_equal(H.ne, ne);
	assert_int_equal(cv_txn_count(H.l), 0);
	struct cv_txn_stats st;
	cv_txn_stats_read(H.l, &st);
	assert_int_equal(st.auto_500, 1);
}

static void test_release_client_no_callbacks(void **state)
{
	(void)state;
	struct cv_txn *t = client("INVITE", "z9hG4bKr2", &peer_udp);
	struct cv_sip_msg *req = cv_mem_ref(cv_txn_request(t));
	rx(mkresp(req, 180, "x"), &peer_udp);
	unsigned ne = H.ne;
	cv_txn_release(t);
	/* released in Proceeding: ends after 64*T1 silently */
	rx(mkresp(req, 183, "x"), &peer_udp);
	run_to(40000);
	assert_int_equal(H.ne, ne);
	assert_int_equal(cv_txn_count(H.l), 0);
	cv_mem_unref(req);
}

static void test_layer_destroy_with_live(void **state)
{
	(void)state;
	struct cv_txn *c = client("INVITE", "z9hG4bKd1", &peer_udp);
	rx(mkreq("INVITE", "z9hG4bKd2", 1), &peer_udp);
	rx(mkreq("OPTIONS", "z9hG4bKd3", 1), &peer_udp);
	assert_int_equal(cv_txn_count(H.l), 3);
	cv_txn_layer_destroy(H.l);
	H.l = NULL;
	/* held transactions are inert */
	assert_int_equal(cv_txn_respond(last_srv(), 200, NULL), CV_ECLOSED);
	assert_int_equal(cv_txn_cancel(c, NULL), CV_ECLOSED);
	cv_txn_release(c);
	for (unsigned i = 0; i < H.nsrv; i++)
		cv_txn_release(H.srv[i]);
	H.nsrv = 0;
	assert_int_equal(cv_wheel_count(H.w), 0);
	struct cv_txn_params p;
	cv_txn_params_init(&p);
	p.send = h_send;
	p.h = &handlers;
	p.wheel = H.w;
	assert_int_equal(cv_txn_layer_create(&H.l, &p), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
		T(test_ict_timer_a_b_udp),
		T(test_ict_timer_b_reliable),
		T(test_ict_proceeding_completed_timer_d),
		T(test_ict_completed_reliable_d0),
		T(test_ict_accepted_timer_m),
		T(test_ict_transport_error),
		T(test_ict_cancel),
		T(test_ict_cancel_no_final_64t1),
		T(test_ict_cancel_pending_final_first),
		T(test_ict_cancel_after_final),
		T(test_nict_timer_e_f_udp),
		T(test_nict_proceeding_t2),
		T(test_nict_completed_timer_k),
		T(test_nict_reliable_k0),
		T(test_nict_transport_error),
		T(test_ist_auto_100_and_retransmission),
		T(test_ist_no_auto_100_when_answered),
		T(test_ist_trying_at_once_and_never),
		T(test_ist_completed_timer_g_confirmed_timer_i),
		T(test_ist_timer_h),
		T(test_ist_reliable),
		T(test_ist_accepted_timer_l),
		T(test_ist_transport_error),
		T(test_ist_cancel),
		T(test_ist_cancel_auto_487),
		T(test_nist_full),
		T(test_nist_reliable_j0),
		T(test_nist_transport_error_on_resend),
		T(test_transport_error_async),
		T(test_release_server_without_final_500),
		T(test_release_client_no_callbacks),
		T(test_layer_destroy_with_live),
#undef T
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
