/* Configuration: validation of the whole call center, then agents, queues
 * and their memberships. Runs at start-up, so scans are fine here. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cc_int.h"
#include "cvoip/store.h"

static int fail(struct cv_cc_cfg_err *err, int agent, int queue, int rc,
		const char *fmt, ...) CV_PRINTF(5, 6);

static int fail(struct cv_cc_cfg_err *err, int agent, int queue, int rc,
		const char *fmt, ...)
{
	if (err) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
		va_end(ap);
		err->agent = agent;
		err->queue = queue;
	}
	return rc;
}

static bool name_ok(const char *s)
{
	if (!s || !*s || strlen(s) > CV_CC_NAME_MAX)
		return false;
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return false;
	return true;
}

static int check_skills(const struct cv_cc_skill *sk, size_t n,
			struct cv_cc_cfg_err *err, int ai, int qi,
			const char *what, const char *name)
{
	if (n > CV_CC_SKILLS_MAX)
		return fail(err, ai, qi, CV_ETOOBIG,
			    "%s '%s': more than %d skills", what, name,
			    CV_CC_SKILLS_MAX);
	if (n && !sk)
		return fail(err, ai, qi, -EINVAL, "%s '%s': skills missing",
			    what, name);
	for (size_t i = 0; i < n; i++) {
		if (!name_ok(sk[i].name))
			return fail(err, ai, qi, -EINVAL,
				    "%s '%s': bad skill name", what, name);
		if (sk[i].level < CV_CC_LEVEL_MIN ||
		    sk[i].level > CV_CC_LEVEL_MAX)
			return fail(err, ai, qi, -EINVAL,
				    "%s '%s': skill '%s' level %u is not in "
				    "1..10",
				    what, name, sk[i].name, sk[i].level);
		for (size_t j = 0; j < i; j++)
			if (strcmp(sk[i].name, sk[j].name) == 0)
				return fail(err, ai, qi, -EINVAL,
					    "%s '%s': skill '%s' twice", what,
					    name, sk[i].name);
	}
	return 0;
}

static bool cfg_has_queue(const struct cv_cc *cc,
			  const struct cv_cc_config *cfg, const char *name)
{
	if (cc_queue_find(cc, name))
		return true;
	for (size_t i = 0; i < cfg->nqueues; i++)
		if (cfg->queues[i].name &&
		    strcmp(cfg->queues[i].name, name) == 0)
			return true;
	return false;
}

static int validate(const struct cv_cc *cc, const struct cv_cc_config *cfg,
		    struct cv_cc_cfg_err *err)
{
	int rc;
	if ((cfg->nagents && !cfg->agents) || (cfg->nqueues && !cfg->queues))
		return fail(err, -1, -1, -EINVAL, "configuration incomplete");
	for (size_t i = 0; i < cfg->nagents; i++) {
		const struct cv_cc_agent_params *a = &cfg->agents[i];
		int ai = (int)i;
		if (!name_ok(a->name))
			return fail(err, ai, -1, -EINVAL,
				    "agent #%zu: missing or bad name", i + 1);
		if (cc_agent_find(cc, a->name))
			return fail(err, ai, -1, -EEXIST,
				    "agent '%s' already exists", a->name);
		for (size_t j = 0; j < i; j++)
			if (strcmp(cfg->agents[j].name, a->name) == 0)
				return fail(err, ai, -1, -EEXIST,
					    "agent '%s' defined twice",
					    a->name);
		if (a->max_calls > 1000)
			return fail(
				err, ai, -1, -EINVAL,
				"agent '%s': max_calls %u is not in 1..1000",
				a->name, a->max_calls);
		if (a->wrapup_ms > 3600000)
			return fail(err, ai, -1, -EINVAL,
				    "agent '%s': wrap-up longer than an hour",
				    a->name);
		if ((rc = check_skills(a->skills, a->nskills, err, ai, -1,
				       "agent", a->name)))
			return rc;
	}
	for (size_t i = 0; i < cfg->nqueues; i++) {
		const struct cv_cc_queue_params *q = &cfg->queues[i];
		int qi = (int)i;
		if (!name_ok(q->name))
			return fail(err, -1, qi, -EINVAL,
				    "queue #%zu: missing or bad name", i + 1);
		if (cc_queue_find(cc, q->name))
			return fail(err, -1, qi, -EEXIST,
				    "queue '%s' already exists", q->name);
		for (size_t j = 0; j < i; j++)
			if (strcmp(cfg->queues[j].name, q->name) == 0)
				return fail(err, -1, qi, -EEXIST,
					    "queue '%s' defined twice",
					    q->name);
		if ((unsigned)q->strategy >= CV_CC_STRATEGY_COUNT)
			return fail(err, -1, qi, CV_ECONFIG,
				    "queue '%s': unknown strategy %d", q->name,
				    (int)q->strategy);
		if ((rc = check_skills(q->required, q->nrequired, err, -1, qi,
				       "queue", q->name)))
			return rc;
		if (q->strategy == CV_CC_SKILLS_BASED && !q->nrequired)
			return fail(err, -1, qi, CV_ECONFIG,
				    "queue '%s': skills-based needs "
				    "required_skills",
				    q->name);
		if (q->nrelax && q->strategy != CV_CC_SKILLS_BASED)
			return fail(err, -1, qi, CV_ECONFIG,
				    "queue '%s': relaxation steps need the "
				    "skills-based strategy",
				    q->name);
		if (q->nrelax > CV_CC_RELAX_MAX || (q->nrelax && !q->relax))
			return fail(err, -1, qi, CV_ETOOBIG,
				    "queue '%s': at most %d relaxation steps",
				    q->name, CV_CC_RELAX_MAX);
		for (size_t k = 0; k < q->nrelax; k++) {
			const struct cv_cc_relax *r = &q->relax[k];
			const struct cv_cc_relax *p =
				k ? &q->relax[k - 1] : NULL;
			if (!r->after_ms || (p && r->after_ms <= p->after_ms))
				return fail(err, -1, qi, CV_ECONFIG,
					    "queue '%s': relaxation step %zu: "
					    "waits must be > 0 and increase",
					    q->name, k + 1);
			if (r->drop >= CV_CC_LEVEL_MAX && !r->any)
				return fail(err, -1, qi, CV_ECONFIG,
					    "queue '%s': relaxation step %zu: "
					    "drop %u is not in 0..9 (use any)",
					    q->name, k + 1, r->drop);
			if (p && (p->any || (!r->any && r->drop < p->drop)))
				return fail(err, -1, qi, CV_ECONFIG,
					    "queue '%s': relaxation step %zu "
					    "tightens the requirements",
					    q->name, k + 1);
		}
		if (q->max_len > CV_CC_QUEUE_LEN_MAX)
			return fail(err, -1, qi, CV_ETOOBIG,
				    "queue '%s': max_length above %d", q->name,
				    CV_CC_QUEUE_LEN_MAX);
		if (q->ring_timeout_ms > 600000)
			return fail(err, -1, qi, CV_ECONFIG,
				    "queue '%s': ring_timeout above 10 minutes",
				    q->name);
		if (q->music_on_hold &&
		    (!*q->music_on_hold ||
		     strlen(q->music_on_hold) > CV_CC_TEXT_MAX))
			return fail(err, -1, qi, -EINVAL,
				    "queue '%s': bad music_on_hold", q->name);
		struct cv_cc_target t;
		if (cv_cc_target_parse(q->overflow, &t))
			return fail(err, -1, qi, CV_ECONFIG,
				    "queue '%s': overflow '%s' is not "
				    "queue:NAME, user:NAME, a sip:/sips:/tel: "
				    "URI, announce:FILE or hangup",
				    q->name, q->overflow);
		if (t.kind == CV_CC_TARGET_QUEUE) {
			if (strcmp(t.value, q->name) == 0)
				return fail(err, -1, qi, CV_ECONFIG,
					    "queue '%s': overflows to itself",
					    q->name);
			if (!cfg_has_queue(cc, cfg, t.value))
				return fail(err, -1, qi, CV_ECONFIG,
					    "queue '%s': overflow to unknown "
					    "queue '%s'",
					    q->name, t.value);
		}
	}
	return 0;
}

static int skill_id(struct cv_cc *cc, const char *name, uint16_t *out)
{
	for (size_t i = 0; i < cc->nskills; i++) {
		if (strcmp(cc->skills[i], name) == 0) {
			*out = (uint16_t)i;
			return 0;
		}
	}
	if (cc->nskills >= UINT16_MAX)
		return CV_ETOOBIG;
	char **v = realloc(cc->skills, (cc->nskills + 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	cc->skills = v;
	if (!(v[cc->nskills] = strdup(name)))
		return -ENOMEM;
	*out = (uint16_t)cc->nskills++;
	return 0;
}

static uint8_t agent_level(const struct cc_agent *a, uint16_t id)
{
	for (size_t i = 0; i < a->nskills; i++)
		if (a->skill_id[i] == id)
			return a->skill_lvl[i];
	return 0;
}

static void *grow(void *v, size_t n, size_t size)
{
	return realloc(v, (n + 1) * size);
}

/* Membership of a in q, with qualification per relaxation step. */
static int member_add(struct cc_agent *a, struct cc_queue *q)
{
	bool qual[CC_STEPS] = {false};
	uint32_t score = 0;
	for (size_t t = 0; t < q->nsteps; t++) {
		bool ok = true;
		for (size_t r = 0; r < q->nreq && ok && !q->step_any[t]; r++) {
			int min = (int)q->req_lvl[r] - q->step_drop[t];
			/* ordinary strategies: any level of a required skill */
			if (q->strategy != CV_CC_SKILLS_BASED)
				min = 1;
			ok = agent_level(a, q->req_id[r]) >= CV_MAX(min, 1);
		}
		qual[t] = ok;
	}
	if (!qual[q->nsteps - 1])
		return 0; /* not qualified even fully relaxed */
	for (size_t r = 0; r < q->nreq; r++)
		score += agent_level(a, q->req_id[r]);
	struct cc_member *m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->a = a;
	m->q = q;
	m->score = score;
	memcpy(m->qual, qual, sizeof(qual));
	for (size_t t = 0; t < CC_STEPS; t++)
		cc_hn_init(&m->hn[t], m);
	struct cc_member **am = grow(a->mem, a->nmem, sizeof(*am));
	if (!am) {
		free(m);
		return -ENOMEM;
	}
	a->mem = am;
	struct cc_member **qm = grow(q->mem, q->nmem, sizeof(*qm));
	if (!qm) {
		free(m);
		return -ENOMEM;
	}
	q->mem = qm;
	a->mem[a->nmem++] = m;
	q->mem[q->nmem++] = m;
	if (a->ndev)
		q->logged_in++;
	return 0;
}

