/* Users: HA1 per digest algorithm (RFC 8760), never the password. */
#include <string.h>

#include <openssl/evp.h>

#include "store_int.h"

static const char *const alg_names[CV_STORE_ALG_COUNT] = {"MD5", "SHA-256",
							  "SHA-512-256"};

const char *cv_store_alg_name(enum cv_store_alg alg)
{
	return (unsigned)alg < CV_STORE_ALG_COUNT ? alg_names[alg] : "?";
}

/* RFC 2617 §3.2.2.2 and RFC 8760 §3: A1 = username ":" realm ":" password,
 * HA1 = lower-case hex of H(A1). */
int cv_store_ha1(enum cv_store_alg alg, const char *user, const char *realm,
		 const char *password, char *out)
{
	if (!user || !realm || !password || !out)
		return -EINVAL;
	const EVP_MD *md;
	switch (alg) {
	case CV_STORE_ALG_MD5:
		md = EVP_md5();
		break;
	case CV_STORE_ALG_SHA256:
		md = EVP_sha256();
		break;
	case CV_STORE_ALG_SHA512_256:
		md = EVP_sha512_256();
		break;
	default:
		return -EINVAL;
	}
	if (!md)
		return CV_EUNSUPP;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	if (!ctx)
		return -ENOMEM;
	unsigned char dig[EVP_MAX_MD_SIZE];
	unsigned int n = 0;
	int ok = EVP_DigestInit_ex(ctx, md, NULL) &&
		 EVP_DigestUpdate(ctx, user, strlen(user)) &&
		 EVP_DigestUpdate(ctx, ":", 1) &&
		 EVP_DigestUpdate(ctx, realm, strlen(realm)) &&
		 EVP_DigestUpdate(ctx, ":", 1) &&
		 EVP_DigestUpdate(ctx, password, strlen(password)) &&
		 EVP_DigestFinal_ex(ctx, dig, &n);
	EVP_MD_CTX_free(ctx);
	if (!ok || n * 2 >= CV_STORE_HA1_HEX_MAX)
		return CV_EUNSUPP;
	static const char hex[] = "0123456789abcdef";
	for (unsigned i = 0; i < n; i++) {
		out[2 * i] = hex[dig[i] >> 4];
		out[2 * i + 1] = hex[dig[i] & 15];
	}
	out[2 * n] = '\0';
	return 0;
}

/* ---- add -------------------------------------------------------------------
 */
static int exec_user_add(struct db *db, struct store_req *r)
{
	struct dbv p[] = {V_S(r->in.key.k1),	 V_S(r->in.key.k2),
			  V_S(r->in.key.ha1[0]), V_S(r->in.key.ha1[1]),
			  V_S(r->in.key.ha1[2]), V_I(r->in.key.i1)};
	int64_t ch = 0;
	int err =
		db_run(db,
		       "INSERT INTO users (name, realm, ha1_md5, ha1_sha256, "
		       "ha1_sha512_256, created_us) VALUES (?, ?, ?, ?, ?, ?) "
		       "ON CONFLICT (name, realm) DO UPDATE SET "
		       "ha1_md5 = excluded.ha1_md5, "
		       "ha1_sha256 = excluded.ha1_sha256, "
		       "ha1_sha512_256 = excluded.ha1_sha512_256",
		       p, 6, NULL, NULL, &ch);
	return err ? err : res_set(r, CV_STORE_RES_NONE, ch);
}
static const struct op_desc op_user_add = {"user_add", exec_user_add, false};

int cv_store_user_add(struct cv_store *s, const char *name, const char *realm,
		      const char *password, const struct cv_store_cb *cb)
{
	int err;
	if (!s || !password)
		return -EINVAL;
	if ((err = check_name(name)) || (err = check_name(realm)) ||
	    (err = check_text(password, CV_STORE_TEXT_MAX)))
		return err;
	struct store_req *r = req_new(&op_user_add);
	if (!r)
		return -ENOMEM;
	for (int a = 0; a < CV_STORE_ALG_COUNT; a++) {
		char hex[CV_STORE_HA1_HEX_MAX];
		err = cv_store_ha1((enum cv_store_alg)a, name, realm, password,
				   hex);
		if (err) {
			req_free(r);
			return err;
		}
		r->in.key.ha1[a] = ADUP(r, hex);
	}
	r->in.key.k1 = ADUP(r, name);
	r->in.key.k2 = ADUP(r, realm);
	r->in.key.i1 = (int64_t)cv_clock_wall_us();
	r->key = key_of(name);
	return req_submit(s, r, cb);
}

