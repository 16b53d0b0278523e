/* Store core: request queues, store threads, completions, reconnection and
 * the CDR retry queue. The SQL of each operation lives in ops_*.c. */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <jansson.h>

#include "store_int.h"

#define MOD "store"

/* ---- arena ----------------------------------------------------------------
 */
struct arena_chunk {
	struct arena_chunk *next;
	size_t used, cap;
	_Alignas(16) char data[];
};

void *arena_alloc(struct arena *a, size_t n)
{
	n = (n + 15) & ~(size_t)15;
	struct arena_chunk *c = a->head;
	if (!c || c->cap - c->used < n) {
		/* Small first (a queued request is a few hundred bytes),
		 * doubling for results with many rows. */
		size_t want = c ? c->cap * 2 : 512;
		if (want > 65536)
			want = 65536;
		size_t cap = n > want ? n : want;
		c = malloc(sizeof(*c) + cap);
		if (!c) {
			a->err = -ENOMEM;
			return NULL;
		}
		c->used = 0;
		c->cap = cap;
		c->next = a->head;
		a->head = c;
	}
	void *p = c->data + c->used;
	c->used += n;
	memset(p, 0, n);
	return p;
}

const char *arena_strndup(struct arena *a, const char *s, size_t n)
{
	char *d = arena_alloc(a, n + 1);
	if (!d)
		return "";
	if (n)
		memcpy(d, s, n);
	d[n] = '\0';
	return d;
}

const char *arena_strdup(struct arena *a, const char *s)
{
	if (!s)
		return "";
	return arena_strndup(a, s, strlen(s));
}

void arena_free(struct arena *a)
{
	struct arena_chunk *c = a->head;
	while (c) {
		struct arena_chunk *n = c->next;
		free(c);
		c = n;
	}
	a->head = NULL;
}

static void res_dtor(void *p)
{
	struct res_int *r = p;
	free(r->pub.users); /* any union member: the row array */
	arena_free(&r->ar);
}

struct res_int *res_new(enum cv_store_res_kind kind)
{
	struct res_int *r = cv_mem_zalloc(sizeof(*r), res_dtor);
	if (r)
		r->pub.kind = kind;
	return r;
}

void *res_row(struct res_int *r, size_t rowsize, size_t *cap)
{
	if (r->pub.n == *cap) {
		size_t ncap = *cap ? *cap * 2 : 16;
		void *nrows = realloc(r->pub.users, ncap * rowsize);
		if (!nrows)
			return NULL;
		r->pub.users = nrows;
		*cap = ncap;
	}
	char *row = (char *)r->pub.users + r->pub.n * rowsize;
	memset(row, 0, rowsize);
	r->pub.n++;
	return row;
}

/* ---- input checks ------------------------------------------------------- */
int check_text(const char *s, size_t max)
{
	if (!s)
		return 0;
	return strnlen(s, max + 1) > max ? CV_ETOOBIG : 0;
}

int check_json_object(const char *s)
{
	if (!s || !*s)
		return 0;
	json_error_t jerr;
	json_t *j = json_loads(s, JSON_REJECT_DUPLICATES, &jerr);
	if (!j)
		return -EINVAL;
	int err = json_is_object(j) ? 0 : -EINVAL;
	json_decref(j);
	return err;
}

/* 14 hex digits of the wall clock in microseconds, then 18 random
 * characters: ids still unique and unguessable, but in time order, so a
 * CDR's inserts into the primary-key index (and cdr_legs's, which starts
 * with it) append to the rightmost page instead of dirtying a random page
 * of a large index per row: in a profile of bench/server/run.sh the
 * store thread spent half its time writing such pages at COMMIT and
 * checkpoint. */
void make_id(char out[33])
{
	static const char hex[] = "0123456789abcdef";
	uint64_t t = cv_clock_wall_us();
	for (int i = 13; i >= 0; i--, t >>= 4)
		out[i] = hex[t & 15];
	cv_random_token(out + 14, 18);
}

