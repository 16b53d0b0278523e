/* RFC 5923 connection reuse over loopback TCP (tcp_aliases on): a peer
 * connects from an ephemeral port and sends a request whose top Via has
 * `alias` and its listening port; a request we then send to that port goes
 * over the peer's connection, not a new one. Without `alias`, with another
 * address in the sent-by, or with tcp_aliases off, a new connection is
 * opened; once the aliased connection closes, the alias is gone.
 * TLS: a second transport connects with a client certificate (mutual
 * TLS, certificates from tests/tools/make-certs.sh); the alias is taken
 * only for a sent-by host its certificate names. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <fcntl.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cvoip/transport.h"

static struct cv_tp *tp;
static struct cv_rt *rt;
static struct cv_tp_addr lis;
static _Atomic int nrecv, nsent;

static void on_recv(struct cv_worker *w, const struct cv_tp_rx *rx, void *arg)
{
	atomic_fetch_add(&nrecv, 1);
}

static const struct cv_tp_handler h = {.recv = on_recv};

static void on_start(struct cv_worker *w, void *arg)
{
	if (cv_tp_worker_start(tp, w))
		cv_rt_fail(cv_worker_rt(w), -EIO);
}

static void on_stop(struct cv_worker *w, void *arg)
{
	cv_tp_worker_stop(tp, w);
}

static void start(bool tcp_aliases)
{
	struct cv_tp_spec sp;
	struct cv_rt_params rp = {
		.workers = 1, .on_start = on_start, .on_stop = on_stop};
	atomic_store(&nrecv, 0);
	atomic_store(&nsent, 0);
	assert_int_equal(cv_rt_create(&rt, &rp), 0);
	assert_int_equal(cv_tp_spec_parse("tcp:127.0.0.1:0", &sp), 0);
	struct cv_tp_params p = {
		.specs = &sp, .nspecs = 1, .tcp_aliases = tcp_aliases, .h = &h};
	assert_int_equal(cv_tp_create(&tp, rt, &p), 0);
	assert_int_equal(cv_tp_listener_addr(tp, 0, NULL, &lis), 0);
	assert_int_equal(cv_rt_start(rt), 0);
}

static void stop(void)
{
	cv_rt_stop(rt);
	assert_int_equal(cv_rt_wait(rt), 0);
	cv_tp_destroy(tp);
	cv_rt_destroy(rt);
}

static void wait_for(_Atomic int *v, int want)
{
	for (int i = 0; i < 500 && atomic_load(v) < want; i++)
		usleep(10000);
	assert_int_equal(atomic_load(v), want);
}

/* A listening socket standing for the peer's SIP port. */
static int peer_listener(uint16_t *port)
{
	struct sockaddr_in a = {.sin_family = AF_INET,
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t sl = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(fd, 8), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &sl), 0);
	*port = ntohs(a.sin_port);
	return fd;
}

/* A peer connection to our listener that sends one request with the
 * given sent-by and Via parameters. */
static int peer_connect(const char *sent_by, const char *params, int n)
{
	char m[400];
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	assert_int_equal(
		connect(fd, (struct sockaddr *)&lis.ss, cv_tp_addr_len(&lis)),
		0);
	int len = snprintf(m, sizeof(m),
			   "OPTIONS sip:x@127.0.0.1 SIP/2.0\r\n"
			   "Via: SIP/2.0/TCP %s;branch=z9hG4bKal%d%s\r\n"
			   "From: <sip:a@127.0.0.1>;tag=1\r\n"
			   "To: <sip:x@127.0.0.1>\r\n"
			   "Call-ID: alias-%d\r\nCSeq: 1 OPTIONS\r\n"
			   "Content-Length: 0\r\n\r\n",
			   sent_by, n, params, n);
	assert_int_equal(write(fd, m, (size_t)len), len);
	return fd;
}

static struct cv_tp_addr send_dst;

static void sent(int err, void *arg)
{
	if (!err)
		atomic_fetch_add(&nsent, 1);
}

