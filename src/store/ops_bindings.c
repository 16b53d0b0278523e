/* Registrar bindings: RFC 3261 §10.3, RFC 3327 Path, RFC 5626 flows. */
#include <string.h>

#include "store_int.h"

#define BIND_COLS                                                              \
	"aor, contact, instance_id, reg_id, path, received, transport, "       \
	"expires_us, q, call_id, cseq, user_agent, updated_us"

static int binding_row(struct db_row *row, void *arg)
{
	struct list_ctx *c = arg;
	struct cv_store_binding *b = res_row(c->res, sizeof(*b), &c->cap);
	if (!b)
		return -ENOMEM;
	b->aor = RDUP(c, row, 0);
	b->contact = RDUP(c, row, 1);
	b->instance_id = RDUP(c, row, 2);
	b->reg_id = (uint32_t)db_i64(row, 3);
	b->path = RDUP(c, row, 4);
	b->received = RDUP(c, row, 5);
	b->transport = RDUP(c, row, 6);
	b->expires_us = db_i64(row, 7);
	b->q = (uint16_t)db_i64(row, 8);
	b->call_id = RDUP(c, row, 9);
	b->cseq = (uint32_t)db_i64(row, 10);
	b->user_agent = RDUP(c, row, 11);
	b->updated_us = db_i64(row, 12);
	return 0;
}

/* ---- upsert ----------------------------------------------------------------
 */
static int exec_binding_upsert(struct db *db, struct store_req *r)
{
	const struct cv_store_binding *b = &r->in.binding;
	int64_t ch = 0, gone = 0;
	int err;
	if (b->instance_id[0]) {
		/* RFC 5626 §6: a REGISTER with the same instance and reg-id
		 * replaces that flow's binding, whatever its Contact text. */
		struct dbv k[] = {V_S(b->aor), V_S(b->instance_id),
				  V_I(b->reg_id), V_S(b->contact)};
		err = db_run(db,
			     "DELETE FROM bindings WHERE aor = ? AND "
			     "instance_id = ? AND reg_id = ? AND contact <> ?",
			     k, 4, NULL, NULL, &gone);
		if (err)
			return err;
	}
	struct dbv p[] = {
		V_S(b->aor),	   V_S(b->contact),    V_S(b->instance_id),
		V_I(b->reg_id),	   V_S(b->path),       V_S(b->received),
		V_S(b->transport), V_I(b->expires_us), V_I(b->q),
		V_S(b->call_id),   V_I(b->cseq),       V_S(b->user_agent),
		V_I(b->updated_us)};
	err = db_run(db,
		     "INSERT INTO bindings (" BIND_COLS ") VALUES "
		     "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
		     "ON CONFLICT (aor, contact) DO UPDATE SET "
		     "instance_id = excluded.instance_id, "
		     "reg_id = excluded.reg_id, path = excluded.path, "
		     "received = excluded.received, "
		     "transport = excluded.transport, "
		     "expires_us = excluded.expires_us, q = excluded.q, "
		     "call_id = excluded.call_id, cseq = excluded.cseq, "
		     "user_agent = excluded.user_agent, "
		     "updated_us = excluded.updated_us",
		     p, 13, NULL, NULL, &ch);
	return err ? err : res_set(r, CV_STORE_RES_NONE, ch + gone);
}
static const struct op_desc op_binding_upsert = {"binding_upsert",
						 exec_binding_upsert, false};

int cv_store_binding_upsert(struct cv_store *s,
			    const struct cv_store_binding *b,
			    const struct cv_store_cb *cb)
{
	if (!s || !b || !b->aor || !*b->aor || !b->contact || !*b->contact ||
	    b->q > 1000 || b->expires_us < 0)
		return -EINVAL;
	const char *texts[] = {b->aor,	   b->contact,	 b->instance_id,
			       b->path,	   b->received,	 b->transport,
			       b->call_id, b->user_agent};
	for (size_t i = 0; i < CV_ARRAY_SIZE(texts); i++)
		if (check_text(texts[i], CV_STORE_TEXT_MAX))
			return CV_ETOOBIG;
	struct store_req *r = req_new(&op_binding_upsert);
	if (!r)
		return -ENOMEM;
	struct cv_store_binding *d = &r->in.binding;
	*d = *b;
	d->aor = ADUP(r, b->aor);
	d->contact = ADUP(r, b->contact);
	d->instance_id = ADUP(r, b->instance_id);
	d->path = ADUP(r, b->path);
	d->received = ADUP(r, b->received);
	d->transport = ADUP(r, b->transport);
	d->call_id = ADUP(r, b->call_id);
	d->user_agent = ADUP(r, b->user_agent);
	d->updated_us = (int64_t)cv_clock_wall_us();
	r->key = key_of(b->aor);
	return req_submit(s, r, cb);
}

