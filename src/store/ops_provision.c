/* Trunks and routes provisioned from configuration. */
#include <string.h>

#include "store_int.h"

/* ---- trunks -----------------------------------------------------------------
 */
#define TRUNK_COLS                                                             \
	"name, host, port, transport, username, password, realm, "             \
	"do_register, expires_s"

static int exec_trunk_upsert(struct db *db, struct store_req *r)
{
	const struct cv_store_trunk *t = &r->in.trunk;
	struct dbv p[] = {
		V_S(t->name),	   V_S(t->host),	V_I(t->port),
		V_S(t->transport), V_S(t->username),	V_S(t->password),
		V_S(t->realm),	   V_I(t->do_register), V_I(t->expires_s)};
	int64_t ch = 0;
	int err =
		db_run(db,
		       "INSERT INTO trunks (" TRUNK_COLS ") VALUES "
		       "(?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (name) DO "
		       "UPDATE SET host = excluded.host, port = excluded.port, "
		       "transport = excluded.transport, "
		       "username = excluded.username, "
		       "password = excluded.password, realm = excluded.realm, "
		       "do_register = excluded.do_register, "
		       "expires_s = excluded.expires_s",
		       p, 9, NULL, NULL, &ch);
	return err ? err : res_set(r, CV_STORE_RES_NONE, ch);
}
static const struct op_desc op_trunk_upsert = {"trunk_upsert",
					       exec_trunk_upsert, false};

int cv_store_trunk_upsert(struct cv_store *s, const struct cv_store_trunk *t,
			  const struct cv_store_cb *cb)
{
	int err;
	if (!s || !t || !t->host || !*t->host)
		return -EINVAL;
	if ((err = check_name(t->name)))
		return err;
	const char *texts[] = {t->host, t->transport, t->username, t->password,
			       t->realm};
	for (size_t i = 0; i < CV_ARRAY_SIZE(texts); i++)
		if (check_text(texts[i], CV_STORE_NAME_MAX))
			return CV_ETOOBIG;
	struct store_req *r = req_new(&op_trunk_upsert);
	if (!r)
		return -ENOMEM;
	struct cv_store_trunk *d = &r->in.trunk;
	*d = *t;
	d->name = ADUP(r, t->name);
	d->host = ADUP(r, t->host);
	d->transport = ADUP(r, t->transport);
	d->username = ADUP(r, t->username);
	d->password = ADUP(r, t->password);
	d->realm = ADUP(r, t->realm);
	r->key = key_of(t->name);
	return req_submit(s, r, cb);
}

static int exec_trunk_del(struct db *db, struct store_req *r)
{
	return exec_del_by_name(db, r, "DELETE FROM trunks WHERE name = ?");
}
static const struct op_desc op_trunk_del = {"trunk_del", exec_trunk_del, false};

int cv_store_trunk_del(struct cv_store *s, const char *name,
		       const struct cv_store_cb *cb)
{
	return submit_name(s, &op_trunk_del, name, cb);
}

static int trunk_row(struct db_row *row, void *arg)
{
	struct list_ctx *c = arg;
	struct cv_store_trunk *t = res_row(c->res, sizeof(*t), &c->cap);
	if (!t)
		return -ENOMEM;
	t->name = RDUP(c, row, 0);
	t->host = RDUP(c, row, 1);
	t->port = (uint16_t)db_i64(row, 2);
	t->transport = RDUP(c, row, 3);
	t->username = RDUP(c, row, 4);
	t->password = RDUP(c, row, 5);
	t->realm = RDUP(c, row, 6);
	t->do_register = db_i64(row, 7) != 0;
	t->expires_s = (uint32_t)db_i64(row, 8);
	return 0;
}

static int exec_trunk_list(struct db *db, struct store_req *r)
{
	struct list_ctx c;
	int err = list_start(r, &c, CV_STORE_RES_TRUNKS);
	if (err)
		return err;
	err = db_run(db,
		     "SELECT " TRUNK_COLS
		     " FROM trunks ORDER BY name LIMIT 100000",
		     NULL, 0, trunk_row, &c, NULL);
	return list_end(r, &c, err);
}
static const struct op_desc op_trunk_list = {"trunk_list", exec_trunk_list,
					     false};

