/* cvoipd wiring: what main() hands to the server. */
#ifndef CVOIPD_SERVER_H
#define CVOIPD_SERVER_H

#include "conf.h"

struct cvoipd_opts {
	const char *config;
	const char *check_config;
	const char *listen[CVOIPD_MAX_LISTEN];
	unsigned nlisten;
	const char *db;
	int workers;
	const char *log_level;
};

int cvoipd_serve(const struct cvoipd_opts *o);
int cvoipd_check_config(const char *path);
int cvoipd_user_cmd(int argc, char **argv);
int cvoipd_cdr_cmd(int argc, char **argv);
/* "2026-11-23", "2026-11-23T13:00:00Z", a Unix time in seconds, or an age
 * ("90s", "30m", "2h", "7d": that long before now) -> wall-clock µs. */
int cvoipd_parse_time(const char *s, int64_t now_us, int64_t *out_us);

#endif
