/* txn: the slim completed state (a released server transaction with its
 * final response keeps a match key, not the parsed request) and stateless
 * final responses (RFC 3261 §8.2.7). docs/txn.md "Completed server
 * transactions". */
#include "txn_harness.h"

/* What the send callback saw of the request for each message. */
static struct {
	char branch[64], received[64], rport[16], call_id[64];
	bool rport_present;
	uint32_t cseq;
	unsigned n;
} V;

static int slim_send(const struct cv_txn_out *o, bool *reliable, void *arg)
{
	if (o->req) {
		const struct cv_sip_via *v = &o->req->via;
		cv_pl_strcpy(v->branch, V.branch, sizeof(V.branch));
		cv_pl_strcpy(v->received, V.received, sizeof(V.received));
		cv_pl_strcpy(v->rport, V.rport, sizeof(V.rport));
		cv_pl_strcpy(o->req->call_id, V.call_id, sizeof(V.call_id));
		V.rport_present = v->rport_present;
		V.cseq = o->req->cseq.num;
		/* a header lookup on the request must be safe */
		(void)cv_sip_msg_hdr(o->req, CV_SIP_HDR_CONTACT);
		V.n++;
	}
	return h_send(o, reliable, arg);
}

static int setup_slim(void **state)
{
	(void)state;
	memset(&H, 0, sizeof(H));
	memset(&V, 0, sizeof(V));
	H.live0 = cv_mem_live();
	cv_clock_fake_enable(T0_US);
	assert_int_equal(cv_wheel_create(&H.w, NULL, 1000), 0);
	struct cv_txn_params p;
	cv_txn_params_init(&p);
	p.send = slim_send;
	p.h = &handlers;
	p.wheel = H.w;
	assert_int_equal(cv_txn_layer_create(&H.l, &p), 0);
	return 0;
}

static struct cv_txn_stats stats(void)
{
	struct cv_txn_stats st;
	cv_txn_stats_read(H.l, &st);
	return st;
}

#define REG_FMT                                                                \
	"REGISTER sip:127.0.0.1 SIP/2.0\r\n"                                   \
	"Via: SIP/2.0/UDP 10.0.0.7:5099;branch=%s;rport=4242;"                 \
	"received=192.0.2.9\r\n"                                               \
	"Max-Forwards: 70\r\n"                                                 \
	"From: <sip:alice@127.0.0.1>;tag=%s\r\n"                               \
	"To: <sip:alice@127.0.0.1>\r\n"                                        \
	"Call-ID: %s\r\n"                                                      \
	"CSeq: %u REGISTER\r\n"                                                \
	"Contact: <sip:alice@10.0.0.7:5099>\r\n"                               \
	"Expires: 600\r\n"                                                     \
	"Content-Length: 0\r\n\r\n"

static struct cv_sip_msg *reg(const char *branch, const char *ftag,
			      const char *callid, unsigned cseq)
{
	return parse(REG_FMT, branch, ftag, callid, cseq);
}

static bool same_bytes(const struct cv_sip_msg *a, const struct cv_sip_msg *b)
{
	return a->len == b->len && memcmp(a->buf, b->buf, a->len) == 0;
}

/* A non-INVITE answered and released: slimmed at once; retransmissions
 * of the request get the very same bytes, routed by the kept top Via. */
