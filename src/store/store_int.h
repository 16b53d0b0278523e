/* Private structures of the store: requests, shards, the backend vtable. */
#ifndef CVOIP_STORE_INT_H
#define CVOIP_STORE_INT_H

#include <pthread.h>
#include <stdatomic.h>

#include "cvoip/store.h"

/* ---- arena: strings and rows of one request or result ------------------- */
struct arena_chunk;
struct arena {
	struct arena_chunk *head;
	int err; /* sticky -ENOMEM */
};
void *arena_alloc(struct arena *a, size_t n);
/* NULL becomes "". */
const char *arena_strdup(struct arena *a, const char *s);
const char *arena_strndup(struct arena *a, const char *s, size_t n);
void arena_free(struct arena *a);

struct res_int {
	struct cv_store_res pub; /* first: the public pointer is this one */
	struct arena ar;
};
struct res_int *res_new(enum cv_store_res_kind kind);
/* Grows the row array of a result to hold n+1 rows; returns the new row. */
void *res_row(struct res_int *r, size_t rowsize, size_t *cap);

/* ---- backend --------------------------------------------------------------
 */
enum dbv_type { DBV_NULL = 0, DBV_I64, DBV_DBL, DBV_TEXT };
struct dbv {
	enum dbv_type t;
	int64_t i;
	double d;
	const char *s;
};
#define V_I(x)	((struct dbv){.t = DBV_I64, .i = (int64_t)(x)})
#define V_D(x)	((struct dbv){.t = DBV_DBL, .d = (x)})
#define V_S(x)	((struct dbv){.t = DBV_TEXT, .s = (x) ? (x) : ""})
#define V_SN(x) ((struct dbv){.t = (x) ? DBV_TEXT : DBV_NULL, .s = (x)})

struct db;
struct db_row {
	struct db *db;
	void *h;
	int row;
};
typedef int(db_row_fn)(struct db_row *r, void *arg);

struct db_vt {
	const char *name;
	/* (Re)connects; 0 or CV_EDB with errmsg set. */
	int (*connect)(struct db *db);
	/* Drops the connection (an in-memory database keeps its handle
	 * unless final, or its data would vanish). */
	void (*disconnect)(struct db *db, bool final);
	/* Parameterless SQL, possibly several statements. */
	int (*exec)(struct db *db, const char *sql);
	/* One statement; sql must be a string constant (statement cache key).
	 */
	int (*run)(struct db *db, const char *sql, const struct dbv *p, int np,
		   db_row_fn *fn, void *arg, int64_t *changes);
	const char *(*col_text)(struct db_row *r, int i);
	int64_t (*col_i64)(struct db_row *r, int i);
	double (*col_dbl)(struct db_row *r, int i);
	const char *begin_sql;
	const char *begin_exclusive_sql; /* migrations */
};

extern const struct db_vt db_sqlite_vt;
extern const struct db_vt db_pg_vt;

struct db {
	const struct db_vt *vt;
	struct cv_store *s;
	const char *url;
	uint32_t busy_timeout_ms;
	uint32_t connect_timeout_s;
	bool down;
	void *impl;
	char errmsg[256];
};

int db_run(struct db *db, const char *sql, const struct dbv *p, int np,
	   db_row_fn *fn, void *arg, int64_t *changes);
int db_exec(struct db *db, const char *sql);
static inline const char *db_text(struct db_row *r, int i)
{
	return r->db->vt->col_text(r, i);
}
static inline int64_t db_i64(struct db_row *r, int i)
{
	return r->db->vt->col_i64(r, i);
}
static inline double db_dbl(struct db_row *r, int i)
{
	return r->db->vt->col_dbl(r, i);
}
/* The backend's connection-loss check also honours a simulated outage. */
bool store_outage(const struct cv_store *s);

int store_migrate(struct db *db);

/* ---- requests --------------------------------------------------------------
 */
struct store_req;
typedef int(op_exec_fn)(struct db *db, struct store_req *r);

struct op_desc {
	const char *name;
	op_exec_fn *exec;
	bool cdr; /* kept on outage instead of failing */
};

struct sync_wait;

struct store_req {
	struct store_req *next;
	const struct op_desc *op;
	struct arena ar;
	uint64_t key;
	int err;
	struct cv_store_res *res;
	struct cv_store_client *client;
	cv_store_done_fn *fn;
	void *arg;
	struct sync_wait *wait;
	union {
		struct {
			const char *k1, *k2;
			int64_t i1;
			int st;
			const char *ha1[CV_STORE_ALG_COUNT];
		} key;
		struct cv_store_binding binding;
		struct cv_store_cdr cdr;
		struct cv_store_trunk trunk;
		struct cv_store_route route;
		struct cv_store_agent agent;
		struct cv_store_queue queue;
		struct cv_store_qcall qcall;
		struct cv_store_stat stat;
		struct cv_store_query query;
	} in;
};

struct store_req *req_new(const struct op_desc *op);
void req_free(struct store_req *r);
/* Queues r (taking it) and, in synchronous mode, waits for it. */
int req_submit(struct cv_store *s, struct store_req *r,
	       const struct cv_store_cb *cb);

/* Input checks: NULL is "", longer than max is CV_ETOOBIG. */
int check_text(const char *s, size_t max);
int check_json_object(const char *s);
void make_id(char out[33]);

/* ---- helpers shared by the operations (ops_common.c) ------------------ */
struct list_ctx {
	struct res_int *res;
	size_t cap;
};
/* Creates r->res of kind with changes; 0 or -ENOMEM. */
int res_set(struct store_req *r, enum cv_store_res_kind kind, int64_t changes);
/* Starts a list result; the caller runs the query with list_ctx. */
int list_start(struct store_req *r, struct list_ctx *c,
	       enum cv_store_res_kind kind);
/* Ends it: -ENOMEM if a copy failed. */
int list_end(struct store_req *r, struct list_ctx *c, int err);
uint64_t key_of(const char *s);
/* Copies and checks a query into r->in.query. */
int query_copy(struct store_req *r, const struct cv_store_query *q);
/* The body of every cv_store_*_list(): a request of op with query q. */
int query_submit(struct cv_store *s, const struct op_desc *op,
		 const struct cv_store_query *q, const struct cv_store_cb *cb);
/* A required name: non-empty, at most CV_STORE_NAME_MAX. */
int check_name(const char *s);
/* DELETE ... WHERE name = ? with r->in.key.k1; CV_ENOTFOUND if none. */
int exec_del_by_name(struct db *db, struct store_req *r, const char *sql);
/* Submit an operation whose input is one name (key k1) or nothing. */
int submit_name(struct cv_store *s, const struct op_desc *op, const char *name,
		const struct cv_store_cb *cb);
int submit_plain(struct cv_store *s, const struct op_desc *op,
		 const struct cv_store_cb *cb);
#define ADUP(r, x)	arena_strdup(&(r)->ar, (x))
#define RDUP(c, row, i) arena_strdup(&(c)->res->ar, db_text((row), (i)))

#endif
