/* A scriptable user agent on the session API for the SIPp scenario suite
 * (test_sipp_suite.py): one call at a time, as UAS (answer, ring, reject,
 * early media) or UAC (--call), with actions at fixed times after the
 * answer (hold, resume, INFO DTMF, BYE). Prints one event per line:
 *   listening | incoming FROM | state NAME STATUS REASON | media DIR |
 *   dtmf D | redirect TARGET STATUS | se SECONDS WE | done
 * and exits 0 after --calls calls ended, 3 on --timeout.
 *
 *   sess_ua --listen udp:127.0.0.1:PORT [options]
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cvoip/session.h"

struct app {
	struct cv_tp *tp;
	struct cv_agent *ag;
	struct cv_rt *rt;
	struct cv_worker *w;
	struct cv_tp_spec spec;
	/* options */
	const char *call_uri, *auth_user, *auth_pass;
	int reject;  /* UAS: reject with this status */
	int ring_ms; /* UAS: ring this long before answering, -1: never */
	bool early;  /* UAS: 183 with SDP before answering */
	int hold_ms, resume_ms, dtmf_ms, bye_ms; /* after the answer; -1: no */
	int cancel_ms; /* UAC: CANCEL this long after the INVITE; -1: no */
	bool use_update;
	char dtmf_digit;
	uint32_t session_expires, min_se;
	int calls;
	int timeout_ms;
	bool multi;	    /* UAS: answer every call at once, many at a time */
	size_t max_dialogs; /* the most dialogs seen at once (--multi) */
	/* state */
	struct cv_call *cur;
	int ended;
	int rc;
	int linger;
	struct cv_tmr t_linger;
	struct cv_tmr t_answer, t_cancel, t_hold, t_resume, t_dtmf, t_bye,
		t_timeout;
	struct cv_sdp_codec codecs[2];
	struct cv_sdp_stream_caps caps;
};

static struct app app = {
	.ring_ms = 0,
	.cancel_ms = -1,
	.hold_ms = -1,
	.resume_ms = -1,
	.dtmf_ms = -1,
	.bye_ms = -1,
	.dtmf_digit = '5',
	.session_expires = UINT32_MAX,
	.calls = 1,
	.timeout_ms = 20000,
};

static void event(const char *fmt, ...) CV_PRINTF(1, 2);
static void event(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}

static int media_local(void *marg, struct cv_sdp_local *out)
{
	(void)marg;
	app.codecs[0] = (struct cv_sdp_codec){
		.name = "PCMU", .clock_rate = 8000, .channels = 1, .pt = 0};
	app.codecs[1] = (struct cv_sdp_codec){
		.name = "PCMA", .clock_rate = 8000, .channels = 1, .pt = 8};
	app.caps = (struct cv_sdp_stream_caps){.media = "audio",
					       .port = 40000,
					       .codecs = app.codecs,
					       .ncodecs = 2,
					       .telephone_event = true,
					       .dtmf_pt = 101,
					       .dir = CV_SDP_SENDRECV};
	out->addr = "127.0.0.1";
	out->streams = &app.caps;
	out->nstreams = 1;
	return 0;
}

static int media_apply(void *marg, const struct cv_sdp_neg *neg)
{
	(void)marg;
	(void)neg;
	return 0;
}

static void media_stop(void *marg)
{
	(void)marg;
}

static const struct cv_call_media_ops media = {media_local, media_apply,
					       media_stop};

static void stop_timers(void)
{
	cv_tmr_cancel(&app.t_answer);
	cv_tmr_cancel(&app.t_cancel);
	cv_tmr_cancel(&app.t_hold);
	cv_tmr_cancel(&app.t_resume);
	cv_tmr_cancel(&app.t_dtmf);
	cv_tmr_cancel(&app.t_bye);
}

static void after(struct cv_tmr *t, int ms, cv_tmr_fn *fn)
{
	if (ms >= 0)
		cv_tmr_start(cv_worker_wheel(app.w), t, (uint64_t)ms * 1000, fn,
			     NULL);
}

