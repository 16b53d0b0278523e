/*
 * Event bus.
 *
 * Queues. One bounded SPSC ring of event pointers per (publisher thread,
 * subscriber) pair: the publisher is the only writer of its tail, the
 * subscriber's loop the only writer of its head, so a push is a slot store
 * plus a release store and per-publisher order is the ring's order, with no
 * compare-and-swap anywhere on the hot path. Each ring caches the other
 * side's index and re-reads it only when it looks full (or empty).
 *
 * Events. One block per published event (header, payload and its
 * strings); the publisher sets the refcount to the number of rings it
 * pushes to before any subscriber can see it and keeps no reference, so a
 * delivery costs at most one atomic decrement and no increment.
 *
 * Wake-up. A subscription that finds all its rings empty sets `armed` and
 * goes back to its loop; a publisher that pushed to it swaps `armed` back to
 * zero and only then calls uv_async_send(). A busy subscriber is therefore
 * never sent a wake-up (no syscall per event). Both sides order their store
 * before their load with a seq_cst fence (a Dekker pair), so no event is
 * left behind with the subscriber asleep.
 *
 * Subscriber list. An immutable snapshot (per topic arrays) swapped under
 * the bus lock; publishers read it without a lock while "pinned" (an odd
 * per-publisher counter). A writer that replaced a snapshot waits until
 * every publisher pinned at that moment has unpinned, then frees the old
 * snapshot (and, for unsubscribe, the subscription becomes unreachable).
 * The pin's store-load ordering comes from membarrier(2) issued by the
 * writer (see pin_fence). No lock is held while a callback runs.
 *
 * Event memory comes from a pool with per-thread caches (see ev_alloc).
 */
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#if defined(__linux__)
#include <linux/membarrier.h>
#include <sys/syscall.h>
#endif

#include "cvoip/bus.h"
#include "cvoip/runtime.h"
#include "metrics_int.h"

#define BUS_MOD	      "bus"
#define DEF_QUEUE_CAP 4096u
#define MAX_QUEUE_CAP (1u << 20)
#define DEF_BLOCK_US  10000u
#define MAX_BLOCK_US  10000000u
#define DEF_BATCH     256u
#define DEF_MAX_PUBS  256u
#define MAX_PUBS      65535u
#define TLS_CACHE     4u
#define CACHELINE     64

/* ---- type table ------------------------------------------------------------
 */

enum field_kind { F_STR, F_U16, F_U32, F_U64, F_BOOL, F_DBL, F_DIR, F_HANGUP };

struct field {
	const char *name;
	enum field_kind kind;
	size_t off;
};

#define FLD(T, m, k)                                                           \
	{                                                                      \
#m, k, offsetof(T, m)                                          \
	}

static const struct field call_fields[] = {
	FLD(struct cv_bus_call, call_id, F_STR),
	FLD(struct cv_bus_call, from, F_STR),
	FLD(struct cv_bus_call, to, F_STR),
	FLD(struct cv_bus_call, direction, F_DIR),
	FLD(struct cv_bus_call, status, F_U16),
	FLD(struct cv_bus_call, reason, F_STR),
	FLD(struct cv_bus_call, local, F_BOOL),
	FLD(struct cv_bus_call, hangup_by, F_HANGUP),
	FLD(struct cv_bus_call, duration_ms, F_U64),
};
static const struct field reg_fields[] = {
	FLD(struct cv_bus_reg, aor, F_STR),
	FLD(struct cv_bus_reg, contact, F_STR),
	FLD(struct cv_bus_reg, source, F_STR),
	FLD(struct cv_bus_reg, user_agent, F_STR),
	FLD(struct cv_bus_reg, expires, F_U32),
};
static const struct field agent_fields[] = {
	FLD(struct cv_bus_agent, agent_id, F_STR),
	FLD(struct cv_bus_agent, old_state, F_STR),
	FLD(struct cv_bus_agent, new_state, F_STR),
	FLD(struct cv_bus_agent, reason, F_STR),
};
static const struct field queue_fields[] = {
	FLD(struct cv_bus_queue, queue, F_STR),
	FLD(struct cv_bus_queue, call_id, F_STR),
	FLD(struct cv_bus_queue, caller, F_STR),
	FLD(struct cv_bus_queue, agent_id, F_STR),
	FLD(struct cv_bus_queue, target, F_STR),
	FLD(struct cv_bus_queue, reason, F_STR),
	FLD(struct cv_bus_queue, position, F_U32),
	FLD(struct cv_bus_queue, wait_ms, F_U64),
};
static const struct field quality_fields[] = {
	FLD(struct cv_bus_quality, call_id, F_STR),
	FLD(struct cv_bus_quality, stream, F_STR),
	FLD(struct cv_bus_quality, loss_pct, F_DBL),
	FLD(struct cv_bus_quality, jitter_ms, F_DBL),
	FLD(struct cv_bus_quality, rtt_ms, F_DBL),
	FLD(struct cv_bus_quality, mos, F_DBL),
	FLD(struct cv_bus_quality, packets, F_U64),
	FLD(struct cv_bus_quality, lost, F_U64),
};
static const struct field cdr_fields[] = {
	FLD(struct cv_bus_cdr, cdr_id, F_STR),
	FLD(struct cv_bus_cdr, call_id, F_STR),
	FLD(struct cv_bus_cdr, from, F_STR),
	FLD(struct cv_bus_cdr, to, F_STR),
	FLD(struct cv_bus_cdr, status, F_U16),
	FLD(struct cv_bus_cdr, start_us, F_U64),
	FLD(struct cv_bus_cdr, answer_us, F_U64),
	FLD(struct cv_bus_cdr, end_us, F_U64),
};
static const struct field system_fields[] = {
	FLD(struct cv_bus_system, node, F_STR),
	FLD(struct cv_bus_system, version, F_STR),
	FLD(struct cv_bus_system, reason, F_STR),
	FLD(struct cv_bus_system, workers, F_U32),
};

static const struct field trunk_fields[] = {
	FLD(struct cv_bus_trunk, trunk, F_STR),
	FLD(struct cv_bus_trunk, address, F_STR),
	FLD(struct cv_bus_trunk, status, F_U16),
	FLD(struct cv_bus_trunk, local, F_BOOL),
	FLD(struct cv_bus_trunk, failures, F_U32),
};

struct kind {
	size_t size;
	const struct field *fields;
	size_t nfields;
};

#define KIND(T, f)                                                             \
	{                                                                      \
		sizeof(T), f, CV_ARRAY_SIZE(f)                                 \
	}
enum { K_CALL, K_REG, K_AGENT, K_QUEUE, K_QUALITY, K_CDR, K_SYSTEM, K_TRUNK };
static const struct kind kinds[] = {
	[K_CALL] = KIND(struct cv_bus_call, call_fields),
	[K_REG] = KIND(struct cv_bus_reg, reg_fields),
	[K_AGENT] = KIND(struct cv_bus_agent, agent_fields),
	[K_QUEUE] = KIND(struct cv_bus_queue, queue_fields),
	[K_QUALITY] = KIND(struct cv_bus_quality, quality_fields),
	[K_CDR] = KIND(struct cv_bus_cdr, cdr_fields),
	[K_SYSTEM] = KIND(struct cv_bus_system, system_fields),
	[K_TRUNK] = KIND(struct cv_bus_trunk, trunk_fields),
};