static void test_slim_non_invite_retransmission(void **state)
{
	(void)state;
	H.answer = 200;
	H.release_in_cb = true;
	rx(reg("z9hG4bKs1", "f1", "slim1@h", 2), &peer_udp);
	assert_int_equal(count_ev(EV_REQUEST), 1);
	assert_int_equal(stats().slimmed, 1);
	assert_int_equal(cv_txn_count(H.l), 1);
	assert_int_equal(H.ns, 1);
	run_for(1000);
	rx(reg("z9hG4bKs1", "f1", "slim1@h", 2), &peer_udp);
	rx(reg("z9hG4bKs1", "f1", "slim1@h", 2), &peer_udp);
	assert_int_equal(count_ev(EV_REQUEST), 1);
	assert_int_equal(H.ns, 3);
	assert_true(same_bytes(H.s[0].m, H.s[1].m));
	assert_true(same_bytes(H.s[0].m, H.s[2].m));
	assert_true(H.s[1].retx);
	/* the response route (§18.2.2, RFC 3581) still has the top Via */
	assert_string_equal(V.branch, "z9hG4bKs1");
	assert_string_equal(V.received, "192.0.2.9");
	assert_string_equal(V.rport, "4242");
	assert_true(V.rport_present);
	assert_string_equal(V.call_id, "slim1@h");
	assert_int_equal(V.cseq, 2);
	assert_int_equal(stats().rx_retransmissions, 2);
	/* another sent-by or method with the same branch: not a match */
	rx(parse("OPTIONS sip:127.0.0.1 SIP/2.0\r\n"
		 "Via: SIP/2.0/UDP 10.0.0.7:5099;branch=z9hG4bKs1\r\n"
		 "From: <sip:alice@127.0.0.1>;tag=f1\r\n"
		 "To: <sip:alice@127.0.0.1>\r\nCall-ID: slim1@h\r\n"
		 "CSeq: 2 OPTIONS\r\nContent-Length: 0\r\n\r\n"),
	   &peer_udp);
	assert_int_equal(count_ev(EV_REQUEST), 2);
	/* the same branch for another request (other CSeq): dropped */
	rx(reg("z9hG4bKs1", "f1", "slim1@h", 3), &peer_udp);
	assert_int_equal(stats().branch_reused, 1);
	/* Timer J = 64*T1 ends it */
	run_for(32000);
	assert_int_equal(cv_txn_count(H.l), 0);
}

/* INVITE 486 released: slimmed in Completed; Timer G resends the same
 * bytes, the ACK matches by key (Confirmed), a late INVITE copy is
 * absorbed, Timer I ends it. */
static void test_slim_invite_486(void **state)
{
	(void)state;
	rx(mkreq("INVITE", "z9hG4bKs2", 1), &peer_udp);
	struct cv_txn *t = last_ev(EV_REQUEST)->t;
	assert_int_equal(cv_txn_respond(t, 486, NULL), 0);
	assert_int_equal(stats().slimmed, 0); /* the TU still holds it */
	assert_non_null(cv_txn_request(t));
	cv_mem_ref(t); /* to look at its state after the release */
	cv_txn_release(H.srv[0]);
	H.srv[0] = NULL;
	H.nsrv = 0;
	assert_int_equal(stats().slimmed, 1);
	assert_null(cv_txn_request(t));
	assert_int_equal(cv_txn_state(t), CV_TXN_COMPLETED);
	run_for(600); /* Timer G at 500 ms */
	assert_int_equal(H.ns, 2);
	assert_true(same_bytes(H.s[0].m, H.s[1].m));
	rx(mkreq_full("ACK", "10.0.0.1:5060", "z9hG4bKs2", 1, "ACK", "x",
		      "call1@10.0.0.1", "sip:bob@127.0.0.1"),
	   &peer_udp);
	assert_int_equal(cv_txn_state(t), CV_TXN_CONFIRMED);
	assert_int_equal(count_ev(EV_ACK), 0);
	rx(mkreq("INVITE", "z9hG4bKs2", 1), &peer_udp);
	assert_int_equal(count_ev(EV_REQUEST), 1);
	assert_int_equal(H.ns, 2);
	run_for(5100); /* Timer I = T4 */
	assert_int_equal(cv_txn_state(t), CV_TXN_TERMINATED);
	assert_int_equal(cv_txn_count(H.l), 0);
	cv_mem_unref(t);
}

/* §8.2.2.2 still sees a slimmed transaction: same From tag, Call-ID and
 * CSeq on another branch is a merged request. */
static void test_slim_merged(void **state)
{
	(void)state;
	H.answer = 200;
	H.release_in_cb = true;
	rx(reg("z9hG4bKm1", "fm", "merge@h", 5), &peer_udp);
	assert_int_equal(stats().slimmed, 1);
	H.answer = 0;
	H.release_in_cb = false;
	rx(reg("z9hG4bKm2", "fm", "merge@h", 5), &peer_udp);
	assert_true(cv_txn_is_merged(H.srv[0]));
	/* another From tag: not merged */
	rx(reg("z9hG4bKm3", "other", "merge@h", 5), &peer_udp);
	assert_false(cv_txn_is_merged(H.srv[1]));
}

