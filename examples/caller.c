/* A minimal caller on the cvoip client library: calls TARGET, sends a
 * 440 Hz tone for a few seconds, hangs up and prints the call quality.
 *
 *   caller sip:bob@127.0.0.1:5062 [SECONDS]
 */
#include <stdio.h>
#include <stdlib.h>

#include "cvoip/client.h"

struct app {
	struct cv_client *cl;
	const char *target;
	double seconds;
	struct cv_ccall *cc;
	uv_timer_t hangup;
	int rc;
};

static void on_hangup(uv_timer_t *t)
{
	struct app *a = t->data;
	cv_ccall_hangup(a->cc);
}

static void on_state(struct cv_ccall *cc, enum cv_call_state st,
		     uint16_t status, const char *reason, void *arg)
{
	struct app *a = arg;
	printf("state %s %u %s\n", cv_call_state_name(st), status,
	       reason ? reason : "");
	if (st == CV_CALL_ANSWERED)
		uv_timer_start(&a->hangup, on_hangup,
			       (uint64_t)(a->seconds * 1000), 0);
	if (st != CV_CALL_ENDED)
		return;
	struct cv_ccall_quality q;
	if (cv_ccall_quality(cc, &q) == 0 && q.rx_packets > 0) {
		printf("codec %s received %llu lost %lld jitter %.1f ms MOS "
		       "%.2f\n",
		       q.codec, (unsigned long long)q.rx_packets,
		       (long long)q.rx_lost, q.jitter_ms, q.mos);
		a->rc = 0;
	}
	uv_close((uv_handle_t *)&a->hangup, NULL);
	cv_client_stop(a->cl);
}

static void start(struct cv_client *cl, void *arg)
{
	struct app *a = arg;
	a->cl = cl;
	uv_timer_init(cv_client_loop(cl), &a->hangup);
	a->hangup.data = a;
	struct cv_client_call_params p = {.target = a->target,
					  .media = {.tone_hz = 440}};
	if (cv_client_call(cl, &p, &a->cc) != 0) {
		uv_close((uv_handle_t *)&a->hangup, NULL);
		cv_client_stop(cl);
	}
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: caller TARGET [SECONDS]\n");
		return 2;
	}
	struct app a = {.target = argv[1],
			.seconds = argc > 2 ? atof(argv[2]) : 3,
			.rc = 1};
	static const struct cv_client_handlers h = {.call_state = on_state};
	struct cv_client_params p = {.h = &h, .arg = &a};
	struct cv_client *cl;
	if (cv_client_create(&cl, &p) != 0)
		return 1;
	cv_client_run(cl, start, &a);
	if (a.cc)
		cv_ccall_release(a.cc);
	cv_client_destroy(cl);
	return a.rc;
}
