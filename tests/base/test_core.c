/* base: memory, slices, buffers, logging, clock, errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sched.h>

#include "cvoip/base.h"

static int dtor_calls;
static void count_dtor(void *obj)
{
	(void)obj;
	dtor_calls++;
}

static void test_mem_refcount(void **state)
{
	int64_t live = cv_mem_live();
	dtor_calls = 0;
	int *p = cv_mem_zalloc(sizeof(int) * 4, count_dtor);
	assert_non_null(p);
	assert_int_equal(p[3], 0);
	assert_int_equal(cv_mem_live(), live + 1);
	assert_int_equal(cv_mem_nrefs(p), 1);
	cv_mem_ref(p);
	assert_int_equal(cv_mem_nrefs(p), 2);
	assert_null(cv_mem_unref(p));
	assert_int_equal(dtor_calls, 0);
	p = cv_mem_realloc(p, sizeof(int) * 100);
	assert_non_null(p);
	assert_int_equal(p[99], 0);
	cv_mem_unref(p);
	assert_int_equal(dtor_calls, 1);
	assert_int_equal(cv_mem_live(), live);
	assert_null(cv_mem_unref(NULL));
}

static void test_pl(void **state)
{
	struct cv_pl a = CV_PL("Hello");
	assert_true(cv_pl_eq_str(a, "Hello"));
	assert_false(cv_pl_eq_str(a, "hello"));
	assert_true(cv_pl_caseeq_str(a, "hELLO"));
	uint32_t v;
	assert_int_equal(cv_pl_u32(CV_PL("4294967295"), &v), 0);
	assert_int_equal(v, 4294967295u);
	assert_int_equal(cv_pl_u32(CV_PL("4294967296"), &v), -ERANGE);
	assert_int_equal(cv_pl_u32(CV_PL("12a"), &v), -EINVAL);
	assert_int_equal(cv_pl_u32(CV_PL(""), &v), -EINVAL);
	struct cv_pl t = cv_pl_trim(CV_PL("  x y \t"));
	assert_true(cv_pl_eq_str(t, "x y"));
	char buf[4];
	assert_int_equal(cv_pl_strcpy(CV_PL("abcdef"), buf, sizeof(buf)), 7);
	assert_string_equal(buf, "abc");
	char *d = cv_pl_strdup(CV_PL("xyz"));
	assert_string_equal(d, "xyz");
	free(d);
}

static void test_buf(void **state)
{
	struct cv_buf b;
	cv_buf_init(&b, 16);
	assert_int_equal(cv_buf_append_str(&b, "0123456789"), 0);
	assert_int_equal(cv_buf_printf(&b, "%d", 12345), 0);
	assert_int_equal(b.len, 15);
	assert_string_equal(b.data, "012345678912345");
	assert_int_equal(cv_buf_append_str(&b, "ab"), CV_ETOOBIG);
	/* sticky error */
	assert_int_equal(cv_buf_append_str(&b, "a"), CV_ETOOBIG);
	cv_buf_reset(&b);
	assert_int_equal(cv_buf_append_str(&b, "abcdef"), 0);
	cv_buf_consume(&b, 2);
	assert_string_equal(b.data, "cdef");
	cv_buf_consume(&b, 100);
	assert_int_equal(b.len, 0);
	cv_buf_free(&b);

	cv_buf_init(&b, 0);
	for (int i = 0; i < 1000; i++)
		assert_int_equal(
			cv_buf_printf(&b, "line %d with some text\n", i), 0);
	assert_true(b.len > 20000);
	cv_buf_free(&b);
}

struct capture {
	int lines;
	char last[512];
};

static void sink(enum cv_log_level lvl, const char *module, const char *line,
		 void *arg)
{
	struct capture *c = arg;
	c->lines++;
	snprintf(c->last, sizeof(c->last), "%s", line);
}

