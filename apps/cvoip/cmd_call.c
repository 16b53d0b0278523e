/* cvoip call TARGET: place a call, play and record audio, send DTMF, hang
 * up after a duration, print the call quality. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

struct call_ctx {
	struct cv_client *cl;
	struct cv_client_call_params p;
	struct cv_ccall *cc;
	struct cv_ccall *old; /* replaced by cc (we were transferred) */
	struct cv_ccall
		*consult; /* --consult: the call to the transfer target */
	bool old_ended, consult_ended, consult_answered;
	const char *transfer_to, *consult_uri;
	double transfer_after_s, hold_at_s, resume_at_s, mute_at_s, unmute_at_s;
	bool use_update;
	bool transfer_ok;
	uint32_t session_expires, min_se;
	uv_timer_t transfer_tmr, hold_tmr, resume_tmr, mute_tmr, unmute_tmr;
	double duration_s;
	double timeout_s;
	const char *dtmf;
	uv_timer_t hangup_tmr, dtmf_tmr, progress_tmr, timeout_tmr;
	uint64_t answered_ms;
	int exit_code;
	bool answered;
	bool answered_new;
	bool ended;
	char codecs_buf[256];
	const char *codecs[16];
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: cvoip call TARGET [options]\n"
		"\n"
		"Places a call to TARGET (sip:user@host[:port]), prints each "
		"state\n"
		"change, plays and records audio, hangs up after --duration "
		"and\n"
		"prints the call quality (loss, jitter, MOS).\n"
		"\n"
		"options:\n"
		"  --from URI          our identity (default sip:cvoip@<local "
		"address>)\n"
		"  --proxy URI         send through this server (numeric "
		"host), e.g.\n"
		"                      sip:127.0.0.1:5060; default: straight "
		"to TARGET\n"
		"  --auth USER:PASS    credentials for 401/407 challenges\n"
		"  --auth-stdin        read USER:PASS from standard input\n"
		"  --play FILE         send this audio file (WAV...; looped)\n"
		"  --tone HZ           send a sine tone instead\n"
		"  --record FILE       write what we hear to this WAV file\n"
		"  --duration S        hang up S seconds after the answer "
		"(default 10)\n"
		"  --timeout S         give up if not answered within S "
		"seconds (default 60)\n"
		"  --dtmf DIGITS       send these digits (RFC 4733, else SIP "
		"INFO) 1 s after the answer\n"
		"  --codec LIST        codecs in preference order, e.g. "
		"PCMU,opus\n"
		"  --srtp              SRTP with SDES keys (RFC 4568): offer "
		"RTP/SAVP with\n"
		"                      AES_CM_128_HMAC_SHA1_80/_32 and end the "
		"call if the\n"
		"                      answer is plain RTP\n"
		"  --mute-at S         send silence from S seconds after the "
		"answer\n"
		"  --unmute-at S       send the audio again from S seconds "
		"after the answer\n"
		"  --listen SPEC       local listener (default udp/tcp on an "
		"ephemeral port)\n"
		"  --media-addr IP     address for RTP and SDP (default: "
		"toward the peer)\n"
		"  --hold-at S         put the call on hold S seconds after "
		"the answer\n"
		"  --resume-at S       resume it S seconds after the answer\n"
		"  --update            hold/resume by UPDATE (RFC 3311), not "
		"re-INVITE\n"
		"  --transfer-to URI   blind transfer (REFER) of the peer to "
		"URI after the answer\n"
		"  --consult URI       attended transfer: call URI too, then "
		"connect the peer\n"
		"                      to it (REFER with Replaces) when it "
		"answers\n"
		"  --transfer-after S  when to start the transfer (default 1 s "
		"after the answer)\n"
		"  --session-expires S session timer to ask for (RFC 4028; "
		"default 1800, 0 none)\n"
		"  --min-se S          smallest session timer we accept "
		"(default 90)\n"
		"  --json              one JSON event per line instead of "
		"text\n"
		"  -h, --help          this text\n");
	fputs(cli_audio_usage, f);
	fputs(cli_tp_usage, f);
	fprintf(f, "\n"
		   "exit status: 0 answered and ended normally, 1 rejected "
		   "(status printed),\n"
		   "3 no answer or timeout, 4 network error, 5 authentication "
		   "failed, 2 usage.\n");
}