struct type_info {
	const char *name;
	enum cv_bus_topic topic;
	unsigned kind;
};

static const struct type_info types[CV_BUS_TYPE_COUNT] = {
	[CV_BUS_CALL_STARTED] = {"call.started", CV_BUS_TOPIC_CALL, K_CALL},
	[CV_BUS_CALL_RINGING] = {"call.ringing", CV_BUS_TOPIC_CALL, K_CALL},
	[CV_BUS_CALL_ANSWERED] = {"call.answered", CV_BUS_TOPIC_CALL, K_CALL},
	[CV_BUS_CALL_ENDED] = {"call.ended", CV_BUS_TOPIC_CALL, K_CALL},
	[CV_BUS_REG_ADDED] = {"registration.added", CV_BUS_TOPIC_REGISTRATION,
			      K_REG},
	[CV_BUS_REG_REFRESHED] = {"registration.refreshed",
				  CV_BUS_TOPIC_REGISTRATION, K_REG},
	[CV_BUS_REG_REMOVED] = {"registration.removed",
				CV_BUS_TOPIC_REGISTRATION, K_REG},
	[CV_BUS_REG_EXPIRED] = {"registration.expired",
				CV_BUS_TOPIC_REGISTRATION, K_REG},
	[CV_BUS_AGENT_STATE] = {"agent.state_changed", CV_BUS_TOPIC_AGENT,
				K_AGENT},
	[CV_BUS_QUEUE_JOINED] = {"queue.caller_joined", CV_BUS_TOPIC_QUEUE,
				 K_QUEUE},
	[CV_BUS_QUEUE_LEFT] = {"queue.caller_left", CV_BUS_TOPIC_QUEUE,
			       K_QUEUE},
	[CV_BUS_QUEUE_OVERFLOWED] = {"queue.overflowed", CV_BUS_TOPIC_QUEUE,
				     K_QUEUE},
	[CV_BUS_QUEUE_ABANDONED] = {"queue.abandoned", CV_BUS_TOPIC_QUEUE,
				    K_QUEUE},
	[CV_BUS_QUALITY_REPORT] = {"quality.report", CV_BUS_TOPIC_QUALITY,
				   K_QUALITY},
	[CV_BUS_CDR_WRITTEN] = {"cdr.written", CV_BUS_TOPIC_CDR, K_CDR},
	[CV_BUS_SYSTEM_STARTED] = {"system.started", CV_BUS_TOPIC_SYSTEM,
				   K_SYSTEM},
	[CV_BUS_SYSTEM_STOPPING] = {"system.stopping", CV_BUS_TOPIC_SYSTEM,
				    K_SYSTEM},
	[CV_BUS_TRUNK_DOWN] = {"trunk.down", CV_BUS_TOPIC_TRUNK, K_TRUNK},
	[CV_BUS_TRUNK_UP] = {"trunk.up", CV_BUS_TOPIC_TRUNK, K_TRUNK},
};

static const char *const topic_names[CV_BUS_TOPIC_COUNT] = {
	"call",	   "registration", "agent",  "queue",
	"quality", "cdr",	   "system", "trunk",
};

const char *cv_bus_topic_name(enum cv_bus_topic t)
{
	return (unsigned)t < CV_BUS_TOPIC_COUNT ? topic_names[t] : NULL;
}

const char *cv_bus_type_name(enum cv_bus_type t)
{
	return (unsigned)t < CV_BUS_TYPE_COUNT ? types[t].name : NULL;
}

enum cv_bus_topic cv_bus_type_topic(enum cv_bus_type t)
{
	return (unsigned)t < CV_BUS_TYPE_COUNT ? types[t].topic
					       : CV_BUS_TOPIC_COUNT;
}

int cv_bus_topic_parse(struct cv_pl name, enum cv_bus_topic *out)
{
	for (unsigned i = 0; i < CV_BUS_TOPIC_COUNT; i++) {
		if (cv_pl_eq_str(name, topic_names[i])) {
			*out = (enum cv_bus_topic)i;
			return 0;
		}
	}
	return CV_ENOTFOUND;
}

/* ---- events
 * ------------------------------------------------------------------ */

struct bus_ev {
	_Atomic uint32_t refs;
	uint8_t kind;	     /* payload kind the strings were laid out for */
	bool pooled;	     /* a EV_BLOCK-sized block from the pool */
	struct bus_ev *next; /* pool free lists */
	struct cv_bus_event ev;
	/* copied strings follow */
};

static _Atomic int64_t live_events;

static inline struct bus_ev *ev_of(const struct cv_bus_event *ev)
{
	return CV_CONTAINER_OF((struct cv_bus_event *)(uintptr_t)ev,
			       struct bus_ev, ev);
}

/* ---- event memory
 * ------------------------------------------------------------ Events are
 * allocated by the publisher and freed by whichever subscriber drops the last
 * reference: with malloc that is a cross-thread free per event, which glibc
 * serves through the arena locks. Instead, blocks of EV_BLOCK bytes go back to
 * the freeing thread's own cache; a thread with more than two batches hands one
 * batch (EV_BATCH blocks) to a shared list under a mutex, and a thread with
 * none takes a batch from there. One lock per EV_BATCH events, memory bounded
 * by POOL_MAX_BATCHES plus two batches per thread. Under ASan the pool is off
 * so use-after-free stays visible. */
#define EV_BLOCK	 320u
#define EV_BATCH	 64u
#define POOL_MAX_BATCHES 256u

#if defined(__SANITIZE_ADDRESS__)
#define CV_BUS_POOL 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CV_BUS_POOL 0
#endif
#endif
#ifndef CV_BUS_POOL
#define CV_BUS_POOL 1
#endif
/* Under TSan the publisher pin uses the plain fence, which TSan models. */
#if defined(__SANITIZE_THREAD__)
#define CV_BUS_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define CV_BUS_TSAN 1
#endif
#endif

struct ev_cache {
	struct bus_ev *head;
	unsigned n;
	bool registered;
};

/* initial-exec: the objects are built position-independent, and the
 * default dynamic TLS model costs a __tls_get_addr() call per access */
#if defined(__GNUC__)
#define CV_TLS _Thread_local __attribute__((tls_model("initial-exec")))
#else
#define CV_TLS _Thread_local
#endif
static CV_TLS struct ev_cache tls_cache;
static pthread_mutex_t pool_mu = PTHREAD_MUTEX_INITIALIZER;
static struct bus_ev *pool_batches[POOL_MAX_BATCHES];
static unsigned pool_nbatches;
static pthread_key_t pool_key;
static pthread_once_t pool_once = PTHREAD_ONCE_INIT;

