/* cvoip answer: wait for calls (registered or listening directly), answer
 * them, play and record audio, exit after N calls. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

struct answer_ctx;

/* One answered call; freed when its timers have closed. */
struct acall {
	struct acall *next;
	struct cv_ccall *cc;
	struct cv_ccall *old; /* replaced by cc (transfer) */
	bool new_answered;
	uv_timer_t answer_tmr, hangup_tmr;
	int open_timers;
	bool answered, ended;
	char record[1024];
	struct answer_ctx *x;
};

struct answer_ctx {
	struct cv_client *cl;
	struct cv_client_media media;
	struct cv_regc_params reg;
	double answer_after_s;
	double duration_s; /* 0: until the caller hangs up */
	long max_calls;	   /* 0: unlimited */
	long calls_seen;
	long calls_done;
	struct acall *calls;
	char codecs_buf[256];
	const char *codecs[16];
	bool stopping;
	bool registering;
	int exit_code;
	uint32_t session_expires, min_se;
};

static void usage(FILE *f)
{
	fprintf(f, "usage: cvoip answer [options]\n"
		   "\n"
		   "Waits for calls, answers them, plays and records audio, "
		   "and exits\n"
		   "after --max-calls calls (or on Ctrl-C).\n"
		   "\n"
		   "options:\n"
		   "  --listen SPEC            listener, e.g. "
		   "udp:127.0.0.1:5062 (repeatable;\n"
		   "                           default udp/tcp on an ephemeral "
		   "port)\n"
		   "  --register AOR           register AOR (e.g. "
		   "sip:bob@127.0.0.1) first\n"
		   "  --registrar URI          registrar (numeric host); "
		   "default: the AOR's host\n"
		   "  --auth USER:PASS         credentials for the registrar\n"
		   "  --auth-stdin             read USER:PASS from standard "
		   "input\n"
		   "  --expires S              requested registration time "
		   "(default 600)\n"
		   "  --play FILE              send this audio file (looped)\n"
		   "  --tone HZ                send a sine tone instead\n"
		   "  --record FILE            record what we hear (call n>1: "
		   "FILE with -n before .wav)\n"
		   "  --codec LIST             codecs in preference order, "
		   "e.g. PCMU,opus\n"
		   "  --srtp                   require SRTP (SDES, RFC 4568): "
		   "calls offering plain\n"
		   "                           RTP get 488 (without it, SRTP "
		   "offers are accepted)\n"
		   "  --auto-answer-after S    ring for S seconds before "
		   "answering (default 0)\n"
		   "  --duration S             hang up S seconds after "
		   "answering (default: wait)\n"
		   "  --max-calls N            exit after N calls (default 1; "
		   "0 = never)\n"
		   "  --media-addr IP          address for RTP and SDP\n"
		   "  --keepalive S            keep-alive (CRLFCRLF or "
		   "WebSocket ping) on the\n"
		   "                           registration's TCP/TLS/WS/WSS "
		   "connection after S s\n"
		   "                           of silence (default 90)\n"
		   "  --session-expires S      session timer to ask for (RFC "
		   "4028; default 1800)\n"
		   "  --min-se S               smallest session timer we "
		   "accept (default 90;\n"
		   "                           smaller ones get 422)\n"
		   "  --json                   one JSON event per line\n"
		   "  -h, --help               this text\n");
	fputs(cli_audio_usage, f);
	fputs(cli_tp_usage, f);
	fprintf(f, "                      (--transport applies to the "
		   "registration; listen\n"
		   "                      on tls:/wss: with "
		   "--tls-cert/--tls-key for direct calls)\n"
		   "\n"
		   "exit status: 0 after the calls, 4 network error, 5 "
		   "registration refused, 2 usage.\n");
}

static void print_listeners(struct cv_client *cl)
{
	enum cv_tp_kind kind;
	struct cv_tp_addr addr;
	for (unsigned i = 0; cv_client_listener(cl, i, &kind, &addr) == 0;
	     i++) {
		char a[CV_TP_ADDRSTRLEN];
		cv_tp_addr_print(&addr, a, sizeof(a));
		char lower[8];
		size_t k = 0;
		for (const char *n = cv_tp_kind_name(kind); *n && k < 7; n++)
			lower[k++] = (char)(*n | 0x20);
		lower[k] = 0;
		cli_event(json_pack("{s:s,s:s,s:s}", "event", "listening",
				    "transport", lower, "address", a),
			  "listening on %s:%s", lower, a);
	}
}

