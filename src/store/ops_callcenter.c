/* Call center: agents (profile, skills, state), queues, queued-call
 * records and statistics snapshots. */
#include <string.h>

#include "store_int.h"

static const char *const state_names[CV_STORE_AGENT_STATE_COUNT] = {
	"logged-out", "available", "offered", "on-call", "wrap-up", "paused"};

const char *cv_store_agent_state_name(enum cv_store_agent_state st)
{
	return (unsigned)st < CV_STORE_AGENT_STATE_COUNT ? state_names[st]
							 : "?";
}

static const char *const outcome_names[CV_STORE_OUTCOME_COUNT] = {
	"answered", "overflowed", "abandoned"};

const char *cv_store_outcome_name(enum cv_store_outcome o)
{
	return (unsigned)o < CV_STORE_OUTCOME_COUNT ? outcome_names[o] : "?";
}

/* ---- agents
 * ------------------------------------------------------------------ */
static int exec_agent_upsert(struct db *db, struct store_req *r)
{
	const struct cv_store_agent *a = &r->in.agent;
	struct dbv p[] = {V_S(a->name),	    V_I(a->max_calls),
			  V_I(a->wrapup_s), V_I(CV_STORE_AGENT_LOGGED_OUT),
			  V_S(""),	    V_I(a->since_us)};
	int64_t ch = 0;
	int err =
		db_run(db,
		       "INSERT INTO agents (name, max_calls, wrapup_s, state, "
		       "reason, since_us) VALUES (?, ?, ?, ?, ?, ?) "
		       "ON CONFLICT (name) DO UPDATE SET "
		       "max_calls = excluded.max_calls, "
		       "wrapup_s = excluded.wrapup_s",
		       p, 6, NULL, NULL, &ch);
	if (err)
		return err;
	struct dbv k[] = {V_S(a->name)};
	err = db_run(db, "DELETE FROM agent_skills WHERE agent = ?", k, 1, NULL,
		     NULL, NULL);
	for (size_t i = 0; i < a->nskills && !err; i++) {
		struct dbv sp[] = {V_S(a->name), V_S(a->skills[i].name),
				   V_I(a->skills[i].level)};
		err = db_run(db,
			     "INSERT INTO agent_skills (agent, skill, level) "
			     "VALUES (?, ?, ?)",
			     sp, 3, NULL, NULL, NULL);
	}
	return err ? err : res_set(r, CV_STORE_RES_NONE, ch);
}
static const struct op_desc op_agent_upsert = {"agent_upsert",
					       exec_agent_upsert, false};

int cv_store_agent_upsert(struct cv_store *s, const struct cv_store_agent *a,
			  const struct cv_store_cb *cb)
{
	int err;
	if (!s || !a || a->max_calls < 1 || (a->nskills && !a->skills))
		return -EINVAL;
	if ((err = check_name(a->name)))
		return err;
	if (a->nskills > CV_STORE_SKILLS_MAX)
		return CV_ETOOBIG;
	for (size_t i = 0; i < a->nskills; i++) {
		if ((err = check_name(a->skills[i].name)))
			return err;
		if (a->skills[i].level < 1 || a->skills[i].level > 10)
			return -EINVAL;
		for (size_t j = 0; j < i; j++)
			if (strcmp(a->skills[i].name, a->skills[j].name) == 0)
				return -EINVAL;
	}
	struct store_req *r = req_new(&op_agent_upsert);
	if (!r)
		return -ENOMEM;
	struct cv_store_agent *d = &r->in.agent;
	*d = *a;
	d->name = ADUP(r, a->name);
	d->since_us = (int64_t)cv_clock_wall_us();
	struct cv_store_skill *sk = NULL;
	if (a->nskills) {
		sk = arena_alloc(&r->ar, a->nskills * sizeof(*sk));
		for (size_t i = 0; sk && i < a->nskills; i++) {
			sk[i].name = ADUP(r, a->skills[i].name);
			sk[i].level = a->skills[i].level;
		}
	}
	d->skills = sk;
	r->key = key_of(a->name);
	return req_submit(s, r, cb);
}

static int exec_agent_del(struct db *db, struct store_req *r)
{
	struct dbv k[] = {V_S(r->in.key.k1)};
	int err = db_run(db, "DELETE FROM agent_skills WHERE agent = ?", k, 1,
			 NULL, NULL, NULL);
	return err ? err
		   : exec_del_by_name(db, r,
				      "DELETE FROM agents WHERE name = ?");
}
static const struct op_desc op_agent_del = {"agent_del", exec_agent_del, false};

