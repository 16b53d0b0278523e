/* cvoipd configuration: the YAML file mapped to typed structs. */
#ifndef CVOIPD_CONF_H
#define CVOIPD_CONF_H

#include "cvoip/config.h"
#include "cvoip/server.h"

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
	unsigned line; /* of the entry, for engine errors */
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
	/* conf_callcenter.c: announce, service_level, relax */
	int64_t announce_ms;
	int64_t service_level_ms;
	unsigned nrelax;
	struct {
		int64_t after_ms;
		int64_t drop;
		bool any;
	} relax[4];
	unsigned line;
};

/* callcenter: the SIP glue of the call center (conf_callcenter.c) */
struct cvoipd_callcenter {
	const char *sounds_dir;	    /* NULL: the build's share/sounds */
	const char *music_on_hold;  /* default for queues without one */
	const char *listen_address; /* the glue's SIP/RTP address */
	bool announce_position;
	bool code_prompts;
	const char *codes[4]; /* login, logout, pause, resume */
	int64_t miss_limit;
	int64_t miss_cooldown_ms;
	int64_t max_chain;
	int64_t max_callers;
	int64_t stats_period_ms;
	unsigned npriorities; /* priority: {caller pattern: number} */
	struct {
		const char *pattern;
		int64_t priority;
	} priorities[64];
};

#define CVOIPD_MAX_DNS 4

/* trunks: upstream SIP servers (conf_trunks.c, docs/server.md) */
struct cvoipd_trunk {
	const char *name;
	const char *host;
	int64_t port;
	const char *transport; /* udp, tcp, tls */
	const char *username;
	const char *password;
	const char *realm; /* answer only this realm's challenges ("" any) */
	bool do_register;
	int64_t expires;	 /* seconds */
	int64_t options_ping_ms; /* OPTIONS health check period, 0: none */
	int64_t down_after;	 /* failed pings that mark it down */
};

/* routes: dialled user -> trunks (failover order) */
struct cvoipd_route {
	const char *name;
	const char *prefix;
	const char *pattern; /* POSIX extended regex */
	char *trunks;	     /* comma-separated names (owned) */
	int64_t priority;
	const char *media; /* "relay" or "direct" */
	/* number rewriting toward the trunk (strip, prepend, regex) */
	int64_t strip;
	const char *prepend;
	const char *rewrite_match;
	const char *rewrite_replace;
	int srtp; /* enum cv_srv_srtp: optional, off, required */
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
	/* dns.servers (conf_trunks.c): NULL-terminated, none: the system's */
	const char *dns_servers[CVOIPD_MAX_DNS + 1];
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
	struct cvoipd_callcenter callcenter;
	unsigned ntrunks;
	struct cvoipd_trunk *trunks;
	unsigned nroutes;
	struct cvoipd_route *routes;
	int64_t trunk_timeout_ms; /* routing.trunk_timeout */
	/* conf_trunks.c, for cv_srv_params: one per route / trunk, and
	 * trunks[].dids and the top-level dids */
	struct cv_srv_route_opts *route_opts;
	struct cv_srv_trunk_opts *trunk_opts;
	unsigned ndids;
	struct cv_srv_did *dids;
};

/* Defaults for a configuration file that says nothing. */
void cvoipd_conf_defaults(struct cvoipd_conf *c);
/* Load and validate; on failure err holds `file:line: what`. */
int cvoipd_conf_load(struct cvoipd_conf *c, const char *path,
		     struct cv_cfg_err *err);
void cvoipd_conf_free(struct cvoipd_conf *c);
/* conf_callcenter.c: the `callcenter` section and the queues' call
 * center keys (announce, service_level, relax). */
void cvoipd_conf_callcenter_defaults(struct cvoipd_conf *c);
int cvoipd_conf_load_callcenter(struct cvoipd_conf *c,
				const struct cv_cfg_node *cc,
				const struct cv_cfg_node *queues,
				struct cv_cfg_err *err);
/* conf_trunks.c: the `trunks` and `routes` sections (after `media`). */
int cvoipd_conf_load_trunks(struct cvoipd_conf *c,
			    const struct cv_cfg_node *trunks,
			    const struct cv_cfg_node *routes,
			    struct cv_cfg_err *err);
void cvoipd_conf_free_trunks(struct cvoipd_conf *c);

#endif