static void finish(struct answer_ctx *x)
{
	if (x->stopping)
		return;
	x->stopping = true;
	if (x->registering && cv_client_registered(x->cl) &&
	    cv_client_unregister(x->cl) == 0)
		return; /* reg_state(unregistered) stops */
	cv_client_stop(x->cl);
}

static void acall_unlink(struct acall *a)
{
	for (struct acall **pp = &a->x->calls; *pp; pp = &(*pp)->next)
		if (*pp == a) {
			*pp = a->next;
			return;
		}
}

static void timer_closed(uv_handle_t *h)
{
	struct acall *a = h->data;
	if (--a->open_timers == 0) {
		acall_unlink(a);
		free(a);
	}
}

static struct acall *acall_of(struct answer_ctx *x, struct cv_ccall *cc)
{
	for (struct acall *a = x->calls; a; a = a->next)
		if (a->cc == cc || (cc && a->old == cc))
			return a;
	return NULL;
}

static void on_answer_timer(uv_timer_t *t);
static void on_hangup_timer(uv_timer_t *t);

static void on_incoming(struct cv_client *cl, struct cv_ccall *cc,
			const char *from, void *arg)
{
	struct answer_ctx *x = arg;
	struct acall *a = NULL;
	if (x->stopping || (x->max_calls && x->calls_seen >= x->max_calls) ||
	    !(a = calloc(1, sizeof(*a)))) {
		cv_ccall_reject(cc, 486);
		cv_ccall_release(cc);
		return;
	}
	x->calls_seen++;
	a->cc = cc;
	a->x = x;
	a->next = x->calls;
	x->calls = a;
	uv_loop_t *loop = cv_client_loop(cl);
	uv_timer_init(loop, &a->answer_tmr);
	uv_timer_init(loop, &a->hangup_tmr);
	a->open_timers = 2;
	a->answer_tmr.data = a;
	a->hangup_tmr.data = a;
	if (x->media.record) {
		const char *r = x->media.record;
		if (x->calls_seen == 1) {
			snprintf(a->record, sizeof(a->record), "%s", r);
		} else {
			const char *dot = strrchr(r, '.');
			int stem = dot ? (int)(dot - r) : (int)strlen(r);
			snprintf(a->record, sizeof(a->record), "%.*s-%ld%s",
				 stem, r, x->calls_seen, dot ? dot : "");
		}
	}
	cli_event(json_pack("{s:s,s:s,s:I}", "event", "incoming", "from", from,
			    "call", (json_int_t)x->calls_seen),
		  "incoming call %ld from %s", x->calls_seen, from);
	cv_ccall_ring(cc);
	uv_timer_start(&a->answer_tmr, on_answer_timer,
		       (uint64_t)(x->answer_after_s * 1000), 0);
}

static void on_answer_timer(uv_timer_t *t)
{
	struct acall *a = t->data;
	struct answer_ctx *x = a->x;
	if (a->ended)
		return;
	struct cv_client_media m = x->media;
	m.record = a->record[0] ? a->record : NULL;
	int err = cv_ccall_answer(a->cc, &m);
	if (err == CV_SDP_ENOTACCEPTABLE)
		cli_error("answer failed: nothing acceptable in the offer "
			  "(488)%s",
			  m.srtp ? "; SRTP is required" : "");
	else if (err)
		cli_error("answer failed: %s", cv_strerror(err));
}

static void on_hangup_timer(uv_timer_t *t)
{
	struct acall *a = t->data;
	if (!a->ended)
		cv_ccall_hangup(a->cc);
}

