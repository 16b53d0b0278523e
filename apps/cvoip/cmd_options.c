/* cvoip options URI / cvoip message URI TEXT: one request, its answer. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

struct req_ctx {
	struct cv_client *cl;
	struct cv_oreq_params p;
	int exit_code;
};

static void on_done(uint16_t status, const char *reason,
		    const struct cv_sip_msg *resp, void *arg)
{
	struct req_ctx *x = arg;
	json_t *ev = json_pack("{s:s,s:i,s:s}", "event", "response", "status",
			       status, "reason", reason ? reason : "");
	if (resp) {
		const struct cv_sip_hdr *h =
			cv_sip_msg_hdr(resp, CV_SIP_HDR_ALLOW);
		if (h)
			json_object_set_new(
				ev, "allow",
				json_stringn(h->value.p, h->value.l));
		h = cv_sip_msg_hdr(resp, CV_SIP_HDR_SERVER);
		if (!h)
			h = cv_sip_msg_hdr(resp, CV_SIP_HDR_USER_AGENT);
		if (h)
			json_object_set_new(
				ev, "server",
				json_stringn(h->value.p, h->value.l));
	}
	cli_event(ev, "%u %s", status, reason ? reason : "");
	if (status >= 300) {
		bool local = !resp;
		x->exit_code = local ? CVOIP_EXIT_NETWORK
				     : cli_exit_for_status(status);
	}
	cv_client_stop(x->cl);
}

static void start(struct cv_client *cl, void *arg)
{
	struct req_ctx *x = arg;
	x->cl = cl;
	x->p.done = on_done;
	x->p.arg = x;
	int err = cv_agent_request(cv_client_agent(cl), &x->p);
	if (err) {
		cli_error("cannot send to %s: %s", x->p.target,
			  cv_strerror(err));
		x->exit_code = err == CV_EPARSE || err == CV_EUNSUPP
				       ? CVOIP_EXIT_USAGE
				       : CVOIP_EXIT_NETWORK;
		cv_client_stop(cl);
	}
}

static void usage(FILE *f, bool message)
{
	if (message)
		fprintf(f, "usage: cvoip message URI TEXT [options]\n\n"
			   "Sends TEXT as a SIP MESSAGE (RFC 3428, text/plain) "
			   "to URI.\n");
	else
		fprintf(f, "usage: cvoip options URI [options]\n\n"
			   "Sends an OPTIONS request to URI and prints the "
			   "answer.\n");
	fprintf(f,
		"\noptions:\n"
		"  --from URI        our identity\n"
		"  --proxy URI       send through this server (numeric host)\n"
		"  --auth USER:PASS  credentials for 401/407\n"
		"  --json            one JSON event per line\n"
		"  -h, --help        this text\n");
	fputs(cli_tp_usage, f);
	fprintf(f, "\nexit status: 0 on a 2xx, 1 other answers, 4 no answer "
		   "(network),\n"
		   "5 authentication failed, 2 usage.\n");
}

static int run(int argc, char **argv, bool message)
{
	static const struct option opts[] = {CLI_OPT_FROM,
					     CLI_OPT_PROXY,
					     CLI_OPT_AUTH,
					     CLI_OPT_TRANSPORT,
					     CLI_OPT_JSON,
					     CLI_TLS_OPTIONS,
					     {"help", no_argument, NULL, 'h'},
					     {NULL, 0, NULL, 0}};
	struct req_ctx x = {
		.p = {.method = message ? CV_SIP_MESSAGE : CV_SIP_OPTIONS}};
	struct cli_common o = {0};
	char target[1024], proxy[1100];
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'h':
			usage(stdout, message);
			return CVOIP_EXIT_OK;
		default: {
			int r = cli_common_option(c, optarg, &o);
			if (r < 0)
				return CVOIP_EXIT_USAGE;
			if (r)
				break;
			usage(stderr, message);
			return CVOIP_EXIT_USAGE;
		}
		}
	}
	if (optind + (message ? 2 : 1) != argc) {
		usage(stderr, message);
		return CVOIP_EXIT_USAGE;
	}
	x.p.from = o.from;
	x.p.proxy = o.proxy;
	x.p.auth = o.auth;
	snprintf(target, sizeof(target), "%s", argv[optind]);
	x.p.target = target;
	if (message) {
		x.p.content_type = "text/plain";
		x.p.body = argv[optind + 1];
	}
	if (o.tp != CV_TP_UDP) {
		if (cli_uri_transport(x.p.proxy ? x.p.proxy : target, o.tp,
				      proxy, sizeof(proxy))) {
			cli_error("URI too long");
			return CVOIP_EXIT_USAGE;
		}
		x.p.proxy = proxy;
	}
	static const struct cv_client_handlers h = {0};
	struct cv_client_params cp = {.h = &h, .arg = &x};
	cli_common_params(&o, &cp);
	struct cv_client *cl;
	int rc = cli_client_run(&cl, &cp, start, &x, NULL);
	return rc ? rc : x.exit_code;
}

int cvoip_cmd_options(int argc, char **argv)
{
	return run(argc, argv, false);
}

int cvoip_cmd_message(int argc, char **argv)
{
	return run(argc, argv, true);
}
