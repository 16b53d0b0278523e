/* cvoipd configuration: the `callcenter` section (the call center's SIP
 * glue, docs/callcenter.md) and the call center keys of each queue. */
#include <stdio.h>
#include <string.h>

#include "conf.h"

void cvoipd_conf_callcenter_defaults(struct cvoipd_conf *c)
{
	struct cvoipd_callcenter *cc = &c->callcenter;
	memset(cc, 0, sizeof(*cc));
	cc->listen_address = "127.0.0.1";
	cc->music_on_hold = "moh.wav";
	cc->announce_position = true;
	cc->code_prompts = true;
	cc->codes[0] = "*20";
	cc->codes[1] = "*21";
	cc->codes[2] = "*22";
	cc->codes[3] = "*23";
	cc->miss_limit = 3;
	cc->miss_cooldown_ms = 2000;
	cc->max_chain = 4;
	cc->max_callers = 10000;
}

static int load_relax(const struct cv_cfg *cfg, const struct cv_cfg_node *n,
		      struct cvoipd_queue *q, struct cv_cfg_err *err)
{
	static const char *const keys[] = {"after", "drop", "any", NULL};
	if (!n)
		return 0;
	int rc = cv_cfg_expect(cfg, n, CV_CFG_SEQ, "relax", err);
	for (const struct cv_cfg_node *e = n ? n->child : NULL; !rc && e;
	     e = e->next) {
		if (q->nrelax >= CV_ARRAY_SIZE(q->relax))
			return cv_cfg_fail(cfg, e, err,
					   "at most %zu relax steps",
					   CV_ARRAY_SIZE(q->relax));
		rc = cv_cfg_expect(cfg, e, CV_CFG_MAP, "a relax step", err);
		if (!rc)
			rc = cv_cfg_check_keys(cfg, e, "relax", keys, err);
		if (!rc && !cv_cfg_get(e, "after"))
			rc = cv_cfg_fail(cfg, e, err,
					 "a relax step needs 'after'");
		if (!rc)
			rc = cv_cfg_duration_ms(
				cfg, cv_cfg_get(e, "after"), 1000, 86400000,
				&q->relax[q->nrelax].after_ms, err);
		if (!rc)
			rc = cv_cfg_int(cfg, cv_cfg_get(e, "drop"), 0, 9,
					&q->relax[q->nrelax].drop, err);
		if (!rc)
			rc = cv_cfg_bool(cfg, cv_cfg_get(e, "any"),
					 &q->relax[q->nrelax].any, err);
		if (!rc && !q->relax[q->nrelax].drop &&
		    !q->relax[q->nrelax].any)
			rc = cv_cfg_fail(cfg, e, err,
					 "a relax step needs 'drop' (1-9) or "
					 "'any: true'");
		if (!rc)
			q->nrelax++;
	}
	return rc;
}

