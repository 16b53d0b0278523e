/* Maps etc/cvoipd*.yaml to struct cvoipd_conf. Every key is documented in
 * docs/config.md; an unknown key or a bad value stops the start with
 * file:line. */
#include <stdlib.h>
#include <string.h>

#include "conf.h"

const char *const cvoipd_strategies[] = {
	"ring-all",	   "longest-idle", "round-robin",  "fewest-calls",
	"least-talk-time", "random",	   "skills-based", NULL};

void cvoipd_conf_defaults(struct cvoipd_conf *c)
{
	memset(c, 0, sizeof(*c));
	c->workers = 0;
	c->log_level = "info";
	c->realm = "cvoip";
	c->user_agent = "cvoipd";
	c->database = "sqlite:var/cvoipd.db";
	c->reg_min_expires = 60;
	c->reg_max_expires = 3600;
	c->reg_default_expires = 600;
	c->no_answer_ms = 60000;
	c->auth_max_fail_source = 10;
	c->auth_max_fail_user = 20;
	c->auth_window_ms = 60000;
	c->auth_block_ms = 300000;
	c->media_relay = true;
	c->rtp_port_min = 20000;
	c->rtp_port_max = 29999;
	c->trunk_timeout_ms = 5000;
	cvoipd_conf_callcenter_defaults(c);
}

void cvoipd_conf_free(struct cvoipd_conf *c)
{
	free(c->users);
	free(c->agents);
	free(c->queues);
	cvoipd_conf_free_trunks(c);
	cv_cfg_free(c->cfg);
	c->users = NULL;
	c->agents = NULL;
	c->queues = NULL;
	c->cfg = NULL;
}

static int load_skills(const struct cv_cfg *cfg, const struct cv_cfg_node *n,
		       struct cvoipd_skill *out, unsigned *count, unsigned max,
		       struct cv_cfg_err *err)
{
	if (!n)
		return 0;
	int rc = cv_cfg_expect(cfg, n, CV_CFG_MAP, "skills", err);
	if (rc)
		return rc;
	for (const struct cv_cfg_node *s = n->child; s; s = s->next) {
		if (*count >= max)
			return cv_cfg_fail(cfg, s, err, "at most %u skills",
					   max);
		int64_t lvl = 0;
		rc = cv_cfg_int(cfg, s, 1, 10, &lvl, err);
		if (rc)
			return rc;
		out[*count].name = s->key;
		out[*count].level = (int)lvl;
		(*count)++;
	}
	return 0;
}

static int load_server(struct cvoipd_conf *c, const struct cv_cfg_node *n,
		       struct cv_cfg_err *err)
{
	static const char *const keys[] = {
		"workers",	     "log_level", "realm", "user_agent",
		"digest_algorithms", "event_log", NULL};
	static const char *const algs[] = {
		"MD5",	       "MD5-sess",	   "SHA-256", "SHA-256-sess",
		"SHA-512-256", "SHA-512-256-sess", NULL};
	const struct cv_cfg *cfg = c->cfg;
	int rc = cv_cfg_check_keys(cfg, n, "server", keys, err);
	if (!rc)
		rc = cv_cfg_int(cfg, cv_cfg_get(n, "workers"), 0, 256,
				&c->workers, err);
	if (!rc)
		rc = cv_cfg_str(cfg, cv_cfg_get(n, "log_level"), &c->log_level,
				err);
	if (!rc && cv_cfg_get(n, "log_level")) {
		enum cv_log_level l;
		if (cv_log_level_parse(c->log_level, &l))
			rc = cv_cfg_fail(cfg, cv_cfg_get(n, "log_level"), err,
					 "'log_level' must be one of: error, "
					 "warn, info, debug, trace");
	}
	if (!rc)
		rc = cv_cfg_str(cfg, cv_cfg_get(n, "realm"), &c->realm, err);
	if (!rc)
		rc = cv_cfg_str(cfg, cv_cfg_get(n, "user_agent"),
				&c->user_agent, err);
	if (!rc)
		rc = cv_cfg_str(cfg, cv_cfg_get(n, "event_log"), &c->event_log,
				err);
	const struct cv_cfg_node *dg = cv_cfg_get(n, "digest_algorithms");
	if (!rc && dg) {
		rc = cv_cfg_expect(cfg, dg, CV_CFG_SEQ, "digest_algorithms",
				   err);
		for (const struct cv_cfg_node *e = dg ? dg->child : NULL;
		     !rc && e; e = e->next) {
			int idx;
			if (c->ndigest >= CV_ARRAY_SIZE(c->digest))
				rc = cv_cfg_fail(cfg, e, err,
						 "too many digest algorithms");
			if (!rc)
				rc = cv_cfg_enum(cfg, e, algs, &idx, err);
			if (!rc)
				c->digest[c->ndigest++] = algs[idx];
		}
	}
	return rc;
}