static void free_chain(struct bus_ev *e)
{
	while (e) {
		struct bus_ev *n = e->next;
		free(e);
		e = n;
	}
}

/* Thread exit: its cached blocks go back to malloc. */
static void cache_dtor(void *arg)
{
	struct ev_cache *c = arg;
	free_chain(c->head);
	c->head = NULL;
	c->n = 0;
}

static void pool_init(void)
{
	pthread_key_create(&pool_key, cache_dtor);
}

/* The calling thread's cache, registered for the exit destructor. */
static struct ev_cache *cache_get(void)
{
	struct ev_cache *c = &tls_cache;
	if (CV_UNLIKELY(!c->registered)) {
		pthread_once(&pool_once, pool_init);
		pthread_setspecific(pool_key, c);
		c->registered = true;
	}
	return c;
}

static struct bus_ev *ev_alloc(size_t size)
{
	struct bus_ev *e;
	if (!CV_BUS_POOL || size > EV_BLOCK) {
		e = malloc(size);
		if (e)
			e->pooled = false;
		return e;
	}
	struct ev_cache *c = &tls_cache;
	if (CV_UNLIKELY(!c->head)) {
		c = cache_get();
		pthread_mutex_lock(&pool_mu);
		if (pool_nbatches) {
			c->head = pool_batches[--pool_nbatches];
			c->n = EV_BATCH;
		}
		pthread_mutex_unlock(&pool_mu);
	}
	if (c->head) {
		e = c->head;
		c->head = e->next;
		c->n--;
	} else {
		e = malloc(EV_BLOCK);
		if (!e)
			return NULL;
	}
	e->pooled = true;
	return e;
}

static void ev_dealloc(struct bus_ev *e)
{
	if (!e->pooled) {
		free(e);
		return;
	}
	struct ev_cache *c = cache_get();
	e->next = c->head;
	c->head = e;
	if (++c->n < 2 * EV_BATCH)
		return;
	/* hand the first EV_BATCH blocks over as one batch */
	struct bus_ev *batch = c->head, *last = batch;
	for (unsigned i = 1; i < EV_BATCH; i++)
		last = last->next;
	c->head = last->next;
	c->n -= EV_BATCH;
	last->next = NULL;
	pthread_mutex_lock(&pool_mu);
	if (pool_nbatches < POOL_MAX_BATCHES) {
		pool_batches[pool_nbatches++] = batch;
		batch = NULL;
	}
	pthread_mutex_unlock(&pool_mu);
	free_chain(batch);
}

static void ev_free(struct bus_ev *e)
{
	atomic_fetch_sub_explicit(&live_events, 1, memory_order_relaxed);
	ev_dealloc(e);
}

static inline void ev_release(struct bus_ev *e, uint32_t n)
{
	/* Holding every reference there is, nobody else can touch the count:
	 * skip the locked decrement (the common case of a sole subscriber). */
	if (atomic_load_explicit(&e->refs, memory_order_acquire) == n ||
	    atomic_fetch_sub_explicit(&e->refs, n, memory_order_acq_rel) == n)
		ev_free(e);
}

static int ev_build(struct bus_ev **ep, enum cv_bus_type type,
		    const void *payload)
{
	if ((unsigned)type >= CV_BUS_TYPE_COUNT || !payload)
		return -EINVAL;
	const struct kind *k = &kinds[types[type].kind];
	size_t lens[16];
	size_t total = 0;
	for (size_t i = 0; i < k->nfields; i++) {
		const struct field *f = &k->fields[i];
		if (f->kind != F_STR)
			continue;
		const char *s;
		memcpy(&s, (const char *)payload + f->off, sizeof(s));
		lens[i] = s ? strnlen(s, CV_BUS_STR_MAX) : 0;
		total += s ? lens[i] + 1 : 0;
	}
	struct bus_ev *e = ev_alloc(sizeof(*e) + total);
	if (!e)
		return -ENOMEM;
	atomic_init(&e->refs, 1);
	e->kind = (uint8_t)types[type].kind;
	e->next = NULL;
	memset(&e->ev, 0, sizeof(e->ev));
	e->ev.type = type;
	e->ev.topic = types[type].topic;
	e->ev.worker = CV_BUS_NO_WORKER;
	e->ev.ts_us = cv_clock_wall_us();
	memcpy(&e->ev.u, payload, k->size);
	char *tail = (char *)(e + 1);
	for (size_t i = 0; i < k->nfields; i++) {
		const struct field *f = &k->fields[i];
		if (f->kind != F_STR)
			continue;
		const char *s;
		memcpy(&s, (const char *)payload + f->off, sizeof(s));
		if (!s)
			continue;
		memcpy(tail, s, lens[i]);
		tail[lens[i]] = '\0';
		const char *dst = tail;
		memcpy((char *)&e->ev.u + f->off, &dst, sizeof(dst));
		tail += lens[i] + 1;
	}
	atomic_fetch_add_explicit(&live_events, 1, memory_order_relaxed);
	*ep = e;
	return 0;
}

int cv_bus_event_create(struct cv_bus_event **evp, enum cv_bus_type type,
			const void *payload)
{
	if (!evp)
		return -EINVAL;
	struct bus_ev *e;
	int err = ev_build(&e, type, payload);
	if (!err)
		*evp = &e->ev;
	return err;
}

struct cv_bus_event *cv_bus_event_ref(const struct cv_bus_event *ev)
{
	if (!ev)
		return NULL;
	atomic_fetch_add_explicit(&ev_of(ev)->refs, 1, memory_order_relaxed);
	return (struct cv_bus_event *)(uintptr_t)ev;
}

struct cv_bus_event *cv_bus_event_unref(const struct cv_bus_event *ev)
{
	if (ev)
		ev_release(ev_of(ev), 1);
	return NULL;
}

int64_t cv_bus_live_events(void)
{
	return atomic_load_explicit(&live_events, memory_order_relaxed);
}

/* ---- JSON
 * ------------------------------------------------------------------------ */

static const char *dir_name(int d)
{
	return d == CV_BUS_DIR_OUTBOUND ? "outbound" : "inbound";
}

static const char *hangup_name(int h)
{
	switch (h) {
	case CV_BUS_HANGUP_CALLER:
		return "caller";
	case CV_BUS_HANGUP_CALLEE:
		return "callee";
	case CV_BUS_HANGUP_SYSTEM:
		return "system";
	default:
		return NULL;
	}
}