int cv_store_agent_del(struct cv_store *s, const char *name,
		       const struct cv_store_cb *cb)
{
	return submit_name(s, &op_agent_del, name, cb);
}

/* Agents then skills, both ordered by agent name: the skills of each agent
 * are attached in one pass. */
struct agent_ctx {
	struct list_ctx c;
	size_t next;
};

static int agent_row(struct db_row *row, void *arg)
{
	struct agent_ctx *x = arg;
	struct list_ctx *c = &x->c;
	struct cv_store_agent *a = res_row(c->res, sizeof(*a), &c->cap);
	if (!a)
		return -ENOMEM;
	a->name = RDUP(c, row, 0);
	a->max_calls = (uint32_t)db_i64(row, 1);
	a->wrapup_s = (uint32_t)db_i64(row, 2);
	int64_t st = db_i64(row, 3);
	a->state = st >= 0 && st < CV_STORE_AGENT_STATE_COUNT
			   ? (enum cv_store_agent_state)st
			   : CV_STORE_AGENT_LOGGED_OUT;
	a->reason = RDUP(c, row, 4);
	a->since_us = db_i64(row, 5);
	a->skills = NULL;
	return 0;
}

static int skill_row(struct db_row *row, void *arg)
{
	struct agent_ctx *x = arg;
	struct list_ctx *c = &x->c;
	const char *agent = db_text(row, 0);
	struct cv_store_agent *as = c->res->pub.agents;
	/* Both queries are ordered by agent name in the database's own
	 * collation, so the match is at or after the previous one. */
	size_t i = x->next;
	while (i < c->res->pub.n && strcmp(as[i].name, agent) != 0)
		i++;
	if (i >= c->res->pub.n)
		return 0; /* an agent added between the two statements */
	x->next = i;
	struct cv_store_agent *a = &as[i];
	if (a->nskills >= CV_STORE_SKILLS_MAX)
		return 0;
	if (!a->skills) {
		a->skills = arena_alloc(
			&c->res->ar, CV_STORE_SKILLS_MAX * sizeof(*a->skills));
		if (!a->skills)
			return -ENOMEM;
	}
	struct cv_store_skill *sk =
		(struct cv_store_skill *)&a->skills[a->nskills++];
	sk->name = RDUP(c, row, 1);
	sk->level = (uint8_t)db_i64(row, 2);
	return 0;
}

#define AGENT_COLS "name, max_calls, wrapup_s, state, reason, since_us"

static int exec_agent_get(struct db *db, struct store_req *r)
{
	struct agent_ctx x = {0};
	int err = list_start(r, &x.c, CV_STORE_RES_AGENTS);
	if (err)
		return err;
	struct dbv k[] = {V_S(r->in.key.k1)};
	err = db_run(db, "SELECT " AGENT_COLS " FROM agents WHERE name = ?", k,
		     1, agent_row, &x, NULL);
	if (!err && x.c.res->pub.n == 0)
		err = CV_ENOTFOUND;
	if (!err)
		err = db_run(db,
			     "SELECT agent, skill, level FROM agent_skills "
			     "WHERE agent = ? ORDER BY skill",
			     k, 1, skill_row, &x, NULL);
	return list_end(r, &x.c, err);
}
static const struct op_desc op_agent_get = {"agent_get", exec_agent_get, false};

int cv_store_agent_get(struct cv_store *s, const char *name,
		       const struct cv_store_cb *cb)
{
	return submit_name(s, &op_agent_get, name, cb);
}

static int exec_agent_list(struct db *db, struct store_req *r)
{
	struct agent_ctx x = {0};
	int err = list_start(r, &x.c, CV_STORE_RES_AGENTS);
	if (err)
		return err;
	err = db_run(db,
		     "SELECT " AGENT_COLS " FROM agents "
		     "ORDER BY name LIMIT 100000",
		     NULL, 0, agent_row, &x, NULL);
	if (!err)
		err = db_run(db,
			     "SELECT agent, skill, level FROM agent_skills "
			     "ORDER BY agent, skill",
			     NULL, 0, skill_row, &x, NULL);
	return list_end(r, &x.c, err);
}
static const struct op_desc op_agent_list = {"agent_list", exec_agent_list,
					     false};

int cv_store_agent_list(struct cv_store *s, const struct cv_store_cb *cb)
{
	return submit_plain(s, &op_agent_list, cb);
}