static void send_req(struct cv_worker *w, void *arg)
{
	static const char m[] = "OPTIONS sip:peer@127.0.0.1 SIP/2.0\r\n"
				"Via: SIP/2.0/TCP 127.0.0.1;branch=z9hG4bKo\r\n"
				"Call-ID: out\r\nCSeq: 1 OPTIONS\r\n"
				"Content-Length: 0\r\n\r\n";
	struct cv_tp_send_params p = {
		.kind = CV_TP_TCP, .dst = send_dst, .done = sent};
	assert_int_equal(cv_tp_send(tp, w, &p, m, sizeof(m) - 1), 0);
}

/* Sends a request to 127.0.0.1:port from the worker and waits until it
 * went out. */
static void send_to(uint16_t port, int want_sent)
{
	char s[32];
	snprintf(s, sizeof(s), "127.0.0.1:%u", port);
	assert_int_equal(cv_tp_addr_parse(&send_dst, cv_pl_str(s)), 0);
	assert_int_equal(cv_worker_post(cv_rt_worker(rt, 0), send_req, NULL),
			 0);
	wait_for(&nsent, want_sent);
}

/* Whether fd has bytes (or a pending connection) within ms. */
static bool readable(int fd, int ms)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	return poll(&p, 1, ms) == 1;
}

static bool got_request(int fd)
{
	char buf[1024];
	if (!readable(fd, 3000))
		return false;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	return strstr(buf, "OPTIONS sip:peer@") != NULL;
}

static uint64_t aliases(void)
{
	struct cv_tp_stats st;
	cv_tp_stats_read(tp, &st);
	return st.aliases;
}

static void test_alias_tcp(void **state)
{
	int64_t live = cv_mem_live();
	uint16_t p1, p2, p3;
	int l1 = peer_listener(&p1), l2 = peer_listener(&p2),
	    l3 = peer_listener(&p3);
	char sb[32];

	start(true);
	/* with alias: the request to p1 reuses the peer's connection */
	snprintf(sb, sizeof(sb), "127.0.0.1:%u", p1);
	int c1 = peer_connect(sb, ";alias", 1);
	wait_for(&nrecv, 1);
	assert_int_equal(aliases(), 1);
	send_to(p1, 1);
	assert_true(got_request(c1));
	assert_false(readable(l1, 200)); /* no second connection */

	/* without alias: a new connection to the peer's port */
	snprintf(sb, sizeof(sb), "127.0.0.1:%u", p2);
	int c2 = peer_connect(sb, "", 2);
	wait_for(&nrecv, 2);
	send_to(p2, 2);
	assert_true(readable(l2, 3000));
	int a2 = accept(l2, NULL, NULL);
	assert_true(a2 >= 0);
	assert_true(got_request(a2));
	assert_false(readable(c2, 100));

	/* a sent-by that is not the connection's address: refused */
	snprintf(sb, sizeof(sb), "192.0.2.1:%u", p3);
	int c3 = peer_connect(sb, ";alias", 3);
	wait_for(&nrecv, 3);
	assert_int_equal(aliases(), 1);

	/* the aliased connection closes: its alias goes with it */
	close(c1);
	for (int i = 0; i < 300; i++) {
		struct cv_tp_stats st;
		cv_tp_stats_read(tp, &st);
		if (st.conns_closed >= 1)
			break;
		usleep(10000);
	}
	send_to(p1, 3);
	assert_true(readable(l1, 3000));
	int a1 = accept(l1, NULL, NULL);
	assert_true(a1 >= 0);
	assert_true(got_request(a1));

	close(a1);
	close(a2);
	close(c2);
	close(c3);
	stop();
	close(l1);
	close(l2);
	close(l3);
	assert_int_equal(cv_mem_live(), live);
}