/* ---- store ------------------------------------------------------------------
 */
struct shard {
	struct cv_store *s;
	unsigned index;
	pthread_t thread;
	bool started;
	pthread_mutex_t mu;
	pthread_cond_t cond;
	struct store_req *head, *tail;
	size_t len;
	size_t urgent;	/* queued requests someone waits for */
	bool idle;	/* the thread sleeps with nothing queued */
	bool lingering; /* the thread waits for more fire-and-forget work */
	bool stop;
	struct db db;
	_Atomic bool up;
	_Atomic uint64_t next_attempt_ms;
};

struct cv_store {
	char *url;
	const struct db_vt *vt;
	struct cv_store_params p;
	unsigned nshards;
	struct shard *shards;
	_Atomic bool closing;
	_Atomic bool outage;
	/* CDRs waiting for the database (FIFO). */
	pthread_mutex_t retry_mu;
	struct store_req *retry_head, *retry_tail;
	size_t retry_len;
	_Atomic uint64_t c_done, c_failed_fast, c_queue_full, c_reconnects,
		c_cdr_dropped, c_transactions;
};

struct sync_wait {
	pthread_mutex_t mu;
	pthread_cond_t cond;
	bool done;
	int err;
	struct cv_store_res *res;
};

struct cv_store_client {
	uv_async_t async;
	pthread_mutex_t mu;
	struct store_req *head, *tail;
	bool closed;
};

static _Thread_local struct cv_store *tl_store_thread;

bool store_outage(const struct cv_store *s)
{
	return atomic_load(&s->outage);
}

const char *cv_store_backend(const struct cv_store *s)
{
	return s->vt->name;
}

bool cv_store_healthy(const struct cv_store *s)
{
	for (unsigned i = 0; i < s->nshards; i++)
		if (!atomic_load(&s->shards[i].up))
			return false;
	return true;
}

void cv_store_counters(const struct cv_store *s, struct cv_store_counters *o)
{
	memset(o, 0, sizeof(*o));
	o->done = atomic_load(&s->c_done);
	o->failed_fast = atomic_load(&s->c_failed_fast);
	o->queue_full = atomic_load(&s->c_queue_full);
	o->reconnects = atomic_load(&s->c_reconnects);
	o->cdr_dropped = atomic_load(&s->c_cdr_dropped);
	o->transactions = atomic_load(&s->c_transactions);
	pthread_mutex_lock((pthread_mutex_t *)&s->retry_mu);
	o->cdr_kept = s->retry_len;
	pthread_mutex_unlock((pthread_mutex_t *)&s->retry_mu);
}

void cv_store_simulate_outage(struct cv_store *s, bool down)
{
	atomic_store(&s->outage, down);
	/* Wake the threads so they notice (and reconnect) promptly. */
	for (unsigned i = 0; i < s->nshards; i++) {
		struct shard *sh = &s->shards[i];
		pthread_mutex_lock(&sh->mu);
		/* The shard thread sees !up and reconnects (failing while
		 * the outage lasts); db.down belongs to that thread. */
		if (down)
			atomic_store(&sh->up, false);
		else
			atomic_store(&sh->next_attempt_ms, 0);
		pthread_cond_signal(&sh->cond);
		pthread_mutex_unlock(&sh->mu);
	}
}

int db_run(struct db *db, const char *sql, const struct dbv *p, int np,
	   db_row_fn *fn, void *arg, int64_t *changes)
{
	if (db->down || store_outage(db->s)) {
		db->down = true;
		return CV_EDB;
	}
	return db->vt->run(db, sql, p, np, fn, arg, changes);
}

int db_exec(struct db *db, const char *sql)
{
	if (db->down || store_outage(db->s)) {
		db->down = true;
		return CV_EDB;
	}
	return db->vt->exec(db, sql);
}

/* ---- requests -------------------------------------------------------------
 */
