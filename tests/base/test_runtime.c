/* base: MPSC queue, worker runtime, timer wheel (also run under TSan). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sched.h>
#include <pthread.h>
#include <stdatomic.h>

#include "cvoip/runtime.h"

#define PRODUCERS    4
#define PER_PRODUCER 50000

struct mpsc_ctx {
	struct cv_mpsc *q;
	uintptr_t id;
	_Atomic uint64_t full;
};

static void *producer(void *arg)
{
	struct mpsc_ctx *c = arg;
	for (uintptr_t i = 1; i <= PER_PRODUCER; i++) {
		/* item encodes producer and sequence for order checks */
		void *item = (void *)((c->id << 32) | i);
		while (cv_mpsc_push(c->q, item) == CV_EFULL)
			atomic_fetch_add(&c->full, 1);
	}
	return NULL;
}

static void test_mpsc_threads(void **state)
{
	struct cv_mpsc *q;
	assert_int_equal(cv_mpsc_create(&q, 1000), 0);
	assert_int_equal(cv_mpsc_cap(q), 1024);
	struct mpsc_ctx ctx[PRODUCERS];
	pthread_t th[PRODUCERS];
	for (int i = 0; i < PRODUCERS; i++) {
		ctx[i].q = q;
		ctx[i].id = (uintptr_t)i + 1;
		atomic_init(&ctx[i].full, 0);
		pthread_create(&th[i], NULL, producer, &ctx[i]);
	}
	uintptr_t last[PRODUCERS + 1] = {0};
	size_t got = 0;
	while (got < PRODUCERS * PER_PRODUCER) {
		void *item = cv_mpsc_pop(q);
		if (!item)
			continue;
		uintptr_t v = (uintptr_t)item;
		uintptr_t id = v >> 32, seq = v & 0xffffffffu;
		assert_true(id >= 1 && id <= PRODUCERS);
		/* per-producer order holds */
		assert_int_equal(seq, last[id] + 1);
		last[id] = seq;
		got++;
	}
	for (int i = 0; i < PRODUCERS; i++)
		pthread_join(th[i], NULL);
	assert_null(cv_mpsc_pop(q));
	cv_mpsc_destroy(q);
}

static void test_mpsc_full(void **state)
{
	struct cv_mpsc *q;
	assert_int_equal(cv_mpsc_create(&q, 4), 0);
	for (uintptr_t i = 1; i <= 4; i++)
		assert_int_equal(cv_mpsc_push(q, (void *)i), 0);
	assert_int_equal(cv_mpsc_push(q, (void *)5), CV_EFULL);
	assert_ptr_equal(cv_mpsc_pop(q), (void *)1);
	assert_int_equal(cv_mpsc_push(q, (void *)5), 0);
	for (uintptr_t i = 2; i <= 5; i++)
		assert_ptr_equal(cv_mpsc_pop(q), (void *)i);
	cv_mpsc_destroy(q);
}

struct rt_ctx {
	_Atomic int started;
	_Atomic int stopped;
	_Atomic uint64_t handled[8];
	_Atomic int wrong_thread;
	struct cv_rt *rt;
};

static void on_start(struct cv_worker *w, void *arg)
{
	struct rt_ctx *c = arg;
	assert_ptr_equal(cv_worker_current(), w);
	atomic_fetch_add(&c->started, 1);
}

static void on_stop(struct cv_worker *w, void *arg)
{
	struct rt_ctx *c = arg;
	atomic_fetch_add(&c->stopped, 1);
}

struct msg {
	struct rt_ctx *ctx;
	unsigned target;
};

static void handle(struct cv_worker *w, void *arg)
{
	struct msg *m = arg;
	if (cv_worker_current() != w || cv_worker_index(w) != m->target)
		atomic_fetch_add(&m->ctx->wrong_thread, 1);
	atomic_fetch_add(&m->ctx->handled[m->target], 1);
	free(m);
}

static void test_runtime_post(void **state)
{
	struct rt_ctx c = {0};
	struct cv_rt_params p = {.workers = 3,
				 .queue_cap = 4096,
				 .on_start = on_start,
				 .on_stop = on_stop,
				 .arg = &c};
	assert_int_equal(cv_rt_create(&c.rt, &p), 0);
	assert_int_equal(cv_rt_workers(c.rt), 3);
	assert_int_equal(cv_rt_start(c.rt), 0);
	assert_int_equal(atomic_load(&c.started), 3);
	unsigned sent[3] = {0};
	for (int i = 0; i < 30000; i++) {
		char key[32];
		int n = snprintf(key, sizeof(key), "call-%d@host", i);
		unsigned owner = cv_rt_owner(c.rt, key, (size_t)n);
		assert_true(owner < 3);
		struct msg *m = malloc(sizeof(*m));
		m->ctx = &c;
		m->target = owner;
		while (cv_worker_post(cv_rt_worker(c.rt, owner), handle, m) ==
		       CV_EFULL)
			sched_yield();
		sent[owner]++;
	}
	/* every worker gets a share of the keys */
	for (int i = 0; i < 3; i++)
		assert_true(sent[i] > 5000);
	for (int spin = 0; spin < 5000; spin++) {
		uint64_t sum = 0;
		for (int i = 0; i < 3; i++)
			sum += atomic_load(&c.handled[i]);
		if (sum == 30000)
			break;
		usleep(1000);
	}
	for (int i = 0; i < 3; i++)
		assert_int_equal(atomic_load(&c.handled[i]), sent[i]);
	assert_int_equal(atomic_load(&c.wrong_thread), 0);
	cv_rt_stop(c.rt);
	assert_int_equal(cv_rt_wait(c.rt), 0);
	assert_int_equal(atomic_load(&c.stopped), 3);
	cv_rt_destroy(c.rt);
}

