/*
 * cvoip store: durable state behind one interface, with two backends.
 *
 *   sqlite:PATH            embedded default (WAL), e.g. sqlite:var/cvoip.db
 *   sqlite::memory:        private in-memory database (tests)
 *   postgresql://user@host:port/db   (also postgres://; any libpq URI)
 *
 * Everything a restart must keep lives here: users (HA1 per digest
 * algorithm, never plaintext), registrar bindings, CDRs, trunks and routes
 * provisioned from configuration, call-center agents, queues, queued-call
 * records and statistics snapshots.
 *
 * Threads (ARCHITECTURE.md "Nothing blocks a loop"): every operation is
 * submitted from any thread and runs on one of the store's own threads,
 * each with its own connection (SQLite: one thread; PostgreSQL: `threads`,
 * default 2). Operations on the same key (AOR, user, agent, queue...) go to
 * the same thread, so they run in submission order. The completion runs on
 * the loop of the cv_store_client the caller names (a uv_async_t per
 * requesting loop), never while a store lock is held.
 *
 * Failure: when the database is unreachable, submissions fail at once with
 * CV_EDB (the server answers 503 with Retry-After) and the store reconnects
 * in the background. CDR inserts are the exception: they are kept in a
 * bounded in-memory retry queue (cdr_retry_max) and written when the
 * database returns.
 *
 * Every operation has the form
 *     int cv_store_<thing>_<verb>(struct cv_store *s, <input>,
 *                                 const struct cv_store_cb *cb);
 * returning 0 when accepted (or, synchronously, when done) or a negative
 * error: -EINVAL / CV_ETOOBIG for bad input, CV_EFULL when the request
 * queue is full, CV_EDB when the database is down, CV_ECLOSED after close.
 * The completion mode is chosen by cb:
 *   - cb == NULL: fire and forget (no completion).
 *   - cb->client set: cb->fn(err, res, cb->arg) runs later on the client's
 *     loop. res is valid during the call; cv_mem_ref() it to keep it.
 *   - cb->client == NULL (CV_STORE_SYNC(&res)): the calling thread blocks
 *     until done; the return value is the operation's result and *cb->res
 *     (if non-NULL) receives the result, which the caller cv_mem_unref()s.
 *     For CLI tools and tests only: never on a worker loop.
 */
#ifndef CVOIP_STORE_H
#define CVOIP_STORE_H

#include <stdio.h>
#include <uv.h>

#include "cvoip/base.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CV_STORE_DEFAULT_URL	"sqlite:var/cvoip.db"
#define CV_STORE_SCHEMA_VERSION 2
#define CV_STORE_NO_LINGER	UINT32_MAX

/* Input bounds: longer text is refused with CV_ETOOBIG. */
#define CV_STORE_NAME_MAX      256 /* user, realm, agent, queue, skill, trunk... */
#define CV_STORE_TEXT_MAX      8192 /* URIs, Path, params JSON, statistics JSON */
#define CV_STORE_SKILLS_MAX    64   /* skills per agent */
#define CV_STORE_LEGS_MAX      32   /* legs per CDR */
#define CV_STORE_LIMIT_DEFAULT 1000
#define CV_STORE_LIMIT_MAX     100000

struct cv_store;
struct cv_store_client;

struct cv_store_params {
	const char *url;       /* NULL: CV_STORE_DEFAULT_URL */
	unsigned threads;      /* PostgreSQL connections/threads; 0: 2 */
	size_t queue_max;      /* pending requests per thread; 0: 4096 */
	size_t cdr_retry_max;  /* CDRs kept while the DB is down; 0: 10000 */
	uint32_t reconnect_ms; /* background reconnect period; 0: 1000 */
	uint32_t connect_timeout_s; /* PostgreSQL connect timeout; 0: 3 */
	uint32_t busy_timeout_ms;   /* SQLite lock wait; 0: 5000 */
	uint32_t batch_max;	    /* requests per transaction (group commit);
				     * 0: 64, 1: one transaction each */
	/* Fire-and-forget writes (no completion, not synchronous) wait up to
	 * this long for company, so that a busy registrar or CDR writer
	 * shares commits and thread wake-ups; a request with a completion
	 * ends the wait at once. 0: 5 ms; CV_STORE_NO_LINGER: none. */
	uint32_t linger_ms;
};