/* RFC 2543 transactions (no magic cookie) keep their request. */
static void test_rfc2543_not_slimmed(void **state)
{
	(void)state;
	H.answer = 200;
	H.release_in_cb = true;
	rx(mkreq_full("OPTIONS", "10.0.0.5:5060", "", 5, "OPTIONS", "", "old@h",
		      "sip:bob@127.0.0.1"),
	   &peer_udp);
	assert_int_equal(stats().slimmed, 0);
	rx(mkreq_full("OPTIONS", "10.0.0.5:5060", "", 5, "OPTIONS", "", "old@h",
		      "sip:bob@127.0.0.1"),
	   &peer_udp);
	assert_int_equal(H.ns, 2);
	assert_true(same_bytes(H.s[0].m, H.s[1].m));
}

/* Bytes a completed, released transaction holds (docs/txn.md). */
static void test_slim_memory(void **state)
{
	(void)state;
	H.answer = 200;
	H.release_in_cb = true;
	int64_t b0 = cv_mem_live_bytes();
	const unsigned n = 300;
	char br[32], cid[32];
	for (unsigned i = 0; i < n; i++) {
		snprintf(br, sizeof(br), "z9hG4bKmem%u", i);
		snprintf(cid, sizeof(cid), "mem%u@h", i);
		rx(reg(br, "fx", cid, 1), &peer_udp);
		if (H.ns > 400)
			clear_sent();
	}
	clear_sent();
	int64_t per = (cv_mem_live_bytes() - b0) / (int64_t)n;
	print_message("live bytes per completed released REGISTER "
		      "transaction: %lld\n",
		      (long long)per);
	assert_int_equal(stats().slimmed, n);
	assert_true(per > 200 && per < 1100);
}

/* stateless: the transaction ends with the final response; a
 * retransmission is a new request for the TU. */
static void test_stateless_final(void **state)
{
	(void)state;
	rx(reg("z9hG4bKst1", "fs", "st@h", 1), &peer_udp);
	struct cv_txn *t = H.srv[0];
	struct cv_txn_resp_params rp = {
		.headers = CV_PL("WWW-Authenticate: Digest realm=\"x\", "
				 "nonce=\"n\"\r\n"),
		.stateless = true};
	struct cv_txn_resp_params prov = {.stateless = true};
	assert_int_equal(cv_txn_respond(t, 180, &prov), -EINVAL);
	assert_int_equal(cv_txn_respond(t, 401, &rp), 0);
	assert_int_equal(cv_txn_state(t), CV_TXN_TERMINATED);
	assert_int_equal(cv_txn_count(H.l), 0);
	assert_int_equal(stats().stateless_finals, 1);
	assert_int_equal(stats().completed[CV_SIP_REGISTER], 1);
	assert_int_equal(H.ns, 1);
	assert_int_equal(H.s[0].m->status, 401);
	assert_true(cv_sip_msg_hdr(H.s[0].m, CV_SIP_HDR_WWW_AUTHENTICATE) !=
		    NULL);
	assert_true(H.s[0].m->to.tag.l > 0);
	/* still the TU's until released; no auto 500, no callback */
	assert_int_equal(cv_txn_respond(t, 500, NULL), CV_ECLOSED);
	cv_txn_release(t);
	H.srv[0] = NULL;
	assert_int_equal(H.ns, 1);
	assert_int_equal(count_ev(EV_TERMINATED), 0);
	/* the retransmission reaches the TU again */
	rx(reg("z9hG4bKst1", "fs", "st@h", 1), &peer_udp);
	assert_int_equal(count_ev(EV_REQUEST), 2);
	assert_int_equal(cv_txn_count(H.l), 1);
}

/* A stateless 407 to INVITE: the ACK for it matches nothing and goes up
 * as a stray ACK; a 2xx to INVITE cannot be stateless. */
