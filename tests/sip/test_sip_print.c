/* Builders and edits: response from request (RFC 3261 §8.2.6), request
 * from params, header edits, Via prepend/strip, received/rport
 * (RFC 3581). Everything built must parse back. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "cvoip/sip.h"

#define S(x)	  (x), (sizeof(x) - 1)
#define EQ(pl, s) assert_true(cv_pl_eq_str((pl), (s)))

static const char REQ[] = "INVITE sip:bob@b.example SIP/2.0\r\n"
			  "Via: SIP/2.0/UDP p.example;branch=z9hG4bKp1, "
			  "SIP/2.0/UDP a.example;branch=z9hG4bKa1;rport\r\n"
			  "Via: SIP/2.0/TCP c.example;branch=z9hG4bKc1\r\n"
			  "Max-Forwards: 70\r\n"
			  "From: Alice <sip:alice@a.example>;tag=f1\r\n"
			  "To: <sip:bob@b.example>\r\n"
			  "Call-ID: cid1\r\n"
			  "CSeq: 5 INVITE\r\n"
			  "Timestamp: 54\r\n"
			  "Content-Length: 0\r\n\r\n";

static struct cv_sip_msg *parse(const char *b, size_t l)
{
	struct cv_sip_msg *m = NULL;
	struct cv_sip_verdict v;
	int err = cv_sip_msg_parse(&m, b, l, NULL, &v);
	if (err)
		print_error("parse: %d %s\n%.*s\n", v.status, v.reason, (int)l,
			    b);
	assert_int_equal(err, 0);
	return m;
}

static void test_response(void **state)
{
	(void)state;
	struct cv_sip_msg *req = parse(S(REQ));
	struct cv_buf out;
	cv_buf_init(&out, 0);
	struct cv_sip_resp_params p = {.to_tag = CV_PL("t9"),
				       .headers = CV_PL("Server: cvoip\r\n"),
				       .content_type = CV_PL("text/plain"),
				       .body = CV_PL("hello")};
	assert_int_equal(cv_sip_resp_print(&out, req, 486, NULL, &p), 0);
	struct cv_sip_msg *r = parse(out.data, out.len);
	assert_int_equal(r->status, 486);
	EQ(r->reason, "Busy Here");
	assert_int_equal(r->via_count, 3);
	EQ(r->via.branch, "z9hG4bKp1");
	EQ(r->to.tag, "t9");
	EQ(r->from.tag, "f1");
	EQ(r->call_id, "cid1");
	assert_int_equal(r->cseq.num, 5);
	EQ(r->body, "hello");
	assert_non_null(cv_sip_msg_hdr_by_name(r, CV_PL("Server")));
	assert_null(cv_sip_msg_hdr(r, CV_SIP_HDR_TIMESTAMP));
	cv_mem_unref(r);
	/* 100 Trying: no To tag, Timestamp echoed (§8.2.6.1) */
	cv_buf_reset(&out);
	assert_int_equal(cv_sip_resp_print(&out, req, 100, NULL, &p), 0);
	r = parse(out.data, out.len);
	assert_int_equal(r->to.tag.l, 0);
	assert_non_null(cv_sip_msg_hdr(r, CV_SIP_HDR_TIMESTAMP));
	cv_mem_unref(r);
	/* injection attempts are refused */
	struct cv_sip_resp_params bad = {.headers =
						 CV_PL("X: 1\r\n\r\nINVITE")};
	assert_int_equal(cv_sip_resp_print(&out, req, 200, NULL, &bad),
			 -EINVAL);
	struct cv_sip_resp_params bad2 = {.to_tag = CV_PL("a\r\nX: y")};
	assert_int_equal(cv_sip_resp_print(&out, req, 200, NULL, &bad2),
			 -EINVAL);
	assert_int_equal(cv_sip_resp_print(&out, req, 99, NULL, NULL), -EINVAL);
	assert_int_equal(cv_sip_resp_print(&out, req, 200, "OK\r\nX: 1", NULL),
			 -EINVAL);
	cv_buf_free(&out);
	cv_mem_unref(req);
}