static void req_dtor(void *p)
{
	struct store_req *r = p;
	cv_mem_unref(r->res);
	cv_mem_unref(r->client);
	arena_free(&r->ar);
}

struct store_req *req_new(const struct op_desc *op)
{
	struct store_req *r = cv_mem_zalloc(sizeof(*r), req_dtor);
	if (r)
		r->op = op;
	return r;
}

void req_free(struct store_req *r)
{
	cv_mem_unref(r);
}

/* Runs on a store thread (or the closing thread): hands r to its waiter. */
static void req_complete(struct cv_store *s, struct store_req *r)
{
	atomic_fetch_add(&s->c_done, 1);
	if (r->wait) {
		struct sync_wait *w = r->wait;
		struct cv_store_res *res = r->res;
		int err = r->err;
		r->res = NULL;
		req_free(r);
		pthread_mutex_lock(&w->mu);
		w->err = err;
		w->res = res;
		w->done = true;
		pthread_cond_signal(&w->cond);
		pthread_mutex_unlock(&w->mu);
		return;
	}
	struct cv_store_client *c = r->client;
	if (!c || !r->fn) {
		req_free(r);
		return;
	}
	pthread_mutex_lock(&c->mu);
	if (c->closed) {
		pthread_mutex_unlock(&c->mu);
		req_free(r);
		return;
	}
	r->next = NULL;
	if (c->tail)
		c->tail->next = r;
	else
		c->head = r;
	c->tail = r;
	/* Under the lock: close cannot begin between the check and the send. */
	uv_async_send(&c->async);
	pthread_mutex_unlock(&c->mu);
}

/* ---- clients ----------------------------------------------------------------
 */
static void client_dtor(void *p)
{
	struct cv_store_client *c = p;
	pthread_mutex_destroy(&c->mu);
}

static void client_async_cb(uv_async_t *h)
{
	struct cv_store_client *c = h->data;
	pthread_mutex_lock(&c->mu);
	struct store_req *r = c->head;
	c->head = c->tail = NULL;
	pthread_mutex_unlock(&c->mu);
	while (r) {
		struct store_req *next = r->next;
		/* A callback may close the client: later ones must not fire. */
		if (!c->closed)
			r->fn(r->err, r->res, r->arg);
		req_free(r);
		r = next;
	}
}

static void client_close_cb(uv_handle_t *h)
{
	cv_mem_unref(h->data);
}

int cv_store_client_create(struct cv_store_client **cp, uv_loop_t *loop)
{
	if (!cp || !loop)
		return -EINVAL;
	struct cv_store_client *c = cv_mem_zalloc(sizeof(*c), client_dtor);
	if (!c)
		return -ENOMEM;
	pthread_mutex_init(&c->mu, NULL);
	int err = uv_async_init(loop, &c->async, client_async_cb);
	if (err) {
		cv_mem_unref(c);
		return err;
	}
	c->async.data = c;
	*cp = c;
	return 0;
}

void cv_store_client_close(struct cv_store_client *c)
{
	if (!c)
		return;
	pthread_mutex_lock(&c->mu);
	c->closed = true;
	struct store_req *r = c->head;
	c->head = c->tail = NULL;
	pthread_mutex_unlock(&c->mu);
	while (r) {
		struct store_req *next = r->next;
		req_free(r);
		r = next;
	}
	uv_close((uv_handle_t *)&c->async, client_close_cb);
}

/* ---- CDR retry queue --------------------------------------------------- */
/* Takes r. Keeps it for a later attempt, or drops it (logged with enough to
 * rebuild it by hand) when the bound is reached. */