static void test_log(void **state)
{
	struct capture c = {0};
	cv_log_set_sink(sink, &c);
	cv_log_set_level(CV_LOG_INFO);
	cv_log(CV_LOG_INFO, "test", "hello key=%d", 5);
	assert_int_equal(c.lines, 1);
	assert_non_null(strstr(c.last, "info"));
	assert_non_null(strstr(c.last, "test"));
	assert_non_null(strstr(c.last, "hello key=5"));
	CV_DEBUG("test", "hidden");
	assert_int_equal(c.lines, 1);
	assert_int_equal(cv_log_set_module_level("noisy", CV_LOG_TRACE), 0);
	CV_DEBUG("noisy", "shown");
	assert_int_equal(c.lines, 2);
	/* rate limit: at most 10 per second per call site */
	cv_clock_fake_enable(1000000);
	c.lines = 0;
	for (int i = 0; i < 100; i++)
		CV_LOG_RL(CV_LOG_WARN, "test", "flood %d", i);
	assert_int_equal(c.lines, 10);
	cv_clock_fake_advance(1100000);
	for (int i = 0; i < 5; i++)
		CV_LOG_RL(CV_LOG_WARN, "test", "flood %d", i);
	assert_int_equal(c.lines, 15);
	assert_non_null(strstr(c.last, "flood 4 suppressed=0"));
	cv_clock_fake_disable();
	cv_log_set_sink(NULL, NULL);
	enum cv_log_level l;
	assert_int_equal(cv_log_level_parse("debug", &l), 0);
	assert_int_equal(l, CV_LOG_DEBUG);
	assert_int_equal(cv_log_level_parse("loud", &l), -EINVAL);
}

static void test_clock_and_errors(void **state)
{
	uint64_t a = cv_clock_us();
	uint64_t b = cv_clock_us();
	assert_true(b >= a);
	cv_clock_fake_enable(5000);
	assert_true(cv_clock_is_fake());
	assert_int_equal(cv_clock_us(), 5000);
	cv_clock_fake_advance(2500);
	assert_int_equal(cv_clock_us(), 7500);
	assert_int_equal(cv_clock_ms(), 7);
	cv_clock_fake_disable();
	assert_false(cv_clock_is_fake());
	assert_string_equal(cv_strerror(CV_EFULL), "queue full");
	assert_string_equal(cv_strerror(-ENOMEM), strerror(ENOMEM));
	assert_string_equal(cv_strerror(0), "success");
	char tok[17];
	cv_random_token(tok, 16);
	assert_int_equal(strlen(tok), 16);
	assert_int_equal(cv_hash("abc", 3), cv_hash("abc", 3));
	assert_int_equal(cv_hash_ci("ABC", 3), cv_hash("abc", 3));
}

