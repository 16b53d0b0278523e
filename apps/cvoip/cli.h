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
/* Exit code for a SIP final status of a failed call or request. */
int cli_exit_for_status(unsigned status);

#endif
