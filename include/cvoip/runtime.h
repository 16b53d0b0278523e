/*
 * cvoip worker runtime: W worker threads, one uv_loop_t each.
 *
 * Every transaction, dialog and call is owned by one worker, chosen by
 * cv_rt_owner() over its Call-ID. Work for another worker is posted as a
 * message to that worker's bounded MPSC queue; the worker drains it on its
 * own loop (woken by uv_async_send). Nothing else polls a worker's loop.
 */
#ifndef CVOIP_RUNTIME_H
#define CVOIP_RUNTIME_H

#include <uv.h>

#include "cvoip/base.h"

#ifdef __cplusplus
extern "C" {
#endif

struct cv_rt;
struct cv_worker;

typedef void(cv_worker_fn)(struct cv_worker *w, void *arg);

struct cv_rt_params {
	unsigned workers; /* 0: number of online CPUs */
	size_t queue_cap; /* per-worker message queue slots (power of 2) */
	cv_worker_fn *on_start; /* on each worker's thread, before it serves */
	cv_worker_fn *on_stop;	/* on each worker's thread, after it stopped */
	void *arg;
	bool handle_signals; /* SIGINT/SIGTERM stop the runtime (daemons) */
	/* With handle_signals: called on the waiting (main) thread instead
	 * of stopping, e.g. to hang up calls first and stop afterwards. */
	void (*on_signal)(struct cv_rt *rt, int signum, void *arg);
};

CV_API int cv_rt_create(struct cv_rt **rtp, const struct cv_rt_params *p);
/* Starts the worker threads and returns once each ran on_start. A non-zero
 * return from any on_start is impossible: on_start reports failure with
 * cv_rt_fail(), which makes cv_rt_start() return that error after stopping
 * the workers again. */
CV_API int cv_rt_start(struct cv_rt *rt);
/* Blocks until cv_rt_stop() or (with handle_signals) SIGINT/SIGTERM, then
 * stops and joins the workers. Returns the first failure or 0. */
CV_API int cv_rt_wait(struct cv_rt *rt);
/* Thread-safe and async-signal-unsafe; may be called from any worker. */
CV_API void cv_rt_stop(struct cv_rt *rt);
CV_API void cv_rt_fail(struct cv_rt *rt, int err);
CV_API void cv_rt_destroy(struct cv_rt *rt);

CV_API unsigned cv_rt_workers(const struct cv_rt *rt);
CV_API struct cv_worker *cv_rt_worker(struct cv_rt *rt, unsigned i);
/* The worker that owns a key (e.g. a Call-ID): hash modulo W. */
CV_API unsigned cv_rt_owner(const struct cv_rt *rt, const void *key, size_t n);
CV_API unsigned cv_rt_owner_hash(const struct cv_rt *rt, uint64_t hash);

/* The worker whose thread calls this, or NULL off-worker. */
CV_API struct cv_worker *cv_worker_current(void);
CV_API unsigned cv_worker_index(const struct cv_worker *w);
CV_API uv_loop_t *cv_worker_loop(struct cv_worker *w);
CV_API struct cv_rt *cv_worker_rt(struct cv_worker *w);
/* Module-private per-worker state slots (index from cv_worker_slot_alloc). */
CV_API int cv_worker_slot_alloc(void);
CV_API void *cv_worker_slot_get(const struct cv_worker *w, int slot);
CV_API void cv_worker_slot_set(struct cv_worker *w, int slot, void *val);

/* Post fn(w, arg) to run on worker w's loop. Thread-safe, lock-free.
 * A message that reaches a worker after it stopped runs once the runtime
 * has joined every worker, on the stopping thread: such a handler finds
 * its modules stopped and only releases what the message carries.
 * -CV_EFULL (i.e. CV_EFULL) when the queue is full: the caller keeps
 * ownership of arg and decides (drop and count, or retry). */
CV_API int cv_worker_post(struct cv_worker *w, cv_worker_fn *fn, void *arg);
/* Messages dropped because queues were full, summed over workers. */
CV_API uint64_t cv_rt_dropped(const struct cv_rt *rt);

/* ---- bounded MPSC queue (also used by the event bus) ------------------- */
struct cv_mpsc;
CV_API int cv_mpsc_create(struct cv_mpsc **qp, size_t cap);
CV_API void cv_mpsc_destroy(struct cv_mpsc *q);
/* Any thread. CV_EFULL when full. */
CV_API int cv_mpsc_push(struct cv_mpsc *q, void *item);
/* Consumer thread only. NULL when empty. */
CV_API void *cv_mpsc_pop(struct cv_mpsc *q);
CV_API size_t cv_mpsc_cap(const struct cv_mpsc *q);

/* ---- timer wheel ----------------------------------------------------------
 * Hierarchical-free hashed wheel with 1 ms... resolution set at init: insert,
 * cancel and expire are O(1); 100k live timers cost nothing per tick but the
 * ones that fire. Driven by cv_clock_us(), so the fake clock works. One wheel
 * per worker, touched only by its worker. */
struct cv_tmr;
typedef void(cv_tmr_fn)(struct cv_tmr *t, void *arg);
struct cv_tmr {
	struct cv_tmr *next, *prev;
	uint64_t due_us;
	cv_tmr_fn *fn;
	void *arg;
	struct cv_wheel *wheel;
};
struct cv_wheel;
/* Creates a wheel; when loop is non-NULL a uv timer drives it. */
CV_API int cv_wheel_create(struct cv_wheel **wp, uv_loop_t *loop,
			   uint32_t tick_us);
CV_API void cv_wheel_destroy(struct cv_wheel *w);
CV_API void cv_tmr_init(struct cv_tmr *t);
/* (Re)arm t to fire after delay_us. */
CV_API void cv_tmr_start(struct cv_wheel *w, struct cv_tmr *t,
			 uint64_t delay_us, cv_tmr_fn *fn, void *arg);
CV_API void cv_tmr_cancel(struct cv_tmr *t);
CV_API bool cv_tmr_active(const struct cv_tmr *t);
/* Run every timer due at cv_clock_us(); tests call it after advancing the
 * fake clock. Returns the number fired. */
CV_API unsigned cv_wheel_run(struct cv_wheel *w);
CV_API size_t cv_wheel_count(const struct cv_wheel *w);
/* The wheel of the calling worker (created by the runtime), or NULL. */
CV_API struct cv_wheel *cv_worker_wheel(struct cv_worker *w);

#ifdef __cplusplus
}
#endif

#endif
