/* Response routing (RFC 3261 §18.2.2, RFC 3581) and Via sent-by. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "cvoip/transport.h"

static struct cv_tp_meta udp_meta(const char *src)
{
	struct cv_tp_meta m = {.kind = CV_TP_UDP};
	assert_int_equal(cv_tp_addr_parse(&m.src, cv_pl_str(src)), 0);
	return m;
}

static void expect_addr(const struct cv_tp_resp_route *r, const char *want)
{
	char buf[CV_TP_ADDRSTRLEN];
	assert_int_equal(r->how, CV_TP_RESP_ADDR);
	cv_tp_addr_print(&r->addr, buf, sizeof(buf));
	assert_string_equal(buf, want);
}

static void test_udp(void **state)
{
	struct cv_tp_resp_route r;
	struct cv_tp_meta m = udp_meta("192.0.2.1:40000");

	/* RFC 3581: rport -> source address and port */
	struct cv_tp_topvia v = {.kind = CV_TP_UDP,
				 .host = CV_PL("10.0.0.1"),
				 .port = 5062,
				 .rport = true};
	assert_int_equal(cv_tp_resp_route(&m, &v, &r), 0);
	expect_addr(&r, "192.0.2.1:40000");
	assert_int_equal(r.kind, CV_TP_UDP);

	/* no rport: received (source) address, sent-by port */
	v.rport = false;
	assert_int_equal(cv_tp_resp_route(&m, &v, &r), 0);
	expect_addr(&r, "192.0.2.1:5062");

	/* no port in sent-by: 5060 */
	v.port = 0;
	assert_int_equal(cv_tp_resp_route(&m, &v, &r), 0);
	expect_addr(&r, "192.0.2.1:5060");

	/* maddr wins */
	v.maddr = CV_PL("239.1.1.1");
	v.port = 5070;
	assert_int_equal(cv_tp_resp_route(&m, &v, &r), 0);
	expect_addr(&r, "239.1.1.1:5070");

	/* maddr as a name: resolve */
	v.maddr = CV_PL("mcast.example.com");
	assert_int_equal(cv_tp_resp_route(&m, &v, &r), 0);
	assert_int_equal(r.how, CV_TP_RESP_RESOLVE);
	assert_true(cv_pl_eq_str(r.host, "mcast.example.com"));

	/* no source known: received param, then sent-by, then a name */
	struct cv_tp_meta none = {.kind = CV_TP_UDP};
	struct cv_tp_topvia v2 = {.kind = CV_TP_UDP,
				  .host = CV_PL("pc.example.com"),
				  .port = 5080,
				  .received = CV_PL("198.51.100.4")};
	assert_int_equal(cv_tp_resp_route(&none, &v2, &r), 0);
	expect_addr(&r, "198.51.100.4:5080");
	v2.received = (struct cv_pl)CV_PL_INIT;
	assert_int_equal(cv_tp_resp_route(&none, &v2, &r), 0);
	assert_int_equal(r.how, CV_TP_RESP_RESOLVE);
	assert_int_equal(r.port, 5080);
	v2.host = CV_PL("[2001:db8::1]");
	assert_int_equal(cv_tp_resp_route(&none, &v2, &r), 0);
	expect_addr(&r, "[2001:db8::1]:5080");
}

static void test_stream(void **state)
{
	struct cv_tp_resp_route r;
	struct cv_tp_meta m = {.kind = CV_TP_TCP};
	assert_int_equal(cv_tp_addr_parse(&m.src, CV_PL("192.0.2.9:51000")), 0);
	struct cv_tp_topvia v = {.kind = CV_TP_TCP,
				 .host = CV_PL("192.0.2.9"),
				 .port = 5060,
				 .rport = true};
	/* no (open) connection: reopen to received address, sent-by port */
	assert_int_equal(cv_tp_resp_route(&m, &v, &r), 0);
	expect_addr(&r, "192.0.2.9:5060");
	assert_int_equal(r.kind, CV_TP_TCP);
	m.kind = CV_TP_TLS;
	v.port = 0;
	assert_int_equal(cv_tp_resp_route(&m, &v, &r), 0);
	expect_addr(&r, "192.0.2.9:5061");
}