static void on_answer_tmr(struct cv_tmr *t, void *arg)
{
	(void)t;
	(void)arg;
	if (app.cur && cv_call_state(app.cur) != CV_CALL_ENDED)
		cv_call_answer(app.cur);
}

static void on_hold_tmr(struct cv_tmr *t, void *arg)
{
	(void)arg;
	bool hold = t == &app.t_hold;
	struct cv_call_modify_params mp = {.hold = hold,
					   .use_update = app.use_update};
	if (app.cur) {
		int err = cv_call_modify(app.cur, &mp);
		if (err)
			event("error modify %s", cv_strerror(err));
	}
}

static void on_dtmf_tmr(struct cv_tmr *t, void *arg)
{
	(void)t;
	(void)arg;
	if (app.cur)
		cv_call_send_info_dtmf(app.cur, app.dtmf_digit, 160);
}

static void on_bye_tmr(struct cv_tmr *t, void *arg)
{
	(void)t;
	(void)arg;
	if (app.cur)
		cv_call_hangup(app.cur);
}

static void on_cancel_tmr(struct cv_tmr *t, void *arg)
{
	(void)t;
	(void)arg;
	if (app.cur && cv_call_state(app.cur) != CV_CALL_ANSWERED)
		cv_call_hangup(app.cur);
}

/* The last call ended for the application; the agent may still finish
 * the protocol (a CANCELled INVITE's 487 and ACK): stop when it is done,
 * or after 5 s. */
static void on_linger(struct cv_tmr *t, void *arg)
{
	(void)arg;
	if (cv_agent_calls(app.ag) == 0 || ++app.linger > 100)
		cv_rt_stop(app.rt);
	else
		cv_tmr_start(cv_worker_wheel(app.w), t, 50000, on_linger, NULL);
}

static void on_timeout(struct cv_tmr *t, void *arg)
{
	(void)t;
	(void)arg;
	event("timeout");
	app.rc = 3;
	cv_rt_stop(app.rt);
}

static void on_incoming(struct cv_agent *ag, struct cv_call *c,
			const struct cv_sip_msg *invite, void *arg)
{
	(void)ag;
	(void)arg;
	if (app.multi) {
		/* load: no per-call event, answered at once */
		cv_call_set_media(c, &media, NULL);
		cv_call_answer(c);
		size_t n = cv_ua_dialog_count(cv_agent_ua(ag));
		if (n > app.max_dialogs)
			app.max_dialogs = n;
		return;
	}
	event("incoming " CV_PL_FMT, CV_PL_ARG(invite->from.uri));
	if (app.cur) { /* one call at a time */
		cv_call_reject(c, 486, NULL);
		cv_call_release(c);
		return;
	}
	app.cur = c;
	cv_call_set_media(c, &media, NULL);
	if (app.reject) {
		cv_call_reject(c, (uint16_t)app.reject, NULL);
		return;
	}
	if (app.early)
		cv_call_early(c);
	else
		cv_call_ring(c);
	if (app.ring_ms == 0)
		cv_call_answer(c);
	else
		after(&app.t_answer, app.ring_ms, on_answer_tmr);
}

static void on_state(struct cv_call *c, enum cv_call_state st, uint16_t status,
		     const char *reason, void *uarg)
{
	(void)uarg;
	if (app.multi) {
		if (st == CV_CALL_ENDED) {
			cv_call_release(c);
			if (++app.ended >= app.calls) {
				event("max_dialogs %zu", app.max_dialogs);
				event("done");
				after(&app.t_linger, 0, on_linger);
			}
		}
		return;
	}
	event("state %s %u %s", cv_call_state_name(st), status,
	      reason ? reason : "");
	if (st == CV_CALL_ANSWERED) {
		bool we;
		uint32_t se = cv_call_session_expires(c, &we);
		if (se)
			event("se %u %s", se, we ? "we" : "peer");
		after(&app.t_hold, app.hold_ms, on_hold_tmr);
		after(&app.t_resume, app.resume_ms, on_hold_tmr);
		after(&app.t_dtmf, app.dtmf_ms, on_dtmf_tmr);
		after(&app.t_bye, app.bye_ms, on_bye_tmr);
	}
	if (st != CV_CALL_ENDED)
		return;
	if (c == app.cur) {
		stop_timers();
		app.cur = NULL;
	}
	cv_call_release(c);
	if (++app.ended >= app.calls) {
		event("done");
		after(&app.t_linger, 0, on_linger);
	}
}