static void on_state(struct cv_ccall *cc, enum cv_call_state st,
		     uint16_t status, const char *reason, void *arg)
{
	struct answer_ctx *x = arg;
	struct acall *s = acall_of(x, cc);
	if (!s)
		return;
	if (cc == s->old) {
		cli_event(json_pack("{s:s,s:s,s:s,s:i,s:s}", "event", "state",
				    "call", "replaced", "state",
				    cv_call_state_name(st), "status", status,
				    "reason", reason ? reason : ""),
			  "replaced call %s: %u %s", cv_call_state_name(st),
			  status, reason ? reason : "");
		if (st == CV_CALL_ENDED) {
			cv_ccall_release(cc);
			s->old = NULL;
		}
		return;
	}
	if (s->old && st == CV_CALL_ANSWERED)
		s->new_answered = true;
	if (s->old && st == CV_CALL_ENDED && !s->new_answered) {
		/* the call to the transfer target failed: the old one goes on
		 */
		cli_event(json_pack("{s:s,s:s,s:i,s:s}", "event",
				    "transfer_failed", "state",
				    cv_call_state_name(st), "status", status,
				    "reason", reason ? reason : ""),
			  "transfer call ended: %u %s", status,
			  reason ? reason : "");
		cv_ccall_release(cc);
		s->cc = s->old;
		s->old = NULL;
		return;
	}
	cli_event(json_pack("{s:s,s:s,s:i,s:s}", "event", "state", "state",
			    cv_call_state_name(st), "status", status, "reason",
			    reason ? reason : ""),
		  "%s: %u %s", cv_call_state_name(st), status,
		  reason ? reason : "");
	if (st == CV_CALL_ANSWERED && !s->answered) {
		s->answered = true;
		if (x->duration_s > 0)
			uv_timer_start(&s->hangup_tmr, on_hangup_timer,
				       (uint64_t)(x->duration_s * 1000), 0);
	}
	if (st != CV_CALL_ENDED || s->ended)
		return;
	s->ended = true;
	struct cv_ccall_quality q;
	if (s->answered && cv_ccall_quality(cc, &q) == 0) {
		cli_event(json_pack("{s:s,s:s,s:s,s:I,s:I,s:I,s:f,s:f,s:f}",
				    "event", "quality", "codec", q.codec,
				    "srtp", q.srtp, "tx_packets",
				    (json_int_t)q.tx_packets, "rx_packets",
				    (json_int_t)q.rx_packets, "rx_lost",
				    (json_int_t)q.rx_lost, "loss_pct",
				    q.loss_pct, "jitter_ms", q.jitter_ms, "mos",
				    q.mos),
			  "quality: codec %s sent %llu received %llu lost %lld "
			  "(%.1f%%) jitter %.1f ms MOS %.2f",
			  q.codec, (unsigned long long)q.tx_packets,
			  (unsigned long long)q.rx_packets,
			  (long long)q.rx_lost, q.loss_pct, q.jitter_ms, q.mos);
		cli_device_event(&q);
	}
	uv_timer_stop(&s->answer_tmr);
	uv_timer_stop(&s->hangup_tmr);
	cv_ccall_release(cc);
	s->cc = NULL;
	if (s->old) { /* no callbacks for it after this */
		cv_ccall_release(s->old);
		s->old = NULL;
	}
	uv_close((uv_handle_t *)&s->answer_tmr, timer_closed);
	uv_close((uv_handle_t *)&s->hangup_tmr, timer_closed);
	x->calls_done++;
	if (x->max_calls && x->calls_done >= x->max_calls)
		finish(x);
}

static void on_reg(struct cv_client *cl, bool registered, uint16_t status,
		   const char *reason, uint32_t expires, void *arg)
{
	struct answer_ctx *x = arg;
	cli_event(json_pack("{s:s,s:b,s:i,s:s,s:I}", "event", "registration",
			    "registered", registered, "status", status,
			    "reason", reason ? reason : "", "expires",
			    (json_int_t)expires),
		  registered ? "registered: %u %s (expires %u s)"
			     : "not registered: %u %s",
		  status, reason ? reason : "", expires);
	if (x->stopping && !registered) {
		cv_client_stop(cl);
		return;
	}
	if (!registered && !x->stopping) {
		x->exit_code = cli_exit_for_status(status) == CVOIP_EXIT_AUTH
				       ? CVOIP_EXIT_AUTH
				       : CVOIP_EXIT_NETWORK;
		x->stopping = true;
		cv_client_stop(cl);
	}
}

