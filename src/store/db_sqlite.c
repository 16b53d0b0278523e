/* SQLite backend: one connection per store thread, WAL journal, a cache of
 * prepared statements keyed by the SQL string constant. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "store_int.h"

#define STMT_CACHE 128

struct sq {
	sqlite3 *h;
	const char *path;
	bool memory;
	struct {
		const char *sql;
		sqlite3_stmt *st;
	} cache[STMT_CACHE];
};

static void sq_err(struct db *db, int rc)
{
	struct sq *q = db->impl;
	snprintf(db->errmsg, sizeof(db->errmsg), "%s (%d)",
		 q && q->h ? sqlite3_errmsg(q->h) : sqlite3_errstr(rc), rc);
	/* The connection (file, disk, lock) is the problem, not the request:
	 * the store fails fast and reopens. */
	switch (rc & 0xff) {
	case SQLITE_IOERR:
	case SQLITE_CANTOPEN:
	case SQLITE_CORRUPT:
	case SQLITE_NOTADB:
	case SQLITE_FULL:
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
	case SQLITE_READONLY:
	case SQLITE_NOMEM:
		db->down = true;
		break;
	default:
		break;
	}
}

static void sq_clear_cache(struct sq *q)
{
	for (int i = 0; i < STMT_CACHE; i++) {
		if (q->cache[i].st)
			sqlite3_finalize(q->cache[i].st);
		q->cache[i].st = NULL;
		q->cache[i].sql = NULL;
	}
}

static void sq_disconnect(struct db *db, bool final)
{
	struct sq *q = db->impl;
	if (!q)
		return;
	if (q->memory && !final)
		return;
	sq_clear_cache(q);
	if (q->h)
		sqlite3_close(q->h);
	q->h = NULL;
	if (final) {
		free(q);
		db->impl = NULL;
	}
}

static int sq_run(struct db *db, const char *sql, const struct dbv *p, int np,
		  db_row_fn *fn, void *arg, int64_t *changes);

static int sq_exec(struct db *db, const char *sql)
{
	struct sq *q = db->impl;
	/* One statement (BEGIN, SAVEPOINT, COMMIT... per request): from the
	 * statement cache rather than parsed again each time. */
	if (q->h && !strchr(sql, ';'))
		return sq_run(db, sql, NULL, 0, NULL, NULL, NULL);
	char *msg = NULL;
	int rc = sqlite3_exec(q->h, sql, NULL, NULL, &msg);
	if (rc != SQLITE_OK) {
		sq_err(db, rc);
		if (msg) {
			snprintf(db->errmsg, sizeof(db->errmsg), "%s (%d)", msg,
				 rc);
			sqlite3_free(msg);
		}
		return CV_EDB;
	}
	return 0;
}

