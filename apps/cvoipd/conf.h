/* cvoipd configuration: the YAML file mapped to typed structs. */
#ifndef CVOIPD_CONF_H
#define CVOIPD_CONF_H

#include "cvoip/config.h"

#define CVOIPD_MAX_LISTEN 32

struct cvoipd_user {
	const char *name;
	const char *password;
};

struct cvoipd_skill {
	const char *name;
	int level; /* 1..10 */
};

struct cvoipd_agent {
	const char *name;
	const char *password;
	unsigned nskills;
	struct cvoipd_skill skills[16];
	int max_calls;
	int64_t wrapup_ms;
};

struct cvoipd_queue {
	const char *name;
	int strategy; /* index into cvoipd_strategies */
	unsigned nrequired;
	struct cvoipd_skill required[16];
	int64_t max_wait_ms;
	int64_t max_len;
	int64_t ring_timeout_ms;
	const char *moh;
	const char *overflow;
};

extern const char *const cvoipd_strategies[];

struct cvoipd_conf {
	struct cv_cfg *cfg; /* owns every string below */
	/* server */
	int64_t workers;
	const char *log_level;
	const char *realm;
	const char *user_agent;
	unsigned ndigest;
	const char *digest[8];
	const char *event_log; /* JSON lines of every bus event, or NULL */
	/* listen */
	unsigned nlisten;
	const char *listen[CVOIPD_MAX_LISTEN];
	/* tls */
	const char *tls_cert;
	const char *tls_key;
	const char *tls_ca;
	/* database */
	const char *database;
	/* registrar */
	int64_t reg_min_expires;
	int64_t reg_max_expires;
	int64_t reg_default_expires;
	/* routing */
	int64_t no_answer_ms;
	/* auth: failed-authentication limit */
	int64_t auth_max_fail_source;
	int64_t auth_max_fail_user;
	int64_t auth_window_ms;
	int64_t auth_block_ms;
	/* media */
	bool media_relay;
	const char *media_address;
	int64_t rtp_port_min;
	int64_t rtp_port_max;
	/* provisioning */
	unsigned nusers;
	struct cvoipd_user *users;
	unsigned nagents;
	struct cvoipd_agent *agents;
	unsigned nqueues;
	struct cvoipd_queue *queues;
};

/* Defaults for a configuration file that says nothing. */
void cvoipd_conf_defaults(struct cvoipd_conf *c);
/* Load and validate; on failure err holds `file:line: what`. */
int cvoipd_conf_load(struct cvoipd_conf *c, const char *path,
		     struct cv_cfg_err *err);
void cvoipd_conf_free(struct cvoipd_conf *c);

#endif
