/* Shared pieces of the cvoip subcommands: output (human or --json),
 * credentials, exit codes. */
#ifndef CVOIP_CLI_H
#define CVOIP_CLI_H

#include <jansson.h>
#include <stdbool.h>

#include "cvoip/client.h"

#include "commands.h"

struct cli_out {
	bool json;
	bool tty;
};

extern struct cli_out cli_out;

/* One event: in --json mode the object is printed on one line (and
 * consumed); otherwise `human` is printed (if not NULL). */
void cli_event(json_t *obj, const char *human, ...)
	__attribute__((format(printf, 2, 3)));
/* A one-line error on stderr (and as an "error" event with --json). */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* "user:pass" -> user and pass (pointers into buf); --auth-stdin reads
 * the same form from standard input. 0 or -EINVAL. */
int cli_parse_auth(const char *arg, char *buf, size_t size, const char **user,
		   const char **pass);
int cli_read_auth_stdin(char *buf, size_t size, const char **user,
			const char **pass);
/* "PCMU,opus" -> list (pointers into buf). */
size_t cli_parse_codecs(char *buf, const char **out, size_t max);
/* Creates the client (*clp is set before anything runs, for the
 * callbacks), runs it with start(cl, arg) until it stops, calls
 * before_destroy(arg) (may be NULL: release what the command still holds)
 * and destroys it. 0, or CVOIP_EXIT_NETWORK after a one-line error when
 * the client could not start or run. */
int cli_client_run(struct cv_client **clp, const struct cv_client_params *cp,
		   void (*start)(struct cv_client *cl, void *arg), void *arg,
		   void (*before_destroy)(void *arg));

/* Exit code for a SIP final status of a failed call or request. */
int cli_exit_for_status(unsigned status);

#endif
