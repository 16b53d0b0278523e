/* PostgreSQL backend (libpq): one connection per store thread, prepared
 * statements named after their slot in a per-connection cache. The SQL is
 * written with '?' placeholders (shared with SQLite) and rewritten to $n. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "store_int.h"

#define STMT_CACHE 128
#define PARAMS_MAX 32

struct pg {
	PGconn *conn;
	const char *cache[STMT_CACHE];
};

static void pg_set_err(struct db *db, const char *msg)
{
	snprintf(db->errmsg, sizeof(db->errmsg), "%s", msg ? msg : "error");
	/* libpq messages end with a newline */
	size_t n = strlen(db->errmsg);
	while (n && (db->errmsg[n - 1] == '\n' || db->errmsg[n - 1] == ' '))
		db->errmsg[--n] = '\0';
}

/* Connection-level trouble means the store must fail fast and reconnect:
 * a broken connection, SQLSTATE class 08 (connection exception), 57P
 * (operator intervention: shutdown) or 53 (insufficient resources: disk
 * full, out of memory). */
static void pg_classify(struct db *db, PGresult *res)
{
	struct pg *g = db->impl;
	if (!g->conn || PQstatus(g->conn) != CONNECTION_OK) {
		db->down = true;
		return;
	}
	const char *state =
		res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	if (!state || strncmp(state, "08", 2) == 0 ||
	    strncmp(state, "57P", 3) == 0 || strncmp(state, "53", 2) == 0)
		db->down = true;
}

static void pg_disconnect(struct db *db, bool final)
{
	struct pg *g = db->impl;
	if (!g)
		return;
	if (g->conn)
		PQfinish(g->conn);
	g->conn = NULL;
	memset(g->cache, 0, sizeof(g->cache));
	if (final) {
		free(g);
		db->impl = NULL;
	}
}

static int pg_connect(struct db *db)
{
	struct pg *g = db->impl;
	if (!g) {
		g = calloc(1, sizeof(*g));
		if (!g)
			return -ENOMEM;
		db->impl = g;
	}
	db->errmsg[0] = '\0';
	if (g->conn)
		return 0;
	char timeout[16];
	snprintf(timeout, sizeof(timeout), "%u", db->connect_timeout_s);
	/* Later keywords override the expanded URL, earlier ones are
	 * defaults: the URL may set its own connect_timeout. Keepalives
	 * notice a vanished server on an idle connection. */
	const char *const keys[] = {"connect_timeout",	"keepalives",
				    "keepalives_idle",	"keepalives_interval",
				    "keepalives_count", "application_name",
				    "dbname",		NULL};
	const char *const vals[] = {timeout, "1",     "10",    "5",
				    "3",     "cvoip", db->url, NULL};
	g->conn = PQconnectdbParams(keys, vals, 1);
	if (!g->conn) {
		pg_set_err(db, "out of memory");
		return CV_EDB;
	}
	if (PQstatus(g->conn) != CONNECTION_OK) {
		pg_set_err(db, PQerrorMessage(g->conn));
		PQfinish(g->conn);
		g->conn = NULL;
		return CV_EDB;
	}
	/* Notices (e.g. "relation already exists, skipping") stay quiet. */
	PGresult *res = PQexec(g->conn, "SET client_min_messages = warning");
	PQclear(res);
	return 0;
}

static int pg_exec(struct db *db, const char *sql)
{
	struct pg *g = db->impl;
	if (!g || !g->conn) {
		db->down = true;
		pg_set_err(db, "not connected");
		return CV_EDB;
	}
	PGresult *res = PQexec(g->conn, sql);
	ExecStatusType st = PQresultStatus(res);
	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
		pg_set_err(db, PQresultErrorMessage(res)[0]
				       ? PQresultErrorMessage(res)
				       : PQerrorMessage(g->conn));
		pg_classify(db, res);
		PQclear(res);
		return CV_EDB;
	}
	PQclear(res);
	return 0;
}

/* '?' -> $1, $2, ... outside quoted text. */
static int pg_rewrite(const char *sql, char *out, size_t n)
{
	size_t o = 0;
	int idx = 0;
	bool quote = false;
	for (const char *p = sql; *p; p++) {
		if (*p == '\'')
			quote = !quote;
		if (*p == '?' && !quote) {
			int w = snprintf(out + o, n - o, "$%d", ++idx);
			if (w < 0 || (size_t)w >= n - o)
				return -ENOSPC;
			o += (size_t)w;
			continue;
		}
		if (o + 1 >= n)
			return -ENOSPC;
		out[o++] = *p;
	}
	out[o] = '\0';
	return idx;
}

