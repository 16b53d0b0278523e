/* Worker runtime: W threads, one uv loop each, bounded MPSC inboxes. */
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include "runtime_int.h"

#define MAX_SLOTS 32

struct cv_worker {
	struct cv_rt *rt;
	unsigned idx;
	uv_thread_t thread;
	uv_loop_t loop;
	uv_async_t wake;
	struct ring inbox;
	struct cv_wheel *wheel;
	void *slots[MAX_SLOTS];
	_Atomic uint64_t dropped;
	bool loop_ready;
};

struct cv_rt {
	struct cv_rt_params p;
	unsigned n;
	struct cv_worker *workers;
	uv_sem_t started;
	_Atomic bool stopping;
	_Atomic int fail;
	bool threads_running;
	/* main thread: signals and stop requests */
	uv_loop_t main_loop;
	uv_async_t main_wake;
	uv_signal_t sigint, sigterm;
	_Atomic bool main_ready;
};

static _Thread_local struct cv_worker *current;
static _Atomic int next_slot;

int cv_worker_slot_alloc(void)
{
	int s = atomic_fetch_add(&next_slot, 1);
	return s < MAX_SLOTS ? s : CV_ETOOBIG;
}

void *cv_worker_slot_get(const struct cv_worker *w, int slot)
{
	return (slot >= 0 && slot < MAX_SLOTS) ? w->slots[slot] : NULL;
}

void cv_worker_slot_set(struct cv_worker *w, int slot, void *val)
{
	if (slot >= 0 && slot < MAX_SLOTS)
		w->slots[slot] = val;
}

struct cv_worker *cv_worker_current(void)
{
	return current;
}

unsigned cv_worker_index(const struct cv_worker *w)
{
	return w->idx;
}

uv_loop_t *cv_worker_loop(struct cv_worker *w)
{
	return &w->loop;
}

struct cv_rt *cv_worker_rt(struct cv_worker *w)
{
	return w->rt;
}

struct cv_wheel *cv_worker_wheel(struct cv_worker *w)
{
	return w ? w->wheel : NULL;
}

unsigned cv_rt_workers(const struct cv_rt *rt)
{
	return rt->n;
}

struct cv_worker *cv_rt_worker(struct cv_rt *rt, unsigned i)
{
	return i < rt->n ? &rt->workers[i] : NULL;
}

unsigned cv_rt_owner_hash(const struct cv_rt *rt, uint64_t hash)
{
	return (unsigned)(hash % rt->n);
}

unsigned cv_rt_owner(const struct cv_rt *rt, const void *key, size_t n)
{
	return cv_rt_owner_hash(rt, cv_hash(key, n));
}

uint64_t cv_rt_dropped(const struct cv_rt *rt)
{
	uint64_t sum = 0;
	for (unsigned i = 0; i < rt->n; i++)
		sum += atomic_load(&rt->workers[i].dropped);
	return sum;
}

static void drain(struct cv_worker *w)
{
	void *fn, *arg;
	/* Bounded batch per wake-up so one busy producer cannot starve the
	 * loop's I/O; if more is left, wake ourselves again. */
	for (unsigned i = 0; i < 1024; i++) {
		if (!ring_pop(&w->inbox, &fn, &arg))
			return;
		((cv_worker_fn *)fn)(w, arg);
	}
	uv_async_send(&w->wake);
}

static void walk_close(uv_handle_t *h, void *arg)
{
	if (!uv_is_closing(h))
		uv_close(h, NULL);
}

static void on_wake(uv_async_t *a)
{
	struct cv_worker *w = a->data;
	drain(w);
	if (atomic_load(&w->rt->stopping))
		uv_stop(&w->loop);
}

int cv_worker_post(struct cv_worker *w, cv_worker_fn *fn, void *arg)
{
	int err = ring_push(&w->inbox, (void *)fn, arg);
	if (err) {
		atomic_fetch_add_explicit(&w->dropped, 1, memory_order_relaxed);
		return err;
	}
	uv_async_send(&w->wake);
	return 0;
}

void cv_rt_fail(struct cv_rt *rt, int err)
{
	int expected = 0;
	atomic_compare_exchange_strong(&rt->fail, &expected, err ? err : -EIO);
}

static void worker_main(void *arg)
{
	struct cv_worker *w = arg;
	struct cv_rt *rt = w->rt;
	current = w;
	if (rt->p.on_start)
		rt->p.on_start(w, rt->p.arg);
	uv_sem_post(&rt->started);
	if (!atomic_load(&rt->fail) && !atomic_load(&rt->stopping))
		uv_run(&w->loop, UV_RUN_DEFAULT);
	if (rt->p.on_stop)
		rt->p.on_stop(w, rt->p.arg);
	/* Messages still queued are run so their owners can free them. */
	void *fn, *marg;
	while (ring_pop(&w->inbox, &fn, &marg))
		((cv_worker_fn *)fn)(w, marg);
	cv_wheel_destroy(w->wheel);
	w->wheel = NULL;
	uv_walk(&w->loop, walk_close, NULL);
	uv_run(&w->loop, UV_RUN_DEFAULT);
	current = NULL;
}