static int exec_agent_set_state(struct db *db, struct store_req *r)
{
	struct dbv p[] = {V_I(r->in.key.st), V_S(r->in.key.k2),
			  V_I(r->in.key.i1), V_S(r->in.key.k1)};
	int64_t ch = 0;
	int err =
		db_run(db,
		       "UPDATE agents SET state = ?, reason = ?, since_us = ? "
		       "WHERE name = ?",
		       p, 4, NULL, NULL, &ch);
	if (err)
		return err;
	return ch ? res_set(r, CV_STORE_RES_NONE, ch) : CV_ENOTFOUND;
}
static const struct op_desc op_agent_set_state = {"agent_set_state",
						  exec_agent_set_state, false};

int cv_store_agent_set_state(struct cv_store *s, const char *name,
			     enum cv_store_agent_state state,
			     const char *reason, int64_t since_us,
			     const struct cv_store_cb *cb)
{
	int err;
	if (!s || (unsigned)state >= CV_STORE_AGENT_STATE_COUNT || since_us < 0)
		return -EINVAL;
	if ((err = check_name(name)))
		return err;
	if (check_text(reason, CV_STORE_NAME_MAX))
		return CV_ETOOBIG;
	struct store_req *r = req_new(&op_agent_set_state);
	if (!r)
		return -ENOMEM;
	r->in.key.k1 = ADUP(r, name);
	r->in.key.k2 = ADUP(r, reason);
	r->in.key.st = (int)state;
	r->in.key.i1 = since_us ? since_us : (int64_t)cv_clock_wall_us();
	r->key = key_of(name);
	return req_submit(s, r, cb);
}

/* ---- queues
 * ------------------------------------------------------------------ */
static int exec_queue_upsert(struct db *db, struct store_req *r)
{
	const struct cv_store_queue *q = &r->in.queue;
	struct dbv p[] = {V_S(q->name), V_S(q->strategy), V_S(q->params)};
	int64_t ch = 0;
	int err =
		db_run(db,
		       "INSERT INTO queues (name, strategy, params) VALUES "
		       "(?, ?, ?) ON CONFLICT (name) DO UPDATE SET "
		       "strategy = excluded.strategy, params = excluded.params",
		       p, 3, NULL, NULL, &ch);
	return err ? err : res_set(r, CV_STORE_RES_NONE, ch);
}
static const struct op_desc op_queue_upsert = {"queue_upsert",
					       exec_queue_upsert, false};

int cv_store_queue_upsert(struct cv_store *s, const struct cv_store_queue *q,
			  const struct cv_store_cb *cb)
{
	int err;
	if (!s || !q)
		return -EINVAL;
	if ((err = check_name(q->name)) || (err = check_name(q->strategy)))
		return err;
	if (check_text(q->params, CV_STORE_TEXT_MAX))
		return CV_ETOOBIG;
	if ((err = check_json_object(q->params)))
		return err;
	struct store_req *r = req_new(&op_queue_upsert);
	if (!r)
		return -ENOMEM;
	r->in.queue.name = ADUP(r, q->name);
	r->in.queue.strategy = ADUP(r, q->strategy);
	r->in.queue.params = ADUP(r, q->params);
	r->key = key_of(q->name);
	return req_submit(s, r, cb);
}

static int exec_queue_del(struct db *db, struct store_req *r)
{
	return exec_del_by_name(db, r, "DELETE FROM queues WHERE name = ?");
}
static const struct op_desc op_queue_del = {"queue_del", exec_queue_del, false};

int cv_store_queue_del(struct cv_store *s, const char *name,
		       const struct cv_store_cb *cb)
{
	return submit_name(s, &op_queue_del, name, cb);
}

static int queue_row(struct db_row *row, void *arg)
{
	struct list_ctx *c = arg;
	struct cv_store_queue *q = res_row(c->res, sizeof(*q), &c->cap);
	if (!q)
		return -ENOMEM;
	q->name = RDUP(c, row, 0);
	q->strategy = RDUP(c, row, 1);
	q->params = RDUP(c, row, 2);
	return 0;
}

static int exec_queue_get(struct db *db, struct store_req *r)
{
	struct list_ctx c;
	int err = list_start(r, &c, CV_STORE_RES_QUEUES);
	if (err)
		return err;
	struct dbv k[] = {V_S(r->in.key.k1)};
	err = db_run(db,
		     "SELECT name, strategy, params FROM queues WHERE name = ?",
		     k, 1, queue_row, &c, NULL);
	if (!err && c.res->pub.n == 0)
		err = CV_ENOTFOUND;
	return list_end(r, &c, err);
}
static const struct op_desc op_queue_get = {"queue_get", exec_queue_get, false};

