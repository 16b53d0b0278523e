/* cvoip subscribe URI --event PKG: subscribe (RFC 6665), print every
 * NOTIFY (bodies of presence, message-summary and dialog decoded),
 * unsubscribe after --duration or on Ctrl-C. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

struct sub_ctx {
	struct cv_client *cl;
	struct cv_csub *s;
	struct cv_client_sub_params p;
	double duration_s;
	uv_timer_t tmr;
	bool timer_open;
	bool active_seen;
	int exit_code;
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: cvoip subscribe URI --event PACKAGE [options]\n"
		"\n"
		"Subscribes to PACKAGE at URI (RFC 6665) and prints each "
		"NOTIFY;\n"
		"presence (PIDF), message-summary (MWI) and dialog (RFC 4235) "
		"bodies\n"
		"are decoded. Unsubscribes after --duration or on Ctrl-C.\n"
		"\n"
		"options:\n"
		"  --event PACKAGE   presence, message-summary, dialog, ...\n"
		"  --expires S       requested subscription time (default "
		"600)\n"
		"  --duration S      unsubscribe after S seconds (default: on "
		"Ctrl-C)\n"
		"  --from URI        our identity\n"
		"  --proxy URI       send through this server (numeric host)\n"
		"  --auth USER:PASS  credentials for 401/407\n"
		"  --listen SPEC     local listener\n"
		"  --json            one JSON event per line\n"
		"  -h, --help        this text\n");
	fputs(cli_tp_usage, f);
	fprintf(f, "\n"
		   "exit status: 0 subscribed and ended normally, 1 rejected "
		   "(status printed),\n"
		   "4 network error, 5 authentication failed, 2 usage.\n");
}

static void body_json(json_t *ev, const char *event, struct cv_pl body)
{
	if (!body.l)
		return;
	if (!strcmp(event, "presence")) {
		struct cv_pidf p;
		if (cv_pidf_parse(body, &p) == 0)
			json_object_set_new(
				ev, "presence",
				json_pack("{s:s,s:s,s:s}", "entity", p.entity,
					  "status",
					  p.has_basic
						  ? (p.open ? "open" : "closed")
						  : "",
					  "note", p.note));
	} else if (!strcmp(event, "message-summary")) {
		struct cv_mwi w;
		if (cv_mwi_parse(body, &w) == 0)
			json_object_set_new(ev, "mwi",
					    json_pack("{s:b,s:s,s:i,s:i}",
						      "waiting", w.waiting,
						      "account", w.account,
						      "new", (int)w.voice_new,
						      "old", (int)w.voice_old));
	} else if (!strcmp(event, "dialog")) {
		struct cv_dialog_info di;
		if (cv_dialog_info_parse(body, &di) == 0) {
			json_t *a = json_array();
			for (size_t i = 0; i < di.ndialogs; i++)
				json_array_append_new(
					a, json_pack("{s:s,s:s,s:s,s:s}", "id",
						     di.dialogs[i].id, "state",
						     di.dialogs[i].state,
						     "direction",
						     di.dialogs[i].direction,
						     "remote",
						     di.dialogs[i].remote));
			json_object_set_new(ev, "dialogs", a);
			json_object_set_new(ev, "version",
					    json_integer(di.version));
		}
	}
}

static void on_notify(struct cv_csub *s, const char *state, const char *reason,
		      const char *ctype, const char *body, size_t len,
		      void *arg)
{
	struct sub_ctx *x = arg;
	if (!strcmp(state, "active"))
		x->active_seen = true;
	json_t *ev = json_pack("{s:s,s:s,s:s,s:s#}", "event", "notify", "state",
			       state, "reason", reason, "body", body, len);
	body_json(ev, cv_csub_event(s), (struct cv_pl){body, len});
	cli_event(ev, "notify: %s%s%s\n%.*s", state, reason[0] ? " " : "",
		  reason, (int)len, body);
}

static void on_presence(struct cv_csub *s, const char *entity, bool has_basic,
			bool open, const char *note, void *arg)
{
	const char *st = has_basic ? (open ? "open" : "closed") : "";
	cli_event(json_pack("{s:s,s:s,s:s,s:s}", "event", "presence", "entity",
			    entity, "status", st, "note", note),
		  "presence of %s: %s%s%s", entity, st[0] ? st : "(no status)",
		  note[0] ? " - " : "", note);
}

static void close_timer(struct sub_ctx *x)
{
	if (x->timer_open && !uv_is_closing((uv_handle_t *)&x->tmr)) {
		uv_timer_stop(&x->tmr);
		uv_close((uv_handle_t *)&x->tmr, NULL);
	}
}

static void on_ended(struct cv_csub *s, uint16_t status, const char *reason,
		     void *arg)
{
	struct sub_ctx *x = arg;
	cli_event(json_pack("{s:s,s:i,s:s}", "event", "ended", "status", status,
			    "reason", reason),
		  "ended: %u %s", status, reason);
	if (status >= 300 && !x->exit_code)
		x->exit_code = cli_exit_for_status(status);
	if (status == 408 && !x->active_seen)
		x->exit_code = CVOIP_EXIT_NETWORK;
	cv_csub_release(s);
	x->s = NULL;
	close_timer(x);
	cv_client_stop(x->cl);
}

static void on_timer(uv_timer_t *t)
{
	struct sub_ctx *x = t->data;
	if (x->s)
		cv_csub_unsubscribe(x->s);
}

static void on_interrupt(struct cv_client *cl, void *arg)
{
	struct sub_ctx *x = arg;
	if (x->s) {
		cv_csub_unsubscribe(x->s);
		return;
	}
	close_timer(x);
	cv_client_stop(cl);
}

static void start(struct cv_client *cl, void *arg)
{
	struct sub_ctx *x = arg;
	x->cl = cl;
	uv_timer_init(cv_client_loop(cl), &x->tmr);
	x->tmr.data = x;
	x->timer_open = true;
	int err = cv_client_subscribe(cl, &x->p, &x->s);
	if (err) {
		cli_error("cannot subscribe to %s: %s", x->p.target,
			  cv_strerror(err));
		x->exit_code = err == CV_EPARSE || err == CV_EUNSUPP
				       ? CVOIP_EXIT_USAGE
				       : CVOIP_EXIT_NETWORK;
		x->s = NULL;
		close_timer(x);
		cv_client_stop(cl);
		return;
	}
	cli_event(json_pack("{s:s,s:s,s:s}", "event", "subscribing", "target",
			    x->p.target, "package", x->p.event),
		  "subscribing to %s at %s", x->p.event, x->p.target);
	if (x->duration_s > 0)
		uv_timer_start(&x->tmr, on_timer,
			       (uint64_t)(x->duration_s * 1000), 0);
}

int cvoip_cmd_subscribe(int argc, char **argv)
{
	enum { O_EVENT = 1000, O_EXPIRES, O_DURATION };
	static const struct option opts[] = {
		{"event", required_argument, NULL, O_EVENT},
		CLI_OPT_TRANSPORT,
		CLI_TLS_OPTIONS,
		{"expires", required_argument, NULL, O_EXPIRES},
		{"duration", required_argument, NULL, O_DURATION},
		CLI_OPT_FROM,
		CLI_OPT_PROXY,
		CLI_OPT_AUTH,
		CLI_OPT_LISTEN,
		CLI_OPT_JSON,
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0}};
	static struct sub_ctx x;
	memset(&x, 0, sizeof(x));
	struct cli_common o = {0};
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case O_EVENT:
			x.p.event = optarg;
			break;
		case O_EXPIRES:
			x.p.expires = (uint32_t)atol(optarg);
			break;
		case O_DURATION:
			x.duration_s = atof(optarg);
			break;
		case 'h':
			usage(stdout);
			return CVOIP_EXIT_OK;
		default: {
			int r = cli_common_option(c, optarg, &o);
			if (r < 0)
				return CVOIP_EXIT_USAGE;
			if (r)
				break;
			usage(stderr);
			return CVOIP_EXIT_USAGE;
		}
		}
	}
	if (optind + 1 != argc || !x.p.event || x.duration_s < 0) {
		usage(stderr);
		return CVOIP_EXIT_USAGE;
	}
	x.p.target = argv[optind];
	x.p.transport = o.tp;
	x.p.from = o.from;
	x.p.proxy = o.proxy;
	x.p.auth = o.auth;
	static const struct cv_client_handlers h = {.interrupt = on_interrupt,
						    .sub_notify = on_notify,
						    .presence = on_presence,
						    .sub_ended = on_ended};
	struct cv_client_params cp = {.h = &h, .arg = &x};
	cli_common_params(&o, &cp);
	int rc = cli_client_run(&x.cl, &cp, start, &x, NULL);
	return rc ? rc : x.exit_code;
}