static void retry_keep(struct cv_store *s, struct store_req *r, bool front)
{
	pthread_mutex_lock(&s->retry_mu);
	if (s->retry_len >= s->p.cdr_retry_max) {
		pthread_mutex_unlock(&s->retry_mu);
		atomic_fetch_add(&s->c_cdr_dropped, 1);
		CV_LOG_RL(
			CV_LOG_ERROR, MOD,
			"CDR dropped, retry queue full (%zu) id=%s call_id=%s "
			"caller=%s callee=%s start_us=%lld end_us=%lld",
			s->p.cdr_retry_max, r->in.cdr.id, r->in.cdr.call_id,
			r->in.cdr.caller, r->in.cdr.callee,
			(long long)r->in.cdr.start_us,
			(long long)r->in.cdr.end_us);
		r->err = CV_EFULL;
		req_complete(s, r);
		return;
	}
	if (front) {
		r->next = s->retry_head;
		s->retry_head = r;
		if (!s->retry_tail)
			s->retry_tail = r;
	} else {
		r->next = NULL;
		if (s->retry_tail)
			s->retry_tail->next = r;
		else
			s->retry_head = r;
		s->retry_tail = r;
	}
	s->retry_len++;
	pthread_mutex_unlock(&s->retry_mu);
}

static struct store_req *retry_take(struct cv_store *s, uint32_t max)
{
	pthread_mutex_lock(&s->retry_mu);
	struct store_req *head = s->retry_head, *last = NULL, *r = head;
	uint32_t n = 0;
	while (r && n < max) {
		last = r;
		r = r->next;
		n++;
	}
	if (last) {
		last->next = NULL;
		s->retry_head = r;
		if (!r)
			s->retry_tail = NULL;
		s->retry_len -= n;
	}
	pthread_mutex_unlock(&s->retry_mu);
	return last ? head : NULL;
}

static bool retry_pending(struct cv_store *s)
{
	pthread_mutex_lock(&s->retry_mu);
	bool p = s->retry_head != NULL;
	pthread_mutex_unlock(&s->retry_mu);
	return p;
}

/* ---- batches --------------------------------------------------------------
 */
static void fail_batch(struct cv_store *s, struct store_req *r, bool front)
{
	/* Kept CDRs go back in order: reverse so each front insert keeps it. */
	struct store_req *keep = NULL;
	while (r) {
		struct store_req *next = r->next;
		cv_mem_unref(r->res);
		r->res = NULL;
		if (r->op->cdr && !r->wait) {
			r->next = keep;
			keep = r;
		} else {
			r->err = CV_EDB;
			req_complete(s, r);
		}
		r = next;
	}
	if (!front) {
		/* keep is reversed; restore submission order */
		struct store_req *fwd = NULL;
		while (keep) {
			struct store_req *n = keep->next;
			keep->next = fwd;
			fwd = keep;
			keep = n;
		}
		keep = fwd;
	}
	while (keep) {
		struct store_req *n = keep->next;
		retry_keep(s, keep, front);
		keep = n;
	}
}

static void mark_down(struct shard *sh)
{
	if (atomic_exchange(&sh->up, false))
		CV_LOG_RL(CV_LOG_ERROR, MOD,
			  "database connection %u lost (%s); failing fast and "
			  "reconnecting every %u ms",
			  sh->index, sh->db.errmsg[0] ? sh->db.errmsg : "error",
			  sh->s->p.reconnect_ms);
	sh->db.down = true;
	atomic_store(&sh->next_attempt_ms,
		     cv_clock_ms() + sh->s->p.reconnect_ms);
}

/* One transaction for the whole batch; a savepoint per request so one
 * failing request does not undo the others (group commit). A failure of
 * the transaction machinery itself is handled as a lost connection. */