static void on_transferred(struct cv_client *cl, struct cv_ccall *old_cc,
			   struct cv_ccall *new_cc, void *arg)
{
	struct answer_ctx *x = arg;
	struct acall *a = acall_of(x, old_cc);
	if (!a || a->cc != old_cc || a->old) {
		cv_ccall_hangup(new_cc);
		cv_ccall_release(new_cc);
		return;
	}
	cli_event(json_pack("{s:s}", "event", "transferred"),
		  "call transferred");
	a->old = old_cc;
	a->cc = new_cc;
	a->new_answered = false;
}

static void on_message(struct cv_client *cl, const char *from,
		       const char *ctype, const char *body, size_t len,
		       void *arg)
{
	cli_event(json_pack("{s:s,s:s,s:s,s:s#}", "event", "message", "from",
			    from, "content_type", ctype, "body", body, len),
		  "message from %s: %.*s", from, (int)len, body);
}

static void on_subscribed(struct cv_client *cl, const char *event,
			  const char *from, void *arg)
{
	cli_event(json_pack("{s:s,s:s,s:s}", "event", "subscribed", "package",
			    event, "from", from),
		  "%s subscribed to %s", from, event);
}

static void on_media(struct cv_ccall *cc, const char *dir, const char *codec,
		     void *arg)
{
	struct cv_ccall_quality q;
	cv_ccall_quality(cc,
			 &q); /* for the SRTP suite, even without a stream */
	cli_event(json_pack("{s:s,s:s,s:s,s:s}", "event", "media", "dir", dir,
			    "codec", codec, "srtp", q.srtp),
		  "media: %s %s%s%s", dir, codec, q.srtp[0] ? " SRTP " : "",
		  q.srtp);
}

static void on_dtmf(struct cv_ccall *cc, char digit, void *arg)
{
	cli_event(json_pack("{s:s,s:s#}", "event", "dtmf", "digit", &digit,
			    (size_t)1),
		  "dtmf received: %c", digit);
}

static void on_interrupt(struct cv_client *cl, void *arg)
{
	struct answer_ctx *x = arg;
	for (struct acall *a = x->calls; a; a = a->next) {
		if (a->old)
			cv_ccall_hangup(a->old);
		if (a->cc && !a->ended)
			cv_ccall_hangup(a->cc);
	}
	x->max_calls = 0;
	finish(x);
}

static void start(struct cv_client *cl, void *arg)
{
	struct answer_ctx *x = arg;
	print_listeners(cl);
	if (x->registering) {
		int err = cv_client_register(cl, &x->reg);
		if (err) {
			cli_error("cannot register %s: %s", x->reg.aor,
				  cv_strerror(err));
			x->exit_code = err == CV_EPARSE || err == CV_EUNSUPP
					       ? CVOIP_EXIT_USAGE
					       : CVOIP_EXIT_NETWORK;
			x->stopping = true;
			cv_client_stop(cl);
		}
	}
}

/* Calls still up when the worker stopped (their handles are closed). */
static void release_calls(void *arg)
{
	struct answer_ctx *x = arg;
	while (x->calls) {
		struct acall *a = x->calls;
		x->calls = a->next;
		if (a->cc)
			cv_ccall_release(a->cc);
		if (a->old)
			cv_ccall_release(a->old);
		free(a);
	}
}