/* Opens the database, applies pending schema migrations and starts the
 * store threads. Fails with CV_EDB (and a log line saying why) when the
 * database cannot be reached, the sqlite file's directory does not exist,
 * or the schema is newer than this binary; -EINVAL for an unknown URL. */
CV_API int cv_store_open(struct cv_store **sp, const struct cv_store_params *p);
/* Stops accepting work, finishes what is queued, tries once more to write
 * kept CDRs (logging any it must drop), joins the threads and frees.
 * Completions still queued on clients are delivered on their loops. */
CV_API void cv_store_close(struct cv_store *s);
/* "sqlite" or "postgresql". */
CV_API const char *cv_store_backend(const struct cv_store *s);
/* True while every store connection is up. */
CV_API bool cv_store_healthy(const struct cv_store *s);

struct cv_store_counters {
	uint64_t done;	       /* operations completed */
	uint64_t failed_fast;  /* refused with CV_EDB because the DB was down */
	uint64_t queue_full;   /* refused with CV_EFULL */
	uint64_t reconnects;   /* successful reconnections */
	uint64_t cdr_kept;     /* CDRs currently in the retry queue */
	uint64_t cdr_dropped;  /* CDRs lost because the retry queue was full */
	uint64_t transactions; /* commits (one per batch) */
};
CV_API void cv_store_counters(const struct cv_store *s,
			      struct cv_store_counters *out);

/* Test hook for the failure path (also usable by an operator command):
 * while set, every connection behaves as lost (errors are CV_EDB, the
 * reconnect attempts fail); clearing it lets the next attempt succeed. */
CV_API void cv_store_simulate_outage(struct cv_store *s, bool down);

/* ---- completion ---------------------------------------------------------- */

/* A completion target bound to one uv loop (one per worker). Create and
 * close it on the loop's thread; after close no callback fires again, and
 * the handle is released when the loop runs its close callbacks. */
CV_API int cv_store_client_create(struct cv_store_client **cp, uv_loop_t *loop);
CV_API void cv_store_client_close(struct cv_store_client *c);

struct cv_store_res;
typedef void(cv_store_done_fn)(int err, struct cv_store_res *res, void *arg);

struct cv_store_cb {
	struct cv_store_client *client; /* NULL: synchronous */
	cv_store_done_fn *fn;
	void *arg;
	struct cv_store_res **res; /* synchronous mode: result out */
};
#define CV_STORE_SYNC(resp) (&(const struct cv_store_cb){.res = (resp)})

/* ---- rows ------------------------------------------------------------------
 * On input, NULL text means "". In results every text field is non-NULL and
 * points into memory owned by the cv_store_res. Times are wall-clock
 * microseconds since the Unix epoch (cv_clock_wall_us()); 0 = not set. */

enum cv_store_alg {
	CV_STORE_ALG_MD5 = 0,	 /* RFC 2617 / RFC 8760 "MD5" */
	CV_STORE_ALG_SHA256,	 /* RFC 8760 "SHA-256" */
	CV_STORE_ALG_SHA512_256, /* RFC 8760 "SHA-512-256" */
	CV_STORE_ALG_COUNT
};
#define CV_STORE_HA1_HEX_MAX 65 /* 64 hex digits + NUL */

struct cv_store_user {
	const char *name;
	const char *realm;
	const char *ha1[CV_STORE_ALG_COUNT]; /* lower-case hex */
	int64_t created_us;
};

/* RFC 3261 §10.3 binding, with RFC 3327 Path and RFC 5626 instance/reg-id.
 * Key: (aor, contact). An upsert with a non-empty instance_id also removes
 * the AOR's other bindings with the same (instance_id, reg_id): RFC 5626
 * §6 replaces the flow, not the Contact text. */