static void run_batch(struct shard *sh, struct store_req *batch,
		      bool from_retry)
{
	struct cv_store *s = sh->s;
	struct db *db = &sh->db;
	bool multi = batch->next != NULL;
	bool rollback = false;
	if (db->down || db_exec(db, db->vt->begin_sql)) {
		mark_down(sh);
		fail_batch(s, batch, from_retry);
		return;
	}
	for (struct store_req *r = batch; r && !db->down; r = r->next) {
		if (multi && db_exec(db, "SAVEPOINT cv_req")) {
			db->down = true;
			break;
		}
		r->err = r->op->exec(db, r);
		if (db->down)
			break;
		if (r->err && r->err != CV_ENOTFOUND) {
			r->res = cv_mem_unref(r->res);
			if (!multi)
				rollback = true;
			else if (db_exec(db, "ROLLBACK TO SAVEPOINT cv_req"))
				db->down = true;
		}
		if (multi && !db->down &&
		    db_exec(db, "RELEASE SAVEPOINT cv_req"))
			db->down = true;
	}
	if (!db->down && db_exec(db, rollback ? "ROLLBACK" : "COMMIT") == 0) {
		atomic_fetch_add(&s->c_transactions, 1);
		while (batch) {
			struct store_req *next = batch->next;
			req_complete(s, batch);
			batch = next;
		}
		return;
	}
	if (!db->down) {
		/* COMMIT refused on a live connection: nothing was written. */
		CV_LOG_RL(CV_LOG_ERROR, MOD, "commit failed: %s", db->errmsg);
		db->vt->exec(db, "ROLLBACK");
	}
	mark_down(sh);
	fail_batch(s, batch, from_retry);
}

static void try_reconnect(struct shard *sh)
{
	struct cv_store *s = sh->s;
	if (cv_clock_ms() < atomic_load(&sh->next_attempt_ms))
		return;
	atomic_store(&sh->next_attempt_ms, cv_clock_ms() + s->p.reconnect_ms);
	sh->db.down = true;
	if (store_outage(s))
		return;
	sh->db.vt->disconnect(&sh->db, false);
	if (sh->db.vt->connect(&sh->db) != 0) {
		CV_LOG_RL(CV_LOG_WARN, MOD, "reconnect %u failed: %s",
			  sh->index, sh->db.errmsg);
		return;
	}
	sh->db.down = false;
	atomic_store(&sh->up, true);
	atomic_fetch_add(&s->c_reconnects, 1);
	CV_INFO(MOD, "database connection %u restored", sh->index);
}

static bool req_urgent(const struct store_req *r)
{
	return r->wait || r->client;
}

static struct store_req *take_batch(struct shard *sh, uint32_t max)
{
	struct store_req *head = sh->head, *last = NULL, *r = head;
	uint32_t n = 0;
	while (r && n < max) {
		if (req_urgent(r))
			sh->urgent--;
		last = r;
		r = r->next;
		n++;
	}
	if (!last)
		return NULL;
	last->next = NULL;
	sh->head = r;
	if (!r)
		sh->tail = NULL;
	sh->len -= n;
	return head;
}

static void *shard_main(void *arg)
{
	struct shard *sh = arg;
	struct cv_store *s = sh->s;
	tl_store_thread = s;
	for (;;) {
		pthread_mutex_lock(&sh->mu);
		while (!sh->head && !sh->stop) {
			bool idle_work = sh->db.down || !atomic_load(&sh->up) ||
					 (sh->index == 0 && retry_pending(s));
			if (!idle_work) {
				sh->idle = true;
				pthread_cond_wait(&sh->cond, &sh->mu);
				sh->idle = false;
				continue;
			}
			struct timespec ts;
			clock_gettime(CLOCK_REALTIME, &ts);
			uint64_t ns = (uint64_t)ts.tv_nsec +
				      (uint64_t)s->p.reconnect_ms * 1000000u;
			ts.tv_sec += (time_t)(ns / 1000000000u);
			ts.tv_nsec = (long)(ns % 1000000000u);
			pthread_cond_timedwait(&sh->cond, &sh->mu, &ts);
			break;
		}
		/* Group commit: fire-and-forget writes wait a little for more
		 * (bounded by linger_ms and batch_max); anything someone waits
		 * for ends the wait. */
		if (sh->head && !sh->stop && !sh->urgent && s->p.linger_ms &&
		    s->p.linger_ms != CV_STORE_NO_LINGER &&
		    sh->len < s->p.batch_max && !sh->db.down) {
			struct timespec ts;
			clock_gettime(CLOCK_REALTIME, &ts);
			uint64_t ns = (uint64_t)ts.tv_nsec +
				      (uint64_t)s->p.linger_ms * 1000000u;
			ts.tv_sec += (time_t)(ns / 1000000000u);
			ts.tv_nsec = (long)(ns % 1000000000u);
			sh->lingering = true;
			while (!sh->stop && !sh->urgent &&
			       sh->len < s->p.batch_max &&
			       pthread_cond_timedwait(&sh->cond, &sh->mu,
						      &ts) == 0)
				;
			sh->lingering = false;
		}
		struct store_req *batch = take_batch(sh, s->p.batch_max);
		bool stop = sh->stop && !sh->head;
		pthread_mutex_unlock(&sh->mu);

		if (sh->db.down || !atomic_load(&sh->up))
			try_reconnect(sh);
		/* Kept CDRs first: they are older than anything queued. */
		if (!sh->db.down) {
			struct store_req *kept = retry_take(s, s->p.batch_max);
			if (kept)
				run_batch(sh, kept, true);
		}
		if (batch)
			run_batch(sh, batch, false);
		if (stop && !batch)
			break;
	}
	return NULL;
}