static void failing_start(struct cv_worker *w, void *arg)
{
	if (cv_worker_index(w) == 1)
		cv_rt_fail(cv_worker_rt(w), -EADDRINUSE);
}

static void test_runtime_start_failure(void **state)
{
	struct cv_rt *rt;
	struct cv_rt_params p = {.workers = 2, .on_start = failing_start};
	assert_int_equal(cv_rt_create(&rt, &p), 0);
	assert_int_equal(cv_rt_start(rt), -EADDRINUSE);
	cv_rt_destroy(rt);
}

struct tctx {
	int fired;
	uint64_t at[8];
	struct cv_tmr *other;
};

static void tmr_cb(struct cv_tmr *t, void *arg)
{
	struct tctx *c = arg;
	if (c->fired < 8)
		c->at[c->fired] = cv_clock_us();
	c->fired++;
	if (c->other)
		cv_tmr_cancel(c->other);
}

static void test_wheel_fake_clock(void **state)
{
	cv_clock_fake_enable(1000000000);
	struct cv_wheel *w;
	assert_int_equal(cv_wheel_create(&w, NULL, 10000), 0);
	struct tctx c = {0};
	struct cv_tmr a, b, far;
	cv_tmr_init(&a);
	cv_tmr_init(&b);
	cv_tmr_init(&far);
	cv_tmr_start(w, &a, 500000, tmr_cb, &c);      /* Timer A: T1 */
	cv_tmr_start(w, &far, 180000000, tmr_cb, &c); /* Timer C: 3 min */
	assert_int_equal(cv_wheel_count(w), 2);
	cv_clock_fake_advance(499000);
	assert_int_equal(cv_wheel_run(w), 0);
	cv_clock_fake_advance(1000);
	assert_int_equal(cv_wheel_run(w), 1);
	assert_int_equal(c.fired, 1);
	assert_int_equal(c.at[0], 1000500000);
	assert_false(cv_tmr_active(&a));
	/* far timer survives several revolutions, fires on time */
	for (int i = 0; i < 179; i++) {
		cv_clock_fake_advance(1000000);
		cv_wheel_run(w);
	}
	assert_int_equal(c.fired, 1);
	cv_clock_fake_advance(500000);
	assert_int_equal(cv_wheel_run(w), 1);
	assert_int_equal(c.fired, 2);
	/* a callback cancelling another due timer stops it from firing */
	c.fired = 0;
	cv_tmr_start(w, &a, 20000, tmr_cb, &c);
	cv_tmr_start(w, &b, 20000, tmr_cb, &c);
	c.other = &b;
	cv_clock_fake_advance(30000);
	assert_int_equal(cv_wheel_run(w), 1);
	assert_int_equal(c.fired, 1);
	assert_int_equal(cv_wheel_count(w), 0);
	/* re-arming moves a timer; cancelling an idle timer is harmless */
	c.other = NULL;
	cv_tmr_start(w, &a, 20000, tmr_cb, &c);
	cv_tmr_start(w, &a, 40000, tmr_cb, &c);
	assert_int_equal(cv_wheel_count(w), 1);
	cv_clock_fake_advance(30000);
	assert_int_equal(cv_wheel_run(w), 0);
	cv_clock_fake_advance(20000);
	assert_int_equal(cv_wheel_run(w), 1);
	cv_tmr_cancel(&a);
	/* many timers */
	static struct cv_tmr many[20000];
	c.fired = 0;
	for (int i = 0; i < 20000; i++) {
		cv_tmr_init(&many[i]);
		cv_tmr_start(w, &many[i], (uint64_t)(i % 64000) * 1000 + 1,
			     tmr_cb, &c);
	}
	cv_clock_fake_advance(70000000);
	assert_int_equal(cv_wheel_run(w), 20000);
	cv_wheel_destroy(w);
	cv_clock_fake_disable();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mpsc_threads),
		cmocka_unit_test(test_mpsc_full),
		cmocka_unit_test(test_runtime_post),
		cmocka_unit_test(test_runtime_start_failure),
		cmocka_unit_test(test_wheel_fake_clock),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