/* ---- delete -----------------------------------------------------------------
 */
static int exec_binding_del(struct db *db, struct store_req *r)
{
	struct dbv p[] = {V_S(r->in.key.k1), V_S(r->in.key.k2),
			  V_S(r->in.key.k2)};
	int64_t ch = 0;
	int err = db_run(db,
			 "DELETE FROM bindings WHERE aor = ? AND "
			 "(CAST(? AS TEXT) = '' OR contact = ?)",
			 p, 3, NULL, NULL, &ch);
	if (err)
		return err;
	return ch ? res_set(r, CV_STORE_RES_NONE, ch) : CV_ENOTFOUND;
}
static const struct op_desc op_binding_del = {"binding_del", exec_binding_del,
					      false};

int cv_store_binding_del(struct cv_store *s, const char *aor,
			 const char *contact, const struct cv_store_cb *cb)
{
	if (!s || !aor || !*aor)
		return -EINVAL;
	if (check_text(aor, CV_STORE_TEXT_MAX) ||
	    check_text(contact, CV_STORE_TEXT_MAX))
		return CV_ETOOBIG;
	struct store_req *r = req_new(&op_binding_del);
	if (!r)
		return -ENOMEM;
	r->in.key.k1 = ADUP(r, aor);
	r->in.key.k2 = ADUP(r, contact);
	r->key = key_of(aor);
	return req_submit(s, r, cb);
}

/* ---- lists ------------------------------------------------------------------
 */
static int exec_binding_list_aor(struct db *db, struct store_req *r)
{
	struct list_ctx c;
	int err = list_start(r, &c, CV_STORE_RES_BINDINGS);
	if (err)
		return err;
	struct dbv p[] = {V_S(r->in.key.k1), V_I(r->in.key.i1)};
	err = db_run(db,
		     "SELECT " BIND_COLS " FROM bindings WHERE aor = ? AND "
		     "expires_us > ? ORDER BY q DESC, updated_us DESC, contact "
		     "LIMIT 1000",
		     p, 2, binding_row, &c, NULL);
	return list_end(r, &c, err);
}
static const struct op_desc op_binding_list_aor = {
	"binding_list_aor", exec_binding_list_aor, false};

int cv_store_binding_list_aor(struct cv_store *s, const char *aor,
			      const struct cv_store_cb *cb)
{
	if (!s || !aor || !*aor)
		return -EINVAL;
	if (check_text(aor, CV_STORE_TEXT_MAX))
		return CV_ETOOBIG;
	struct store_req *r = req_new(&op_binding_list_aor);
	if (!r)
		return -ENOMEM;
	r->in.key.k1 = ADUP(r, aor);
	r->in.key.i1 = (int64_t)cv_clock_wall_us();
	r->key = key_of(aor);
	return req_submit(s, r, cb);
}

static int exec_binding_list(struct db *db, struct store_req *r)
{
	struct list_ctx c;
	int err = list_start(r, &c, CV_STORE_RES_BINDINGS);
	if (err)
		return err;
	const struct cv_store_query *q = &r->in.query;
	struct dbv p[] = {V_I(q->since_us), V_I(q->until_us), V_I(q->limit),
			  V_I(q->offset)};
	err = db_run(
		db,
		"SELECT " BIND_COLS " FROM bindings WHERE expires_us >= ? "
		"AND expires_us < ? ORDER BY aor, contact LIMIT ? OFFSET ?",
		p, 4, binding_row, &c, NULL);
	return list_end(r, &c, err);
}
static const struct op_desc op_binding_list = {"binding_list",
					       exec_binding_list, false};

int cv_store_binding_list(struct cv_store *s, const struct cv_store_query *q,
			  const struct cv_store_cb *cb)
{
	return query_submit(s, &op_binding_list, q, cb);
}

/* ---- purge ------------------------------------------------------------------
 */
static int exec_binding_purge(struct db *db, struct store_req *r)
{
	struct dbv p[] = {V_I(r->in.key.i1)};
	int64_t ch = 0;
	int err = db_run(db, "DELETE FROM bindings WHERE expires_us <= ?", p, 1,
			 NULL, NULL, &ch);
	return err ? err : res_set(r, CV_STORE_RES_NONE, ch);
}
static const struct op_desc op_binding_purge = {"binding_purge",
						exec_binding_purge, false};

int cv_store_binding_purge(struct cv_store *s, int64_t now_us,
			   const struct cv_store_cb *cb)
{
	if (!s)
		return -EINVAL;
	struct store_req *r = req_new(&op_binding_purge);
	if (!r)
		return -ENOMEM;
	r->in.key.i1 = now_us;
	return req_submit(s, r, cb);
}