static void on_media(struct cv_call *c, const struct cv_sdp_neg *neg,
		     void *uarg)
{
	(void)c;
	(void)uarg;
	if (neg->nmedia && !neg->media[0].rejected)
		event("media %s", cv_sdp_dir_name(neg->media[0].dir));
}

static void on_dtmf(struct cv_call *c, char digit, uint32_t ms, void *uarg)
{
	(void)c;
	(void)ms;
	(void)uarg;
	event("dtmf %c", digit);
}

static void on_redirect(struct cv_call *c, const char *target, uint16_t status,
			void *uarg)
{
	(void)c;
	(void)uarg;
	event("redirect %s %u", target, status);
}

static const struct cv_call_handlers handlers = {
	.incoming = on_incoming,
	.state = on_state,
	.media = on_media,
	.info_dtmf = on_dtmf,
	.redirect = on_redirect,
};

static void on_recv(struct cv_worker *w, const struct cv_tp_rx *rx, void *arg)
{
	(void)w;
	(void)arg;
	cv_agent_recv(app.ag, rx);
}

static const struct cv_tp_handler tp_h = {.recv = on_recv};

static void w_start(struct cv_worker *w, void *arg)
{
	(void)arg;
	app.w = w;
	cv_tmr_init(&app.t_answer);
	cv_tmr_init(&app.t_cancel);
	cv_tmr_init(&app.t_hold);
	cv_tmr_init(&app.t_resume);
	cv_tmr_init(&app.t_dtmf);
	cv_tmr_init(&app.t_bye);
	cv_tmr_init(&app.t_timeout);
	cv_tmr_init(&app.t_linger);
	int err = cv_tp_worker_start(app.tp, w);
	struct cv_agent_params ap = {.tp = app.tp,
				     .w = w,
				     .h = &handlers,
				     .user_agent = "sess_ua",
				     .contact_user = "ua",
				     .session_expires = app.session_expires,
				     .min_se = app.min_se};
	if (!err)
		err = cv_agent_create(&app.ag, &ap);
	if (err) {
		cv_rt_fail(cv_worker_rt(w), err);
		return;
	}
	cv_tmr_start(cv_worker_wheel(w), &app.t_timeout,
		     (uint64_t)app.timeout_ms * 1000, on_timeout, NULL);
	event("listening");
	if (app.call_uri) {
		char from[128];
		snprintf(from, sizeof(from), "sip:ua@%s", "127.0.0.1");
		struct cv_call_params cp = {
			.target = app.call_uri,
			.from = from,
			.media = &media,
			.auth = {.user = app.auth_user,
				 .password = app.auth_pass},
		};
		err = cv_call_create(&app.cur, app.ag, &cp);
		if (!err)
			after(&app.t_cancel, app.cancel_ms, on_cancel_tmr);
		if (err) {
			event("error call %s", cv_strerror(err));
			app.rc = 1;
			cv_rt_stop(app.rt);
		}
	}
}

static void w_stop(struct cv_worker *w, void *arg)
{
	(void)arg;
	stop_timers();
	cv_tmr_cancel(&app.t_timeout);
	cv_tmr_cancel(&app.t_linger);
	if (app.cur)
		cv_call_release(app.cur);
	app.cur = NULL;
	cv_agent_destroy(app.ag);
	cv_tp_worker_stop(app.tp, w);
}