static json_t *field_json(const void *base, const struct field *f)
{
	const char *p = (const char *)base + f->off;
	switch (f->kind) {
	case F_STR: {
		const char *s;
		memcpy(&s, p, sizeof(s));
		return cv_json_text(s);
	}
	case F_U16: {
		uint16_t v;
		memcpy(&v, p, sizeof(v));
		return json_integer(v);
	}
	case F_U32: {
		uint32_t v;
		memcpy(&v, p, sizeof(v));
		return json_integer(v);
	}
	case F_U64: {
		uint64_t v;
		memcpy(&v, p, sizeof(v));
		return json_integer(
			(json_int_t)(v > INT64_MAX ? INT64_MAX : v));
	}
	case F_BOOL: {
		bool v;
		memcpy(&v, p, sizeof(v));
		return json_boolean(v);
	}
	case F_DBL: {
		double v;
		memcpy(&v, p, sizeof(v));
		return isfinite(v) ? json_real(v) : json_null();
	}
	case F_DIR: {
		int v;
		memcpy(&v, p, sizeof(v));
		return json_string(dir_name(v));
	}
	case F_HANGUP: {
		int v;
		memcpy(&v, p, sizeof(v));
		const char *n = hangup_name(v);
		return n ? json_string(n) : json_null();
	}
	}
	return NULL;
}

static int jset(json_t *o, const char *key, json_t *v)
{
	return v && !json_object_set_new(o, key, v) ? 0 : -ENOMEM;
}

int cv_bus_event_json(const struct cv_bus_event *ev, json_t **out)
{
	if (!ev || !out || (unsigned)ev->type >= CV_BUS_TYPE_COUNT)
		return -EINVAL;
	const struct type_info *ti = &types[ev->type];
	const struct kind *k = &kinds[ti->kind];
	char ts[48];
	time_t secs = (time_t)(ev->ts_us / 1000000u);
	struct tm tm;
	gmtime_r(&secs, &tm);
	size_t n = strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(ts + n, sizeof(ts) - n, ".%06uZ",
		 (unsigned)(ev->ts_us % 1000000u));

	json_t *o = json_object();
	json_t *data = json_object();
	int err = o && data ? 0 : -ENOMEM;
	if (!err)
		err = jset(o, "type", json_string(ti->name));
	if (!err)
		err = jset(o, "topic", json_string(topic_names[ti->topic]));
	if (!err)
		err = jset(o, "ts", json_string(ts));
	if (!err)
		err = jset(o, "ts_us", json_integer((json_int_t)ev->ts_us));
	if (!err)
		err = jset(o, "worker",
			   ev->worker == CV_BUS_NO_WORKER
				   ? json_null()
				   : json_integer(ev->worker));
	if (!err)
		err = jset(o, "publisher", json_integer(ev->publisher));
	if (!err)
		err = jset(o, "seq", json_integer((json_int_t)ev->seq));
	for (size_t i = 0; !err && i < k->nfields; i++)
		err = jset(data, k->fields[i].name,
			   field_json(&ev->u, &k->fields[i]));
	if (!err) {
		err = jset(o, "data", data);
		data = NULL;
	}
	json_decref(data);
	if (err) {
		json_decref(o);
		return err;
	}
	*out = o;
	return 0;
}

int cv_bus_event_json_print(const struct cv_bus_event *ev, struct cv_buf *out)
{
	json_t *j;
	int err = cv_bus_event_json(ev, &j);
	if (err)
		return err;
	/* 15 significant digits: 4.1 prints as 4.1, not 4.0999999999999996 */
	char *s = json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(15));
	json_decref(j);
	if (!s)
		return -ENOMEM;
	err = cv_buf_append_str(out, s);
	free(s);
	return err;
}

/* ---- bus structures
 * ------------------------------------------------------------ */

/* SPSC ring of one (publisher, subscriber) pair. */
struct lane {
	alignas(CACHELINE) _Atomic uint64_t tail; /* publisher writes */
	uint64_t head_cache;			  /* publisher's view of head */
	bool stalled;				  /* BLOCK wait ran out */
	alignas(CACHELINE) _Atomic uint64_t head; /* subscriber writes */
	uint64_t tail_cache; /* subscriber's view of tail */
	alignas(CACHELINE) uint64_t mask;
	struct bus_ev *slots[];
};

struct bus_pub {
	const void *owner; /* TLS marker address of the owning thread */
	uint16_t idx;
	uint16_t worker;
	alignas(CACHELINE) _Atomic uint64_t pin; /* odd while publishing */
	_Atomic uint64_t seq;
};

struct cv_bus_sub {
	uv_async_t async;
	/* wake-up coalescing (cv_bus_params.sub_linger_ms): the drain that
	 * delivered something looks again after linger_ms instead of
	 * re-arming; both handles close before sub_free() */
	uv_timer_t linger;
	unsigned linger_ms;
	unsigned open_handles;
	struct cv_bus *bus;
	struct cv_bus_sub *next; /* bus->subs, under bus->lock */
	cv_bus_event_fn *fn;
	void *arg;
	char *name;
	uint32_t topics;
	uint32_t block_us;
	size_t cap;
	unsigned batch;
	enum cv_bus_overflow overflow;
	unsigned rr;
	_Atomic bool closing;
	_Atomic uint64_t dropped;
	_Atomic uint64_t delivered;
	_Atomic uint64_t log_ms; /* last drop log line, ms */
	struct cv_metric *m_dropped[CV_BUS_TOPIC_COUNT];
	struct cv_metric *m_delivered;
	_Atomic(struct lane *) *lanes; /* [nlanes] */
	unsigned nlanes;	       /* bus->max_pubs, kept for sub_free() */
	/* CV_BUS_BLOCK publishers sleep here until the subscriber frees room */
	pthread_mutex_t wait_mu;
	pthread_cond_t wait_cv;
	alignas(CACHELINE) _Atomic int armed;
	_Atomic int waiters;
};

struct snap {
	unsigned n[CV_BUS_TOPIC_COUNT];
	struct cv_bus_sub **by_topic[CV_BUS_TOPIC_COUNT];
	struct cv_bus_sub *storage[];
};

struct cv_bus {
	pthread_mutex_t lock;
	uint64_t gen;
	unsigned max_pubs;
	unsigned sub_linger_ms;
	_Atomic unsigned npubs;
	_Atomic(struct bus_pub *) *pubs;
	_Atomic(struct snap *) snap;
	struct cv_bus_sub *subs;
	struct cv_metric *m_published[CV_BUS_TOPIC_COUNT];
	struct cv_metric_family *f_dropped;
	struct cv_metric_family *f_delivered;
};

static _Atomic uint64_t bus_gen = 1;

/* Asymmetric fence for the publisher pin: publishers publish often and
 * (un)subscribing is rare, so the writer pays with membarrier(2), which runs
 * a full barrier on every thread of the process, and a publisher's pin
 * needs only a compiler barrier. Without membarrier (old kernel, seccomp)
 * the publisher pays a seq_cst fence instead. */
static bool use_membarrier;
static pthread_once_t membarrier_once = PTHREAD_ONCE_INIT;

static void membarrier_init(void)
{
#if defined(__linux__) && defined(__NR_membarrier) && !defined(CV_BUS_TSAN)
	long q = syscall(__NR_membarrier, MEMBARRIER_CMD_QUERY, 0, 0);
	if (q > 0 && (q & MEMBARRIER_CMD_PRIVATE_EXPEDITED) &&
	    !syscall(__NR_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED,
		     0, 0))
		use_membarrier = true;
#endif
}