static void test_alias_tcp_off(void **state)
{
	int64_t live = cv_mem_live();
	uint16_t p1;
	int l1 = peer_listener(&p1);
	char sb[32];

	start(false);
	snprintf(sb, sizeof(sb), "127.0.0.1:%u", p1);
	int c1 = peer_connect(sb, ";alias", 1);
	wait_for(&nrecv, 1);
	assert_int_equal(aliases(), 0);
	send_to(p1, 1);
	assert_true(readable(l1, 3000));
	int a1 = accept(l1, NULL, NULL);
	assert_true(a1 >= 0);
	assert_true(got_request(a1));
	assert_false(readable(c1, 100));
	close(a1);
	close(c1);
	stop();
	close(l1);
	assert_int_equal(cv_mem_live(), live);
}

/* ---- TLS: server (verify_client) and a peer transport with no listener
 */
static struct cv_tp *stp, *ptp;
static struct cv_rt *srt, *prt;
static _Atomic int s_recv, p_recv, p_recv_conn, s_sent, p_sent;

static void s_on_recv(struct cv_worker *w, const struct cv_tp_rx *rx, void *arg)
{
	atomic_fetch_add(&s_recv, 1);
}

static void p_on_recv(struct cv_worker *w, const struct cv_tp_rx *rx, void *arg)
{
	atomic_fetch_add(&p_recv, 1);
	if (rx->meta.conn && rx->meta.kind == CV_TP_TLS)
		atomic_fetch_add(&p_recv_conn, 1);
}

static const struct cv_tp_handler sh = {.recv = s_on_recv};
static const struct cv_tp_handler ph = {.recv = p_on_recv};

static void s_start(struct cv_worker *w, void *arg)
{
	if (cv_tp_worker_start(stp, w))
		cv_rt_fail(cv_worker_rt(w), -EIO);
}

static void s_stop(struct cv_worker *w, void *arg)
{
	cv_tp_worker_stop(stp, w);
}

static void p_start(struct cv_worker *w, void *arg)
{
	if (cv_tp_worker_start(ptp, w))
		cv_rt_fail(cv_worker_rt(w), -EIO);
}

static void p_stop(struct cv_worker *w, void *arg)
{
	cv_tp_worker_stop(ptp, w);
}

static void s_sent_cb(int err, void *arg)
{
	if (!err)
		atomic_fetch_add(&s_sent, 1);
}

static void p_sent_cb(int err, void *arg)
{
	if (!err)
		atomic_fetch_add(&p_sent, 1);
}

static const char *g_sent_by;

/* The peer's request to the server, Via sent-by g_sent_by with alias. */
static void peer_send(struct cv_worker *w, void *arg)
{
	char m[400];
	int n = (int)(intptr_t)arg;
	int len = snprintf(m, sizeof(m),
			   "OPTIONS sip:x@127.0.0.1 SIP/2.0\r\n"
			   "Via: SIP/2.0/TLS %s;branch=z9hG4bKtl%d;alias\r\n"
			   "From: <sip:a@client.test>;tag=1\r\n"
			   "To: <sip:x@127.0.0.1>\r\n"
			   "Call-ID: tls-alias-%d\r\nCSeq: 1 OPTIONS\r\n"
			   "Content-Length: 0\r\n\r\n",
			   g_sent_by, n, n);
	struct cv_tp_send_params p = {
		.kind = CV_TP_TLS, .dst = lis, .done = p_sent_cb};
	assert_int_equal(cv_tp_send(ptp, w, &p, m, (size_t)len), 0);
}

/* The server's request to the peer's claimed port 127.0.0.1:5999. */
static void server_send(struct cv_worker *w, void *arg)
{
	static const char m[] = "OPTIONS sip:peer@127.0.0.1 SIP/2.0\r\n"
				"Via: SIP/2.0/TLS 127.0.0.1;branch=z9hG4bKs\r\n"
				"Call-ID: back\r\nCSeq: 1 OPTIONS\r\n"
				"Content-Length: 0\r\n\r\n";
	struct cv_tp_send_params p = {.kind = CV_TP_TLS, .done = s_sent_cb};
	assert_int_equal(cv_tp_addr_parse(&p.dst, cv_pl_str("127.0.0.1:5999")),
			 0);
	assert_int_equal(cv_tp_send(stp, w, &p, m, sizeof(m) - 1), 0);
}

