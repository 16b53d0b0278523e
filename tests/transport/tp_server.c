/* Test server for the transport integration tests and the benchmark: a
 * cv_rt runtime with W workers, the transport on the given listeners and
 * the stateless responder. Prints "ready <spec>..." on stdout once
 * listening, and its statistics on exit (SIGTERM/SIGINT).
 *
 *   tp_server [-w workers] [-b udp_batch] [-l spec]... [--cert f --key f
 *             --ca f] [--max-conns n] [--per-ip n] [--idle-ms n]
 *             [--partial-ms n] [--hs-ms n] [--status 501|503]
 *             [--max-msg n] [--send-queue n] [--dns host:port] [--local]
 * --local: deliver_local (answer on the receiving worker, no handover).
 * WS listeners also serve an application WebSocket on /echo (no "sip"
 * subprotocol) that echoes messages: the ws_upgrade hook.
 */
#include <getopt.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cvoip/runtime.h"
#include "cvoip/transport.h"

static struct cv_tp *g_tp;
static struct cv_rt *g_rt;
static int g_status = 501;
static _Atomic uint64_t g_wrong_owner, g_recv;

static void on_recv(struct cv_worker *w, const struct cv_tp_rx *rx, void *arg)
{
	atomic_fetch_add(&g_recv, 1);
	if (rx->call_id.l && cv_rt_owner(g_rt, rx->call_id.p, rx->call_id.l) !=
				     cv_worker_index(w))
		atomic_fetch_add(&g_wrong_owner, 1);
	struct cv_tp_sl_params sp = {.other_status = g_status,
				     .retry_after = 5,
				     .supported = "path, outbound"};
	cv_tp_stateless_reply(g_tp, w, rx, &sp);
}

/* The application WebSocket hook: /echo echoes every message back. */
static int on_ws_upgrade(struct cv_worker *w, const struct cv_tp_ws_req *req,
			 const char **protocol, void *arg)
{
	if (!cv_pl_eq_str(req->path, "/echo"))
		return -1;
	*protocol = req->protocols.l ? "echo" : NULL;
	return CV_TP_WS_APP;
}

static void on_ws_app_msg(struct cv_worker *w, struct cv_tp_conn *c,
			  const void *data, size_t len, bool binary, void *arg)
{
	cv_tp_ws_send(c, data, len, binary);
}

static const struct cv_tp_handler handler = {.recv = on_recv,
					     .ws_upgrade = on_ws_upgrade,
					     .ws_app_msg = on_ws_app_msg};

static void on_start(struct cv_worker *w, void *arg)
{
	int err = cv_tp_worker_start(g_tp, w);
	if (err)
		cv_rt_fail(cv_worker_rt(w), err);
}

static void on_stop(struct cv_worker *w, void *arg)
{
	cv_tp_worker_stop(g_tp, w);
}

