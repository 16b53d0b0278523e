/* Shared pieces of the cvoip subcommands. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

struct cli_out cli_out;

void cli_event(json_t *obj, const char *human, ...)
{
	if (cli_out.json) {
		if (obj) {
			char *s = json_dumps(obj, JSON_COMPACT | JSON_ENSURE_ASCII);
			if (s) {
				puts(s);
				free(s);
			}
		}
	} else if (human) {
		va_list ap;
		va_start(ap, human);
		vprintf(human, ap);
		va_end(ap);
		putchar('\n');
	}
	fflush(stdout);
	json_decref(obj);
}

void cli_error(const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(stderr, "cvoip: %s\n", msg);
	if (cli_out.json)
		cli_event(json_pack("{s:s,s:s}", "event", "error", "message", msg), NULL);
}

static int split_auth(char *buf, const char **user, const char **pass)
{
	char *colon = strchr(buf, ':');
	if (!colon || colon == buf)
		return -EINVAL;
	*colon = '\0';
	*user = buf;
	*pass = colon + 1;
	return 0;
}

int cli_parse_auth(const char *arg, char *buf, size_t size, const char **user,
		   const char **pass)
{
	if (snprintf(buf, size, "%s", arg) >= (int)size)
		return -EINVAL;
	return split_auth(buf, user, pass);
}

int cli_read_auth_stdin(char *buf, size_t size, const char **user,
			const char **pass)
{
	if (!fgets(buf, (int)size, stdin))
		return -EINVAL;
	buf[strcspn(buf, "\r\n")] = '\0';
	return split_auth(buf, user, pass);
}

size_t cli_parse_codecs(char *buf, const char **out, size_t max)
{
	size_t n = 0;
	for (char *save = NULL, *t = strtok_r(buf, ",", &save); t && n < max;
	     t = strtok_r(NULL, ",", &save))
		out[n++] = t;
	return n;
}

int cli_exit_for_status(unsigned status)
{
	switch (status) {
	case 401:
	case 403:
	case 407:
		return CVOIP_EXIT_AUTH;
	case 408:
	case 480:
	case 487:
		return CVOIP_EXIT_NOANSWER;
	case 503:
		return CVOIP_EXIT_NETWORK;
	default:
		return CVOIP_EXIT_FAIL;
	}
}

int cli_client_run(struct cv_client **clp, const struct cv_client_params *cp,
		   void (*start)(struct cv_client *cl, void *arg), void *arg,
		   void (*before_destroy)(void *arg))
{
	int err = cv_client_create(clp, cp);
	if (err) {
		cli_error("cannot start: %s", cv_strerror(err));
		return CVOIP_EXIT_NETWORK;
	}
	err = cv_client_run(*clp, start, arg);
	if (before_destroy)
		before_destroy(arg);
	cv_client_destroy(*clp);
	*clp = NULL;
	if (err) {
		cli_error("%s", cv_strerror(err));
		return CVOIP_EXIT_NETWORK;
	}
	return 0;
}