int cv_store_trunk_list(struct cv_store *s, const struct cv_store_cb *cb)
{
	return submit_plain(s, &op_trunk_list, cb);
}

/* ---- routes -----------------------------------------------------------------
 */
#define ROUTE_COLS "name, prefix, pattern, trunk, priority, media"

static int exec_route_upsert(struct db *db, struct store_req *r)
{
	const struct cv_store_route *t = &r->in.route;
	struct dbv p[] = {V_S(t->name),	 V_S(t->prefix),   V_S(t->pattern),
			  V_S(t->trunk), V_I(t->priority), V_S(t->media)};
	int64_t ch = 0;
	int err =
		db_run(db,
		       "INSERT INTO routes (" ROUTE_COLS ") VALUES "
		       "(?, ?, ?, ?, ?, ?) ON CONFLICT (name) DO UPDATE SET "
		       "prefix = excluded.prefix, pattern = excluded.pattern, "
		       "trunk = excluded.trunk, priority = excluded.priority, "
		       "media = excluded.media",
		       p, 6, NULL, NULL, &ch);
	return err ? err : res_set(r, CV_STORE_RES_NONE, ch);
}
static const struct op_desc op_route_upsert = {"route_upsert",
					       exec_route_upsert, false};

int cv_store_route_upsert(struct cv_store *s, const struct cv_store_route *t,
			  const struct cv_store_cb *cb)
{
	int err;
	if (!s || !t)
		return -EINVAL;
	if ((err = check_name(t->name)) || (err = check_name(t->trunk)))
		return err;
	if (t->media && *t->media && strcmp(t->media, "relay") != 0 &&
	    strcmp(t->media, "direct") != 0)
		return -EINVAL;
	if (check_text(t->prefix, CV_STORE_NAME_MAX) ||
	    check_text(t->pattern, CV_STORE_TEXT_MAX))
		return CV_ETOOBIG;
	struct store_req *r = req_new(&op_route_upsert);
	if (!r)
		return -ENOMEM;
	struct cv_store_route *d = &r->in.route;
	*d = *t;
	d->name = ADUP(r, t->name);
	d->prefix = ADUP(r, t->prefix);
	d->pattern = ADUP(r, t->pattern);
	d->trunk = ADUP(r, t->trunk);
	d->media = ADUP(r, t->media && *t->media ? t->media : "relay");
	r->key = key_of(t->name);
	return req_submit(s, r, cb);
}

static int exec_route_del(struct db *db, struct store_req *r)
{
	return exec_del_by_name(db, r, "DELETE FROM routes WHERE name = ?");
}
static const struct op_desc op_route_del = {"route_del", exec_route_del, false};

int cv_store_route_del(struct cv_store *s, const char *name,
		       const struct cv_store_cb *cb)
{
	return submit_name(s, &op_route_del, name, cb);
}

static int route_row(struct db_row *row, void *arg)
{
	struct list_ctx *c = arg;
	struct cv_store_route *t = res_row(c->res, sizeof(*t), &c->cap);
	if (!t)
		return -ENOMEM;
	t->name = RDUP(c, row, 0);
	t->prefix = RDUP(c, row, 1);
	t->pattern = RDUP(c, row, 2);
	t->trunk = RDUP(c, row, 3);
	t->priority = (int32_t)db_i64(row, 4);
	t->media = RDUP(c, row, 5);
	return 0;
}

static int exec_route_list(struct db *db, struct store_req *r)
{
	struct list_ctx c;
	int err = list_start(r, &c, CV_STORE_RES_ROUTES);
	if (err)
		return err;
	err = db_run(db,
		     "SELECT " ROUTE_COLS
		     " FROM routes ORDER BY priority, name "
		     "LIMIT 100000",
		     NULL, 0, route_row, &c, NULL);
	return list_end(r, &c, err);
}
static const struct op_desc op_route_list = {"route_list", exec_route_list,
					     false};

int cv_store_route_list(struct cv_store *s, const struct cv_store_cb *cb)
{
	return submit_plain(s, &op_route_list, cb);
}
