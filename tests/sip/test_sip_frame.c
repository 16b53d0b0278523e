/* Stream framing, keep-alive and Call-ID peek (RFC 3261 §18.3). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "cvoip/sip.h"

#define S(x) (x), (sizeof(x) - 1)

static const char MSG[] = "INVITE sip:bob@example.com SIP/2.0\r\n"
			  "Via: SIP/2.0/TCP h.example.com;branch=z9hG4bK1\r\n"
			  "i: abc@def \r\n"
			  "l: 5\r\n"
			  "\r\n"
			  "hello";

static void test_frame_complete(void **state)
{
	(void)state;
	size_t n = 0;
	assert_int_equal(cv_sip_frame(S(MSG), 65535, &n), 0);
	assert_int_equal(n, sizeof(MSG) - 1);
	/* two messages back to back: only the first */
	char two[2 * sizeof(MSG)];
	memcpy(two, MSG, sizeof(MSG) - 1);
	memcpy(two + sizeof(MSG) - 1, MSG, sizeof(MSG) - 1);
	assert_int_equal(cv_sip_frame(two, 2 * (sizeof(MSG) - 1), 65535, &n),
			 0);
	assert_int_equal(n, sizeof(MSG) - 1);
}

static void test_frame_incomplete(void **state)
{
	(void)state;
	size_t n = 0;
	for (size_t l = 0; l < sizeof(MSG) - 1; l++)
		assert_int_equal(cv_sip_frame(MSG, l, 65535, &n),
				 CV_EINCOMPLETE);
}

static void test_frame_errors(void **state)
{
	(void)state;
	size_t n = 0;
	assert_int_equal(cv_sip_frame(S(MSG), 40, &n), CV_ETOOBIG);
	/* headers complete, body would pass the limit */
	assert_int_equal(cv_sip_frame(S(MSG), sizeof(MSG) - 2, &n), CV_ETOOBIG);
	assert_int_equal(
		cv_sip_frame(S("OPTIONS sip:a SIP/2.0\r\nCall-ID: x\r\n\r\n"),
			     65535, &n),
		CV_EPARSE);
	assert_int_equal(
		cv_sip_frame(S("OPTIONS sip:a SIP/2.0\r\nContent-Length: "
			       "x1\r\n\r\n"),
			     65535, &n),
		CV_EPARSE);
	assert_int_equal(
		cv_sip_frame(S("OPTIONS sip:a SIP/2.0\r\nContent-Length: 1\r\n"
			       "content-length: 2\r\n\r\nab"),
			     65535, &n),
		CV_EPARSE);
	/* same value twice is tolerated; folded value; bare LF */
	assert_int_equal(
		cv_sip_frame(S("OPTIONS sip:a SIP/2.0\nContent-Length:\n 2\nL: "
			       "2\n\nab"),
			     65535, &n),
		0);
	assert_int_equal(n, 49);
	/* no end of headers within max_msg */
	assert_int_equal(
		cv_sip_frame(
			S("OPTIONS sip:a SIP/2.0\r\nX: aaaaaaaaaaaaaaaaaaaa"),
			30, &n),
		CV_ETOOBIG);
}

static void test_keepalive(void **state)
{
	(void)state;
	assert_int_equal(cv_sip_keepalive_len(S("\r\n\r\nINVITE")), 4);
	assert_int_equal(cv_sip_keepalive_len(S("INVITE")), 0);
	assert_int_equal(cv_sip_keepalive_len(S("\r\n")), 2);
	assert_int_equal(cv_sip_keepalive_len(NULL, 0), 0);
}

static void test_peek_call_id(void **state)
{
	(void)state;
	struct cv_pl id;
	assert_int_equal(cv_sip_peek_call_id(S(MSG), &id), 0);
	assert_true(cv_pl_eq_str(id, "abc@def"));
	assert_int_equal(
		cv_sip_peek_call_id(
			S("SIP/2.0 200 OK\r\nCALL-ID :\t x-y \r\n\r\n"), &id),
		0);
	assert_true(cv_pl_eq_str(id, "x-y"));
	/* a Call-ID in the body does not count */
	assert_int_equal(
		cv_sip_peek_call_id(
			S("SIP/2.0 200 OK\r\nTo: a\r\n\r\nCall-ID: zz\r\n"),
			&id),
		CV_ENOTFOUND);
	assert_int_equal(
		cv_sip_peek_call_id(S("SIP/2.0 200 OK\r\nCall-IDx: 1\r\n\r\n"),
				    &id),
		CV_ENOTFOUND);
	assert_int_equal(cv_sip_peek_call_id(
				 S("SIP/2.0 200 OK\r\nCall-ID: \r\n\r\n"), &id),
			 CV_EPARSE);
	assert_int_equal(cv_sip_peek_call_id(S("garbage"), &id), CV_ENOTFOUND);
	/* unterminated header section still finds it */
	assert_int_equal(cv_sip_peek_call_id(S("BYE x SIP/2.0\r\ni:q"), &id),
			 0);
	assert_true(cv_pl_eq_str(id, "q"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_frame_complete),
		cmocka_unit_test(test_frame_incomplete),
		cmocka_unit_test(test_frame_errors),
		cmocka_unit_test(test_keepalive),
		cmocka_unit_test(test_peek_call_id),
	};
	int64_t live = cv_mem_live();
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	return rc || cv_mem_live() != live;
}