int cvoipd_conf_load_callcenter(struct cvoipd_conf *c,
				const struct cv_cfg_node *n,
				const struct cv_cfg_node *queues,
				struct cv_cfg_err *err)
{
	static const char *const keys[] = {"sounds_dir",
					   "music_on_hold",
					   "listen_address",
					   "announce_position",
					   "code_prompts",
					   "feature_codes",
					   "miss_limit",
					   "miss_cooldown",
					   "max_chain",
					   "max_callers",
					   "stats_period",
					   "priority",
					   NULL};
	static const char *const code_keys[] = {"login", "logout", "pause",
						"resume", NULL};
	const struct cv_cfg *cfg = c->cfg;
	struct cvoipd_callcenter *cc = &c->callcenter;
	int rc = 0;
	if (n) {
		rc = cv_cfg_expect(cfg, n, CV_CFG_MAP, "callcenter", err);
		if (!rc)
			rc = cv_cfg_check_keys(cfg, n, "callcenter", keys, err);
		if (!rc)
			rc = cv_cfg_str(cfg, cv_cfg_get(n, "sounds_dir"),
					&cc->sounds_dir, err);
		if (!rc)
			rc = cv_cfg_str(cfg, cv_cfg_get(n, "music_on_hold"),
					&cc->music_on_hold, err);
		if (!rc)
			rc = cv_cfg_str(cfg, cv_cfg_get(n, "listen_address"),
					&cc->listen_address, err);
		if (!rc)
			rc = cv_cfg_bool(cfg,
					 cv_cfg_get(n, "announce_position"),
					 &cc->announce_position, err);
		if (!rc)
			rc = cv_cfg_bool(cfg, cv_cfg_get(n, "code_prompts"),
					 &cc->code_prompts, err);
		const struct cv_cfg_node *fc = cv_cfg_get(n, "feature_codes");
		if (!rc && fc)
			rc = cv_cfg_expect(cfg, fc, CV_CFG_MAP, "feature_codes",
					   err);
		if (!rc && fc)
			rc = cv_cfg_check_keys(cfg, fc, "feature_codes",
					       code_keys, err);
		for (int i = 0; !rc && fc && i < 4; i++) {
			const struct cv_cfg_node *k =
				cv_cfg_get(fc, code_keys[i]);
			rc = cv_cfg_str(cfg, k, &cc->codes[i], err);
			size_t len = strlen(cc->codes[i]);
			if (!rc &&
			    (len == 0 || len > 32 ||
			     strspn(cc->codes[i], "0123456789*#") != len))
				rc = cv_cfg_fail(
					cfg, k, err,
					"a feature code is 1-32 of 0-9 * #");
			for (int j = 0; !rc && j < i; j++)
				if (!strcmp(cc->codes[i], cc->codes[j]))
					rc = cv_cfg_fail(cfg, k ? k : fc, err,
							 "feature codes '%s' "
							 "and '%s' are equal",
							 code_keys[j],
							 code_keys[i]);
		}
		if (!rc)
			rc = cv_cfg_int(cfg, cv_cfg_get(n, "miss_limit"), 1,
					1000, &cc->miss_limit, err);
		if (!rc)
			rc = cv_cfg_duration_ms(
				cfg, cv_cfg_get(n, "miss_cooldown"), 0, 3600000,
				&cc->miss_cooldown_ms, err);
		if (!rc)
			rc = cv_cfg_int(cfg, cv_cfg_get(n, "max_chain"), 1, 32,
					&cc->max_chain, err);
		if (!rc)
			rc = cv_cfg_int(cfg, cv_cfg_get(n, "max_callers"), 1,
					1000000, &cc->max_callers, err);
		if (!rc)
			rc = cv_cfg_duration_ms(
				cfg, cv_cfg_get(n, "stats_period"), 1000,
				86400000, &cc->stats_period_ms, err);
		const struct cv_cfg_node *pr = cv_cfg_get(n, "priority");
		if (!rc && pr)
			rc = cv_cfg_expect(cfg, pr, CV_CFG_MAP, "priority",
					   err);
		for (const struct cv_cfg_node *e = pr ? pr->child : NULL;
		     !rc && e; e = e->next) {
			if (cc->npriorities >= CV_ARRAY_SIZE(cc->priorities))
				return cv_cfg_fail(
					cfg, e, err,
					"at most %zu priority rules",
					CV_ARRAY_SIZE(cc->priorities));
			if (!e->key[0] || strlen(e->key) >= 128)
				return cv_cfg_fail(
					cfg, e, err,
					"a caller pattern is 1-127 characters");
			cc->priorities[cc->npriorities].pattern = e->key;
			rc = cv_cfg_int(
				cfg, e, -1000, 1000,
				&cc->priorities[cc->npriorities].priority, err);
			if (!rc)
				cc->npriorities++;
		}
	}
	/* the queues' call center keys (load_queues accepted the names) */
	unsigned i = 0;
	for (const struct cv_cfg_node *e = queues ? queues->child : NULL;
	     !rc && e && i < c->nqueues; e = e->next, i++) {
		struct cvoipd_queue *q = &c->queues[i];
		rc = cv_cfg_duration_ms(cfg, cv_cfg_get(e, "announce"), 5000,
					3600000, &q->announce_ms, err);
		if (!rc)
			rc = cv_cfg_duration_ms(
				cfg, cv_cfg_get(e, "service_level"), 1000,
				3600000, &q->service_level_ms, err);
		if (!rc)
			rc = load_relax(cfg, cv_cfg_get(e, "relax"), q, err);
	}
	return rc;
}