static int load_listen(struct cvoipd_conf *c, const struct cv_cfg_node *n,
		       struct cv_cfg_err *err)
{
	if (!n)
		return 0;
	int rc = cv_cfg_expect(c->cfg, n, CV_CFG_SEQ, "listen", err);
	if (rc)
		return rc;
	for (const struct cv_cfg_node *e = n->child; e; e = e->next) {
		if (c->nlisten >= CVOIPD_MAX_LISTEN)
			return cv_cfg_fail(c->cfg, e, err,
					   "at most %d listeners",
					   CVOIPD_MAX_LISTEN);
		rc = cv_cfg_str(c->cfg, e, &c->listen[c->nlisten], err);
		if (rc)
			return rc;
		c->nlisten++;
	}
	return 0;
}

static int load_users(struct cvoipd_conf *c, const struct cv_cfg_node *n,
		      struct cv_cfg_err *err)
{
	static const char *const keys[] = {"name", "password", NULL};
	if (!n)
		return 0;
	int rc = cv_cfg_expect(c->cfg, n, CV_CFG_SEQ, "users", err);
	if (rc)
		return rc;
	c->users = calloc(n->nchild ? n->nchild : 1, sizeof(*c->users));
	if (!c->users)
		return -ENOMEM;
	for (const struct cv_cfg_node *e = n->child; e; e = e->next) {
		struct cvoipd_user *u = &c->users[c->nusers];
		rc = cv_cfg_expect(c->cfg, e, CV_CFG_MAP, "a user", err);
		if (!rc)
			rc = cv_cfg_check_keys(c->cfg, e, "users", keys, err);
		if (!rc)
			rc = cv_cfg_str(c->cfg, cv_cfg_get(e, "name"), &u->name,
					err);
		if (!rc)
			rc = cv_cfg_str(c->cfg, cv_cfg_get(e, "password"),
					&u->password, err);
		if (rc)
			return rc;
		if (!u->name || !u->password)
			return cv_cfg_fail(
				c->cfg, e, err,
				"a user needs 'name' and 'password'");
		for (unsigned i = 0; i < c->nusers; i++)
			if (!strcmp(c->users[i].name, u->name))
				return cv_cfg_fail(c->cfg, e, err,
						   "user '%s' defined twice",
						   u->name);
		c->nusers++;
	}
	return 0;
}

static int load_agents(struct cvoipd_conf *c, const struct cv_cfg_node *n,
		       struct cv_cfg_err *err)
{
	static const char *const keys[] = {"name",	"password", "skills",
					   "max_calls", "wrapup",   NULL};
	if (!n)
		return 0;
	int rc = cv_cfg_expect(c->cfg, n, CV_CFG_SEQ, "agents", err);
	if (rc)
		return rc;
	c->agents = calloc(n->nchild ? n->nchild : 1, sizeof(*c->agents));
	if (!c->agents)
		return -ENOMEM;
	for (const struct cv_cfg_node *e = n->child; e; e = e->next) {
		struct cvoipd_agent *a = &c->agents[c->nagents];
		int64_t maxc = 1;
		a->wrapup_ms = 5000;
		a->line = e->line;
		rc = cv_cfg_expect(c->cfg, e, CV_CFG_MAP, "an agent", err);
		if (!rc)
			rc = cv_cfg_check_keys(c->cfg, e, "agents", keys, err);
		if (!rc)
			rc = cv_cfg_str(c->cfg, cv_cfg_get(e, "name"), &a->name,
					err);
		if (!rc)
			rc = cv_cfg_str(c->cfg, cv_cfg_get(e, "password"),
					&a->password, err);
		if (!rc)
			rc = cv_cfg_int(c->cfg, cv_cfg_get(e, "max_calls"), 1,
					100, &maxc, err);
		if (!rc)
			rc = cv_cfg_duration_ms(c->cfg, cv_cfg_get(e, "wrapup"),
						0, 3600000, &a->wrapup_ms, err);
		if (!rc)
			rc = load_skills(c->cfg, cv_cfg_get(e, "skills"),
					 a->skills, &a->nskills,
					 CV_ARRAY_SIZE(a->skills), err);
		if (rc)
			return rc;
		if (!a->name || !a->password)
			return cv_cfg_fail(
				c->cfg, e, err,
				"an agent needs 'name' and 'password'");
		a->max_calls = (int)maxc;
		c->nagents++;
	}
	return 0;
}