static void test_request(void **state)
{
	(void)state;
	struct cv_buf out;
	cv_buf_init(&out, 0);
	struct cv_pl routes[] = {CV_PL("<sip:p1.example;lr>"),
				 CV_PL("<sip:p2.example;lr>")};
	struct cv_sip_req_params p = {
		.method = CV_SIP_INVITE,
		.ruri = CV_PL("sip:bob@b.example"),
		.via = {.tp = CV_SIP_TP_TCP,
			.sent_by = CV_PL("a.example:5070"),
			.rport = true},
		.from_uri = CV_PL("sip:alice@a.example"),
		.from_display = CV_PL("Alice"),
		.from_tag = CV_PL("ft"),
		.to_uri = CV_PL("sip:bob@b.example"),
		.call_id = CV_PL("c1@a"),
		.cseq = 1,
		.contact = CV_PL("<sip:alice@192.0.2.1>"),
		.route = routes,
		.nroute = 2,
		.headers = CV_PL("Supported: timer\r\n"),
		.content_type = CV_PL("application/sdp"),
		.body = CV_PL("v=0\r\n"),
	};
	assert_int_equal(cv_sip_req_print(&out, &p), 0);
	struct cv_sip_msg *m = parse(out.data, out.len);
	assert_int_equal(m->method, CV_SIP_INVITE);
	assert_int_equal(m->max_forwards, 70);
	assert_int_equal(m->via.tp, CV_SIP_TP_TCP);
	assert_int_equal(m->via.port, 5070);
	assert_true(m->via.rport_present);
	assert_int_equal(m->via.branch.l, 27);
	assert_memory_equal(m->via.branch.p, "z9hG4bK", 7);
	EQ(m->from.dname, "Alice");
	EQ(m->from.tag, "ft");
	assert_int_equal(m->to.tag.l, 0);
	EQ(m->body, "v=0\r\n");
	assert_int_equal(cv_sip_msg_parse_full(m, NULL), 0);
	struct cv_sip_vals_iter it = {0};
	struct cv_pl r;
	int n = 0;
	while (cv_sip_msg_vals_next(m, CV_SIP_HDR_ROUTE, &it, &r) == 0)
		n++;
	assert_int_equal(n, 2);
	cv_mem_unref(m);
	/* other method, Max-Forwards 0 */
	cv_buf_reset(&out);
	p.method = CV_SIP_METHOD_OTHER;
	p.method_name = CV_PL("FOO");
	p.max_forwards = -1;
	p.body = (struct cv_pl){NULL, 0};
	assert_int_equal(cv_sip_req_print(&out, &p), 0);
	m = parse(out.data, out.len);
	EQ(m->method_pl, "FOO");
	assert_int_equal(m->max_forwards, 0);
	assert_int_equal(m->content_length, 0);
	cv_mem_unref(m);
	p.ruri = CV_PL("sip:a SIP/2.0\r\nX: y");
	assert_int_equal(cv_sip_req_print(&out, &p), -EINVAL);
	cv_buf_free(&out);
	char b1[CV_SIP_BRANCH_SIZE], b2[CV_SIP_BRANCH_SIZE], t[CV_SIP_TAG_SIZE];
	cv_sip_branch_new(b1);
	cv_sip_branch_new(b2);
	cv_sip_tag_new(t);
	assert_int_equal(strlen(b1), 27);
	assert_string_not_equal(b1, b2);
	assert_int_equal(strlen(t), 16);
}