static inline void pin_fence(void)
{
	if (use_membarrier)
		atomic_signal_fence(memory_order_seq_cst);
	else
		atomic_thread_fence(memory_order_seq_cst);
}

static void writer_fence(void)
{
	atomic_thread_fence(memory_order_seq_cst);
#if defined(__linux__) && defined(__NR_membarrier)
	if (use_membarrier &&
	    syscall(__NR_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0)) {
		/* cannot happen once registered; give store buffers ample time
		 */
		CV_ERROR(BUS_MOD, "membarrier failed: %s", cv_strerror(-errno));
		struct timespec ts = {0, 10000000};
		nanosleep(&ts, NULL);
	}
#endif
}

struct pub_tls {
	uint64_t gen;
	struct bus_pub *pub;
};
static CV_TLS struct pub_tls tls_pubs[TLS_CACHE];
static CV_TLS unsigned tls_next;
static CV_TLS char tls_marker;

static struct snap *snap_build(struct cv_bus_sub *subs)
{
	size_t total = 0;
	for (struct cv_bus_sub *s = subs; s; s = s->next)
		for (unsigned t = 0; t < CV_BUS_TOPIC_COUNT; t++)
			total += (s->topics >> t) & 1u;
	struct snap *sn = calloc(
		1, sizeof(*sn) + (total ? total : 1) * sizeof(sn->storage[0]));
	if (!sn)
		return NULL;
	size_t at = 0;
	for (unsigned t = 0; t < CV_BUS_TOPIC_COUNT; t++) {
		sn->by_topic[t] = &sn->storage[at];
		for (struct cv_bus_sub *s = subs; s; s = s->next) {
			if ((s->topics >> t) & 1u) {
				sn->storage[at++] = s;
				sn->n[t]++;
			}
		}
	}
	return sn;
}

int cv_bus_create(struct cv_bus **busp, const struct cv_bus_params *p)
{
	if (!busp)
		return -EINVAL;
	unsigned max_pubs =
		p && p->max_publishers ? p->max_publishers : DEF_MAX_PUBS;
	if (max_pubs > MAX_PUBS)
		return -EINVAL;
	pthread_once(&membarrier_once, membarrier_init);
	struct cv_bus *bus = calloc(1, sizeof(*bus));
	if (!bus)
		return -ENOMEM;
	bus->pubs = calloc(max_pubs, sizeof(bus->pubs[0]));
	struct snap *sn = snap_build(NULL);
	if (!bus->pubs || !sn) {
		free(sn);
		free(bus->pubs);
		free(bus);
		return -ENOMEM;
	}
	pthread_mutex_init(&bus->lock, NULL);
	bus->gen = atomic_fetch_add(&bus_gen, 1);
	bus->max_pubs = max_pubs;
	bus->sub_linger_ms = p ? p->sub_linger_ms : 0;
	atomic_init(&bus->snap, sn);
	struct cv_metrics *m = p ? p->metrics : NULL;
	if (m) {
		static const char *const l_topic[] = {"topic"};
		static const char *const l_sub[] = {"subscriber"};
		static const char *const l_topic_sub[] = {"topic",
							  "subscriber"};
		struct cv_metric_family *f_pub;
		int err = cv_metrics_family(
			m,
			&(struct cv_metric_desc){
				.name = "cvoip_bus_published_total",
				.help = "Events published on the event bus.",
				.type = CV_METRIC_COUNTER,
				.labels = l_topic,
				.nlabels = 1},
			&f_pub);
		for (unsigned t = 0; !err && t < CV_BUS_TOPIC_COUNT; t++)
			err = cv_metrics_series(f_pub, &topic_names[t], 1,
						&bus->m_published[t]);
		if (!err)
			err = cv_metrics_family(
				m,
				&(struct cv_metric_desc){
					.name = "cvoip_bus_delivered_total",
					.help = "Events handed to a "
						"subscriber's callback.",
					.type = CV_METRIC_COUNTER,
					.labels = l_sub,
					.nlabels = 1},
				&bus->f_delivered);
		if (!err)
			err = cv_metrics_family(
				m,
				&(struct cv_metric_desc){
					.name = "cvoip_bus_dropped_total",
					.help = "Events a subscriber lost "
						"because its queue was full.",
					.type = CV_METRIC_COUNTER,
					.labels = l_topic_sub,
					.nlabels = 2},
				&bus->f_dropped);
		if (err) {
			cv_bus_destroy(bus);
			return err;
		}
	}
	*busp = bus;
	return 0;
}

void cv_bus_destroy(struct cv_bus *bus)
{
	if (!bus)
		return;
	if (bus->subs)
		CV_ERROR(BUS_MOD,
			 "bus destroyed with live subscriptions; leaking them");
	unsigned n = atomic_load(&bus->npubs);
	for (unsigned i = 0; i < n; i++)
		free(atomic_load(&bus->pubs[i]));
	free(bus->pubs);
	free(atomic_load(&bus->snap));
	pthread_mutex_destroy(&bus->lock);
	free(bus);
}

/* ---- publishing
 * ------------------------------------------------------------------ */

static struct bus_pub *pub_slow(struct cv_bus *bus)
{
	struct bus_pub *pub = NULL;
	pthread_mutex_lock(&bus->lock);
	unsigned n = atomic_load_explicit(&bus->npubs, memory_order_relaxed);
	for (unsigned i = 0; i < n; i++) {
		struct bus_pub *p = atomic_load_explicit(&bus->pubs[i],
							 memory_order_relaxed);
		if (p->owner == &tls_marker) {
			pub = p;
			break;
		}
	}
	if (!pub && n < bus->max_pubs &&
	    (pub = aligned_alloc(CACHELINE, sizeof(*pub)))) {
		memset(pub, 0, sizeof(*pub));
		pub->owner = &tls_marker;
		pub->idx = (uint16_t)n;
		struct cv_worker *w = cv_worker_current();
		pub->worker =
			w ? (uint16_t)cv_worker_index(w) : CV_BUS_NO_WORKER;
		atomic_init(&pub->pin, 0);
		atomic_init(&pub->seq, 0);
		atomic_store_explicit(&bus->pubs[n], pub, memory_order_release);
		atomic_store_explicit(&bus->npubs, n + 1, memory_order_release);
	}
	pthread_mutex_unlock(&bus->lock);
	if (pub) {
		struct pub_tls *e = &tls_pubs[tls_next++ % TLS_CACHE];
		e->gen = bus->gen;
		e->pub = pub;
	}
	return pub;
}

static inline struct bus_pub *pub_get(struct cv_bus *bus)
{
	for (unsigned i = 0; i < TLS_CACHE; i++)
		if (tls_pubs[i].gen == bus->gen)
			return tls_pubs[i].pub;
	return pub_slow(bus);
}