static int sq_connect(struct db *db)
{
	struct sq *q = db->impl;
	if (!q) {
		q = calloc(1, sizeof(*q));
		if (!q)
			return -ENOMEM;
		db->impl = q;
	}
	db->errmsg[0] = '\0';
	if (q->h)
		return 0; /* the kept in-memory database */
	const char *path = db->url;
	q->memory = strcmp(path, ":memory:") == 0;
	int rc = sqlite3_open_v2(path, &q->h,
				 SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
					 SQLITE_OPEN_NOMUTEX,
				 NULL);
	if (rc != SQLITE_OK) {
		sq_err(db, rc);
		goto fail;
	}
	sqlite3_busy_timeout(q->h, (int)db->busy_timeout_ms);
	sqlite3_extended_result_codes(q->h, 1);
	/* WAL: readers never block the writer; synchronous=NORMAL keeps every
	 * commit across a process crash (kill -9); only an OS crash or power
	 * loss may lose the last commits. */
	if (!q->memory) {
		sqlite3_stmt *st = NULL;
		rc = sqlite3_prepare_v2(q->h, "PRAGMA journal_mode=WAL", -1,
					&st, NULL);
		const char *mode = NULL;
		if (rc == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
			mode = (const char *)sqlite3_column_text(st, 0);
		bool wal = mode && strcmp(mode, "wal") == 0;
		sqlite3_finalize(st);
		if (!wal) {
			snprintf(db->errmsg, sizeof(db->errmsg),
				 "cannot open %s in WAL mode: %s", path,
				 sqlite3_errmsg(q->h));
			goto fail;
		}
	}
	if (sq_exec(db, "PRAGMA synchronous=NORMAL") ||
	    sq_exec(db, "PRAGMA foreign_keys=ON"))
		goto fail;
	return 0;
fail:
	if (q->h)
		sqlite3_close(q->h);
	q->h = NULL;
	return CV_EDB;
}

static int sq_prepare(struct db *db, const char *sql, sqlite3_stmt **out)
{
	struct sq *q = db->impl;
	size_t slot = (size_t)(((uintptr_t)sql >> 3) % STMT_CACHE);
	for (int i = 0; i < STMT_CACHE; i++) {
		size_t k = (slot + (size_t)i) % STMT_CACHE;
		if (q->cache[k].sql == sql) {
			*out = q->cache[k].st;
			return 0;
		}
		if (!q->cache[k].sql) {
			int rc = sqlite3_prepare_v3(q->h, sql, -1,
						    SQLITE_PREPARE_PERSISTENT,
						    &q->cache[k].st, NULL);
			if (rc != SQLITE_OK) {
				sq_err(db, rc);
				return CV_EDB;
			}
			q->cache[k].sql = sql;
			*out = q->cache[k].st;
			return 0;
		}
	}
	/* Cache full (more distinct statements than slots): not expected,
	 * the operations use fewer; say so rather than leak. */
	snprintf(db->errmsg, sizeof(db->errmsg), "statement cache full");
	return CV_EDB;
}

static int sq_run(struct db *db, const char *sql, const struct dbv *p, int np,
		  db_row_fn *fn, void *arg, int64_t *changes)
{
	struct sq *q = db->impl;
	sqlite3_stmt *st;
	int err = sq_prepare(db, sql, &st);
	if (err)
		return err;
	int rc = SQLITE_OK;
	for (int i = 0; i < np && rc == SQLITE_OK; i++) {
		switch (p[i].t) {
		case DBV_NULL:
			rc = sqlite3_bind_null(st, i + 1);
			break;
		case DBV_I64:
			rc = sqlite3_bind_int64(st, i + 1, p[i].i);
			break;
		case DBV_DBL:
			rc = sqlite3_bind_double(st, i + 1, p[i].d);
			break;
		case DBV_TEXT:
			rc = sqlite3_bind_text(st, i + 1, p[i].s, -1,
					       SQLITE_STATIC);
			break;
		}
	}
	if (rc != SQLITE_OK) {
		sq_err(db, rc);
		sqlite3_reset(st);
		sqlite3_clear_bindings(st);
		return CV_EDB;
	}
	struct db_row row = {.db = db, .h = st};
	err = 0;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (fn && !err)
			err = fn(&row, arg);
		row.row++;
	}
	if (rc != SQLITE_DONE) {
		sq_err(db, rc);
		err = CV_EDB;
	} else if (changes) {
		*changes = sqlite3_changes64(q->h);
	}
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return err;
}

static const char *sq_text(struct db_row *r, int i)
{
	const char *t = (const char *)sqlite3_column_text(r->h, i);
	return t ? t : "";
}

static int64_t sq_i64(struct db_row *r, int i)
{
	return sqlite3_column_int64(r->h, i);
}

static double sq_dbl(struct db_row *r, int i)
{
	return sqlite3_column_double(r->h, i);
}

const struct db_vt db_sqlite_vt = {
	.name = "sqlite",
	.connect = sq_connect,
	.disconnect = sq_disconnect,
	.exec = sq_exec,
	.run = sq_run,
	.col_text = sq_text,
	.col_i64 = sq_i64,
	.col_dbl = sq_dbl,
	.begin_sql = "BEGIN IMMEDIATE",
	.begin_exclusive_sql = "BEGIN IMMEDIATE",
};