static void test_alias_tls(void **state)
{
	int64_t live = cv_mem_live();
	const char *src = getenv("CV_SOURCE_DIR");
	char dir[] = "/tmp/cvoip-alias-XXXXXX", cmd[1024];
	char ca[300], scert[300], skey[300], ccert[300], ckey[300];
	struct cv_tp_spec sp;
	struct cv_tp_stats st;

	if (!src || !mkdtemp(dir))
		skip();
	snprintf(cmd, sizeof(cmd), "%s/tests/tools/make-certs.sh %s >/dev/null",
		 src, dir);
	assert_int_equal(system(cmd), 0);
	snprintf(ca, sizeof(ca), "%s/ca.pem", dir);
	snprintf(scert, sizeof(scert), "%s/server.pem", dir);
	snprintf(skey, sizeof(skey), "%s/server.key", dir);
	snprintf(ccert, sizeof(ccert), "%s/client.pem", dir);
	snprintf(ckey, sizeof(ckey), "%s/client.key", dir);

	struct cv_rt_params srp = {
		.workers = 1, .on_start = s_start, .on_stop = s_stop};
	struct cv_rt_params prp = {
		.workers = 1, .on_start = p_start, .on_stop = p_stop};
	assert_int_equal(cv_rt_create(&srt, &srp), 0);
	assert_int_equal(cv_rt_create(&prt, &prp), 0);
	assert_int_equal(cv_tp_spec_parse("tls:127.0.0.1:0", &sp), 0);
	struct cv_tp_params s = {.specs = &sp,
				 .nspecs = 1,
				 .tls = {.cert_file = scert,
					 .key_file = skey,
					 .ca_file = ca,
					 .verify_client = true},
				 .h = &sh};
	struct cv_tp_params p = {.tls = {.cert_file = ccert,
					 .key_file = ckey,
					 .ca_file = ca,
					 .verify_server = true},
				 .h = &ph};
	assert_int_equal(cv_tp_create(&stp, srt, &s), 0);
	assert_int_equal(cv_tp_create(&ptp, prt, &p), 0);
	assert_int_equal(cv_tp_listener_addr(stp, 0, NULL, &lis), 0);
	assert_int_equal(cv_rt_start(srt), 0);
	assert_int_equal(cv_rt_start(prt), 0);

	/* a host the client certificate does not name: no alias */
	g_sent_by = "other.test:5999";
	assert_int_equal(
		cv_worker_post(cv_rt_worker(prt, 0), peer_send, (void *)1), 0);
	wait_for(&s_recv, 1);
	cv_tp_stats_read(stp, &st);
	assert_int_equal(st.aliases, 0);
	/* its own name (SAN DNS:client.test): the connection is aliased to
	 * 127.0.0.1:5999 (its address, the sent-by port) */
	g_sent_by = "client.test:5999";
	assert_int_equal(
		cv_worker_post(cv_rt_worker(prt, 0), peer_send, (void *)2), 0);
	wait_for(&s_recv, 2);
	wait_for(&p_sent, 2);
	cv_tp_stats_read(stp, &st);
	assert_int_equal(st.aliases, 1);
	assert_int_equal(st.conns_accepted, 1);

	/* nothing listens on 5999: only the aliased connection gets there */
	assert_int_equal(
		cv_worker_post(cv_rt_worker(srt, 0), server_send, NULL), 0);
	wait_for(&s_sent, 1);
	wait_for(&p_recv_conn, 1);
	cv_tp_stats_read(stp, &st);
	assert_int_equal(st.conns_connected, 0);

	cv_rt_stop(prt);
	assert_int_equal(cv_rt_wait(prt), 0);
	cv_rt_stop(srt);
	assert_int_equal(cv_rt_wait(srt), 0);
	cv_tp_destroy(ptp);
	cv_tp_destroy(stp);
	cv_rt_destroy(prt);
	cv_rt_destroy(srt);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
	assert_int_equal(cv_mem_live(), live);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_alias_tcp),
		cmocka_unit_test(test_alias_tcp_off),
		cmocka_unit_test(test_alias_tls),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