/* ---- submission ------------------------------------------------------------
 */
int req_submit(struct cv_store *s, struct store_req *r,
	       const struct cv_store_cb *cb)
{
	int err = r->ar.err;
	struct sync_wait w;
	bool sync = cb && !cb->client;
	if (err)
		goto fail;
	if (atomic_load(&s->closing)) {
		err = CV_ECLOSED;
		goto fail;
	}
	if (sync && tl_store_thread) {
		err = -EDEADLK;
		goto fail;
	}
	if (cb && cb->client) {
		r->client = cv_mem_ref(cb->client);
		r->fn = cb->fn;
		r->arg = cb->arg;
	}
	if (sync) {
		memset(&w, 0, sizeof(w));
		pthread_mutex_init(&w.mu, NULL);
		pthread_cond_init(&w.cond, NULL);
		r->wait = &w;
	}
	struct shard *sh = &s->shards[r->key % s->nshards];
	if (!atomic_load(&sh->up)) {
		if (r->op->cdr && !sync) {
			pthread_mutex_lock(&s->retry_mu);
			bool full = s->retry_len >= s->p.cdr_retry_max;
			pthread_mutex_unlock(&s->retry_mu);
			if (full) {
				atomic_fetch_add(&s->c_cdr_dropped, 1);
				CV_LOG_RL(
					CV_LOG_ERROR, MOD,
					"CDR refused, database down and retry "
					"queue full (%zu) call_id=%s",
					s->p.cdr_retry_max, r->in.cdr.call_id);
				err = CV_EFULL;
				goto fail;
			}
			/* (a race past the bound drops and completes it) */
			retry_keep(s, r, false);
			goto queued;
		}
		atomic_fetch_add(&s->c_failed_fast, 1);
		err = CV_EDB;
		goto fail_sync;
	}
	pthread_mutex_lock(&sh->mu);
	if (sh->len >= s->p.queue_max) {
		pthread_mutex_unlock(&sh->mu);
		atomic_fetch_add(&s->c_queue_full, 1);
		err = CV_EFULL;
		goto fail_sync;
	}
	r->next = NULL;
	if (sh->tail)
		sh->tail->next = r;
	else
		sh->head = r;
	sh->tail = r;
	sh->len++;
	bool urgent = req_urgent(r);
	if (urgent)
		sh->urgent++;
	/* Wake the thread only when it has to act: it sleeps idle, or it
	 * lingers and this request cannot wait or fills the batch. */
	if (sh->idle ||
	    (sh->lingering && (urgent || sh->len >= s->p.batch_max)))
		pthread_cond_signal(&sh->cond);
	pthread_mutex_unlock(&sh->mu);
queued:
	if (!sync)
		return 0;
	pthread_mutex_lock(&w.mu);
	while (!w.done)
		pthread_cond_wait(&w.cond, &w.mu);
	pthread_mutex_unlock(&w.mu);
	pthread_mutex_destroy(&w.mu);
	pthread_cond_destroy(&w.cond);
	if (cb->res && !w.err)
		*cb->res = w.res;
	else
		cv_mem_unref(w.res);
	return w.err;
fail_sync:
	if (sync) {
		pthread_mutex_destroy(&w.mu);
		pthread_cond_destroy(&w.cond);
	}
fail:
	req_free(r);
	return err;
}