static struct lane *lane_create(size_t cap)
{
	struct lane *l = aligned_alloc(
		CACHELINE,
		(sizeof(*l) + cap * sizeof(l->slots[0]) + CACHELINE - 1) /
			CACHELINE * CACHELINE);
	if (!l)
		return NULL;
	memset(l, 0, sizeof(*l));
	atomic_init(&l->tail, 0);
	atomic_init(&l->head, 0);
	l->mask = cap - 1;
	return l;
}

static inline void sub_wake(struct cv_bus_sub *s)
{
	if (atomic_load_explicit(&s->armed, memory_order_relaxed) &&
	    atomic_exchange_explicit(&s->armed, 0, memory_order_acq_rel))
		uv_async_send(&s->async);
}

static uint64_t now_ns(void)
{
	return uv_hrtime();
}

static inline bool lane_room(struct lane *l, uint64_t tail)
{
	l->head_cache = atomic_load_explicit(&l->head, memory_order_acquire);
	return tail - l->head_cache <= l->mask;
}

/* Publisher side of a full ring with CV_BUS_BLOCK: wait for room, at most
 * block_us. A few yields first (on a small machine the subscriber usually
 * needs just our CPU), then sleep on the subscription's condition variable,
 * which sub_drain() signals after a batch when it sees a waiter. */
static bool lane_wait(struct cv_bus_sub *s, struct lane *l, uint64_t tail)
{
	if (l->stalled)
		return false;
	uint64_t deadline = now_ns() + (uint64_t)s->block_us * 1000u;
	atomic_thread_fence(memory_order_seq_cst);
	sub_wake(s);
	/* a lingering subscriber is not armed: wake it all the same (rare
	 * path: the ring is full) */
	if (s->linger_ms)
		uv_async_send(&s->async);
	for (unsigned spin = 0; spin < 8; spin++) {
		sched_yield();
		if (lane_room(l, tail))
			return true;
	}
	bool ok = false;
	pthread_mutex_lock(&s->wait_mu);
	atomic_fetch_add_explicit(&s->waiters, 1, memory_order_seq_cst);
	for (;;) {
		/* Dekker pair with the waiter check in sub_drain() */
		atomic_thread_fence(memory_order_seq_cst);
		if (lane_room(l, tail)) {
			ok = true;
			break;
		}
		if (atomic_load_explicit(&s->closing, memory_order_relaxed))
			break;
		uint64_t now = now_ns();
		if (now >= deadline) {
			l->stalled = true;
			break;
		}
		sub_wake(s);
		if (s->linger_ms)
			uv_async_send(&s->async);
		/* the condvar clock is CLOCK_REALTIME: wait in short slices so
		 * a wall clock step cannot stretch the bound */
		uint64_t slice = CV_MIN(deadline - now, 2000000u);
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		uint64_t ns = (uint64_t)ts.tv_nsec + slice;
		ts.tv_sec += (time_t)(ns / 1000000000u);
		ts.tv_nsec = (long)(ns % 1000000000u);
		pthread_cond_timedwait(&s->wait_cv, &s->wait_mu, &ts);
	}
	atomic_fetch_sub_explicit(&s->waiters, 1, memory_order_relaxed);
	pthread_mutex_unlock(&s->wait_mu);
	return ok;
}

/* Returns false when the event was dropped for this subscriber. */
static inline bool lane_push(struct cv_bus_sub *s, struct bus_pub *pub,
			     struct bus_ev *e)
{
	struct lane *l =
		atomic_load_explicit(&s->lanes[pub->idx], memory_order_relaxed);
	if (CV_UNLIKELY(!l)) {
		l = lane_create(s->cap);
		if (!l)
			return false;
		atomic_store_explicit(&s->lanes[pub->idx], l,
				      memory_order_release);
	}
	uint64_t tail = atomic_load_explicit(&l->tail, memory_order_relaxed);
	if (CV_UNLIKELY(tail - l->head_cache > l->mask)) {
		l->head_cache =
			atomic_load_explicit(&l->head, memory_order_acquire);
		if (tail - l->head_cache > l->mask &&
		    (s->overflow != CV_BUS_BLOCK || !lane_wait(s, l, tail)))
			return false;
		l->stalled = false;
	}
	l->slots[tail & l->mask] = e;
	atomic_store_explicit(&l->tail, tail + 1, memory_order_release);
	return true;
}

/* Drops are counted always and logged at most once a second per
 * subscription (the publisher may be any worker: an atomic, not a static
 * rate limiter). */
static void count_drop(struct cv_bus_sub *s, enum cv_bus_topic t)
{
	uint64_t n = atomic_fetch_add_explicit(&s->dropped, 1,
					       memory_order_relaxed) +
		     1;
	cv_metric_inc(s->m_dropped[t]);
	uint64_t now = uv_hrtime() / 1000000u;
	uint64_t last = atomic_load_explicit(&s->log_ms, memory_order_relaxed);
	if ((n == 1 || now - last >= 1000) &&
	    atomic_compare_exchange_strong(&s->log_ms, &last, now))
		CV_WARN(BUS_MOD,
			"subscriber %s queue full: dropped=%llu topic=%s",
			s->name, (unsigned long long)n, topic_names[t]);
}

static int bus_post(struct cv_bus *bus, struct bus_ev *e)
{
	struct bus_pub *pub = pub_get(bus);
	if (CV_UNLIKELY(!pub)) {
		ev_release(e, 1);
		return CV_ETOOBIG;
	}
	struct cv_bus_event *ev = &e->ev;
	enum cv_bus_topic t = ev->topic;
	uint64_t seq =
		atomic_load_explicit(&pub->seq, memory_order_relaxed) + 1;
	atomic_store_explicit(&pub->seq, seq, memory_order_relaxed);
	ev->seq = seq;
	ev->publisher = pub->idx;
	ev->worker = pub->worker;
	cv_metric_inc(bus->m_published[t]);

	/* Pin: from here until unpinned, the snapshot we read stays valid. */
	uint64_t pin = atomic_load_explicit(&pub->pin, memory_order_relaxed);
	atomic_store_explicit(&pub->pin, pin + 1, memory_order_relaxed);
	pin_fence();
	struct snap *sn =
		atomic_load_explicit(&bus->snap, memory_order_acquire);
	unsigned n = sn->n[t];
	struct cv_bus_sub **subs = sn->by_topic[t];
	if (!n) {
		atomic_store_explicit(&pub->pin, pin + 2, memory_order_release);
		ev_free(e);
		return 0;
	}
	/* One reference per subscriber, set before anyone can see the event;
	 * the publisher keeps none. A subscriber cannot release a share that
	 * was not pushed yet, so the event outlives the loop below. */
	atomic_store_explicit(&e->refs, n, memory_order_relaxed);
	unsigned dropped = 0;
	for (unsigned i = 0; i < n; i++) {
		struct cv_bus_sub *s = subs[i];
		if (CV_LIKELY(lane_push(s, pub, e)))
			continue;
		dropped++;
		/* An unsubscribing subscriber loses nothing it wanted. */
		if (!atomic_load_explicit(&s->closing, memory_order_relaxed))
			count_drop(s, t);
		ev_release(e, 1);
	}
	/* Dekker pair with sub_drain(): our tail stores before the armed loads.
	 */
	atomic_thread_fence(memory_order_seq_cst);
	for (unsigned i = 0; i < n; i++)
		sub_wake(subs[i]);
	atomic_store_explicit(&pub->pin, pin + 2, memory_order_release);
	return dropped ? CV_EFULL : 0;
}