/* ---- del -------------------------------------------------------------------
 */
static int exec_user_del(struct db *db, struct store_req *r)
{
	struct dbv p[] = {V_S(r->in.key.k1), V_S(r->in.key.k2)};
	int64_t ch = 0;
	int err = db_run(db, "DELETE FROM users WHERE name = ? AND realm = ?",
			 p, 2, NULL, NULL, &ch);
	if (err)
		return err;
	return ch ? res_set(r, CV_STORE_RES_NONE, ch) : CV_ENOTFOUND;
}
static const struct op_desc op_user_del = {"user_del", exec_user_del, false};

static int submit_name_realm(struct cv_store *s, const struct op_desc *op,
			     const char *name, const char *realm,
			     const struct cv_store_cb *cb)
{
	int err;
	if (!s)
		return -EINVAL;
	if ((err = check_name(name)) || (err = check_name(realm)))
		return err;
	struct store_req *r = req_new(op);
	if (!r)
		return -ENOMEM;
	r->in.key.k1 = ADUP(r, name);
	r->in.key.k2 = ADUP(r, realm);
	r->key = key_of(name);
	return req_submit(s, r, cb);
}

int cv_store_user_del(struct cv_store *s, const char *name, const char *realm,
		      const struct cv_store_cb *cb)
{
	return submit_name_realm(s, &op_user_del, name, realm, cb);
}

/* ---- get / list ------------------------------------------------------------
 */
static int user_row(struct db_row *row, void *arg)
{
	struct list_ctx *c = arg;
	struct cv_store_user *u = res_row(c->res, sizeof(*u), &c->cap);
	if (!u)
		return -ENOMEM;
	u->name = RDUP(c, row, 0);
	u->realm = RDUP(c, row, 1);
	for (int a = 0; a < CV_STORE_ALG_COUNT; a++)
		u->ha1[a] = RDUP(c, row, 2 + a);
	u->created_us = db_i64(row, 5);
	return 0;
}

#define USER_COLS "name, realm, ha1_md5, ha1_sha256, ha1_sha512_256, created_us"

static int exec_user_get(struct db *db, struct store_req *r)
{
	struct list_ctx c;
	int err = list_start(r, &c, CV_STORE_RES_USERS);
	if (err)
		return err;
	struct dbv p[] = {V_S(r->in.key.k1), V_S(r->in.key.k2)};
	err = db_run(db,
		     "SELECT " USER_COLS
		     " FROM users WHERE name = ? AND realm = ?",
		     p, 2, user_row, &c, NULL);
	if (!err && c.res->pub.n == 0)
		err = CV_ENOTFOUND;
	return list_end(r, &c, err);
}
static const struct op_desc op_user_get = {"user_get", exec_user_get, false};

int cv_store_user_get(struct cv_store *s, const char *name, const char *realm,
		      const struct cv_store_cb *cb)
{
	return submit_name_realm(s, &op_user_get, name, realm, cb);
}

static int exec_user_list(struct db *db, struct store_req *r)
{
	struct list_ctx c;
	int err = list_start(r, &c, CV_STORE_RES_USERS);
	if (err)
		return err;
	const struct cv_store_query *q = &r->in.query;
	struct dbv p[] = {V_S(q->key), V_S(q->key), V_I(q->limit),
			  V_I(q->offset)};
	err = db_run(db,
		     "SELECT " USER_COLS " FROM users "
		     "WHERE (CAST(? AS TEXT) = '' OR realm = ?) "
		     "ORDER BY realm, name LIMIT ? OFFSET ?",
		     p, 4, user_row, &c, NULL);
	return list_end(r, &c, err);
}
static const struct op_desc op_user_list = {"user_list", exec_user_list, false};

int cv_store_user_list(struct cv_store *s, const struct cv_store_query *q,
		       const struct cv_store_cb *cb)
{
	return query_submit(s, &op_user_list, q, cb);
}