static void test_base64(void **state)
{
	(void)state;
	/* RFC 4648 §10 test vectors, standard alphabet with padding */
	static const char *const vec[][2] = {
		{"", ""},
		{"f", "Zg=="},
		{"fo", "Zm8="},
		{"foo", "Zm9v"},
		{"foob", "Zm9vYg=="},
		{"fooba", "Zm9vYmE="},
		{"foobar", "Zm9vYmFy"},
	};
	char out[32];
	uint8_t raw[32];
	size_t n;
	for (size_t i = 0; i < sizeof(vec) / sizeof(vec[0]); i++) {
		size_t len = strlen(vec[i][0]);
		int r = cv_base64_encode(vec[i][0], len, out, sizeof(out),
					 CV_BASE64_STD);
		assert_int_equal(r, (int)strlen(vec[i][1]));
		assert_string_equal(out, vec[i][1]);
		assert_int_equal(cv_base64_enclen(len, CV_BASE64_STD), r);
		assert_int_equal(
			cv_base64_decode(
				((struct cv_pl){vec[i][1], strlen(vec[i][1])}),
				raw, sizeof(raw), &n, CV_BASE64_STD),
			0);
		assert_int_equal(n, len);
		assert_memory_equal(raw, vec[i][0], len);
	}
	/* URL-safe, no padding: 0xfb 0xff -> "-_8" */
	const uint8_t u[] = {0xfb, 0xff};
	assert_int_equal(
		cv_base64_encode(u, 2, out, sizeof(out), CV_BASE64_URL), 3);
	assert_string_equal(out, "-_8");
	assert_int_equal(cv_base64_decode(CV_PL("-_8"), raw, sizeof(raw), &n,
					  CV_BASE64_URL),
			 0);
	assert_int_equal(n, 2);
	assert_memory_equal(raw, u, 2);
	/* refused: non-zero leftover bits (url), '=' in url, bad characters,
	 * data after padding, too much output, too small a buffer */
	assert_int_equal(cv_base64_decode(CV_PL("-_9"), raw, sizeof(raw), &n,
					  CV_BASE64_URL),
			 CV_EPARSE);
	assert_int_equal(cv_base64_decode(CV_PL("Zg=="), raw, sizeof(raw), &n,
					  CV_BASE64_URL),
			 CV_EPARSE);
	assert_int_equal(cv_base64_decode(CV_PL("Z-8="), raw, sizeof(raw), &n,
					  CV_BASE64_STD),
			 CV_EPARSE);
	assert_int_equal(cv_base64_decode(CV_PL("Zg=a"), raw, sizeof(raw), &n,
					  CV_BASE64_STD),
			 CV_EPARSE);
	assert_int_equal(
		cv_base64_decode(CV_PL("Zm9vYmFy"), raw, 5, &n, CV_BASE64_STD),
		CV_EPARSE);
	assert_int_equal(cv_base64_encode("foo", 3, out, 4, CV_BASE64_STD),
			 CV_ETOOBIG);
	assert_int_equal(cv_base64_encode("foo", 3, out, 5, CV_BASE64_STD), 4);
}

/* RFC 2045 §6.8 MIME bodies: white space and line breaks skipped, whole
 * quanta only, padding only at a quantum's end */
static void test_base64_mime(void **state)
{
	(void)state;
	uint8_t raw[32];
	size_t n;
	assert_int_equal(cv_base64_decode(CV_PL("Zm9v\r\nYmE=\r\n"), raw,
					  sizeof(raw), &n, CV_BASE64_MIME),
			 0);
	assert_int_equal(n, 5);
	assert_memory_equal(raw, "fooba", 5);
	assert_int_equal(cv_base64_decode(CV_PL(" Zg = = "), raw, sizeof(raw),
					  &n, CV_BASE64_MIME),
			 0);
	assert_int_equal(n, 1);
	/* a partial quantum, '=' too early, data after padding */
	assert_int_equal(cv_base64_decode(CV_PL("Zm9vYg"), raw, sizeof(raw), &n,
					  CV_BASE64_MIME),
			 CV_EPARSE);
	assert_int_equal(cv_base64_decode(CV_PL("Z==="), raw, sizeof(raw), &n,
					  CV_BASE64_MIME),
			 CV_EPARSE);
	assert_int_equal(cv_base64_decode(CV_PL("Zg==Zg=="), raw, sizeof(raw),
					  &n, CV_BASE64_MIME),
			 CV_EPARSE);
	/* the standard kind takes no white space */
	assert_int_equal(cv_base64_decode(CV_PL("Zm9v\r\n"), raw, sizeof(raw),
					  &n, CV_BASE64_STD),
			 CV_EPARSE);
}

static void test_u64_dec(void **state)
{
	(void)state;
	char d[CV_U64_DEC_MAX];
	assert_int_equal(cv_u64_dec(d, 0), 1);
	assert_memory_equal(d, "0", 1);
	assert_int_equal(cv_u64_dec(d, 5060), 4);
	assert_memory_equal(d, "5060", 4);
	assert_int_equal(cv_u64_dec(d, UINT64_MAX), 20);
	assert_memory_equal(d, "18446744073709551615", 20);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mem_refcount),
		cmocka_unit_test(test_pl),
		cmocka_unit_test(test_buf),
		cmocka_unit_test(test_log),
		cmocka_unit_test(test_clock_and_errors),
		cmocka_unit_test(test_base64),
		cmocka_unit_test(test_u64_dec),
		cmocka_unit_test(test_base64_mime),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