static void on_recv(struct cv_worker *w, const struct cv_tp_rx *rx, void *arg)
{
}

static const struct cv_tp_handler h = {.recv = on_recv};

static void test_via_for(void **state)
{
	int64_t live = cv_mem_live();
	struct cv_rt *rt;
	struct cv_tp *tp;
	struct cv_tp_spec sp[4];
	struct cv_rt_params rp = {.workers = 2};
	assert_int_equal(cv_rt_create(&rt, &rp), 0);
	assert_int_equal(cv_tp_spec_parse("udp:127.0.0.1:0", &sp[0]), 0);
	assert_int_equal(cv_tp_spec_parse("tcp:127.0.0.1:0", &sp[1]), 0);
	assert_int_equal(
		cv_tp_spec_parse("udp:[::1]:0;advertise=sip.example.com:5099",
				 &sp[2]),
		0);
	assert_int_equal(cv_tp_spec_parse("tcp:0.0.0.0:0", &sp[3]), 0);
	struct cv_tp_params p = {.specs = sp, .nspecs = 4, .h = &h};
	assert_int_equal(cv_tp_create(&tp, rt, &p), 0);

	struct cv_tp_addr udp0;
	enum cv_tp_kind k;
	assert_int_equal(cv_tp_listener_addr(tp, 0, &k, &udp0), 0);
	assert_int_equal(k, CV_TP_UDP);
	assert_int_not_equal(cv_tp_addr_port(&udp0), 0);

	struct cv_tp_via v;
	struct cv_tp_via_params vp = {.kind = CV_TP_UDP};
	assert_int_equal(cv_tp_addr_parse(&vp.dst, CV_PL("127.0.0.1:5060")), 0);
	assert_int_equal(cv_tp_via_for(tp, &vp, &v), 0);
	assert_string_equal(v.transport, "UDP");
	assert_string_equal(v.host, "127.0.0.1");
	assert_int_equal(v.port, cv_tp_addr_port(&udp0));

	/* RFC 3261 §18.1.1: large request -> TCP */
	vp.msg_len = 2000;
	vp.upgrade_large = true;
	assert_int_equal(cv_tp_via_for(tp, &vp, &v), 0);
	assert_string_equal(v.transport, "TCP");
	assert_int_equal(v.kind, CV_TP_TCP);

	/* advertise= */
	vp.msg_len = 0;
	assert_int_equal(cv_tp_addr_parse(&vp.dst, CV_PL("[::1]:5060")), 0);
	assert_int_equal(cv_tp_via_for(tp, &vp, &v), 0);
	assert_string_equal(v.host, "sip.example.com");
	assert_int_equal(v.port, 5099);

	/* no TLS listener: connect-only sent-by without port */
	vp.kind = CV_TP_TLS;
	assert_int_equal(cv_tp_addr_parse(&vp.dst, CV_PL("127.0.0.1:5061")), 0);
	assert_int_equal(cv_tp_via_for(tp, &vp, &v), 0);
	assert_int_equal(v.port, 0);
	assert_string_equal(v.transport, "TLS");

	/* no WS listener: a WebSocket client (RFC 7118), connect-only too */
	vp.kind = CV_TP_WS;
	assert_int_equal(cv_tp_via_for(tp, &vp, &v), 0);
	assert_int_equal(v.port, 0);
	assert_string_equal(v.transport, "WS");

	cv_tp_destroy(tp);
	cv_rt_destroy(rt);
	assert_int_equal(cv_mem_live(), live);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_udp),
		cmocka_unit_test(test_stream),
		cmocka_unit_test(test_via_for),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