static void test_stateless_invite(void **state)
{
	(void)state;
	H.reliable = false;
	rx(mkreq("INVITE", "z9hG4bKst2", 1), &peer_udp);
	struct cv_txn *t = H.srv[0];
	struct cv_txn_resp_params ok = {.stateless = true};
	assert_int_equal(cv_txn_respond(t, 200, &ok), -EINVAL);
	assert_int_equal(cv_txn_respond(t, 407, &ok), 0);
	assert_int_equal(cv_txn_count(H.l), 0);
	rx(mkreq_full("ACK", "10.0.0.1:5060", "z9hG4bKst2", 1, "ACK", "x",
		      "call1@10.0.0.1", "sip:bob@127.0.0.1"),
	   &peer_udp);
	assert_int_equal(count_ev(EV_ACK), 1);
	assert_null(last_ev(EV_ACK)->t);
	assert_int_equal(stats().stray_acks, 1);
	run_for(40000); /* nothing is retransmitted: no Timer G */
	assert_int_equal(H.ns, 1);
}

/* Client transactions too: released after a final (or before one, then
 * at the final), they match retransmitted finals by the key and resend
 * the very same ACK. */
static void test_slim_client(void **state)
{
	(void)state;
	struct cv_txn *t = client("INVITE", "z9hG4bKc1", &peer_udp);
	struct cv_sip_msg *req = cv_mem_ref(cv_txn_request(t));
	rx(mkresp(req, 486, "busy"), &peer_udp);
	assert_int_equal(count_ev(EV_RESPONSE), 1);
	assert_int_equal(stats().slimmed, 0);
	cv_mem_ref(t);
	cv_txn_release(t);
	assert_int_equal(stats().slimmed, 1);
	assert_null(cv_txn_request(t));
	unsigned n = H.ns; /* INVITE, ACK */
	assert_int_equal(n, 2);
	rx(mkresp(req, 486, "busy"), &peer_udp);
	assert_int_equal(H.ns, 3);
	assert_true(same_bytes(H.s[1].m, H.s[2].m));
	assert_int_equal(H.s[2].m->method, CV_SIP_ACK);
	assert_int_equal(count_ev(EV_RESPONSE), 1);
	assert_int_equal(cv_txn_state(t), CV_TXN_COMPLETED);
	run_for(32100); /* Timer D */
	assert_int_equal(cv_txn_state(t), CV_TXN_TERMINATED);
	cv_mem_unref(t);
	/* released before its final: slimmed when the 200 comes */
	struct cv_txn *o = client("OPTIONS", "z9hG4bKc2", &peer_udp);
	struct cv_sip_msg *oreq = cv_mem_ref(cv_txn_request(o));
	cv_txn_release(o);
	rx(mkresp(oreq, 200, "x"), &peer_udp);
	assert_int_equal(stats().slimmed, 2);
	/* absorbed by the key (counted with the 486 copy above) */
	rx(mkresp(oreq, 200, "x"), &peer_udp);
	assert_int_equal(stats().rx_resp_absorbed, 2);
	assert_int_equal(stats().stray_responses, 0);
	cv_mem_unref(oreq);
	cv_mem_unref(req);
	run_for(6000);
	assert_int_equal(cv_txn_count(H.l), 0);
}

/* The layer formats responses without printf; the bytes are exactly
 * those of cv_sip_resp_print (§8.2.6), for every shape of request. */
static void check_same_as_sip_print(const char *raw, uint16_t status,
				    const struct cv_txn_resp_params *rp)
{
	struct cv_sip_msg *req = parse("%s", raw);
	cv_mem_ref(req);
	rx(req, &peer_udp);
	struct cv_txn *t = H.srv[H.nsrv - 1];
	unsigned before = H.ns;
	assert_int_equal(cv_txn_respond(t, status, rp), 0);
	assert_int_equal(H.ns, before + 1);
	char tag[24];
	int n = cv_txn_local_tag(t, tag, sizeof(tag));
	struct cv_sip_resp_params sp = {
		.to_tag = rp && rp->to_tag.l ? rp->to_tag
					     : (struct cv_pl){tag, (size_t)n}};
	if (rp) {
		sp.headers = rp->headers;
		sp.content_type = rp->content_type;
		sp.body = rp->body;
	}
	struct cv_buf b;
	cv_buf_init(&b, 65535);
	assert_int_equal(
		cv_sip_resp_print(&b, req, status, rp ? rp->reason : NULL, &sp),
		0);
	const struct cv_sip_msg *got = H.s[before].m;
	if (got->len != b.len || memcmp(got->buf, b.data, b.len) != 0)
		fprintf(stderr, "txn:\n%.*s\nsip:\n%s\n", (int)got->len,
			got->buf, b.data);
	assert_int_equal(got->len, b.len);
	assert_memory_equal(got->buf, b.data, b.len);
	cv_buf_free(&b);
	cv_mem_unref(req);
}