static int agent_add(struct cv_cc *cc, const struct cv_cc_agent_params *p)
{
	struct cc_agent *a = calloc(1, sizeof(*a));
	if (!a)
		return -ENOMEM;
	a->cc = cc;
	a->name = strdup(p->name);
	a->max_calls = p->max_calls ? p->max_calls : 1;
	a->wrapup_ms = p->wrapup_ms;
	a->ord = (uint32_t)cc->nagents;
	a->state = CV_CC_AGENT_LOGGED_OUT;
	a->state_since = cv_clock_us();
	cv_tmr_init(&a->wrap_tmr);
	cv_tmr_init(&a->cool_tmr);
	int err = a->name ? 0 : -ENOMEM;
	for (size_t i = 0; i < p->nskills && !err; i++) {
		err = skill_id(cc, p->skills[i].name, &a->skill_id[i]);
		a->skill_lvl[i] = p->skills[i].level;
		a->nskills = i + 1;
	}
	struct cc_agent **v =
		err ? NULL : grow(cc->agent_list, cc->nagents, sizeof(*v));
	if (!v) {
		free(a->name);
		free(a);
		return err ? err : -ENOMEM;
	}
	cc->agent_list = v;
	a->mn.key = cv_hash(a->name, strlen(a->name));
	if ((err = cc_map_put(&cc->agents, &a->mn))) {
		free(a->name);
		free(a);
		return err;
	}
	cc->agent_list[cc->nagents++] = a;
	for (size_t i = 0; i < cc->nqueues && !err; i++)
		err = member_add(a, cc->queue_list[i]);
	return err;
}