static void close_timers(struct call_ctx *x)
{
	uv_timer_t *t[] = {&x->hangup_tmr,  &x->dtmf_tmr,     &x->progress_tmr,
			   &x->timeout_tmr, &x->transfer_tmr, &x->hold_tmr,
			   &x->resume_tmr,  &x->mute_tmr,     &x->unmute_tmr};
	for (size_t i = 0; i < CV_ARRAY_SIZE(t); i++) {
		uv_timer_stop(t[i]);
		if (!uv_is_closing((uv_handle_t *)t[i]))
			uv_close((uv_handle_t *)t[i], NULL);
	}
}

static void print_quality(struct call_ctx *x)
{
	struct cv_ccall_quality q;
	if (!x->cc || cv_ccall_quality(x->cc, &q) != 0)
		return;
	cli_event(json_pack("{s:s,s:s,s:s,s:I,s:I,s:I,s:f,s:f,s:f,s:f}",
			    "event", "quality", "codec", q.codec, "srtp",
			    q.srtp, "tx_packets", (json_int_t)q.tx_packets,
			    "rx_packets", (json_int_t)q.rx_packets, "rx_lost",
			    (json_int_t)q.rx_lost, "loss_pct", q.loss_pct,
			    "jitter_ms", q.jitter_ms, "rtt_ms", q.rtt_ms, "mos",
			    q.mos),
		  "quality: codec %s sent %llu received %llu lost %lld "
		  "(%.1f%%) jitter %.1f ms MOS %.2f",
		  q.codec, (unsigned long long)q.tx_packets,
		  (unsigned long long)q.rx_packets, (long long)q.rx_lost,
		  q.loss_pct, q.jitter_ms, q.mos);
	cli_device_event(&q);
}

static void on_hangup_timer(uv_timer_t *t)
{
	struct call_ctx *x = t->data;
	if (x->consult && !x->consult_ended)
		cv_ccall_hangup(x->consult);
	if (x->cc && !x->ended)
		cv_ccall_hangup(x->cc);
}

/* Everything we placed or were handed has ended: stop. */
static void maybe_stop(struct call_ctx *x)
{
	if (!x->ended || (x->consult && !x->consult_ended) ||
	    (x->old && !x->old_ended))
		return;
	close_timers(x);
	cv_client_stop(x->cl);
}

static void on_transfer_timer(uv_timer_t *t)
{
	struct call_ctx *x = t->data;
	if (!x->cc || x->ended)
		return;
	if (x->transfer_to) {
		int err = cv_ccall_transfer_blind(x->cc, x->transfer_to);
		if (err) {
			cli_error("transfer failed: %s", cv_strerror(err));
			x->exit_code = CVOIP_EXIT_FAIL;
		} else {
			cli_event(json_pack("{s:s,s:s,s:s}", "event",
					    "transfer", "kind", "blind",
					    "target", x->transfer_to),
				  "transferring to %s", x->transfer_to);
		}
		return;
	}
	struct cv_client_call_params p = x->p;
	p.target = x->consult_uri;
	p.media.record = NULL;
	int err = cv_client_call(x->cl, &p, &x->consult);
	if (err) {
		cli_error("cannot call %s: %s", x->consult_uri,
			  cv_strerror(err));
		x->consult = NULL;
		x->exit_code = CVOIP_EXIT_FAIL;
		return;
	}
	cli_event(json_pack("{s:s,s:s}", "event", "consult", "target",
			    x->consult_uri),
		  "consulting %s", x->consult_uri);
}

static void on_hold_timer(uv_timer_t *t)
{
	struct call_ctx *x = t->data;
	bool hold = t == &x->hold_tmr;
	if (!x->cc || x->ended)
		return;
	int err = cv_ccall_modify(x->cc, hold, x->use_update);
	if (err)
		cli_error("%s failed: %s", hold ? "hold" : "resume",
			  cv_strerror(err));
	else
		cli_event(json_pack("{s:s,s:s}", "event",
				    hold ? "hold" : "resume", "method",
				    x->use_update ? "UPDATE" : "INVITE"),
			  "%s (%s)", hold ? "holding" : "resuming",
			  x->use_update ? "UPDATE" : "re-INVITE");
}