static int pg_prepare(struct db *db, const char *sql, char name[16])
{
	struct pg *g = db->impl;
	size_t slot = (size_t)(((uintptr_t)sql >> 3) % STMT_CACHE);
	for (int i = 0; i < STMT_CACHE; i++) {
		size_t k = (slot + (size_t)i) % STMT_CACHE;
		snprintf(name, 16, "cv%zu", k);
		if (g->cache[k] == sql)
			return 0;
		if (g->cache[k])
			continue;
		char text[8192];
		if (pg_rewrite(sql, text, sizeof(text)) < 0) {
			pg_set_err(db, "statement too long");
			return CV_EDB;
		}
		PGresult *res = PQprepare(g->conn, name, text, 0, NULL);
		if (PQresultStatus(res) != PGRES_COMMAND_OK) {
			pg_set_err(db, PQresultErrorMessage(res));
			pg_classify(db, res);
			PQclear(res);
			return CV_EDB;
		}
		PQclear(res);
		g->cache[k] = sql;
		return 0;
	}
	pg_set_err(db, "statement cache full");
	return CV_EDB;
}

static int pg_run(struct db *db, const char *sql, const struct dbv *p, int np,
		  db_row_fn *fn, void *arg, int64_t *changes)
{
	struct pg *g = db->impl;
	if (!g || !g->conn) {
		db->down = true;
		return CV_EDB;
	}
	if (np > PARAMS_MAX)
		return -EINVAL;
	char name[16];
	int err = pg_prepare(db, sql, name);
	if (err)
		return err;
	char nums[PARAMS_MAX][32];
	const char *vals[PARAMS_MAX];
	for (int i = 0; i < np; i++) {
		switch (p[i].t) {
		case DBV_NULL:
			vals[i] = NULL;
			break;
		case DBV_I64:
			snprintf(nums[i], sizeof(nums[i]), "%" PRId64, p[i].i);
			vals[i] = nums[i];
			break;
		case DBV_DBL:
			snprintf(nums[i], sizeof(nums[i]), "%.17g", p[i].d);
			vals[i] = nums[i];
			break;
		case DBV_TEXT:
			vals[i] = p[i].s;
			break;
		}
	}
	PGresult *res = PQexecPrepared(g->conn, name, np, vals, NULL, NULL, 0);
	ExecStatusType st = PQresultStatus(res);
	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
		pg_set_err(db, PQresultErrorMessage(res)[0]
				       ? PQresultErrorMessage(res)
				       : PQerrorMessage(g->conn));
		pg_classify(db, res);
		PQclear(res);
		return CV_EDB;
	}
	err = 0;
	if (fn) {
		struct db_row row = {.db = db, .h = res};
		int nrows = PQntuples(res);
		for (row.row = 0; row.row < nrows && !err; row.row++)
			err = fn(&row, arg);
	}
	if (changes) {
		const char *t = PQcmdTuples(res);
		*changes = t && *t ? strtoll(t, NULL, 10) : 0;
	}
	PQclear(res);
	return err;
}

static const char *pg_text(struct db_row *r, int i)
{
	return PQgetvalue(r->h, r->row, i);
}

static int64_t pg_i64(struct db_row *r, int i)
{
	return strtoll(PQgetvalue(r->h, r->row, i), NULL, 10);
}

static double pg_dbl(struct db_row *r, int i)
{
	return strtod(PQgetvalue(r->h, r->row, i), NULL);
}

const struct db_vt db_pg_vt = {
	.name = "postgresql",
	.connect = pg_connect,
	.disconnect = pg_disconnect,
	.exec = pg_exec,
	.run = pg_run,
	.col_text = pg_text,
	.col_i64 = pg_i64,
	.col_dbl = pg_dbl,
	.begin_sql = "BEGIN",
	/* Two nodes starting together must not both migrate. */
	.begin_exclusive_sql =
		"BEGIN; LOCK TABLE schema_version IN EXCLUSIVE MODE",
};