int cv_store_queue_get(struct cv_store *s, const char *name,
		       const struct cv_store_cb *cb)
{
	return submit_name(s, &op_queue_get, name, cb);
}

static int exec_queue_list(struct db *db, struct store_req *r)
{
	struct list_ctx c;
	int err = list_start(r, &c, CV_STORE_RES_QUEUES);
	if (err)
		return err;
	err = db_run(db,
		     "SELECT name, strategy, params FROM queues ORDER BY name "
		     "LIMIT 100000",
		     NULL, 0, queue_row, &c, NULL);
	return list_end(r, &c, err);
}
static const struct op_desc op_queue_list = {"queue_list", exec_queue_list,
					     false};

int cv_store_queue_list(struct cv_store *s, const struct cv_store_cb *cb)
{
	return submit_plain(s, &op_queue_list, cb);
}

/* ---- queued-call records
 * -------------------------------------------------------- */
#define QCALL_COLS                                                             \
	"id, queue, call_id, caller, priority, arrival_us, answer_us, "        \
	"end_us, "                                                             \
	"outcome, agent, wait_us, handle_us, overflow_target"

static int exec_qcall_insert(struct db *db, struct store_req *r)
{
	const struct cv_store_qcall *q = &r->in.qcall;
	struct dbv p[] = {V_S(q->id),
			  V_S(q->queue),
			  V_S(q->call_id),
			  V_S(q->caller),
			  V_I(q->priority),
			  V_I(q->arrival_us),
			  V_I(q->answer_us),
			  V_I(q->end_us),
			  V_I(q->outcome),
			  V_S(q->agent),
			  V_I(q->wait_us),
			  V_I(q->handle_us),
			  V_S(q->overflow_target)};
	int64_t ch = 0;
	int err = db_run(db,
			 "INSERT INTO queue_calls (" QCALL_COLS ") VALUES "
			 "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
			 "ON CONFLICT (id) DO NOTHING",
			 p, 13, NULL, NULL, &ch);
	return err ? err : res_set(r, CV_STORE_RES_NONE, ch);
}
static const struct op_desc op_qcall_insert = {"qcall_insert",
					       exec_qcall_insert, false};

int cv_store_qcall_insert(struct cv_store *s, const struct cv_store_qcall *q,
			  const struct cv_store_cb *cb)
{
	int err;
	if (!s || !q || (unsigned)q->outcome >= CV_STORE_OUTCOME_COUNT ||
	    q->arrival_us < 0 || q->wait_us < 0 || q->handle_us < 0)
		return -EINVAL;
	if ((err = check_name(q->queue)))
		return err;
	const char *texts[] = {q->id, q->call_id, q->caller, q->agent,
			       q->overflow_target};
	for (size_t i = 0; i < CV_ARRAY_SIZE(texts); i++)
		if (check_text(texts[i], CV_STORE_TEXT_MAX))
			return CV_ETOOBIG;
	struct store_req *r = req_new(&op_qcall_insert);
	if (!r)
		return -ENOMEM;
	struct cv_store_qcall *d = &r->in.qcall;
	*d = *q;
	char id[33];
	if (!q->id || !*q->id)
		make_id(id);
	d->id = ADUP(r, q->id && *q->id ? q->id : id);
	d->queue = ADUP(r, q->queue);
	d->call_id = ADUP(r, q->call_id);
	d->caller = ADUP(r, q->caller);
	d->agent = ADUP(r, q->agent);
	d->overflow_target = ADUP(r, q->overflow_target);
	r->key = key_of(d->id);
	return req_submit(s, r, cb);
}

static int qcall_row(struct db_row *row, void *arg)
{
	struct list_ctx *c = arg;
	struct cv_store_qcall *q = res_row(c->res, sizeof(*q), &c->cap);
	if (!q)
		return -ENOMEM;
	q->id = RDUP(c, row, 0);
	q->queue = RDUP(c, row, 1);
	q->call_id = RDUP(c, row, 2);
	q->caller = RDUP(c, row, 3);
	q->priority = (int32_t)db_i64(row, 4);
	q->arrival_us = db_i64(row, 5);
	q->answer_us = db_i64(row, 6);
	q->end_us = db_i64(row, 7);
	int64_t o = db_i64(row, 8);
	q->outcome = o >= 0 && o < CV_STORE_OUTCOME_COUNT
			     ? (enum cv_store_outcome)o
			     : CV_STORE_OUTCOME_ABANDONED;
	q->agent = RDUP(c, row, 9);
	q->wait_us = db_i64(row, 10);
	q->handle_us = db_i64(row, 11);
	q->overflow_target = RDUP(c, row, 12);
	return 0;
}

