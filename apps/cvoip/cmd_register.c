/* cvoip register AOR: register and keep the registration refreshed until
 * Ctrl-C (then un-register), or once with --once. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

struct reg_ctx {
	struct cv_regc_params reg;
	bool once;
	bool stopping;
	bool ok;
	int exit_code;
};

static void usage(FILE *f)
{
	fprintf(f, "usage: cvoip register AOR (--auth USER:PASS | "
		   "--auth-stdin) [options]\n"
		   "\n"
		   "Registers AOR (e.g. sip:alice@127.0.0.1) and keeps the "
		   "registration\n"
		   "refreshed until Ctrl-C, then un-registers; --once "
		   "registers and exits.\n"
		   "\n"
		   "options:\n"
		   "  --registrar URI   registrar (numeric host), e.g. "
		   "sip:127.0.0.1:5060;transport=tcp\n"
		   "                    (default: the AOR's host)\n"
		   "  --auth USER:PASS  credentials\n"
		   "  --auth-stdin      read USER:PASS from standard input\n"
		   "  --expires S       requested registration time (default "
		   "600)\n"
		   "  --contact URI     a further contact bound with ours "
		   "(repeatable, up to 8),\n"
		   "                    e.g. a desk phone; un-registered with "
		   "ours\n"
		   "  --once            register once and exit (the binding "
		   "stays until it expires)\n"
		   "  --listen SPEC     local listener (the Contact address)\n"
		   "  --keepalive S     keep-alive (CRLFCRLF or WebSocket "
		   "ping) on the TCP/TLS/\n"
		   "                    WS/WSS connection after S s of silence "
		   "(default 90)\n"
		   "  --json            one JSON event per line\n"
		   "  -h, --help        this text\n");
	fputs(cli_tp_usage, f);
	fprintf(f, "\n"
		   "exit status: 0 registered, 5 authentication failed, 4 "
		   "network error or\n"
		   "no answer, 1 other refusal, 2 usage.\n");
}

static void on_reg(struct cv_client *cl, bool registered, uint16_t status,
		   const char *reason, uint32_t expires, void *arg)
{
	struct reg_ctx *x = arg;
	unsigned bindings = cv_client_reg_bindings(cl);
	if (registered)
		cli_event(json_pack("{s:s,s:b,s:i,s:s,s:I,s:i}", "event",
				    "registration", "registered", registered,
				    "status", status, "reason",
				    reason ? reason : "", "expires",
				    (json_int_t)expires, "bindings",
				    (int)bindings),
			  "registered: %u %s (expires %u s, %u binding%s)",
			  status, reason ? reason : "", expires, bindings,
			  bindings == 1 ? "" : "s");
	else
		cli_event(json_pack("{s:s,s:b,s:i,s:s,s:I}", "event",
				    "registration", "registered", registered,
				    "status", status, "reason",
				    reason ? reason : "", "expires",
				    (json_int_t)expires),
			  "not registered: %u %s", status,
			  reason ? reason : "");
	if (registered) {
		x->ok = true;
		if (x->once)
			cv_client_stop(cl);
		return;
	}
	if (x->stopping) { /* un-registered */
		cv_client_stop(cl);
		return;
	}
	bool local = reason && strstr(reason, "(local)");
	x->exit_code = local ? CVOIP_EXIT_NETWORK : cli_exit_for_status(status);
	if (x->exit_code == CVOIP_EXIT_NOANSWER)
		x->exit_code = CVOIP_EXIT_NETWORK;
	cv_client_stop(cl);
}

static void on_interrupt(struct cv_client *cl, void *arg)
{
	struct reg_ctx *x = arg;
	if (!x->stopping && cv_client_registered(cl)) {
		x->stopping = true;
		if (cv_client_unregister(cl) == 0)
			return;
	}
	cv_client_stop(cl);
}

static void start(struct cv_client *cl, void *arg)
{
	struct reg_ctx *x = arg;
	int err = cv_client_register(cl, &x->reg);
	if (err) {
		cli_error("cannot register %s: %s", x->reg.aor,
			  cv_strerror(err));
		x->exit_code =
			err == CV_EPARSE || err == CV_EUNSUPP || err == -EINVAL
				? CVOIP_EXIT_USAGE
				: CVOIP_EXIT_NETWORK;
		cv_client_stop(cl);
	}
}

int cvoip_cmd_register(int argc, char **argv)
{
	enum { O_REGISTRAR = 1000, O_EXPIRES, O_ONCE, O_CONTACT };
	static const struct option opts[] = {
		{"registrar", required_argument, NULL, O_REGISTRAR},
		CLI_OPT_AUTH,
		CLI_OPT_AUTH_STDIN,
		{"expires", required_argument, NULL, O_EXPIRES},
		{"once", no_argument, NULL, O_ONCE},
		CLI_OPT_LISTEN,
		CLI_OPT_JSON,
		CLI_OPT_TRANSPORT,
		CLI_OPT_KEEPALIVE,
		{"contact", required_argument, NULL, O_CONTACT},
		CLI_TLS_OPTIONS,
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0}};
	struct reg_ctx x = {0};
	struct cli_common o = {0};
	char registrar[1100];
	const char *contacts[CV_REGC_MAX_CONTACTS];
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case O_REGISTRAR:
			x.reg.registrar = optarg;
			break;
		case O_EXPIRES:
			x.reg.expires = (uint32_t)atol(optarg);
			break;
		case O_ONCE:
			x.once = true;
			break;
		case O_CONTACT:
			if (x.reg.ncontacts == CV_ARRAY_SIZE(contacts)) {
				cli_error("at most %zu --contact",
					  CV_ARRAY_SIZE(contacts));
				return CVOIP_EXIT_USAGE;
			}
			contacts[x.reg.ncontacts++] = optarg;
			x.reg.contacts = contacts;
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
	if (optind + 1 != argc || (!o.auth.user && !o.auth_stdin)) {
		usage(stderr);
		return CVOIP_EXIT_USAGE;
	}
	x.reg.aor = argv[optind];
	if (cli_common_registrar(&o, x.reg.aor, x.reg.registrar, registrar,
				 sizeof(registrar), &x.reg.registrar) ||
	    cli_common_finish(&o))
		return CVOIP_EXIT_USAGE;
	x.reg.auth = o.auth;
	static const struct cv_client_handlers h = {
		.reg_state = on_reg,
		.interrupt = on_interrupt,
	};
	struct cv_client_params cp = {.h = &h, .arg = &x};
	cli_common_params(&o, &cp);
	struct cv_client *cl;
	int rc = cli_client_run(&cl, &cp, start, &x, NULL);
	if (rc)
		return rc;
	if (!x.ok && !x.exit_code)
		x.exit_code = CVOIP_EXIT_NETWORK;
	return x.exit_code;
}