int main(int argc, char **argv)
{
	struct cv_tp_spec specs[16];
	unsigned nspecs = 0, workers = 2, batch = 16;
	struct cv_tp_limits lim;
	struct cv_tp_params tpp = {0};
	const char *dns[2] = {NULL, NULL};
	int err;

	cv_tp_limits_default(&lim);
	static const struct option opts[] = {
		{"cert", 1, 0, 'C'},	   {"key", 1, 0, 'K'},
		{"ca", 1, 0, 'A'},	   {"max-conns", 1, 0, 'm'},
		{"per-ip", 1, 0, 'p'},	   {"idle-ms", 1, 0, 'i'},
		{"partial-ms", 1, 0, 'P'}, {"hs-ms", 1, 0, 'H'},
		{"status", 1, 0, 's'},	   {"max-msg", 1, 0, 'M'},
		{"dns", 1, 0, 'd'},	   {"send-queue", 1, 0, 'q'},
		{"local", 0, 0, 'L'},	   {0, 0, 0, 0}};
	int o;
	while ((o = getopt_long(argc, argv, "w:b:l:", opts, NULL)) != -1) {
		switch (o) {
		case 'w':
			workers = (unsigned)atoi(optarg);
			break;
		case 'b':
			batch = (unsigned)atoi(optarg);
			break;
		case 'l':
			if (nspecs == 16 ||
			    cv_tp_spec_parse(optarg, &specs[nspecs])) {
				fprintf(stderr, "bad listen spec %s\n", optarg);
				return 2;
			}
			nspecs++;
			break;
		case 'C':
			tpp.tls.cert_file = optarg;
			break;
		case 'K':
			tpp.tls.key_file = optarg;
			break;
		case 'A':
			tpp.tls.ca_file = optarg;
			break;
		case 'm':
			lim.max_conns = (uint32_t)atoi(optarg);
			break;
		case 'p':
			lim.max_conns_per_ip = (uint32_t)atoi(optarg);
			break;
		case 'i':
			lim.idle_timeout_ms = (uint32_t)atoi(optarg);
			break;
		case 'P':
			lim.partial_timeout_ms = (uint32_t)atoi(optarg);
			break;
		case 'H':
			lim.handshake_timeout_ms = (uint32_t)atoi(optarg);
			break;
		case 's':
			g_status = atoi(optarg);
			break;
		case 'M':
			lim.max_stream_msg = lim.max_ws_msg = lim.max_ws_frame =
				(size_t)atoi(optarg);
			lim.max_udp_msg = (size_t)atoi(optarg);
			break;
		case 'd':
			dns[0] = optarg;
			break;
		case 'q':
			lim.max_send_queue = (size_t)atoi(optarg);
			break;
		case 'L':
			tpp.deliver_local = true;
			break;
		default:
			return 2;
		}
	}
	struct cv_rt_params rp = {.workers = workers,
				  .on_start = on_start,
				  .on_stop = on_stop,
				  .handle_signals = true};
	err = cv_rt_create(&g_rt, &rp);
	if (err) {
		fprintf(stderr, "rt: %s\n", cv_strerror(err));
		return 1;
	}
	tpp.specs = specs;
	tpp.nspecs = nspecs;
	tpp.limits = &lim;
	tpp.h = &handler;
	tpp.udp_batch = batch;
	tpp.dns_servers = dns[0] ? dns : NULL;
	err = cv_tp_create(&g_tp, g_rt, &tpp);
	if (err) {
		fprintf(stderr, "transport: %s\n", cv_strerror(err));
		cv_rt_destroy(g_rt);
		return 1;
	}
	err = cv_rt_start(g_rt);
	if (err) {
		fprintf(stderr, "start: %s\n", cv_strerror(err));
		cv_tp_destroy(g_tp);
		cv_rt_destroy(g_rt);
		return 1;
	}
	printf("ready");
	for (unsigned i = 0; i < cv_tp_listener_count(g_tp); i++) {
		struct cv_tp_spec s = {0};
		cv_tp_listener_addr(g_tp, i, &s.kind, &s.addr);
		char buf[300];
		cv_tp_spec_print(&s, buf, sizeof(buf));
		printf(" %s", buf);
	}
	printf("\n");
	fflush(stdout);
	err = cv_rt_wait(g_rt);
	struct cv_tp_stats st;
	cv_tp_stats_read(g_tp, &st);
	printf("stats recv=%llu wrong_owner=%llu handover=%llu "
	       "handover_dropped=%llu "
	       "rx_udp=%llu rx_tcp=%llu rx_tls=%llu rx_ws=%llu rx_wss=%llu "
	       "tx_udp=%llu tx_tcp=%llu tx_tls=%llu tx_ws=%llu tx_wss=%llu "
	       "accepted=%llu closed=%llu rej_max_conns=%llu rej_per_ip=%llu "
	       "rej_idle=%llu rej_partial=%llu rej_handshake=%llu "
	       "rej_stream_too_big=%llu rej_udp_too_big=%llu "
	       "rej_ws_too_big=%llu "
	       "rej_http_bad=%llu rej_garbage=%llu rej_send_queue=%llu "
	       "keepalive_pong=%llu udp_batches=%llu sl_bad_requests=%llu\n",
	       (unsigned long long)g_recv, (unsigned long long)g_wrong_owner,
	       (unsigned long long)st.handover,
	       (unsigned long long)st.handover_dropped,
	       (unsigned long long)st.rx_msgs[0],
	       (unsigned long long)st.rx_msgs[1],
	       (unsigned long long)st.rx_msgs[2],
	       (unsigned long long)st.rx_msgs[3],
	       (unsigned long long)st.rx_msgs[4],
	       (unsigned long long)st.tx_msgs[0],
	       (unsigned long long)st.tx_msgs[1],
	       (unsigned long long)st.tx_msgs[2],
	       (unsigned long long)st.tx_msgs[3],
	       (unsigned long long)st.tx_msgs[4],
	       (unsigned long long)st.conns_accepted,
	       (unsigned long long)st.conns_closed,
	       (unsigned long long)st.rej_max_conns,
	       (unsigned long long)st.rej_per_ip,
	       (unsigned long long)st.rej_idle,
	       (unsigned long long)st.rej_partial,
	       (unsigned long long)st.rej_handshake,
	       (unsigned long long)st.rej_stream_too_big,
	       (unsigned long long)st.rej_udp_too_big,
	       (unsigned long long)st.rej_ws_too_big,
	       (unsigned long long)st.rej_http_bad,
	       (unsigned long long)st.rej_garbage,
	       (unsigned long long)st.rej_send_queue,
	       (unsigned long long)st.keepalive_pong,
	       (unsigned long long)st.udp_batches,
	       (unsigned long long)st.sl_bad_requests);
	fflush(stdout);
	cv_tp_destroy(g_tp);
	cv_rt_destroy(g_rt);
	return err ? 1 : 0;
}