static int load_queues(struct cvoipd_conf *c, const struct cv_cfg_node *n,
		       struct cv_cfg_err *err)
{
	static const char *const keys[] = {
		"name",	      "strategy",      "required_skills", "max_wait",
		"max_length", "ring_timeout",  "music_on_hold",	  "overflow",
		"announce",   "service_level", "relax",		  NULL};
	if (!n)
		return 0;
	int rc = cv_cfg_expect(c->cfg, n, CV_CFG_SEQ, "queues", err);
	if (rc)
		return rc;
	c->queues = calloc(n->nchild ? n->nchild : 1, sizeof(*c->queues));
	if (!c->queues)
		return -ENOMEM;
	for (const struct cv_cfg_node *e = n->child; e; e = e->next) {
		struct cvoipd_queue *q = &c->queues[c->nqueues];
		q->strategy = 1; /* longest-idle */
		q->max_wait_ms = 300000;
		q->max_len = 100;
		q->ring_timeout_ms = 15000;
		q->line = e->line;
		rc = cv_cfg_expect(c->cfg, e, CV_CFG_MAP, "a queue", err);
		if (!rc)
			rc = cv_cfg_check_keys(c->cfg, e, "queues", keys, err);
		if (!rc)
			rc = cv_cfg_str(c->cfg, cv_cfg_get(e, "name"), &q->name,
					err);
		if (!rc)
			rc = cv_cfg_enum(c->cfg, cv_cfg_get(e, "strategy"),
					 cvoipd_strategies, &q->strategy, err);
		if (!rc)
			rc = cv_cfg_duration_ms(c->cfg,
						cv_cfg_get(e, "max_wait"), 1000,
						86400000, &q->max_wait_ms, err);
		if (!rc)
			rc = cv_cfg_int(c->cfg, cv_cfg_get(e, "max_length"), 1,
					100000, &q->max_len, err);
		if (!rc)
			rc = cv_cfg_duration_ms(
				c->cfg, cv_cfg_get(e, "ring_timeout"), 1000,
				600000, &q->ring_timeout_ms, err);
		if (!rc)
			rc = cv_cfg_str(c->cfg, cv_cfg_get(e, "music_on_hold"),
					&q->moh, err);
		if (!rc)
			rc = cv_cfg_str(c->cfg, cv_cfg_get(e, "overflow"),
					&q->overflow, err);
		if (!rc)
			rc = load_skills(c->cfg,
					 cv_cfg_get(e, "required_skills"),
					 q->required, &q->nrequired,
					 CV_ARRAY_SIZE(q->required), err);
		if (rc)
			return rc;
		if (!q->name)
			return cv_cfg_fail(c->cfg, e, err,
					   "a queue needs a 'name'");
		c->nqueues++;
	}
	return 0;
}