int cv_bus_publish(struct cv_bus *bus, enum cv_bus_type type,
		   const void *payload)
{
	if (!bus)
		return -EINVAL;
	struct bus_ev *e;
	int err = ev_build(&e, type, payload);
	if (err)
		return err;
	return bus_post(bus, e);
}

int cv_bus_post(struct cv_bus *bus, struct cv_bus_event *ev)
{
	if (!ev)
		return -EINVAL;
	if (!bus || (unsigned)ev->type >= CV_BUS_TYPE_COUNT) {
		cv_bus_event_unref(ev);
		return -EINVAL;
	}
	struct bus_ev *e = ev_of(ev);
	/* The caller gave us its only reference: a shared event could be
	 * read by someone else while we stamp seq/publisher below. A type of
	 * another payload kind would make the encoder read a string pointer
	 * where the copy put a number. */
	if (atomic_load_explicit(&e->refs, memory_order_acquire) != 1 ||
	    types[ev->type].kind != e->kind) {
		cv_bus_event_unref(ev);
		return -EINVAL;
	}
	ev->topic = types[ev->type].topic;
	return bus_post(bus, e);
}

uint64_t cv_bus_published(const struct cv_bus *bus)
{
	uint64_t total = 0;
	unsigned n = atomic_load_explicit(&((struct cv_bus *)bus)->npubs,
					  memory_order_acquire);
	for (unsigned i = 0; i < n; i++) {
		struct bus_pub *p = atomic_load_explicit(&bus->pubs[i],
							 memory_order_acquire);
		total += atomic_load_explicit(&p->seq, memory_order_relaxed);
	}
	return total;
}

/* ---- subscriber side
 * ------------------------------------------------------------ */

static bool lanes_pending(struct cv_bus_sub *s, unsigned npubs)
{
	for (unsigned i = 0; i < npubs; i++) {
		struct lane *l = atomic_load_explicit(&s->lanes[i],
						      memory_order_acquire);
		if (l && atomic_load_explicit(&l->tail, memory_order_acquire) !=
				 atomic_load_explicit(&l->head,
						      memory_order_relaxed))
			return true;
	}
	return false;
}

/* Drains up to `max` events of one ring; returns how many were taken. */
static unsigned lane_drain(struct cv_bus_sub *s, struct lane *l, unsigned max)
{
	uint64_t head = atomic_load_explicit(&l->head, memory_order_relaxed);
	if (l->tail_cache == head) {
		l->tail_cache =
			atomic_load_explicit(&l->tail, memory_order_acquire);
		if (l->tail_cache == head)
			return 0;
	}
	uint64_t avail = l->tail_cache - head;
	unsigned n = avail < max ? (unsigned)avail : max;
	unsigned done = 0;
	while (done < n) {
		struct bus_ev *e = l->slots[head & l->mask];
		head++;
		done++;
		/* Free the slot before the callback: a BLOCK publisher may go
		 * on. */
		atomic_store_explicit(&l->head, head, memory_order_release);
		s->fn(&e->ev, s->arg);
		ev_release(e, 1);
		if (atomic_load_explicit(&s->closing, memory_order_relaxed))
			break;
	}
	return done;
}

static void on_linger(uv_timer_t *t);

static void sub_drain(struct cv_bus_sub *s)
{
	struct cv_bus *bus = s->bus;
	unsigned npubs =
		atomic_load_explicit(&bus->npubs, memory_order_acquire);
	bool more = false;
	uint64_t got = 0;
	for (unsigned k = 0; k < npubs; k++) {
		unsigned i = (s->rr + k) % npubs;
		struct lane *l = atomic_load_explicit(&s->lanes[i],
						      memory_order_acquire);
		if (!l)
			continue;
		unsigned n = lane_drain(s, l, s->batch);
		got += n;
		if (n && s->overflow == CV_BUS_BLOCK) {
			atomic_thread_fence(memory_order_seq_cst);
			if (atomic_load_explicit(&s->waiters,
						 memory_order_relaxed)) {
				pthread_mutex_lock(&s->wait_mu);
				pthread_cond_broadcast(&s->wait_cv);
				pthread_mutex_unlock(&s->wait_mu);
			}
		}
		if (atomic_load_explicit(&s->closing, memory_order_relaxed))
			goto out;
		if (n == s->batch)
			more = true;
	}
	s->rr = npubs ? (s->rr + 1) % npubs : 0;
	if (more) {
		/* Let the loop's other handles run; come back next iteration.
		 */
		uv_async_send(&s->async);
		goto out;
	}
	if (got && s->linger_ms) {
		/* Coalescing: stay unarmed (publishers do not wake us) and
		 * look again later; a drain that finds nothing arms. */
		uv_timer_start(&s->linger, on_linger, s->linger_ms, 0);
		goto out;
	}
	/* Going idle: publish armed, then look once more (Dekker pair with
	 * the fence in bus_post()). */
	atomic_store_explicit(&s->armed, 1, memory_order_relaxed);
	atomic_thread_fence(memory_order_seq_cst);
	/* Reload npubs: a publisher that appeared since the drain began has
	 * a ring we have not looked at yet. */
	npubs = atomic_load_explicit(&bus->npubs, memory_order_acquire);
	if (lanes_pending(s, npubs) &&
	    atomic_exchange_explicit(&s->armed, 0, memory_order_acq_rel))
		uv_async_send(&s->async);
out:
	if (got) {
		atomic_store_explicit(
			&s->delivered,
			atomic_load_explicit(&s->delivered,
					     memory_order_relaxed) +
				got,
			memory_order_relaxed);
		cv_metric_add(s->m_delivered, got);
	}
}

static void on_async(uv_async_t *a)
{
	struct cv_bus_sub *s = CV_CONTAINER_OF(a, struct cv_bus_sub, async);
	if (!atomic_load_explicit(&s->closing, memory_order_relaxed))
		sub_drain(s);
}

static void on_linger(uv_timer_t *t)
{
	struct cv_bus_sub *s = CV_CONTAINER_OF(t, struct cv_bus_sub, linger);
	if (!atomic_load_explicit(&s->closing, memory_order_relaxed))
		sub_drain(s);
}