/* ---- open / close
 * ------------------------------------------------------------ */
static void redact(const char *url, char *out, size_t n)
{
	/* scheme://user:password@host -> scheme://user:***@host */
	const char *at = strchr(url, '@');
	const char *sch = strstr(url, "://");
	const char *colon = sch ? strchr(sch + 3, ':') : NULL;
	if (at && colon && colon < at)
		snprintf(out, n, "%.*s:***%s", (int)(colon - url), url, at);
	else
		snprintf(out, n, "%s", url);
}

static int check_sqlite_dir(const char *path)
{
	if (strcmp(path, ":memory:") == 0)
		return 0;
	if (!*path) {
		CV_ERROR(MOD, "empty sqlite path in --db (use sqlite:PATH)");
		return CV_EDB;
	}
	const char *slash = strrchr(path, '/');
	char dir[4096];
	if (!slash)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == path)
		snprintf(dir, sizeof(dir), "/");
	else
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
	struct stat st;
	if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
		CV_ERROR(
			MOD,
			"database directory '%s' for '%s' does not exist or is "
			"not a directory: create it (mkdir -p %s) or choose "
			"another --db",
			dir, path, dir);
		return CV_EDB;
	}
	return 0;
}

static void store_free(struct cv_store *s)
{
	if (s->shards) {
		for (unsigned i = 0; i < s->nshards; i++) {
			struct shard *sh = &s->shards[i];
			if (sh->db.vt)
				sh->db.vt->disconnect(&sh->db, true);
			pthread_mutex_destroy(&sh->mu);
			pthread_cond_destroy(&sh->cond);
		}
		free(s->shards);
	}
	pthread_mutex_destroy(&s->retry_mu);
	free(s->url);
	free(s);
}