int cv_rt_create(struct cv_rt **rtp, const struct cv_rt_params *p)
{
	struct cv_rt *rt = calloc(1, sizeof(*rt));
	if (!rt)
		return -ENOMEM;
	if (p)
		rt->p = *p;
	rt->n = rt->p.workers;
	if (!rt->n) {
		long c = sysconf(_SC_NPROCESSORS_ONLN);
		rt->n = c > 0 ? (unsigned)c : 1;
	}
	if (rt->n > 1024) {
		free(rt);
		return -EINVAL;
	}
	if (!rt->p.queue_cap)
		rt->p.queue_cap = 65536;
	rt->workers = calloc(rt->n, sizeof(*rt->workers));
	if (!rt->workers) {
		free(rt);
		return -ENOMEM;
	}
	int err = uv_sem_init(&rt->started, 0);
	if (err)
		goto fail;
	for (unsigned i = 0; i < rt->n; i++) {
		struct cv_worker *w = &rt->workers[i];
		w->rt = rt;
		w->idx = i;
		err = ring_init(&w->inbox, rt->p.queue_cap);
		if (err)
			goto fail;
		err = uv_loop_init(&w->loop);
		if (err)
			goto fail;
		w->loop_ready = true;
		err = uv_async_init(&w->loop, &w->wake, on_wake);
		if (err)
			goto fail;
		w->wake.data = w;
		err = cv_wheel_create(&w->wheel, &w->loop, 10000);
		if (err)
			goto fail;
	}
	*rtp = rt;
	return 0;
fail:
	cv_rt_destroy(rt);
	return err;
}

int cv_rt_start(struct cv_rt *rt)
{
	unsigned started = 0;
	for (; started < rt->n; started++) {
		int err = uv_thread_create(&rt->workers[started].thread,
					   worker_main, &rt->workers[started]);
		if (err) {
			cv_rt_fail(rt, err);
			break;
		}
	}
	for (unsigned i = 0; i < started; i++)
		uv_sem_wait(&rt->started);
	rt->threads_running = true;
	int fail = atomic_load(&rt->fail);
	if (fail || started < rt->n) {
		cv_rt_stop(rt);
		for (unsigned i = 0; i < started; i++)
			uv_thread_join(&rt->workers[i].thread);
		rt->threads_running = false;
		return fail ? fail : -EAGAIN;
	}
	return 0;
}

/* A message posted to a worker after it drained its inbox in worker_main
 * (another worker was still running) runs here, once every thread has
 * joined, so that what it carries is freed. Handlers see their worker
 * stopped (its modules ran on_stop) and must only release. */
static void drain_after_join(struct cv_rt *rt)
{
	for (unsigned i = 0; i < rt->n; i++) {
		struct cv_worker *w = &rt->workers[i];
		void *fn, *arg;
		if (!w->inbox.cells)
			continue;
		while (ring_pop(&w->inbox, &fn, &arg))
			((cv_worker_fn *)fn)(w, arg);
	}
}

static void main_wake_cb(uv_async_t *a)
{
	struct cv_rt *rt = a->data;
	if (atomic_load(&rt->stopping))
		uv_stop(&rt->main_loop);
}

static void on_signal(uv_signal_t *s, int signum)
{
	struct cv_rt *rt = s->data;
	if (rt->p.on_signal) {
		rt->p.on_signal(rt, signum, rt->p.arg);
		return;
	}
	cv_log(CV_LOG_INFO, "runtime", "signal %d: stopping", signum);
	cv_rt_stop(rt);
}

static void stop_workers(struct cv_rt *rt)
{
	for (unsigned i = 0; i < rt->n; i++)
		uv_async_send(&rt->workers[i].wake);
}

void cv_rt_stop(struct cv_rt *rt)
{
	atomic_store(&rt->stopping, true);
	stop_workers(rt);
	if (rt->main_ready)
		uv_async_send(&rt->main_wake);
}

int cv_rt_wait(struct cv_rt *rt)
{
	int err = uv_loop_init(&rt->main_loop);
	if (err)
		return err;
	uv_async_init(&rt->main_loop, &rt->main_wake, main_wake_cb);
	rt->main_wake.data = rt;
	if (rt->p.handle_signals) {
		uv_signal_init(&rt->main_loop, &rt->sigint);
		uv_signal_init(&rt->main_loop, &rt->sigterm);
		rt->sigint.data = rt->sigterm.data = rt;
		uv_signal_start(&rt->sigint, on_signal, SIGINT);
		uv_signal_start(&rt->sigterm, on_signal, SIGTERM);
	}
	rt->main_ready = true;
	/* A stop requested before main_ready was set is seen here. */
	if (!atomic_load(&rt->stopping))
		uv_run(&rt->main_loop, UV_RUN_DEFAULT);
	rt->main_ready = false;
	stop_workers(rt);
	for (unsigned i = 0; i < rt->n; i++)
		uv_thread_join(&rt->workers[i].thread);
	rt->threads_running = false;
	drain_after_join(rt);
	uv_walk(&rt->main_loop, walk_close, NULL);
	uv_run(&rt->main_loop, UV_RUN_DEFAULT);
	uv_loop_close(&rt->main_loop);
	return atomic_load(&rt->fail);
}

void cv_rt_destroy(struct cv_rt *rt)
{
	if (!rt)
		return;
	if (rt->threads_running) {
		cv_rt_stop(rt);
		for (unsigned i = 0; i < rt->n; i++)
			uv_thread_join(&rt->workers[i].thread);
		rt->threads_running = false;
		drain_after_join(rt);
	}
	for (unsigned i = 0; i < rt->n; i++) {
		struct cv_worker *w = &rt->workers[i];
		if (w->wheel) { /* never started */
			cv_wheel_destroy(w->wheel);
			w->wheel = NULL;
		}
		if (w->loop_ready) {
			uv_walk(&w->loop, walk_close, NULL);
			uv_run(&w->loop, UV_RUN_DEFAULT);
			uv_loop_close(&w->loop);
		}
		ring_fini(&w->inbox);
	}
	uv_sem_destroy(&rt->started);
	free(rt->workers);
	free(rt);
}