struct cv_store_binding {
	const char *aor;
	const char *contact;	 /* Contact URI as registered */
	const char *instance_id; /* +sip.instance, "" if none */
	uint32_t reg_id;	 /* 0 if none */
	const char *path;	 /* Path header values, comma-separated */
	const char *received;	 /* source address "ip:port" */
	const char *transport;	 /* "udp", "tcp", "tls", "ws", "wss" */
	int64_t expires_us;	 /* absolute expiry */
	uint16_t q;		 /* q-value x 1000 (0..1000) */
	const char *call_id;
	uint32_t cseq;
	const char *user_agent;
	int64_t updated_us; /* set by the store */
};

struct cv_store_cdr_leg {
	uint32_t index;
	const char *call_id;
	const char *peer;  /* remote URI of the leg */
	const char *codec; /* e.g. "PCMU/8000", "opus/48000/2" */
	uint64_t pkts_sent;
	uint64_t pkts_recv;
	uint64_t pkts_lost;
	double jitter_ms;
	double mos;
};

struct cv_store_cdr {
	const char *id; /* unique; NULL on insert: the store makes one */
	const char *call_id;
	const char *caller;
	const char *callee;
	int64_t start_us;
	int64_t answer_us; /* 0: never answered */
	int64_t end_us;
	const char *end_reason; /* e.g. "BYE", "CANCEL", "486 Busy Here" */
	const char *hangup_by;	/* "caller", "callee", "system" */
	size_t nlegs;
	const struct cv_store_cdr_leg *legs;
};

struct cv_store_trunk {
	const char *name;
	const char *host;
	uint16_t port; /* 0: by DNS (RFC 3263) */
	const char *transport;
	const char *username; /* outbound digest credentials */
	const char *password; /* needed in clear to answer the upstream's
			       * challenges; comes from configuration */
	const char *realm;
	bool do_register; /* outbound registration to the upstream */
	uint32_t expires_s;
};

struct cv_store_route {
	const char *name;
	const char *prefix;  /* "" : none */
	const char *pattern; /* POSIX extended regex, "" : none */
	const char *trunk;
	int32_t priority;  /* lower first; equal: failover order by name */
	const char *media; /* "relay" or "direct" */
};

enum cv_store_agent_state {
	CV_STORE_AGENT_LOGGED_OUT = 0,
	CV_STORE_AGENT_AVAILABLE,
	CV_STORE_AGENT_OFFERED,
	CV_STORE_AGENT_ON_CALL,
	CV_STORE_AGENT_WRAP_UP,
	CV_STORE_AGENT_PAUSED,
	CV_STORE_AGENT_STATE_COUNT
};
CV_API const char *cv_store_agent_state_name(enum cv_store_agent_state st);

struct cv_store_skill {
	const char *name;
	uint8_t level; /* 1..10 */
};

struct cv_store_agent {
	const char *name;
	uint32_t max_calls; /* concurrent calls, >= 1 */
	uint32_t wrapup_s;
	size_t nskills;
	const struct cv_store_skill *skills;
	enum cv_store_agent_state state; /* ignored by upsert */
	const char *reason;		 /* pause reason */
	int64_t since_us;
};

struct cv_store_queue {
	const char *name;
	const char *strategy; /* "ring-all", "skills-based", ... */
	const char *params;   /* JSON object (validated), "" for none */
};

enum cv_store_outcome {
	CV_STORE_OUTCOME_ANSWERED = 0,
	CV_STORE_OUTCOME_OVERFLOWED,
	CV_STORE_OUTCOME_ABANDONED,
	CV_STORE_OUTCOME_COUNT
};
CV_API const char *cv_store_outcome_name(enum cv_store_outcome o);

struct cv_store_qcall {
	const char *id; /* unique; NULL on insert: the store makes one */
	const char *queue;
	const char *call_id;
	const char *caller;
	int32_t priority;
	int64_t arrival_us;
	int64_t answer_us; /* 0: not answered */
	int64_t end_us;
	enum cv_store_outcome outcome;
	const char *agent; /* answering agent, "" if none */
	int64_t wait_us;
	int64_t handle_us; /* talk + wrap-up */
	const char *overflow_target;
};

/* A statistics snapshot: scope "queue" or "agent", the object's name, the
 * period it describes and the figures as a JSON object. */
struct cv_store_stat {
	const char *scope;
	const char *name;
	int64_t at_us;
	const char *data; /* JSON object (validated) */
};