static void on_mute_timer(uv_timer_t *t)
{
	struct call_ctx *x = t->data;
	bool mute = t == &x->mute_tmr;
	if (!x->cc || x->ended)
		return;
	int err = cv_ccall_mute(x->cc, mute);
	if (err)
		cli_error("%s failed: %s", mute ? "mute" : "unmute",
			  cv_strerror(err));
	else
		cli_event(json_pack("{s:s}", "event", mute ? "mute" : "unmute"),
			  "%s", mute ? "muted" : "unmuted");
}

static void on_timeout_timer(uv_timer_t *t)
{
	struct call_ctx *x = t->data;
	if (x->cc && !x->answered && !x->ended) {
		x->exit_code = CVOIP_EXIT_NOANSWER;
		cli_error("no answer within %.0f s", x->timeout_s);
		cv_ccall_hangup(x->cc);
	}
}

static void on_dtmf_timer(uv_timer_t *t)
{
	struct call_ctx *x = t->data;
	if (x->cc && !x->ended && x->dtmf) {
		int err = cv_ccall_send_dtmf(x->cc, x->dtmf);
		if (err)
			cli_error("sending DTMF failed: %s", cv_strerror(err));
		else
			cli_event(json_pack("{s:s,s:s}", "event", "dtmf_sent",
					    "digits", x->dtmf),
				  "dtmf sent: %s", x->dtmf);
	}
}

static void on_progress_timer(uv_timer_t *t)
{
	struct call_ctx *x = t->data;
	struct cv_ccall_quality q;
	if (!x->cc || x->ended || cv_ccall_quality(x->cc, &q) != 0)
		return;
	uint64_t s = (uv_now(t->loop) - x->answered_ms) / 1000;
	printf("\r[%02llu:%02llu] %s loss %.1f%% jitter %.1f ms MOS %.2f   ",
	       (unsigned long long)s / 60, (unsigned long long)s % 60, q.codec,
	       q.loss_pct, q.jitter_ms, q.mos);
	fflush(stdout);
}