static void sub_free(struct cv_bus_sub *s)
{
	if (s->lanes) {
		/* may run after cv_bus_destroy(): no access to s->bus */
		for (unsigned i = 0; i < s->nlanes; i++) {
			struct lane *l = atomic_load_explicit(
				&s->lanes[i], memory_order_acquire);
			if (!l)
				continue;
			uint64_t tail = atomic_load_explicit(
				&l->tail, memory_order_acquire);
			for (uint64_t h = atomic_load(&l->head); h != tail; h++)
				ev_release(l->slots[h & l->mask], 1);
			free(l);
		}
		free(s->lanes);
	}
	pthread_mutex_destroy(&s->wait_mu);
	pthread_cond_destroy(&s->wait_cv);
	free(s->name);
	free(s);
}

static void on_close(uv_handle_t *h)
{
	struct cv_bus_sub *s = h->data;
	if (--s->open_handles == 0)
		sub_free(s);
}

static void sub_close(struct cv_bus_sub *s)
{
	if (s->linger_ms) {
		uv_timer_stop(&s->linger);
		uv_close((uv_handle_t *)&s->linger, on_close);
	}
	uv_close((uv_handle_t *)&s->async, on_close);
}

/* Every publisher that was pinned when we looked has unpinned since. The
 * caller already replaced the snapshot, so later pins see the new one. */
static void wait_publishers(struct cv_bus *bus)
{
	writer_fence();
	unsigned n = atomic_load_explicit(&bus->npubs, memory_order_acquire);
	for (unsigned i = 0; i < n; i++) {
		struct bus_pub *p = atomic_load_explicit(&bus->pubs[i],
							 memory_order_acquire);
		uint64_t v =
			atomic_load_explicit(&p->pin, memory_order_acquire);
		if (!(v & 1u))
			continue;
		while (atomic_load_explicit(&p->pin, memory_order_acquire) == v)
			sched_yield();
	}
}

/* Called with bus->lock held; returns the old snapshot for the caller to
 * free after wait_publishers(), or NULL on ENOMEM (nothing changed). */
static struct snap *snap_swap_locked(struct cv_bus *bus)
{
	struct snap *sn = snap_build(bus->subs);
	if (!sn)
		return NULL;
	return atomic_exchange_explicit(&bus->snap, sn, memory_order_seq_cst);
}

static size_t pow2_at_least(size_t v)
{
	size_t p = 1;
	while (p < v)
		p <<= 1;
	return p;
}

int cv_bus_subscribe(struct cv_bus *bus, const struct cv_bus_sub_params *p,
		     struct cv_bus_sub **subp)
{
	if (!bus || !p || !p->loop || !p->fn || !subp)
		return -EINVAL;
	if (p->topics & ~CV_BUS_MASK_ALL)
		return -EINVAL;
	if (p->queue_cap > MAX_QUEUE_CAP || p->block_us > MAX_BLOCK_US)
		return -EINVAL;
	if (p->overflow != CV_BUS_DROP && p->overflow != CV_BUS_BLOCK)
		return -EINVAL;
	/* cache-line members: calloc() only promises 16-byte alignment */
	size_t sz = (sizeof(struct cv_bus_sub) + CACHELINE - 1) / CACHELINE *
		    CACHELINE;
	struct cv_bus_sub *s = aligned_alloc(CACHELINE, sz);
	if (!s)
		return -ENOMEM;
	memset(s, 0, sz);
	s->bus = bus;
	s->fn = p->fn;
	s->arg = p->arg;
	s->topics = p->topics ? p->topics : CV_BUS_MASK_ALL;
	s->cap = pow2_at_least(p->queue_cap ? p->queue_cap : DEF_QUEUE_CAP);
	if (s->cap < 2)
		s->cap = 2;
	s->overflow = p->overflow;
	s->block_us = p->block_us ? p->block_us : DEF_BLOCK_US;
	s->batch = p->batch ? p->batch : DEF_BATCH;
	s->name = strdup(p->name ? p->name : "anon");
	s->lanes = calloc(bus->max_pubs, sizeof(s->lanes[0]));
	s->nlanes = s->lanes ? bus->max_pubs : 0;
	atomic_init(&s->armed, 1);
	pthread_mutex_init(&s->wait_mu, NULL);
	pthread_cond_init(&s->wait_cv, NULL);
	int err = s->name && s->lanes ? 0 : -ENOMEM;
	for (unsigned t = 0; !err && bus->f_dropped && t < CV_BUS_TOPIC_COUNT;
	     t++) {
		if (!((s->topics >> t) & 1u))
			continue;
		const char *vals[] = {topic_names[t], s->name};
		err = cv_metrics_series(bus->f_dropped, vals, 2,
					&s->m_dropped[t]);
	}
	if (!err && bus->f_delivered)
		err = cv_metrics_series(bus->f_delivered,
					(const char *const *)&s->name, 1,
					&s->m_delivered);
	if (!err)
		err = uv_async_init(p->loop, &s->async, on_async);
	if (err) {
		sub_free(s);
		return err;
	}
	s->async.data = s;
	s->open_handles = 1;
	if (bus->sub_linger_ms && uv_timer_init(p->loop, &s->linger) == 0) {
		s->linger.data = s;
		s->linger_ms = bus->sub_linger_ms;
		s->open_handles++;
	}

	pthread_mutex_lock(&bus->lock);
	s->next = bus->subs;
	bus->subs = s;
	struct snap *old = snap_swap_locked(bus);
	if (!old)
		bus->subs = s->next;
	pthread_mutex_unlock(&bus->lock);
	if (!old) {
		sub_close(s);
		return -ENOMEM;
	}
	wait_publishers(bus);
	free(old);
	*subp = s;
	return 0;
}

void cv_bus_unsubscribe(struct cv_bus_sub *s)
{
	if (!s)
		return;
	struct cv_bus *bus = s->bus;
	/* Publishers blocked on this subscription give up at once. */
	atomic_store_explicit(&s->closing, true, memory_order_seq_cst);
	pthread_mutex_lock(&s->wait_mu);
	pthread_cond_broadcast(&s->wait_cv);
	pthread_mutex_unlock(&s->wait_mu);
	struct snap *old;
	pthread_mutex_lock(&bus->lock);
	struct cv_bus_sub **pp = &bus->subs;
	while (*pp && *pp != s)
		pp = &(*pp)->next;
	if (*pp)
		*pp = s->next;
	/* On ENOMEM keep retrying: the subscription must become unreachable. */
	while (!(old = snap_swap_locked(bus))) {
		pthread_mutex_unlock(&bus->lock);
		struct timespec ts = {0, 1000000};
		nanosleep(&ts, NULL);
		pthread_mutex_lock(&bus->lock);
	}
	pthread_mutex_unlock(&bus->lock);
	wait_publishers(bus);
	free(old);
	sub_close(s);
}

uint64_t cv_bus_sub_dropped(const struct cv_bus_sub *s)
{
	return s ? atomic_load_explicit(&((struct cv_bus_sub *)s)->dropped,
					memory_order_relaxed)
		 : 0;
}

uint64_t cv_bus_sub_delivered(const struct cv_bus_sub *s)
{
	return s ? atomic_load_explicit(&((struct cv_bus_sub *)s)->delivered,
					memory_order_relaxed)
		 : 0;
}
