/* A cvoip UAS for benchmarks: the session layer on one worker answers
 * every INVITE at once with a fixed SDP answer (no media), prints its
 * live dialogs and the bytes cvoip holds (cv_mem_live_bytes) on SIGUSR1,
 * and stops on SIGTERM.   bench_uas LISTEN-SPEC */
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#include "cvoip/session.h"

struct app {
	struct cv_tp *tp;
	struct cv_agent *ag;
	struct cv_tp_spec spec;
	struct cv_sdp_codec codec;
	struct cv_sdp_stream_caps caps;
	uv_signal_t usr1;
};

static struct app app;

static int media_local(void *marg, struct cv_sdp_local *out)
{
	app.codec = (struct cv_sdp_codec){
		.name = "PCMU", .clock_rate = 8000, .channels = 1, .pt = 0};
	app.caps = (struct cv_sdp_stream_caps){.media = "audio",
					       .port = 40000,
					       .codecs = &app.codec,
					       .ncodecs = 1,
					       .dtmf_pt = -1,
					       .dir = CV_SDP_SENDRECV};
	out->addr = "127.0.0.1";
	out->streams = &app.caps;
	out->nstreams = 1;
	return 0;
}

static int media_apply(void *marg, const struct cv_sdp_neg *neg)
{
	return 0;
}

static void media_stop(void *marg)
{
}

static const struct cv_call_media_ops media = {media_local, media_apply,
					       media_stop};

static void on_incoming(struct cv_agent *ag, struct cv_call *c,
			const struct cv_sip_msg *invite, void *arg)
{
	cv_call_set_media(c, &media, NULL);
	cv_call_ring(c);
	cv_call_answer(c); /* released when it ends (on_state) */
}

static void on_state(struct cv_call *c, enum cv_call_state st, uint16_t status,
		     const char *reason, void *uarg)
{
	if (st == CV_CALL_ENDED)
		cv_call_release(c);
}

static const struct cv_call_handlers handlers = {.incoming = on_incoming,
						 .state = on_state};

static void on_recv(struct cv_worker *w, const struct cv_tp_rx *rx, void *arg)
{
	cv_agent_recv(app.ag, rx);
}

static const struct cv_tp_handler tp_h = {.recv = on_recv};

static void on_usr1(uv_signal_t *s, int signum)
{
#ifdef __GLIBC__
	/* give freed memory back so that RSS shows what is held now */
	malloc_trim(0);
#endif
	long long heap = 0;
#ifdef __GLIBC__
	/* every malloc'd byte in use (strings too), whatever the
	 * fragmentation left in RSS: all arenas, mmapped blocks included */
	struct mallinfo2 mi = mallinfo2();
	heap = (long long)(mi.uordblks + mi.hblkhd);
#endif
	printf("dialogs=%zu calls=%zu live_bytes=%lld live_objects=%lld "
	       "heap_bytes=%lld\n",
	       cv_ua_dialog_count(cv_agent_ua(app.ag)), cv_agent_calls(app.ag),
	       (long long)cv_mem_live_bytes(), (long long)cv_mem_live(), heap);
	fflush(stdout);
}

static void w_start(struct cv_worker *w, void *arg)
{
	int err = cv_tp_worker_start(app.tp, w);
	struct cv_agent_params ap = {.tp = app.tp,
				     .w = w,
				     .h = &handlers,
				     .session_expires = UINT32_MAX,
				     .no_100rel = true};
	if (!err)
		err = cv_agent_create(&app.ag, &ap);
	if (!err) {
		uv_signal_init(cv_worker_loop(w), &app.usr1);
		uv_signal_start(&app.usr1, on_usr1, SIGUSR1);
	}
	if (err)
		cv_rt_fail(cv_worker_rt(w), err);
}

static void w_stop(struct cv_worker *w, void *arg)
{
	uv_signal_stop(&app.usr1);
	cv_agent_destroy(app.ag);
	cv_tp_worker_stop(app.tp, w);
}

int main(int argc, char **argv)
{
	if (argc < 2 || cv_tp_spec_parse(argv[1], &app.spec)) {
		fprintf(stderr, "usage: bench_uas LISTEN-SPEC\n");
		return 2;
	}
	cv_log_set_level(CV_LOG_WARN);
	struct cv_rt *rt;
	struct cv_rt_params rp = {.workers = 1,
				  .on_start = w_start,
				  .on_stop = w_stop,
				  .handle_signals = true};
	if (cv_rt_create(&rt, &rp))
		return 1;
	struct cv_tp_params tpp = {.specs = &app.spec, .nspecs = 1, .h = &tp_h};
	int err = cv_tp_create(&app.tp, rt, &tpp);
	if (!err)
		err = cv_rt_start(rt);
	if (!err)
		err = cv_rt_wait(rt);
	cv_rt_destroy(rt);
	cv_tp_destroy(app.tp);
	if (err)
		fprintf(stderr, "bench_uas: %s\n", cv_strerror(err));
	return err ? 1 : 0;
}
