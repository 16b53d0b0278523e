/* Connection table and limits over loopback with a 2-worker runtime:
 * requests to one peer reuse one connection, also from the other worker
 * (cross-worker send), messages land on their Call-ID owner, and the
 * per-address limit refuses the surplus. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cvoip/metrics.h"
#include "cvoip/transport.h"

static struct cv_tp *tp;
static struct cv_rt *rt;
static struct cv_tp_addr lis;
static _Atomic int nrecv, nsent_ok, nwrong, nclosed;

static void on_recv(struct cv_worker *w, const struct cv_tp_rx *rx, void *arg)
{
	if (cv_rt_owner(rt, rx->call_id.p, rx->call_id.l) != cv_worker_index(w))
		atomic_fetch_add(&nwrong, 1);
	assert_non_null(rx->meta.conn);
	assert_int_equal(rx->meta.kind, CV_TP_TCP);
	atomic_fetch_add(&nrecv, 1);
}

static void on_closed(struct cv_worker *w, struct cv_tp_conn *c, int err,
		      void *arg)
{
	atomic_fetch_add(&nclosed, 1);
}

static const struct cv_tp_handler h = {.recv = on_recv,
				       .conn_closed = on_closed};

static void on_start(struct cv_worker *w, void *arg)
{
	if (cv_tp_worker_start(tp, w))
		cv_rt_fail(cv_worker_rt(w), -EIO);
}

static void on_stop(struct cv_worker *w, void *arg)
{
	cv_tp_worker_stop(tp, w);
}

static void sent(int err, void *arg)
{
	if (!err)
		atomic_fetch_add(&nsent_ok, 1);
}

static void send_some(struct cv_worker *w, void *arg)
{
	int n = (int)(intptr_t)arg;
	for (int i = 0; i < n; i++) {
		char m[300];
		int len = snprintf(
			m, sizeof(m),
			"OPTIONS sip:x@127.0.0.1 SIP/2.0\r\n"
			"Via: SIP/2.0/TCP 127.0.0.1;branch=z9hG4bK%d\r\n"
			"Call-ID: conn-test-%u-%d\r\nCSeq: 1 OPTIONS\r\n"
			"Content-Length: 0\r\n\r\n",
			i, cv_worker_index(w), i);
		struct cv_tp_send_params p = {
			.kind = CV_TP_TCP, .dst = lis, .done = sent};
		assert_int_equal(cv_tp_send(tp, w, &p, m, (size_t)len), 0);
	}
}

static void wait_for(_Atomic int *v, int want)
{
	for (int i = 0; i < 500 && atomic_load(v) < want; i++)
		usleep(10000);
	assert_int_equal(atomic_load(v), want);
}

static void test_reuse_and_limits(void **state)
{
	int64_t live = cv_mem_live();
	struct cv_tp_spec sp;
	struct cv_tp_limits lim;
	struct cv_tp_stats st;

	cv_tp_limits_default(&lim);
	lim.max_conns_per_ip = 2;
	struct cv_rt_params rp = {
		.workers = 2, .on_start = on_start, .on_stop = on_stop};
	assert_int_equal(cv_rt_create(&rt, &rp), 0);
	assert_int_equal(cv_tp_spec_parse("tcp:127.0.0.1:0", &sp), 0);
	struct cv_metrics *mx;
	assert_int_equal(cv_metrics_create(&mx, NULL), 0);
	struct cv_tp_params p = {.specs = &sp,
				 .nspecs = 1,
				 .limits = &lim,
				 .metrics = mx,
				 .h = &h};
	assert_int_equal(cv_tp_create(&tp, rt, &p), 0);
	assert_int_equal(cv_tp_listener_addr(tp, 0, NULL, &lis), 0);
	assert_int_equal(cv_rt_start(rt), 0);

	/* three requests from worker 0: one connection */
	assert_int_equal(
		cv_worker_post(cv_rt_worker(rt, 0), send_some, (void *)3), 0);
	wait_for(&nrecv, 3);
	wait_for(&nsent_ok, 3);
	cv_tp_stats_read(tp, &st);
	assert_int_equal(st.conns_connected, 1);
	assert_int_equal(st.conns_accepted, 1);

	/* worker 1 finds worker 0's connection in the table */
	assert_int_equal(
		cv_worker_post(cv_rt_worker(rt, 1), send_some, (void *)4), 0);
	wait_for(&nrecv, 7);
	wait_for(&nsent_ok, 7);
	cv_tp_stats_read(tp, &st);
	assert_int_equal(st.conns_connected, 1);
	assert_int_equal(st.conns_accepted, 1);
	assert_int_equal(atomic_load(&nwrong), 0);

	/* per-address limit 2: one accepted already, so 1 of 4 more stays */
	int fds[4];
	for (int i = 0; i < 4; i++) {
		fds[i] = socket(AF_INET, SOCK_STREAM, 0);
		assert_true(fds[i] >= 0);
		assert_int_equal(connect(fds[i], (struct sockaddr *)&lis.ss,
					 cv_tp_addr_len(&lis)),
				 0);
	}
	for (int i = 0; i < 200; i++) {
		cv_tp_stats_read(tp, &st);
		if (st.rej_per_ip == 3)
			break;
		usleep(10000);
	}
	assert_int_equal(st.rej_per_ip, 3);
	for (int i = 0; i < 4; i++)
		close(fds[i]);
	/* the one accepted raw connection closes: reported once; the three
	 * refused ones were never announced */
	wait_for(&nclosed, 1);

	/* the same counts in the metrics registry */
	struct cv_buf out;
	cv_buf_init(&out, 1 << 20);
	assert_int_equal(cv_metrics_render(mx, &out), 0);
	cv_buf_append(&out, "", 1);
	assert_non_null(
		strstr(out.data,
		       "cvoip_transport_rejected_total{limit=\"per_ip\"} 3"));
	assert_non_null(strstr(
		out.data,
		"cvoip_transport_rx_messages_total{transport=\"tcp\"} 7"));
	assert_non_null(strstr(out.data, "cvoip_transport_connections_open"));
	cv_buf_free(&out);

	cv_rt_stop(rt);
	assert_int_equal(cv_rt_wait(rt), 0);
	cv_tp_destroy(tp);
	cv_rt_destroy(rt);
	cv_metrics_destroy(mx);
	/* + maybe the accepted end of our own connection, when its worker
	 * sees the EOF before it stops itself */
	assert_true(atomic_load(&nclosed) >= 1 && atomic_load(&nclosed) <= 2);
	assert_int_equal(cv_mem_live(), live);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reuse_and_limits),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