static void test_edits(void **state)
{
	(void)state;
	struct cv_sip_msg *m = parse(S(REQ));
	struct cv_buf out;
	cv_buf_init(&out, 0);
	const struct cv_sip_hdr *mf =
		cv_sip_msg_hdr(m, CV_SIP_HDR_MAX_FORWARDS);
	const struct cv_sip_hdr *ts = cv_sip_msg_hdr(m, CV_SIP_HDR_TIMESTAMP);
	const struct cv_sip_hdr *to = cv_sip_msg_hdr(m, CV_SIP_HDR_TO);
	struct cv_sip_edit ops[] = {
		{.op = CV_SIP_EDIT_REPLACE, .hdr = mf, .value = CV_PL("69")},
		{.op = CV_SIP_EDIT_REMOVE, .hdr = ts},
		{.op = CV_SIP_EDIT_INSERT,
		 .hdr = to,
		 .name = CV_PL("Route"),
		 .value = CV_PL("<sip:x;lr>")},
		{.op = CV_SIP_EDIT_APPEND,
		 .name = CV_PL("X-Last"),
		 .value = CV_PL("1")},
		{.op = CV_SIP_EDIT_RURI, .value = CV_PL("sip:bob@192.0.2.9")},
		{.op = CV_SIP_EDIT_BODY,
		 .name = CV_PL("text/plain"),
		 .value = CV_PL("abc")},
	};
	assert_int_equal(cv_sip_msg_edit(&out, m, ops, 6), 0);
	struct cv_sip_msg *e = parse(out.data, out.len);
	EQ(e->ruri, "sip:bob@192.0.2.9");
	assert_int_equal(e->max_forwards, 69);
	assert_null(cv_sip_msg_hdr(e, CV_SIP_HDR_TIMESTAMP));
	assert_non_null(cv_sip_msg_hdr(e, CV_SIP_HDR_ROUTE));
	/* Route sits right before To */
	const struct cv_sip_hdr *rt = cv_sip_msg_hdr(e, CV_SIP_HDR_ROUTE);
	assert_int_equal(e->hdrs[rt - e->hdrs + 1].id, CV_SIP_HDR_TO);
	EQ(e->hdrs[e->nhdrs - 3].name, "X-Last");
	EQ(e->body, "abc");
	EQ(e->content_type, "text/plain");
	assert_int_equal(e->content_length, 3);
	/* untouched lines are byte-identical */
	assert_non_null(strstr(
		out.data, "Via: SIP/2.0/UDP p.example;branch=z9hG4bKp1, "
			  "SIP/2.0/UDP a.example;branch=z9hG4bKa1;rport\r\n"));
	cv_mem_unref(e);

	/* Via prepend / strip */
	cv_buf_reset(&out);
	assert_int_equal(
		cv_sip_via_prepend(
			&out, m,
			CV_PL("SIP/2.0/UDP proxy.example;branch=z9hG4bKpx")),
		0);
	e = parse(out.data, out.len);
	EQ(e->via.host, "proxy.example");
	assert_int_equal(e->via_count, 4);
	cv_mem_unref(e);
	cv_buf_reset(&out);
	assert_int_equal(cv_sip_via_strip_top(&out, m), 0);
	e = parse(out.data, out.len);
	EQ(e->via.host, "a.example");
	assert_int_equal(e->via_count, 2);
	/* strip again: the line with one value goes away */
	struct cv_buf out2;
	cv_buf_init(&out2, 0);
	assert_int_equal(cv_sip_via_strip_top(&out2, e), 0);
	struct cv_sip_msg *e2 = parse(out2.data, out2.len);
	EQ(e2->via.host, "c.example");
	assert_int_equal(e2->via_count, 1);
	cv_mem_unref(e2);
	/* RFC 3581: received + rport filled on the top Via of e (has ;rport) */
	cv_buf_reset(&out2);
	assert_int_equal(
		cv_sip_via_set_received(&out2, e, CV_PL("192.0.2.7"), 5099), 0);
	e2 = parse(out2.data, out2.len);
	EQ(e2->via.received, "192.0.2.7");
	EQ(e2->via.rport, "5099");
	EQ(e2->via.branch, "z9hG4bKa1");
	assert_int_equal(e2->via_count, 2);
	cv_mem_unref(e2);
	cv_buf_free(&out2);
	cv_mem_unref(e);
	/* folded Via lines are rewritten onto one line */
	static const char F[] =
		"BYE sip:b@h SIP/2.0\r\n"
		"Via: SIP/2.0/UDP p1;branch=z9hG4bK1;rport,\r\n SIP/2.0/UDP "
		"p2\r\n ;branch=z9hG4bK2\r\n"
		"From: <sip:a@h>;tag=1\r\nTo: <sip:b@h>;tag=2\r\nCall-ID: "
		"f\r\nCSeq: 2 BYE\r\n\r\n";
	struct cv_sip_msg *fm = parse(S(F));
	cv_buf_reset(&out);
	assert_int_equal(cv_sip_via_strip_top(&out, fm), 0);
	e = parse(out.data, out.len);
	EQ(e->via.host, "p2");
	EQ(e->via.branch, "z9hG4bK2");
	cv_mem_unref(e);
	cv_buf_reset(&out);
	assert_int_equal(
		cv_sip_via_set_received(&out, fm, CV_PL("198.51.100.1"), 4000),
		0);
	e = parse(out.data, out.len);
	EQ(e->via.rport, "4000");
	assert_int_equal(e->via_count, 2);
	cv_mem_unref(e);
	cv_mem_unref(fm);
	/* bad edits */
	struct cv_sip_edit badop = {.op = CV_SIP_EDIT_REPLACE, .hdr = NULL};
	assert_int_equal(cv_sip_msg_edit(&out, m, &badop, 1), -EINVAL);
	struct cv_sip_edit inj = {.op = CV_SIP_EDIT_APPEND,
				  .name = CV_PL("X"),
				  .value = CV_PL("1\r\nY: 2")};
	assert_int_equal(cv_sip_msg_edit(&out, m, &inj, 1), -EINVAL);
	cv_buf_free(&out);
	cv_mem_unref(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_response),
		cmocka_unit_test(test_request),
		cmocka_unit_test(test_edits),
	};
	int64_t live = cv_mem_live();
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	return rc || cv_mem_live() != live;
}
