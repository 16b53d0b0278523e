/* RFC 5626 §5.2 flow tokens over loopback with a 1-worker runtime: a
 * token made from a received request resolves to the same flow (for TCP
 * the same connection, and a response sent through it arrives on the
 * client's socket); an altered or foreign token is refused (CV_EPARSE); a
 * token of a closed connection is a failed flow (CV_ENOTFOUND). UDP
 * tokens resolve without state. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cvoip/transport.h"

static struct cv_tp *tp;
static struct cv_rt *rt;
static struct cv_tp_addr lis_tcp, lis_udp;
static char tcp_token[CV_TP_FLOW_TOKEN_MAX], udp_token[CV_TP_FLOW_TOKEN_MAX];
static _Atomic int nrecv, nclosed, results_ok;
static struct cv_tp_meta udp_meta;

static void on_recv(struct cv_worker *w, const struct cv_tp_rx *rx, void *arg)
{
	(void)arg;
	char *tok = rx->meta.kind == CV_TP_TCP ? tcp_token : udp_token;
	int n = cv_tp_flow_token(&rx->meta, tok, CV_TP_FLOW_TOKEN_MAX);
	assert_true(n > 0 && n < CV_TP_FLOW_TOKEN_MAX);
	struct cv_tp_send_params sp;
	assert_int_equal(cv_tp_flow_resolve(tp, cv_pl_str(tok), &sp), 0);
	assert_int_equal(sp.kind, rx->meta.kind);
	assert_true(cv_tp_addr_eq(&sp.dst, &rx->meta.src));
	assert_true(cv_tp_addr_eq(&sp.local, &rx->meta.local));
	if (rx->meta.kind == CV_TP_TCP) {
		assert_ptr_equal(sp.conn, rx->meta.conn);
		/* a request back on the flow reaches the client's socket */
		static const char back[] =
			"SIP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n";
		assert_int_equal(cv_tp_send(tp, w, &sp, back, sizeof(back) - 1),
				 0);
		cv_tp_conn_unref(sp.conn);
	} else {
		assert_null(sp.conn);
		cv_tp_meta_copy(&udp_meta, &rx->meta);
	}
	/* one character changed: refused */
	char bad[CV_TP_FLOW_TOKEN_MAX];
	memcpy(bad, tok, (size_t)n + 1);
	bad[n / 2] = bad[n / 2] == 'A' ? 'B' : 'A';
	assert_int_equal(cv_tp_flow_resolve(tp, cv_pl_str(bad), &sp),
			 CV_EPARSE);
	bad[n - 1] = '\0';
	assert_int_equal(cv_tp_flow_resolve(tp, cv_pl_str(bad), &sp),
			 CV_EPARSE);
	assert_int_equal(cv_tp_flow_resolve(tp, cv_pl_str("not a token"), &sp),
			 CV_EPARSE);
	atomic_fetch_add(&results_ok, 1);
	atomic_fetch_add(&nrecv, 1);
}

static void on_closed(struct cv_worker *w, struct cv_tp_conn *c, int err,
		      void *arg)
{
	(void)w;
	(void)c;
	(void)err;
	(void)arg;
	struct cv_tp_send_params sp;
	/* §5.3: the flow failed */
	if (cv_tp_flow_resolve(tp, cv_pl_str(tcp_token), &sp) == CV_ENOTFOUND)
		atomic_fetch_add(&results_ok, 1);
	atomic_fetch_add(&nclosed, 1);
}

static const struct cv_tp_handler h = {.recv = on_recv,
				       .conn_closed = on_closed};

static void on_start(struct cv_worker *w, void *arg)
{
	(void)arg;
	if (cv_tp_worker_start(tp, w))
		cv_rt_fail(cv_worker_rt(w), -EIO);
}

static void on_stop(struct cv_worker *w, void *arg)
{
	(void)arg;
	cv_tp_meta_clear(&udp_meta);
	cv_tp_worker_stop(tp, w);
}

static void wait_for(_Atomic int *v, int want)
{
	for (int i = 0; i < 500 && atomic_load(v) < want; i++)
		usleep(10000);
	assert_int_equal(atomic_load(v), want);
}

static const char req[] = "OPTIONS sip:x@127.0.0.1 SIP/2.0\r\n"
			  "Via: SIP/2.0/TCP 127.0.0.1;branch=z9hG4bKflow\r\n"
			  "Call-ID: flow-test\r\nCSeq: 1 OPTIONS\r\n"
			  "Content-Length: 0\r\n\r\n";

static void test_flow_tokens(void **state)
{
	(void)state;
	size_t live0 = cv_mem_live();
	struct cv_tp_spec specs[2];
	assert_int_equal(cv_tp_spec_parse("tcp:127.0.0.1:0", &specs[0]), 0);
	assert_int_equal(cv_tp_spec_parse("udp:127.0.0.1:0", &specs[1]), 0);
	struct cv_rt_params rp = {
		.workers = 1, .on_start = on_start, .on_stop = on_stop};
	assert_int_equal(cv_rt_create(&rt, &rp), 0);
	struct cv_tp_params p = {.specs = specs, .nspecs = 2, .h = &h};
	assert_int_equal(cv_tp_create(&tp, rt, &p), 0);
	enum cv_tp_kind k;
	assert_int_equal(cv_tp_listener_addr(tp, 0, &k, &lis_tcp), 0);
	assert_int_equal(cv_tp_listener_addr(tp, 1, &k, &lis_udp), 0);
	assert_int_equal(cv_rt_start(rt), 0);

	/* TCP: token -> the same connection; a message back on it */
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	assert_int_equal(connect(fd, (const struct sockaddr *)&lis_tcp.ss,
				 cv_tp_addr_len(&lis_tcp)),
			 0);
	assert_int_equal(write(fd, req, sizeof(req) - 1),
			 (ssize_t)(sizeof(req) - 1));
	wait_for(&nrecv, 1);
	char buf[256];
	struct timeval tv = {.tv_sec = 5};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	assert_true(n > 0);
	buf[n] = '\0';
	assert_non_null(strstr(buf, "SIP/2.0 200 OK"));
	/* the client closes: the token names a failed flow now */
	close(fd);
	wait_for(&nclosed, 1);

	/* UDP: stateless, resolves to the source address and our socket */
	int ufd = socket(AF_INET, SOCK_DGRAM, 0);
	assert_true(ufd >= 0);
	assert_int_equal(sendto(ufd, req, sizeof(req) - 1, 0,
				(const struct sockaddr *)&lis_udp.ss,
				cv_tp_addr_len(&lis_udp)),
			 (ssize_t)(sizeof(req) - 1));
	wait_for(&nrecv, 2);
	close(ufd);
	assert_int_equal(atomic_load(&results_ok), 3);

	/* a stream meta without its connection has no token */
	struct cv_tp_meta m = {
		.kind = CV_TP_TCP, .src = lis_tcp, .local = lis_tcp};
	assert_int_equal(cv_tp_flow_token(&m, buf, sizeof(buf)), -EINVAL);
	m.kind = CV_TP_UDP;
	assert_int_equal(cv_tp_flow_token(&m, buf, 10), CV_ETOOBIG);

	cv_rt_stop(rt);
	assert_int_equal(cv_rt_wait(rt), 0);
	cv_tp_destroy(tp);
	cv_rt_destroy(rt);
	assert_int_equal(cv_mem_live(), live0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_flow_tokens),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