static void usage(void)
{
	fprintf(stderr,
		"usage: sess_ua --listen SPEC [--call URI] [--auth U:P] "
		"[--reject CODE] [--ring-ms N] [--early] [--cancel-ms N] "
		"[--hold-ms N] "
		"[--resume-ms N] [--update] [--dtmf-ms N] [--digit D] "
		"[--bye-ms N] "
		"[--session-expires S] [--min-se S] [--calls N] [--multi] "
		"[--timeout-ms N]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"listen", 1, NULL, 'l'},    {"call", 1, NULL, 'c'},
		{"auth", 1, NULL, 'a'},	     {"reject", 1, NULL, 'r'},
		{"ring-ms", 1, NULL, 'R'},   {"early", 0, NULL, 'e'},
		{"cancel-ms", 1, NULL, 'C'}, {"hold-ms", 1, NULL, 'h'},
		{"resume-ms", 1, NULL, 'u'}, {"update", 0, NULL, 'U'},
		{"dtmf-ms", 1, NULL, 'd'},   {"digit", 1, NULL, 'D'},
		{"bye-ms", 1, NULL, 'b'},    {"session-expires", 1, NULL, 's'},
		{"min-se", 1, NULL, 'm'},    {"calls", 1, NULL, 'n'},
		{"multi", 0, NULL, 'M'},     {"timeout-ms", 1, NULL, 't'},
		{NULL, 0, NULL, 0},
	};
	const char *listen = NULL;
	static char auth[256];
	int o;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'l':
			listen = optarg;
			break;
		case 'c':
			app.call_uri = optarg;
			break;
		case 'a': {
			snprintf(auth, sizeof(auth), "%s", optarg);
			char *colon = strchr(auth, ':');
			if (!colon)
				usage();
			*colon = '\0';
			app.auth_user = auth;
			app.auth_pass = colon + 1;
			break;
		}
		case 'r':
			app.reject = atoi(optarg);
			break;
		case 'R':
			app.ring_ms = atoi(optarg);
			break;
		case 'e':
			app.early = true;
			break;
		case 'C':
			app.cancel_ms = atoi(optarg);
			break;
		case 'h':
			app.hold_ms = atoi(optarg);
			break;
		case 'u':
			app.resume_ms = atoi(optarg);
			break;
		case 'U':
			app.use_update = true;
			break;
		case 'd':
			app.dtmf_ms = atoi(optarg);
			break;
		case 'D':
			app.dtmf_digit = optarg[0];
			break;
		case 'b':
			app.bye_ms = atoi(optarg);
			break;
		case 's':
			app.session_expires =
				(uint32_t)strtoul(optarg, NULL, 10);
			break;
		case 'm':
			app.min_se = (uint32_t)strtoul(optarg, NULL, 10);
			break;
		case 'n':
			app.calls = atoi(optarg);
			break;
		case 'M':
			app.multi = true;
			break;
		case 't':
			app.timeout_ms = atoi(optarg);
			break;
		default:
			usage();
		}
	}
	if (!listen || cv_tp_spec_parse(listen, &app.spec))
		usage();
	cv_log_set_level(CV_LOG_WARN);
	struct cv_rt_params rp = {.workers = 1,
				  .on_start = w_start,
				  .on_stop = w_stop,
				  .handle_signals = true};
	if (cv_rt_create(&app.rt, &rp))
		return 1;
	struct cv_tp_params tpp = {.specs = &app.spec, .nspecs = 1, .h = &tp_h};
	int err = cv_tp_create(&app.tp, app.rt, &tpp);
	if (!err)
		err = cv_rt_start(app.rt);
	if (!err)
		err = cv_rt_wait(app.rt);
	cv_rt_destroy(app.rt);
	cv_tp_destroy(app.tp);
	if (err) {
		fprintf(stderr, "sess_ua: %s\n", cv_strerror(err));
		return 1;
	}
	return app.rc;
}