int cvoipd_conf_load(struct cvoipd_conf *c, const char *path,
		     struct cv_cfg_err *err)
{
	static const char *const top[] = {
		"server",  "listen", "tls",	   "database", "registrar",
		"routing", "auth",   "media",	   "users",    "agents",
		"queues",  "trunks", "callcenter", "routes",   "dids",
		"dns",	   NULL};
	static const char *const tls_keys[] = {"cert", "key", "ca", NULL};
	static const char *const reg_keys[] = {"min_expires", "max_expires",
					       "default_expires", NULL};
	static const char *const routing_keys[] = {"no_answer_timeout",
						   "trunk_timeout", NULL};
	static const char *const auth_keys[] = {"max_failures_per_source",
						"max_failures_per_user",
						"window", "block", NULL};
	static const char *const media_keys[] = {
		"relay", "address", "rtp_port_min", "rtp_port_max", NULL};
	int rc = cv_cfg_load(&c->cfg, path, err);
	if (rc)
		return rc;
	const struct cv_cfg *cfg = c->cfg;
	const struct cv_cfg_node *root = cv_cfg_root(cfg);
	rc = cv_cfg_check_keys(cfg, root, "the top level", top, err);
	if (!rc)
		rc = load_server(c, cv_cfg_get(root, "server"), err);
	if (!rc)
		rc = load_listen(c, cv_cfg_get(root, "listen"), err);
	const struct cv_cfg_node *tls = cv_cfg_get(root, "tls");
	if (!rc)
		rc = cv_cfg_check_keys(cfg, tls, "tls", tls_keys, err);
	if (!rc)
		rc = cv_cfg_str(cfg, cv_cfg_get(tls, "cert"), &c->tls_cert,
				err);
	if (!rc)
		rc = cv_cfg_str(cfg, cv_cfg_get(tls, "key"), &c->tls_key, err);
	if (!rc)
		rc = cv_cfg_str(cfg, cv_cfg_get(tls, "ca"), &c->tls_ca, err);
	if (!rc)
		rc = cv_cfg_str(cfg, cv_cfg_get(root, "database"), &c->database,
				err);
	const struct cv_cfg_node *reg = cv_cfg_get(root, "registrar");
	if (!rc)
		rc = cv_cfg_check_keys(cfg, reg, "registrar", reg_keys, err);
	if (!rc)
		rc = cv_cfg_int(cfg, cv_cfg_get(reg, "min_expires"), 1, 86400,
				&c->reg_min_expires, err);
	if (!rc)
		rc = cv_cfg_int(cfg, cv_cfg_get(reg, "max_expires"), 1, 604800,
				&c->reg_max_expires, err);
	if (!rc)
		rc = cv_cfg_int(cfg, cv_cfg_get(reg, "default_expires"), 1,
				604800, &c->reg_default_expires, err);
	if (!rc && (c->reg_min_expires > c->reg_default_expires ||
		    c->reg_default_expires > c->reg_max_expires))
		rc = cv_cfg_fail(cfg, reg, err,
				 "registrar expires must satisfy min_expires "
				 "<= default_expires <= max_expires");
	const struct cv_cfg_node *routing = cv_cfg_get(root, "routing");
	if (!rc)
		rc = cv_cfg_check_keys(cfg, routing, "routing", routing_keys,
				       err);
	if (!rc)
		rc = cv_cfg_duration_ms(
			cfg, cv_cfg_get(routing, "no_answer_timeout"), 1000,
			3600000, &c->no_answer_ms, err);
	if (!rc)
		rc = cv_cfg_duration_ms(cfg,
					cv_cfg_get(routing, "trunk_timeout"),
					200, 120000, &c->trunk_timeout_ms, err);
	const struct cv_cfg_node *auth = cv_cfg_get(root, "auth");
	if (!rc)
		rc = cv_cfg_check_keys(cfg, auth, "auth", auth_keys, err);
	if (!rc)
		rc = cv_cfg_int(cfg,
				cv_cfg_get(auth, "max_failures_per_source"), 0,
				1000000, &c->auth_max_fail_source, err);
	if (!rc)
		rc = cv_cfg_int(cfg, cv_cfg_get(auth, "max_failures_per_user"),
				0, 1000000, &c->auth_max_fail_user, err);
	if (!rc)
		rc = cv_cfg_duration_ms(cfg, cv_cfg_get(auth, "window"), 1000,
					86400000, &c->auth_window_ms, err);
	if (!rc)
		rc = cv_cfg_duration_ms(cfg, cv_cfg_get(auth, "block"), 1000,
					86400000, &c->auth_block_ms, err);
	const struct cv_cfg_node *media = cv_cfg_get(root, "media");
	if (!rc)
		rc = cv_cfg_check_keys(cfg, media, "media", media_keys, err);
	if (!rc)
		rc = cv_cfg_bool(cfg, cv_cfg_get(media, "relay"),
				 &c->media_relay, err);
	if (!rc)
		rc = cv_cfg_str(cfg, cv_cfg_get(media, "address"),
				&c->media_address, err);
	if (!rc)
		rc = cv_cfg_int(cfg, cv_cfg_get(media, "rtp_port_min"), 1024,
				65534, &c->rtp_port_min, err);
	if (!rc)
		rc = cv_cfg_int(cfg, cv_cfg_get(media, "rtp_port_max"), 1025,
				65535, &c->rtp_port_max, err);
	if (!rc && c->rtp_port_max - c->rtp_port_min < 3)
		rc = cv_cfg_fail(
			cfg, media, err,
			"rtp_port_max must be at least rtp_port_min + 3");
	if (!rc)
		rc = load_users(c, cv_cfg_get(root, "users"), err);
	if (!rc)
		rc = load_agents(c, cv_cfg_get(root, "agents"), err);
	if (!rc)
		rc = load_queues(c, cv_cfg_get(root, "queues"), err);
	if (!rc)
		rc = cvoipd_conf_load_callcenter(
			c, cv_cfg_get(root, "callcenter"),
			cv_cfg_get(root, "queues"), err);
	if (!rc)
		rc = cvoipd_conf_load_trunks(c, cv_cfg_get(root, "trunks"),
					     cv_cfg_get(root, "routes"), err);
	if (rc)
		cvoipd_conf_free(c);
	return rc;
}
