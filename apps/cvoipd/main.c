/* cvoipd: the cvoip SIP server. Thin: parses options, loads the
 * configuration, wires the modules onto the worker runtime. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cvoip/base.h"
#include "cvoip/runtime.h"
#include "cvoip/transport.h"

#include "conf.h"
#include "server.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: cvoipd [options]\n"
		"       cvoipd user add NAME [--password P | --password-stdin] "
		"[--db URL]\n"
		"       cvoipd user del NAME [--db URL]\n"
		"       cvoipd user list [--db URL]\n"
		"       cvoipd cdr export [--db URL] [--since T] [--until T] "
		"[--call-id ID]\n"
		"\n"
		"cvoipd is the cvoip SIP server: registrar, B2BUA, call "
		"center.\n"
		"\n"
		"options:\n"
		"  -c, --config FILE       configuration file (YAML; see "
		"docs/config.md)\n"
		"      --check-config FILE validate FILE, print the verdict, "
		"exit 0 or 1\n"
		"  -l, --listen SPEC       listener, repeatable; replaces the "
		"configured ones\n"
		"                          (udp:127.0.0.1:5060, "
		"tcp:[::1]:5060, tls:0.0.0.0:5061,\n"
		"                           ws:127.0.0.1:5066, wss:...)\n"
		"      --db URL            database: sqlite:PATH or "
		"postgresql://user@host/db\n"
		"  -w, --workers N         worker threads (default: number of "
		"cores)\n"
		"      --log-level L       error, warn, info, debug or trace\n"
		"  -h, --help              this text\n"
		"  -V, --version           print the version\n"
		"\n"
		"Exit status: 0 after a clean stop (SIGINT/SIGTERM), 1 when "
		"the\n"
		"configuration or start-up fails, 2 on a usage error.\n");
}

int main(int argc, char **argv)
{
	enum { OPT_CHECK = 1000, OPT_DB, OPT_LOGLEVEL };
	static const struct option opts[] = {
		{"config", required_argument, NULL, 'c'},
		{"check-config", required_argument, NULL, OPT_CHECK},
		{"listen", required_argument, NULL, 'l'},
		{"db", required_argument, NULL, OPT_DB},
		{"workers", required_argument, NULL, 'w'},
		{"log-level", required_argument, NULL, OPT_LOGLEVEL},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0}};
	struct cvoipd_opts o = {.workers = -1};

	if (argc > 1 && strcmp(argv[1], "user") == 0)
		return cvoipd_user_cmd(argc - 1, argv + 1);
	if (argc > 1 && strcmp(argv[1], "cdr") == 0)
		return cvoipd_cdr_cmd(argc - 1, argv + 1);

	int c;
	while ((c = getopt_long(argc, argv, "c:l:w:hV", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			o.config = optarg;
			break;
		case OPT_CHECK:
			o.check_config = optarg;
			break;
		case 'l':
			if (o.nlisten >= CVOIPD_MAX_LISTEN) {
				fprintf(stderr, "cvoipd: at most %d --listen\n",
					CVOIPD_MAX_LISTEN);
				return 2;
			}
			o.listen[o.nlisten++] = optarg;
			break;
		case OPT_DB:
			o.db = optarg;
			break;
		case 'w': {
			char *end;
			long n = strtol(optarg, &end, 10);
			if (*end || n < 1 || n > 256) {
				fprintf(stderr,
					"cvoipd: --workers must be 1..256\n");
				return 2;
			}
			o.workers = (int)n;
			break;
		}
		case OPT_LOGLEVEL: {
			enum cv_log_level l;
			if (cv_log_level_parse(optarg, &l)) {
				fprintf(stderr,
					"cvoipd: unknown log level '%s'\n",
					optarg);
				return 2;
			}
			o.log_level = optarg;
			break;
		}
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("cvoipd %s\n", cv_version());
			return 0;
		default:
			fprintf(stderr, "Try 'cvoipd --help'.\n");
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr,
			"cvoipd: unexpected argument '%s'\nTry 'cvoipd "
			"--help'.\n",
			argv[optind]);
		return 2;
	}
	if (o.check_config)
		return cvoipd_check_config(o.check_config);
	return cvoipd_serve(&o);
}