static int queue_add(struct cv_cc *cc, const struct cv_cc_queue_params *p)
{
	struct cc_queue *q = calloc(1, sizeof(*q));
	if (!q)
		return -ENOMEM;
	q->cc = cc;
	q->name = strdup(p->name);
	q->strategy = p->strategy;
	q->max_wait_ms = p->max_wait_ms;
	q->max_len = p->max_len ? p->max_len : 100;
	q->ring_timeout_ms = p->ring_timeout_ms ? p->ring_timeout_ms : 15000;
	q->announce_ms = p->announce_ms;
	q->sl_ms = p->service_level_ms ? p->service_level_ms : 20000;
	q->moh = p->music_on_hold ? strdup(p->music_on_hold) : NULL;
	q->overflow_text = strdup(p->overflow ? p->overflow : "");
	int err = 0;
	if (!q->name || !q->overflow_text || (p->music_on_hold && !q->moh))
		err = -ENOMEM;
	if (!err)
		err = cv_cc_target_parse(q->overflow_text, &q->overflow);
	q->nreq = p->nrequired;
	for (size_t i = 0; i < p->nrequired && !err; i++) {
		err = skill_id(cc, p->required[i].name, &q->req_id[i]);
		q->req_lvl[i] = p->required[i].level;
	}
	q->nsteps = 1 + p->nrelax;
	for (size_t k = 0; k < p->nrelax; k++) {
		q->step_after_ms[k + 1] = p->relax[k].after_ms;
		q->step_drop[k + 1] = p->relax[k].drop;
		q->step_any[k + 1] = p->relax[k].any;
	}
	struct cc_queue **v =
		err ? NULL : grow(cc->queue_list, cc->nqueues, sizeof(*v));
	if (!v) {
		free(q->name);
		free(q->moh);
		free(q->overflow_text);
		free(q);
		return err ? err : -ENOMEM;
	}
	cc->queue_list = v;
	q->mn.key = cv_hash(q->name, strlen(q->name));
	if ((err = cc_map_put(&cc->queues, &q->mn))) {
		free(q->name);
		free(q->moh);
		free(q->overflow_text);
		free(q);
		return err;
	}
	cc->queue_list[cc->nqueues++] = q;
	for (size_t i = 0; i < cc->nagents && !err; i++)
		err = member_add(cc->agent_list[i], q);
	return err;
}