/* ---- results ---------------------------------------------------------------
 * A refcounted object; rows live as long as it does. */
enum cv_store_res_kind {
	CV_STORE_RES_NONE = 0,
	CV_STORE_RES_USERS,
	CV_STORE_RES_BINDINGS,
	CV_STORE_RES_CDRS,
	CV_STORE_RES_TRUNKS,
	CV_STORE_RES_ROUTES,
	CV_STORE_RES_AGENTS,
	CV_STORE_RES_QUEUES,
	CV_STORE_RES_QCALLS,
	CV_STORE_RES_STATS
};

struct cv_store_res {
	enum cv_store_res_kind kind;
	int64_t changes; /* rows written or deleted */
	size_t n;	 /* rows below */
	union {
		struct cv_store_user *users;
		struct cv_store_binding *bindings;
		struct cv_store_cdr *cdrs;
		struct cv_store_trunk *trunks;
		struct cv_store_route *routes;
		struct cv_store_agent *agents;
		struct cv_store_queue *queues;
		struct cv_store_qcall *qcalls;
		struct cv_store_stat *stats;
	};
};

/* Filters for list operations. key/key2 are per operation (documented
 * there); times filter on the row's main time; limit 0 means
 * CV_STORE_LIMIT_DEFAULT, more than CV_STORE_LIMIT_MAX is refused. */
struct cv_store_query {
	const char *key;
	const char *key2;
	int64_t since_us; /* inclusive; 0: no lower bound */
	int64_t until_us; /* exclusive; 0: no upper bound */
	uint32_t limit;
	uint32_t offset;
};

/* ---- users --------------------------------------------------------------- */

/* HA1 = H(username ":" realm ":" password), RFC 2617 §3.2.2.2 / RFC 8760 §3,
 * as lower-case hex into out[CV_STORE_HA1_HEX_MAX]. */
CV_API int cv_store_ha1(enum cv_store_alg alg, const char *user,
			const char *realm, const char *password, char *out);
CV_API const char *cv_store_alg_name(enum cv_store_alg alg);

/* Adds or replaces (new password) a user. The password is hashed on the
 * calling thread and never leaves it. res->changes = 1. */
CV_API int cv_store_user_add(struct cv_store *s, const char *name,
			     const char *realm, const char *password,
			     const struct cv_store_cb *cb);
/* CV_ENOTFOUND if there was no such user. */
CV_API int cv_store_user_del(struct cv_store *s, const char *name,
			     const char *realm, const struct cv_store_cb *cb);
/* One row or CV_ENOTFOUND. */
CV_API int cv_store_user_get(struct cv_store *s, const char *name,
			     const char *realm, const struct cv_store_cb *cb);
/* q.key: realm filter (NULL: all). Ordered by realm, name. */
CV_API int cv_store_user_list(struct cv_store *s,
			      const struct cv_store_query *q,
			      const struct cv_store_cb *cb);

/* ---- registrar bindings ----------------------------------------------------
 */

CV_API int cv_store_binding_upsert(struct cv_store *s,
				   const struct cv_store_binding *b,
				   const struct cv_store_cb *cb);
/* contact NULL: every binding of the AOR (RFC 3261 §10.3 "*"). */
CV_API int cv_store_binding_del(struct cv_store *s, const char *aor,
				const char *contact,
				const struct cv_store_cb *cb);
/* Live bindings of one AOR (expires_us > now), by q descending. */
CV_API int cv_store_binding_list_aor(struct cv_store *s, const char *aor,
				     const struct cv_store_cb *cb);
/* Every binding (a restarting registrar reloads them), ordered by aor,
 * contact; q.since_us filters on expires_us (pass now to skip expired). */
CV_API int cv_store_binding_list(struct cv_store *s,
				 const struct cv_store_query *q,
				 const struct cv_store_cb *cb);
/* Deletes bindings with expires_us <= now_us; res->changes = count. */
CV_API int cv_store_binding_purge(struct cv_store *s, int64_t now_us,
				  const struct cv_store_cb *cb);

/* ---- CDRs ------------------------------------------------------------------
 */