static void test_response_bytes_as_sip_print(void **state)
{
	(void)state;
	check_same_as_sip_print(
		"OPTIONS sip:bob@127.0.0.1 SIP/2.0\r\n"
		"Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKp1;rport\r\n"
		"Via: SIP/2.0/TCP proxy.example;branch=z9hG4bKp0, "
		"SIP/2.0/UDP 10.9.9.9\r\n"
		"From: \"A\" <sip:a@x>;tag=fa\r\nTo: <sip:bob@127.0.0.1>\r\n"
		"Call-ID: p1@x\r\nCSeq: 2147483647 OPTIONS\r\n"
		"Timestamp: 54.2\r\nContent-Length: 0\r\n\r\n",
		200, NULL);
	struct cv_txn_resp_params rp = {
		.reason = "Fine Thanks",
		.headers = CV_PL("Allow: INVITE\r\nX-A: b\r\n"),
		.content_type = CV_PL("application/sdp"),
		.body = CV_PL("v=0\r\n")};
	check_same_as_sip_print(
		"INFO sip:bob@127.0.0.1 SIP/2.0\r\n"
		"Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKp2\r\n"
		"From: <sip:a@x>;tag=fa\r\nTo: <sip:bob@127.0.0.1>;tag=tt\r\n"
		"Call-ID: p2@x\r\nCSeq: 7 INFO\r\nContent-Length: 0\r\n\r\n",
		200, &rp);
	struct cv_txn_resp_params tagged = {.to_tag = CV_PL("given")};
	check_same_as_sip_print(
		"MESSAGE sip:bob@127.0.0.1 SIP/2.0\r\n"
		"Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKp3\r\n"
		"From: <sip:a@x>;tag=fa\r\nTo: bob <sip:bob@127.0.0.1>\r\n"
		"Call-ID: p3@x\r\nCSeq: 1 MESSAGE\r\nContent-Length: 0\r\n\r\n",
		486, &tagged);
	/* a 100 echoes the Timestamp and gets no To tag */
	check_same_as_sip_print(
		"INVITE sip:bob@127.0.0.1 SIP/2.0\r\n"
		"Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKp4\r\n"
		"From: <sip:a@x>;tag=fa\r\nTo: <sip:bob@127.0.0.1>\r\n"
		"Call-ID: p4@x\r\nCSeq: 1 INVITE\r\nTimestamp: 1 0.5\r\n"
		"Content-Length: 0\r\n\r\n",
		100, NULL);
	/* header injection is refused as by cv_sip_resp_print */
	rx(mkreq("OPTIONS", "z9hG4bKp5", 1), &peer_udp);
	struct cv_txn_resp_params bad = {.headers = CV_PL("X: a\r\n\r\nY")};
	assert_int_equal(cv_txn_respond(H.srv[H.nsrv - 1], 200, &bad), -EINVAL);
	struct cv_txn_resp_params badr = {.reason = "OK\r\nX: y"};
	assert_int_equal(cv_txn_respond(H.srv[H.nsrv - 1], 200, &badr),
			 -EINVAL);
	struct cv_txn_resp_params badt = {.to_tag = CV_PL("a\nb")};
	assert_int_equal(cv_txn_respond(H.srv[H.nsrv - 1], 200, &badt),
			 -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup_slim, teardown)
		T(test_slim_non_invite_retransmission),
		T(test_slim_invite_486),
		T(test_slim_merged),
		T(test_rfc2543_not_slimmed),
		T(test_slim_memory),
		T(test_stateless_final),
		T(test_stateless_invite),
		T(test_response_bytes_as_sip_print),
		T(test_slim_client),
#undef T
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
