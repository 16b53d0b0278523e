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

#endif