/* Inserting the same id twice is a no-op (retries are idempotent). While
 * the database is down the CDR is kept in memory and written on
 * reconnection; the completion runs once it is written (err 0) or dropped
 * at close (CV_ECLOSED). CV_EFULL when the retry queue is full too. */
CV_API int cv_store_cdr_insert(struct cv_store *s, const struct cv_store_cdr *c,
			       const struct cv_store_cb *cb);
/* q.since_us/until_us filter start_us; q.key: call_id filter. Ordered by
 * start_us, id. */
CV_API int cv_store_cdr_list(struct cv_store *s, const struct cv_store_query *q,
			     const struct cv_store_cb *cb);
/* Synchronous: writes RFC 4180 CSV (header line, then one line per leg;
 * a CDR without legs gives one line with empty leg columns) for the CDRs
 * matching q (limit/offset ignored: everything, fetched in pages). */
CV_API int cv_store_cdr_export_csv(struct cv_store *s, FILE *out,
				   const struct cv_store_query *q);

/* ---- trunks and routes (provisioned from configuration) ------------------ */

CV_API int cv_store_trunk_upsert(struct cv_store *s,
				 const struct cv_store_trunk *t,
				 const struct cv_store_cb *cb);
CV_API int cv_store_trunk_del(struct cv_store *s, const char *name,
			      const struct cv_store_cb *cb);
CV_API int cv_store_trunk_list(struct cv_store *s,
			       const struct cv_store_cb *cb);
CV_API int cv_store_route_upsert(struct cv_store *s,
				 const struct cv_store_route *r,
				 const struct cv_store_cb *cb);
CV_API int cv_store_route_del(struct cv_store *s, const char *name,
			      const struct cv_store_cb *cb);
/* Ordered by priority, name. */
CV_API int cv_store_route_list(struct cv_store *s,
			       const struct cv_store_cb *cb);

/* ---- call center ----------------------------------------------------------
 */

/* Adds or updates an agent's profile and replaces its skills; the state of
 * an existing agent is kept, a new agent starts logged out. */
CV_API int cv_store_agent_upsert(struct cv_store *s,
				 const struct cv_store_agent *a,
				 const struct cv_store_cb *cb);
CV_API int cv_store_agent_del(struct cv_store *s, const char *name,
			      const struct cv_store_cb *cb);
CV_API int cv_store_agent_get(struct cv_store *s, const char *name,
			      const struct cv_store_cb *cb);
CV_API int cv_store_agent_list(struct cv_store *s,
			       const struct cv_store_cb *cb);
/* Persists a state change; CV_ENOTFOUND for an unknown agent. */
CV_API int cv_store_agent_set_state(struct cv_store *s, const char *name,
				    enum cv_store_agent_state state,
				    const char *reason, int64_t since_us,
				    const struct cv_store_cb *cb);

CV_API int cv_store_queue_upsert(struct cv_store *s,
				 const struct cv_store_queue *q,
				 const struct cv_store_cb *cb);
CV_API int cv_store_queue_del(struct cv_store *s, const char *name,
			      const struct cv_store_cb *cb);
CV_API int cv_store_queue_get(struct cv_store *s, const char *name,
			      const struct cv_store_cb *cb);
CV_API int cv_store_queue_list(struct cv_store *s,
			       const struct cv_store_cb *cb);

/* Queued-call records: insert (same id twice is a no-op) and list
 * (q.key: queue filter; times filter arrival_us). */
CV_API int cv_store_qcall_insert(struct cv_store *s,
				 const struct cv_store_qcall *c,
				 const struct cv_store_cb *cb);
CV_API int cv_store_qcall_list(struct cv_store *s,
			       const struct cv_store_query *q,
			       const struct cv_store_cb *cb);

/* Statistics snapshots: put replaces (scope, name, at_us); list filters by
 * q.key (scope), q.key2 (name) and times on at_us. */
CV_API int cv_store_stat_put(struct cv_store *s, const struct cv_store_stat *st,
			     const struct cv_store_cb *cb);
CV_API int cv_store_stat_list(struct cv_store *s,
			      const struct cv_store_query *q,
			      const struct cv_store_cb *cb);

#ifdef __cplusplus
}
#endif

#endif
