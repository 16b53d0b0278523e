/* Stream framing with partial reads, keep-alive pings, limits. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "../../src/transport/tp_int.h"

static const char msg1[] =
	"OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/TCP h;branch=z9hG4bK1\r\n"
	"Call-ID: c1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 5\r\n\r\nhello";
static const char msg2[] =
	"OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/TCP h;branch=z9hG4bK2\r\n"
	"Call-ID: c2\r\nCSeq: 2 OPTIONS\r\nContent-Length: 0\r\n\r\n";

/* A consumer like tp_stream_frame: feeds `in` in chunks of `step`. */
struct sink {
	char buf[4096];
	size_t len;
	unsigned msgs, pings;
	size_t sizes[8];
	int err;
};

static void feed(struct sink *s, const char *in, size_t n, size_t step,
		 size_t max)
{
	for (size_t off = 0; off < n && !s->err; off += step) {
		size_t k = CV_MIN(step, n - off);
		memcpy(s->buf + s->len, in + off, k);
		s->len += k;
		for (;;) {
			size_t used, mlen;
			unsigned pings;
			int err = tp_frame_next(s->buf, s->len, max, &used,
						&mlen, &pings);
			s->pings += pings;
			if (err == CV_EINCOMPLETE) {
				memmove(s->buf, s->buf + used, s->len - used);
				s->len -= used;
				break;
			}
			if (err) {
				s->err = err;
				break;
			}
			if (s->msgs < 8)
				s->sizes[s->msgs] = mlen;
			s->msgs++;
			memmove(s->buf, s->buf + used, s->len - used);
			s->len -= used;
		}
	}
}

static void test_partial_reads(void **state)
{
	char in[1024];
	int n = snprintf(in, sizeof(in), "\r\n\r\n%s%s\r\n\r\n\r\n\r\n%s", msg1,
			 msg2, msg1);
	for (size_t step = 1; step <= (size_t)n; step++) {
		struct sink s = {0};
		feed(&s, in, (size_t)n, step, 4096);
		assert_int_equal(s.err, 0);
		assert_int_equal(s.msgs, 3);
		assert_int_equal(s.pings, 3);
		assert_int_equal(s.sizes[0], sizeof(msg1) - 1);
		assert_int_equal(s.sizes[1], sizeof(msg2) - 1);
		assert_int_equal(s.len, 0);
	}
}

static void test_lone_crlf(void **state)
{
	/* a CRLF pong from the peer is not a ping; CRLF then CRLF later is */
	struct sink s = {0};
	feed(&s, "\r\n", 2, 2, 4096);
	assert_int_equal(s.pings, 0);
	assert_int_equal(s.len, 2);
	feed(&s, "\r\n", 2, 2, 4096);
	assert_int_equal(s.pings, 1);
	assert_int_equal(s.len, 0);
}

static void test_limits(void **state)
{
	struct sink s = {0};
	feed(&s, msg1, sizeof(msg1) - 1, 7, 40);
	assert_int_equal(s.err, CV_ETOOBIG);

	struct sink g = {0};
	static const char bad[] =
		"FOO sip:x SIP/2.0\r\nContent-Length: zz\r\n\r\n";
	feed(&g, bad, sizeof(bad) - 1, 3, 4096);
	assert_int_equal(g.err, CV_EPARSE);

	/* a body announced beyond the limit fails before it arrives */
	struct sink b = {0};
	static const char big[] =
		"OPTIONS sip:x SIP/2.0\r\nContent-Length: 100000\r\n\r\n";
	feed(&b, big, sizeof(big) - 1, 5, 4096);
	assert_int_equal(b.err, CV_ETOOBIG);
}

static void test_ws_accept(void **state)
{
	/* RFC 6455 §1.3 example */
	char out[32];
	tp_ws_accept_key(CV_PL("dGhlIHNhbXBsZSBub25jZQ=="), out);
	assert_string_equal(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_partial_reads),
		cmocka_unit_test(test_lone_crlf),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_ws_accept),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