static void store_provision(struct cv_cc *cc, const struct cv_cc_config *cfg)
{
	for (size_t i = 0; i < cfg->nagents; i++) {
		const struct cv_cc_agent_params *a = &cfg->agents[i];
		struct cv_store_skill sk[CV_CC_SKILLS_MAX];
		for (size_t k = 0; k < a->nskills; k++)
			sk[k] = (struct cv_store_skill){a->skills[k].name,
							a->skills[k].level};
		struct cv_store_agent sa = {
			.name = a->name,
			.max_calls = a->max_calls ? a->max_calls : 1,
			.wrapup_s = a->wrapup_ms / 1000,
			.nskills = a->nskills,
			.skills = sk,
			.since_us = (int64_t)cv_clock_wall_us(),
		};
		int err = cv_store_agent_upsert(cc->store, &sa, NULL);
		/* a restart begins logged out whatever the store said */
		if (!err)
			err = cv_store_agent_set_state(
				cc->store, a->name, CV_STORE_AGENT_LOGGED_OUT,
				"", (int64_t)cv_clock_wall_us(), NULL);
		if (err)
			CV_WARN(CC_MOD, "agent %s not stored: %s", a->name,
				cv_strerror(err));
	}
	for (size_t i = 0; i < cfg->nqueues; i++) {
		const struct cv_cc_queue_params *q = &cfg->queues[i];
		json_t *o =
			json_pack("{s:i,s:i,s:i,s:s}", "max_wait_ms",
				  (json_int_t)q->max_wait_ms, "max_len",
				  (json_int_t)q->max_len, "ring_timeout_ms",
				  (json_int_t)q->ring_timeout_ms, "overflow",
				  q->overflow ? q->overflow : "");
		json_t *req = json_object();
		for (size_t k = 0; req && k < q->nrequired; k++)
			json_object_set_new(req, q->required[k].name,
					    json_integer(q->required[k].level));
		if (o && req)
			json_object_set(o, "required_skills", req);
		json_decref(req);
		char *params = o ? json_dumps(o, JSON_COMPACT) : NULL;
		json_decref(o);
		struct cv_store_queue sq = {
			.name = q->name,
			.strategy = cv_cc_strategy_name(q->strategy),
			.params = params ? params : "",
		};
		int err = cv_store_queue_upsert(cc->store, &sq, NULL);
		if (err)
			CV_WARN(CC_MOD, "queue %s not stored: %s", q->name,
				cv_strerror(err));
		free(params);
	}
}

int cv_cc_configure(struct cv_cc *cc, const struct cv_cc_config *cfg,
		    struct cv_cc_cfg_err *err)
{
	if (err) {
		err->msg[0] = 0;
		err->agent = err->queue = -1;
	}
	if (!cc || !cfg)
		return -EINVAL;
	int rc = validate(cc, cfg, err);
	if (rc) {
		if (err)
			CV_ERROR(CC_MOD, "configuration refused: %s", err->msg);
		return rc;
	}
	/* Queues first so overflow targets resolve; agents join them. */
	for (size_t i = 0; i < cfg->nqueues && !rc; i++)
		rc = queue_add(cc, &cfg->queues[i]);
	for (size_t i = 0; i < cfg->nqueues && !rc; i++) {
		struct cc_queue *q = cc_queue_find(cc, cfg->queues[i].name);
		if (q && q->overflow.kind == CV_CC_TARGET_QUEUE)
			q->overflow_q = cc_queue_find(cc, q->overflow.value);
	}
	for (size_t i = 0; i < cfg->nagents && !rc; i++)
		rc = agent_add(cc, &cfg->agents[i]);
	if (rc)
		return fail(err, -1, -1, rc, "out of resources: %s",
			    cv_strerror(rc));
	if (cc->store)
		store_provision(cc, cfg);
	return 0;
}
