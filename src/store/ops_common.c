/* Helpers shared by the operation files. */
#include <string.h>

#include "store_int.h"

int res_set(struct store_req *r, enum cv_store_res_kind kind, int64_t changes)
{
	struct res_int *res = res_new(kind);
	if (!res)
		return -ENOMEM;
	res->pub.changes = changes;
	cv_mem_unref(r->res);
	r->res = &res->pub;
	return 0;
}

int list_start(struct store_req *r, struct list_ctx *c,
	       enum cv_store_res_kind kind)
{
	c->cap = 0;
	c->res = res_new(kind);
	if (!c->res)
		return -ENOMEM;
	cv_mem_unref(r->res);
	r->res = &c->res->pub;
	return 0;
}

int list_end(struct store_req *r, struct list_ctx *c, int err)
{
	if (!err && c->res->ar.err)
		err = c->res->ar.err;
	if (err)
		r->res = cv_mem_unref(r->res);
	return err;
}

uint64_t key_of(const char *s)
{
	return s ? cv_hash(s, strlen(s)) : 0;
}

int query_copy(struct store_req *r, const struct cv_store_query *q)
{
	struct cv_store_query def = {0};
	if (!q)
		q = &def;
	if (check_text(q->key, CV_STORE_TEXT_MAX) ||
	    check_text(q->key2, CV_STORE_TEXT_MAX))
		return CV_ETOOBIG;
	if (q->limit > CV_STORE_LIMIT_MAX || q->since_us < 0 || q->until_us < 0)
		return -EINVAL;
	r->in.query = *q;
	r->in.query.key = ADUP(r, q->key);
	r->in.query.key2 = ADUP(r, q->key2);
	if (!q->limit)
		r->in.query.limit = CV_STORE_LIMIT_DEFAULT;
	/* 0 = unbounded: INT64_MAX keeps one static SQL text per query. */
	if (!q->until_us)
		r->in.query.until_us = INT64_MAX;
	return 0;
}

int check_name(const char *s)
{
	if (!s || !*s)
		return -EINVAL;
	return check_text(s, CV_STORE_NAME_MAX);
}

/* Deletes by name from the table named in the op (one SQL per table). */
int exec_del_by_name(struct db *db, struct store_req *r, const char *sql)
{
	struct dbv p[] = {V_S(r->in.key.k1)};
	int64_t ch = 0;
	int err = db_run(db, sql, p, 1, NULL, NULL, &ch);
	if (err)
		return err;
	return ch ? res_set(r, CV_STORE_RES_NONE, ch) : CV_ENOTFOUND;
}

int submit_name(struct cv_store *s, const struct op_desc *op, const char *name,
		const struct cv_store_cb *cb)
{
	if (!s)
		return -EINVAL;
	int err = check_name(name);
	if (err)
		return err;
	struct store_req *r = req_new(op);
	if (!r)
		return -ENOMEM;
	r->in.key.k1 = ADUP(r, name);
	r->key = key_of(name);
	return req_submit(s, r, cb);
}

int submit_plain(struct cv_store *s, const struct op_desc *op,
		 const struct cv_store_cb *cb)
{
	if (!s)
		return -EINVAL;
	struct store_req *r = req_new(op);
	if (!r)
		return -ENOMEM;
	return req_submit(s, r, cb);
}

int query_submit(struct cv_store *s, const struct op_desc *op,
		 const struct cv_store_query *q, const struct cv_store_cb *cb)
{
	if (!s)
		return -EINVAL;
	struct store_req *r = req_new(op);
	if (!r)
		return -ENOMEM;
	int err = query_copy(r, q);
	if (err) {
		req_free(r);
		return err;
	}
	return req_submit(s, r, cb);
}