int cv_store_open(struct cv_store **sp, const struct cv_store_params *p)
{
	if (!sp)
		return -EINVAL;
	struct cv_store_params def = {0};
	if (!p)
		p = &def;
	const char *url = p->url ? p->url : CV_STORE_DEFAULT_URL;
	const struct db_vt *vt;
	unsigned n;
	if (strncmp(url, "sqlite:", 7) == 0) {
		vt = &db_sqlite_vt;
		n = 1;
		int err = check_sqlite_dir(url + 7);
		if (err)
			return err;
	} else if (strncmp(url, "postgresql://", 13) == 0 ||
		   strncmp(url, "postgres://", 11) == 0) {
		vt = &db_pg_vt;
		n = p->threads ? p->threads : 2;
		if (n > 64)
			return -EINVAL;
	} else {
		CV_ERROR(MOD,
			 "unknown database URL '%s' (sqlite:PATH or "
			 "postgresql://user@host:port/db)",
			 url);
		return -EINVAL;
	}
	struct cv_store *s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	pthread_mutex_init(&s->retry_mu, NULL);
	s->p = *p;
	s->url = strdup(url);
	s->p.url = s->url;
	s->vt = vt;
	if (!s->p.queue_max)
		s->p.queue_max = 4096;
	if (!s->p.cdr_retry_max)
		s->p.cdr_retry_max = 10000;
	if (!s->p.reconnect_ms)
		s->p.reconnect_ms = 1000;
	if (!s->p.connect_timeout_s)
		s->p.connect_timeout_s = 3;
	if (!s->p.busy_timeout_ms)
		s->p.busy_timeout_ms = 5000;
	if (!s->p.batch_max)
		s->p.batch_max = 64;
	if (!s->p.linger_ms)
		s->p.linger_ms = 5;
	s->nshards = n;
	s->shards = calloc(n, sizeof(*s->shards));
	if (!s->url || !s->shards) {
		store_free(s);
		return -ENOMEM;
	}
	for (unsigned i = 0; i < n; i++) {
		struct shard *sh = &s->shards[i];
		sh->s = s;
		sh->index = i;
		pthread_mutex_init(&sh->mu, NULL);
		pthread_cond_init(&sh->cond, NULL);
		sh->db.s = s;
		sh->db.vt = vt;
		sh->db.url = vt == &db_sqlite_vt ? s->url + 7 : s->url;
		sh->db.busy_timeout_ms = s->p.busy_timeout_ms;
		sh->db.connect_timeout_s = s->p.connect_timeout_s;
	}
	char shown[512];
	redact(url, shown, sizeof(shown));
	int err = 0;
	for (unsigned i = 0; i < n && !err; i++) {
		struct db *db = &s->shards[i].db;
		err = vt->connect(db);
		if (err)
			CV_ERROR(MOD, "cannot open database %s: %s", shown,
				 db->errmsg);
		else if (i == 0 && (err = store_migrate(db)) != 0)
			CV_ERROR(MOD, "schema migration of %s failed: %s",
				 shown, db->errmsg);
		atomic_store(&s->shards[i].up, err == 0);
	}
	if (err) {
		store_free(s);
		return CV_EDB;
	}
	for (unsigned i = 0; i < n; i++) {
		struct shard *sh = &s->shards[i];
		if (pthread_create(&sh->thread, NULL, shard_main, sh) != 0) {
			err = -EAGAIN;
			break;
		}
		sh->started = true;
	}
	if (err) {
		cv_store_close(s);
		return err;
	}
	CV_INFO(MOD, "database %s open (%s, schema v%d, %u connection%s)",
		shown, vt->name, CV_STORE_SCHEMA_VERSION, n, n > 1 ? "s" : "");
	*sp = s;
	return 0;
}

void cv_store_close(struct cv_store *s)
{
	if (!s)
		return;
	atomic_store(&s->closing, true);
	for (unsigned i = 0; i < s->nshards; i++) {
		struct shard *sh = &s->shards[i];
		pthread_mutex_lock(&sh->mu);
		sh->stop = true;
		pthread_cond_signal(&sh->cond);
		pthread_mutex_unlock(&sh->mu);
	}
	for (unsigned i = 0; i < s->nshards; i++)
		if (s->shards[i].started)
			pthread_join(s->shards[i].thread, NULL);
	/* Last chance for kept CDRs, on the first connection that is up. */
	for (unsigned i = 0; i < s->nshards && retry_pending(s); i++) {
		struct shard *sh = &s->shards[i];
		if ((sh->db.down || !atomic_load(&sh->up)) &&
		    !store_outage(s)) {
			atomic_store(&sh->next_attempt_ms, 0);
			try_reconnect(sh);
		}
		struct store_req *kept;
		while (!sh->db.down &&
		       (kept = retry_take(s, s->p.batch_max)) != NULL)
			run_batch(sh, kept, true);
	}
	struct store_req *r = retry_take(s, UINT32_MAX);
	if (r)
		CV_ERROR(MOD,
			 "closing with the database down: dropping kept CDRs");
	while (r) {
		struct store_req *next = r->next;
		atomic_fetch_add(&s->c_cdr_dropped, 1);
		CV_ERROR(MOD,
			 "CDR dropped at close id=%s call_id=%s caller=%s "
			 "callee=%s start_us=%lld end_us=%lld",
			 r->in.cdr.id, r->in.cdr.call_id, r->in.cdr.caller,
			 r->in.cdr.callee, (long long)r->in.cdr.start_us,
			 (long long)r->in.cdr.end_us);
		r->err = CV_ECLOSED;
		req_complete(s, r);
		r = next;
	}
	store_free(s);
}