static int exec_qcall_list(struct db *db, struct store_req *r)
{
	struct list_ctx c;
	int err = list_start(r, &c, CV_STORE_RES_QCALLS);
	if (err)
		return err;
	const struct cv_store_query *q = &r->in.query;
	struct dbv p[] = {V_S(q->key),	    V_S(q->key),   V_I(q->since_us),
			  V_I(q->until_us), V_I(q->limit), V_I(q->offset)};
	err = db_run(
		db,
		"SELECT " QCALL_COLS " FROM queue_calls WHERE "
		"(CAST(? AS TEXT) = '' OR queue = ?) AND arrival_us >= ? "
		"AND arrival_us < ? ORDER BY arrival_us, id LIMIT ? OFFSET ?",
		p, 6, qcall_row, &c, NULL);
	return list_end(r, &c, err);
}
static const struct op_desc op_qcall_list = {"qcall_list", exec_qcall_list,
					     false};

int cv_store_qcall_list(struct cv_store *s, const struct cv_store_query *q,
			const struct cv_store_cb *cb)
{
	return query_submit(s, &op_qcall_list, q, cb);
}

/* ---- statistics
 * ------------------------------------------------------------------- */
static int exec_stat_put(struct db *db, struct store_req *r)
{
	const struct cv_store_stat *st = &r->in.stat;
	struct dbv p[] = {V_S(st->scope), V_S(st->name), V_I(st->at_us),
			  V_S(st->data)};
	int64_t ch = 0;
	int err = db_run(db,
			 "INSERT INTO stats (scope, name, at_us, data) VALUES "
			 "(?, ?, ?, ?) ON CONFLICT (scope, name, at_us) DO "
			 "UPDATE SET data = excluded.data",
			 p, 4, NULL, NULL, &ch);
	return err ? err : res_set(r, CV_STORE_RES_NONE, ch);
}
static const struct op_desc op_stat_put = {"stat_put", exec_stat_put, false};

int cv_store_stat_put(struct cv_store *s, const struct cv_store_stat *st,
		      const struct cv_store_cb *cb)
{
	int err;
	if (!s || !st || st->at_us < 0 || !st->data || !*st->data)
		return -EINVAL;
	if ((err = check_name(st->scope)) || (err = check_name(st->name)))
		return err;
	if (check_text(st->data, CV_STORE_TEXT_MAX))
		return CV_ETOOBIG;
	if ((err = check_json_object(st->data)))
		return err;
	struct store_req *r = req_new(&op_stat_put);
	if (!r)
		return -ENOMEM;
	struct cv_store_stat *d = &r->in.stat;
	d->scope = ADUP(r, st->scope);
	d->name = ADUP(r, st->name);
	d->at_us = st->at_us;
	d->data = ADUP(r, st->data);
	r->key = key_of(st->name);
	return req_submit(s, r, cb);
}

static int stat_row(struct db_row *row, void *arg)
{
	struct list_ctx *c = arg;
	struct cv_store_stat *st = res_row(c->res, sizeof(*st), &c->cap);
	if (!st)
		return -ENOMEM;
	st->scope = RDUP(c, row, 0);
	st->name = RDUP(c, row, 1);
	st->at_us = db_i64(row, 2);
	st->data = RDUP(c, row, 3);
	return 0;
}

static int exec_stat_list(struct db *db, struct store_req *r)
{
	struct list_ctx c;
	int err = list_start(r, &c, CV_STORE_RES_STATS);
	if (err)
		return err;
	const struct cv_store_query *q = &r->in.query;
	struct dbv p[] = {V_S(q->key),	 V_S(q->key),	   V_S(q->key2),
			  V_S(q->key2),	 V_I(q->since_us), V_I(q->until_us),
			  V_I(q->limit), V_I(q->offset)};
	err = db_run(db,
		     "SELECT scope, name, at_us, data FROM stats WHERE "
		     "(CAST(? AS TEXT) = '' OR scope = ?) AND "
		     "(CAST(? AS TEXT) = '' OR name = ?) AND at_us >= ? AND "
		     "at_us < ? ORDER BY at_us, scope, name LIMIT ? OFFSET ?",
		     p, 8, stat_row, &c, NULL);
	return list_end(r, &c, err);
}
static const struct op_desc op_stat_list = {"stat_list", exec_stat_list, false};

int cv_store_stat_list(struct cv_store *s, const struct cv_store_query *q,
		       const struct cv_store_cb *cb)
{
	return query_submit(s, &op_stat_list, q, cb);
}