int cvoip_cmd_answer(int argc, char **argv)
{
	enum {
		O_REGISTER = 1000,
		O_REGISTRAR,
		O_EXPIRES,
		O_PLAY,
		O_TONE,
		O_RECORD,
		O_CODEC,
		O_AFTER,
		O_DURATION,
		O_MAX,
		O_MEDIA_ADDR,
		O_SE,
		O_MIN_SE,
		O_SRTP
	};
	static const struct option opts[] = {
		CLI_OPT_LISTEN,
		{"register", required_argument, NULL, O_REGISTER},
		{"registrar", required_argument, NULL, O_REGISTRAR},
		CLI_OPT_AUTH,
		CLI_OPT_AUTH_STDIN,
		{"expires", required_argument, NULL, O_EXPIRES},
		{"play", required_argument, NULL, O_PLAY},
		{"tone", required_argument, NULL, O_TONE},
		{"record", required_argument, NULL, O_RECORD},
		{"codec", required_argument, NULL, O_CODEC},
		{"auto-answer-after", required_argument, NULL, O_AFTER},
		{"duration", required_argument, NULL, O_DURATION},
		{"max-calls", required_argument, NULL, O_MAX},
		{"media-addr", required_argument, NULL, O_MEDIA_ADDR},
		CLI_OPT_JSON,
		{"session-expires", required_argument, NULL, O_SE},
		{"min-se", required_argument, NULL, O_MIN_SE},
		{"srtp", no_argument, NULL, O_SRTP},
		CLI_OPT_TRANSPORT,
		CLI_OPT_KEEPALIVE,
		CLI_TLS_OPTIONS,
		CLI_AUDIO_OPTIONS,
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0}};
	static struct answer_ctx x;
	memset(&x, 0, sizeof(x));
	x.max_calls = 1;
	struct cli_common o = {0};
	const char *media_addr = NULL;
	char registrar[1100];
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case O_REGISTER:
			x.reg.aor = optarg;
			x.registering = true;
			break;
		case O_REGISTRAR:
			x.reg.registrar = optarg;
			break;
		case O_EXPIRES:
			x.reg.expires = (uint32_t)atol(optarg);
			break;
		case O_PLAY:
			x.media.play = optarg;
			break;
		case O_TONE:
			x.media.tone_hz = atof(optarg);
			break;
		case O_RECORD:
			x.media.record = optarg;
			break;
		case O_CODEC:
			snprintf(x.codecs_buf, sizeof(x.codecs_buf), "%s",
				 optarg);
			x.media.codecs = x.codecs;
			x.media.ncodecs =
				cli_parse_codecs(x.codecs_buf, x.codecs, 16);
			break;
		case O_AFTER:
			x.answer_after_s = atof(optarg);
			break;
		case O_DURATION:
			x.duration_s = atof(optarg);
			break;
		case O_MAX:
			x.max_calls = atol(optarg);
			break;
		case O_MEDIA_ADDR:
			media_addr = optarg;
			break;
		case O_SE:
			x.session_expires = (uint32_t)atol(optarg);
			if (!x.session_expires)
				x.session_expires = UINT32_MAX;
			break;
		case O_MIN_SE:
			x.min_se = (uint32_t)atol(optarg);
			break;
		case O_SRTP:
			x.media.srtp = true;
			break;
		case 'h':
			usage(stdout);
			return CVOIP_EXIT_OK;
		default:;
			int r = cli_common_option(c, optarg, &o);
			if (r < 0)
				return CVOIP_EXIT_USAGE;
			if (r)
				break;
			int ac = cli_audio_option(c, optarg, &x.media);
			if (ac < 0)
				return CVOIP_EXIT_USAGE;
			if (ac)
				break;
			usage(stderr);
			return CVOIP_EXIT_USAGE;
		}
	}
	if (optind != argc || x.answer_after_s < 0 || x.duration_s < 0 ||
	    x.max_calls < 0 || (x.media.play && x.media.tone_hz > 0)) {
		usage(stderr);
		return CVOIP_EXIT_USAGE;
	}
	if (cli_common_finish(&o) ||
	    (x.registering &&
	     cli_common_registrar(&o, x.reg.aor, x.reg.registrar, registrar,
				  sizeof(registrar), &x.reg.registrar)))
		return CVOIP_EXIT_USAGE;
	x.reg.auth = o.auth;
	if (cli_audio_check(&x.media))
		return CVOIP_EXIT_USAGE;
	cli_out.tty = isatty(1);
	static const struct cv_client_handlers h = {
		.incoming = on_incoming,
		.call_state = on_state,
		.dtmf = on_dtmf,
		.reg_state = on_reg,
		.interrupt = on_interrupt,
		.transferred = on_transferred,
		.message = on_message,
		.media = on_media,
		.subscribed = on_subscribed,
	};
	struct cv_client_params cp = {.media_addr = media_addr,
				      .h = &h,
				      .arg = &x,
				      .session_expires = x.session_expires,
				      .min_se = x.min_se};
	cli_common_params(&o, &cp);
	int rc = cli_client_run(&x.cl, &cp, start, &x, release_calls);
	return rc ? rc : x.exit_code;
}
