/* Listen specs, addresses, kinds and default limits. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "cvoip/transport.h"

static void roundtrip(const char *in, const char *canon)
{
	struct cv_tp_spec s;
	char buf[400];
	assert_int_equal(cv_tp_spec_parse(in, &s), 0);
	cv_tp_spec_print(&s, buf, sizeof(buf));
	assert_string_equal(buf, canon);
}

static void test_spec_ok(void **state)
{
	struct cv_tp_spec s;
	roundtrip("udp:127.0.0.1:5060", "udp:127.0.0.1:5060");
	roundtrip("tcp:[::1]:5060", "tcp:[::1]:5060");
	roundtrip("tls:0.0.0.0:5061", "tls:0.0.0.0:5061");
	roundtrip("ws:127.0.0.1:5066", "ws:127.0.0.1:5066");
	roundtrip("WSS:[::]:7443", "wss:[::]:7443");
	roundtrip("tls:127.0.0.1", "tls:127.0.0.1:5061");
	roundtrip("udp:[::1]", "udp:[::1]:5060");
	roundtrip("ws:127.0.0.1", "ws:127.0.0.1:80");
	roundtrip("udp:0.0.0.0:5060;advertise=203.0.113.7",
		  "udp:0.0.0.0:5060;advertise=203.0.113.7");
	roundtrip("tcp:0.0.0.0:5060;advertise=sip.example.com:15060",
		  "tcp:0.0.0.0:5060;advertise=sip.example.com:15060");
	assert_int_equal(cv_tp_spec_parse("udp:127.0.0.1:0", &s), 0);
	assert_int_equal(cv_tp_addr_port(&s.addr), 0);
	assert_int_equal(s.kind, CV_TP_UDP);
	assert_int_equal(cv_tp_spec_parse("tcp:[::1]:5070", &s), 0);
	assert_int_equal(s.addr.ss.ss_family, AF_INET6);
	assert_int_equal(cv_tp_addr_port(&s.addr), 5070);
}

static void test_spec_bad(void **state)
{
	static const char *const bad[] = {"",
					  "udp",
					  "udp:",
					  "sctp:127.0.0.1:5060",
					  "udp:localhost:5060",
					  "udp:127.0.0.1:65536",
					  "udp:127.0.0.1:-1",
					  "udp:127.0.0.1:50x",
					  "tcp:[::1:5060",
					  "tcp:[::1]x5060",
					  "tcp:[::1]:",
					  "udp:1.2.3:5060",
					  "udp:127.0.0.1:5060;foo=bar",
					  "udp:127.0.0.1:5060;advertise=",
					  "udp:127.0.0.1:5060;advertise=a b",
					  "udp::5060",
					  "udp:[]:5060",
					  "udp:300.1.1.1:5060"};
	struct cv_tp_spec s;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_not_equal(cv_tp_spec_parse(bad[i], &s), 0);
	char longs[700];
	memset(longs, 'a', sizeof(longs) - 1);
	longs[sizeof(longs) - 1] = 0;
	memcpy(longs, "udp:", 4);
	assert_int_not_equal(cv_tp_spec_parse(longs, &s), 0);
}

static void test_addr(void **state)
{
	struct cv_tp_addr a, b;
	char buf[CV_TP_ADDRSTRLEN];
	assert_int_equal(cv_tp_addr_parse(&a, CV_PL("[::1]:5060")), 0);
	cv_tp_addr_print(&a, buf, sizeof(buf));
	assert_string_equal(buf, "[::1]:5060");
	cv_tp_addr_host_print(&a, buf, sizeof(buf));
	assert_string_equal(buf, "::1");
	assert_int_equal(cv_tp_addr_parse(&b, CV_PL("::1")), 0);
	assert_true(cv_tp_addr_eq_ip(&a, &b));
	assert_false(cv_tp_addr_eq(&a, &b));
	cv_tp_addr_set_port(&b, 5060);
	assert_true(cv_tp_addr_eq(&a, &b));
	assert_int_equal(cv_tp_addr_set(&a, CV_PL("0.0.0.0"), 1), 0);
	assert_true(cv_tp_addr_is_any(&a));
	assert_int_equal(cv_tp_addr_len(&a), sizeof(struct sockaddr_in));
	assert_int_not_equal(cv_tp_addr_set(&a, CV_PL("example.com"), 1), 0);
	memset(&a, 0, sizeof(a));
	assert_false(cv_tp_addr_isset(&a));
}

static void test_kinds(void **state)
{
	enum cv_tp_kind k;
	assert_int_equal(cv_tp_kind_parse(CV_PL("wss"), &k), 0);
	assert_int_equal(k, CV_TP_WSS);
	assert_string_equal(cv_tp_kind_name(CV_TP_TLS), "TLS");
	assert_int_not_equal(cv_tp_kind_parse(CV_PL("sctp"), &k), 0);
	assert_true(cv_tp_kind_is_secure(CV_TP_WSS));
	assert_false(cv_tp_kind_is_stream(CV_TP_UDP));
	assert_int_equal(cv_tp_kind_default_port(CV_TP_TLS), 5061);
	struct cv_tp_limits l;
	cv_tp_limits_default(&l);
	assert_true(l.max_conns > 0 && l.max_conns_per_ip > 0 &&
		    l.partial_timeout_ms > 0 && l.max_ws_frame > 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_spec_ok),
		cmocka_unit_test(test_spec_bad),
		cmocka_unit_test(test_addr),
		cmocka_unit_test(test_kinds),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