static void on_state(struct cv_ccall *cc, enum cv_call_state st,
		     uint16_t status, const char *reason, void *arg)
{
	struct call_ctx *x = arg;
	const char *name = cv_call_state_name(st);
	if (cc == x->old || cc == x->consult) {
		bool consult = cc == x->consult;
		cli_event(json_pack("{s:s,s:s,s:s,s:i,s:s}", "event", "state",
				    "call", consult ? "consult" : "replaced",
				    "state", name, "status", status, "reason",
				    reason ? reason : ""),
			  "%s call %s%s%u %s", consult ? "consult" : "replaced",
			  name, status ? ": " : " ", status,
			  reason ? reason : "");
		if (consult && st == CV_CALL_ANSWERED && !x->consult_answered) {
			x->consult_answered = true;
			int err = x->cc && !x->ended
					  ? cv_ccall_transfer_attended(
						    x->cc, x->consult)
					  : CV_ECLOSED;
			if (err) {
				cli_error("attended transfer failed: %s",
					  cv_strerror(err));
				x->exit_code = CVOIP_EXIT_FAIL;
			} else {
				cli_event(json_pack("{s:s,s:s,s:s}", "event",
						    "transfer", "kind",
						    "attended", "target",
						    x->consult_uri),
					  "transferring to %s (attended)",
					  x->consult_uri);
			}
		}
		if (st != CV_CALL_ENDED)
			return;
		if (consult) {
			x->consult_ended = true;
		} else if (!x->ended) {
			x->old_ended = true;
		} else {
			/* the call we were transferred to failed: back to the
			 * old one */
			x->old_ended = true;
		}
		maybe_stop(x);
		return;
	}
	if (st == CV_CALL_ENDED && x->old && !x->old_ended &&
	    !x->answered_new) {
		/* the call to the transfer target failed: the old one goes on
		 */
		cli_event(json_pack("{s:s,s:s,s:i,s:s}", "event", "state",
				    "state", name, "status", status, "reason",
				    reason ? reason : ""),
			  "transfer call ended: %u %s", status,
			  reason ? reason : "");
		cv_ccall_release(x->cc);
		x->cc = x->old;
		x->old = NULL;
		return;
	}
	if (x->old && st == CV_CALL_ANSWERED)
		x->answered_new = true;
	if (st == CV_CALL_ENDED) {
		if (x->ended)
			return;
		x->ended = true;
		if (cli_out.tty && !cli_out.json && x->answered)
			putchar('\n');
		char st_txt[16] = "";
		if (status)
			snprintf(st_txt, sizeof(st_txt), "%u ", status);
		cli_event(json_pack("{s:s,s:s,s:i,s:s}", "event", "state",
				    "state", name, "status", status, "reason",
				    reason ? reason : ""),
			  "ended: %s%s", st_txt, reason ? reason : "");
		if (x->answered) {
			print_quality(x);
		} else if (!x->exit_code) {
			bool local = reason && strstr(reason, "(local)");
			x->exit_code = local ? CVOIP_EXIT_NETWORK
					     : cli_exit_for_status(status);
		}
		if (x->consult && !x->consult_ended && !x->transfer_ok)
			cv_ccall_hangup(x->consult);
		maybe_stop(x);
		return;
	}
	cli_event(json_pack("{s:s,s:s,s:i,s:s}", "event", "state", "state",
			    name, "status", status, "reason",
			    reason ? reason : ""),
		  "%s%s%u %s", name, status ? ": " : "", status,
		  reason ? reason : "");
	if (st == CV_CALL_ANSWERED && !x->answered) {
		x->answered = true;
		x->answered_ms = uv_now(cv_client_loop(x->cl));
		uv_timer_stop(&x->timeout_tmr);
		uv_timer_start(&x->hangup_tmr, on_hangup_timer,
			       (uint64_t)(x->duration_s * 1000), 0);
		if (x->dtmf)
			uv_timer_start(&x->dtmf_tmr, on_dtmf_timer, 1000, 0);
		if (cli_out.tty && !cli_out.json)
			uv_timer_start(&x->progress_tmr, on_progress_timer,
				       1000, 1000);
		if (x->transfer_to || x->consult_uri)
			uv_timer_start(&x->transfer_tmr, on_transfer_timer,
				       (uint64_t)(x->transfer_after_s * 1000),
				       0);
		if (x->hold_at_s > 0)
			uv_timer_start(&x->hold_tmr, on_hold_timer,
				       (uint64_t)(x->hold_at_s * 1000), 0);
		if (x->resume_at_s > 0)
			uv_timer_start(&x->resume_tmr, on_hold_timer,
				       (uint64_t)(x->resume_at_s * 1000), 0);
		if (x->mute_at_s > 0)
			uv_timer_start(&x->mute_tmr, on_mute_timer,
				       (uint64_t)(x->mute_at_s * 1000), 0);
		if (x->unmute_at_s > 0)
			uv_timer_start(&x->unmute_tmr, on_mute_timer,
				       (uint64_t)(x->unmute_at_s * 1000), 0);
	}
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

static void on_transfer(struct cv_ccall *cc, uint16_t status,
			const char *reason, bool final, void *arg)
{
	struct call_ctx *x = arg;
	cli_event(json_pack("{s:s,s:i,s:s,s:b}", "event", "transfer_status",
			    "status", status, "reason", reason ? reason : "",
			    "final", final),
		  "transfer: %u %s%s", status, reason ? reason : "",
		  final ? " (final)" : "");
	if (final && status >= 200 && status < 300)
		x->transfer_ok = true;
	else if (final && !x->exit_code)
		x->exit_code =
			status ? cli_exit_for_status(status) : CVOIP_EXIT_FAIL;
}

static void on_transferred(struct cv_client *cl, struct cv_ccall *old_cc,
			   struct cv_ccall *new_cc, void *arg)
{
	struct call_ctx *x = arg;
	if (old_cc != x->cc || x->old) {
		cv_ccall_hangup(new_cc);
		cv_ccall_release(new_cc);
		return;
	}
	cli_event(json_pack("{s:s}", "event", "transferred"),
		  "transferred by the peer");
	x->old = old_cc;
	x->old_ended = false;
	x->cc = new_cc;
}

static void on_redirect(struct cv_ccall *cc, const char *target,
			uint16_t status, void *arg)
{
	cli_event(json_pack("{s:s,s:s,s:i}", "event", "redirect", "target",
			    target, "status", status),
		  "redirected (%u) to %s", status, target);
}

static void on_dtmf(struct cv_ccall *cc, char digit, void *arg)
{
	cli_event(json_pack("{s:s,s:s#}", "event", "dtmf", "digit", &digit,
			    (size_t)1),
		  "dtmf received: %c", digit);
}

static void on_interrupt(struct cv_client *cl, void *arg)
{
	struct call_ctx *x = arg;
	if (x->consult && !x->consult_ended)
		cv_ccall_hangup(x->consult);
	if (x->old && !x->old_ended)
		cv_ccall_hangup(x->old);
	if (x->cc && !x->ended) {
		cv_ccall_hangup(x->cc);
		return; /* on_state(ENDED) stops the client */
	}
	close_timers(x);
	cv_client_stop(cl);
}

static void start(struct cv_client *cl, void *arg)
{
	struct call_ctx *x = arg;
	uv_loop_t *loop = cv_client_loop(cl);
	uv_timer_t *t[] = {&x->hangup_tmr,  &x->dtmf_tmr,     &x->progress_tmr,
			   &x->timeout_tmr, &x->transfer_tmr, &x->hold_tmr,
			   &x->resume_tmr,  &x->mute_tmr,     &x->unmute_tmr};
	for (size_t i = 0; i < CV_ARRAY_SIZE(t); i++) {
		uv_timer_init(loop, t[i]);
		t[i]->data = x;
	}
	int err = cv_client_call(cl, &x->p, &x->cc);
	if (err) {
		cli_error("cannot call %s: %s", x->p.target, cv_strerror(err));
		x->exit_code = err == CV_EUNSUPP || err == CV_EPARSE
				       ? CVOIP_EXIT_USAGE
				       : CVOIP_EXIT_NETWORK;
		close_timers(x);
		cv_client_stop(cl);
		return;
	}
	uv_timer_start(&x->timeout_tmr, on_timeout_timer,
		       (uint64_t)(x->timeout_s * 1000), 0);
	cli_event(json_pack("{s:s,s:s}", "event", "calling", "target",
			    x->p.target),
		  "calling %s", x->p.target);
}

static void release_calls(void *arg)
{
	struct call_ctx *x = arg;
	if (x->cc)
		cv_ccall_release(x->cc);
	if (x->old)
		cv_ccall_release(x->old);
	if (x->consult)
		cv_ccall_release(x->consult);
}

int cvoip_cmd_call(int argc, char **argv)
{
	enum {
		O_PLAY = 1000,
		O_TONE,
		O_RECORD,
		O_DURATION,
		O_TIMEOUT,
		O_DTMF,
		O_CODEC,
		O_MEDIA_ADDR,
		O_HOLD_AT,
		O_RESUME_AT,
		O_UPDATE,
		O_TRANSFER_TO,
		O_CONSULT,
		O_TRANSFER_AFTER,
		O_SE,
		O_MIN_SE,
		O_SRTP,
		O_MUTE_AT,
		O_UNMUTE_AT
	};
	static const struct option opts[] = {
		CLI_OPT_FROM,
		CLI_OPT_PROXY,
		CLI_OPT_AUTH,
		CLI_OPT_AUTH_STDIN,
		{"play", required_argument, NULL, O_PLAY},
		{"tone", required_argument, NULL, O_TONE},
		{"record", required_argument, NULL, O_RECORD},
		{"duration", required_argument, NULL, O_DURATION},
		{"timeout", required_argument, NULL, O_TIMEOUT},
		{"dtmf", required_argument, NULL, O_DTMF},
		{"codec", required_argument, NULL, O_CODEC},
		CLI_OPT_TRANSPORT,
		CLI_OPT_LISTEN,
		{"media-addr", required_argument, NULL, O_MEDIA_ADDR},
		CLI_OPT_JSON,
		{"hold-at", required_argument, NULL, O_HOLD_AT},
		{"resume-at", required_argument, NULL, O_RESUME_AT},
		{"update", no_argument, NULL, O_UPDATE},
		{"transfer-to", required_argument, NULL, O_TRANSFER_TO},
		{"consult", required_argument, NULL, O_CONSULT},
		{"transfer-after", required_argument, NULL, O_TRANSFER_AFTER},
		{"session-expires", required_argument, NULL, O_SE},
		{"min-se", required_argument, NULL, O_MIN_SE},
		{"srtp", no_argument, NULL, O_SRTP},
		{"mute-at", required_argument, NULL, O_MUTE_AT},
		{"unmute-at", required_argument, NULL, O_UNMUTE_AT},
		CLI_TLS_OPTIONS,
		CLI_AUDIO_OPTIONS,
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0}};
	struct call_ctx x = {
		.duration_s = 10, .timeout_s = 60, .transfer_after_s = 1};
	struct cli_common o = {0};
	const char *media_addr = NULL;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case O_PLAY:
			x.p.media.play = optarg;
			break;
		case O_TONE:
			x.p.media.tone_hz = atof(optarg);
			break;
		case O_RECORD:
			x.p.media.record = optarg;
			break;
		case O_DURATION:
			x.duration_s = atof(optarg);
			break;
		case O_TIMEOUT:
			x.timeout_s = atof(optarg);
			break;
		case O_DTMF:
			x.dtmf = optarg;
			break;
		case O_CODEC:
			snprintf(x.codecs_buf, sizeof(x.codecs_buf), "%s",
				 optarg);
			x.p.media.codecs = x.codecs;
			x.p.media.ncodecs =
				cli_parse_codecs(x.codecs_buf, x.codecs, 16);
			break;
		case O_SRTP:
			x.p.media.srtp = true;
			break;
		case O_MUTE_AT:
			x.mute_at_s = atof(optarg);
			break;
		case O_UNMUTE_AT:
			x.unmute_at_s = atof(optarg);
			break;
		case O_MEDIA_ADDR:
			media_addr = optarg;
			break;
		case O_HOLD_AT:
			x.hold_at_s = atof(optarg);
			break;
		case O_RESUME_AT:
			x.resume_at_s = atof(optarg);
			break;
		case O_UPDATE:
			x.use_update = true;
			break;
		case O_TRANSFER_TO:
			x.transfer_to = optarg;
			break;
		case O_CONSULT:
			x.consult_uri = optarg;
			break;
		case O_TRANSFER_AFTER:
			x.transfer_after_s = atof(optarg);
			break;
		case O_SE:
			x.session_expires = (uint32_t)atol(optarg);
			if (!x.session_expires)
				x.session_expires = UINT32_MAX;
			break;
		case O_MIN_SE:
			x.min_se = (uint32_t)atol(optarg);
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
			int ac = cli_audio_option(c, optarg, &x.p.media);
			if (ac < 0)
				return CVOIP_EXIT_USAGE;
			if (ac)
				break;
			usage(stderr);
			return CVOIP_EXIT_USAGE;
		}
	}
	if (optind + 1 != argc) {
		usage(stderr);
		return CVOIP_EXIT_USAGE;
	}
	x.p.target = argv[optind];
	if (x.transfer_to && x.consult_uri) {
		cli_error("--transfer-to and --consult exclude each other");
		return CVOIP_EXIT_USAGE;
	}
	if (x.duration_s <= 0 || x.timeout_s <= 0 || x.transfer_after_s < 0 ||
	    (x.p.media.play && x.p.media.tone_hz > 0) ||
	    x.p.media.tone_hz < 0 || x.p.media.tone_hz > 20000) {
		cli_error("bad --duration, --timeout or --tone (and --play and "
			  "--tone exclude each other)");
		return CVOIP_EXIT_USAGE;
	}
	if (cli_common_finish(&o))
		return CVOIP_EXIT_USAGE;
	x.p.auth = o.auth;
	x.p.from = o.from;
	x.p.proxy = o.proxy;
	x.p.transport = o.tp;
	if (cli_audio_check(&x.p.media))
		return CVOIP_EXIT_USAGE;
	cli_out.tty = isatty(1);
	static const struct cv_client_handlers h = {
		.call_state = on_state,
		.dtmf = on_dtmf,
		.interrupt = on_interrupt,
		.media = on_media,
		.transfer = on_transfer,
		.transferred = on_transferred,
		.redirect = on_redirect,
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
